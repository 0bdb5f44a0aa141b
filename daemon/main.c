/* main.c — zvmd: the command line over daemon/zvmd.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zvmd.h"

static void usage(FILE *f)
{
	fputs("usage: zvmd [-c zvmd.conf] [-l ADDR:PORT] [--root DIR] "
	      "[--spool DIR]\n"
	      "            [--port-file FILE] [--set KEY=VALUE]... "
	      "[--check-config]\n"
	      "Serves the ZeroCloud job API over a local object store.\n"
	      "Flags override the file; every option is documented in "
	      "conf/zvmd.conf.\n", f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "root", required_argument, NULL, 'r' },
		{ "spool", required_argument, NULL, 's' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "set", required_argument, NULL, 'o' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	char **ov = calloc((size_t)argc + 1, sizeof(char *));
	size_t nov = 0;
	bool check = false;
	struct zvmd_config cfg;
	struct zvmd_error err;
	int c, rc = 1;

	if (!ov)
		return 1;
	while ((c = getopt_long(argc, argv, "c:l:h", longopts, NULL)) != -1) {
		const char *key = NULL;

		switch (c) {
		case 'c': path = optarg; continue;
		case 'k': check = true; continue;
		case 'h': usage(stdout); rc = 0; goto out;
		case 'l': key = "listen"; break;
		case 'r': key = "root"; break;
		case 's': key = "spool"; break;
		case 'p': key = "port_file"; break;
		case 'o': ov[nov++] = strdup(optarg); continue;
		default: usage(stderr); rc = 2; goto out;
		}
		if (asprintf(&ov[nov++], "%s=%s", key, optarg) < 0)
			goto out;
	}
	if (optind != argc) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	zvmd_config_default(&cfg);
	if (path && zvmd_config_load(&cfg, path, &err))
		goto fail;
	for (size_t i = 0; i < nov; i++) {
		char *eq = ov[i] ? strchr(ov[i], '=') : NULL;

		if (!eq) {
			fprintf(stderr, "zvmd: --set '%s': expected KEY=VALUE\n",
				ov[i] ? ov[i] : "");
			rc = 2;
			goto out;
		}
		*eq = '\0';
		rc = zvmd_config_set(&cfg, ov[i], eq + 1, &err);
		*eq = '=';
		if (rc)
			goto fail;
	}
	if (zvmd_config_check(&cfg, &err))
		goto fail;
	if (check) {
		printf("zvmd: configuration OK\n");
		rc = 0;
		goto out;
	}
	if (zvmd_run(&cfg, path, (const char *const *)ov, nov, &err))
		goto fail;
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "zvmd: %s\n", err.msg);
	rc = 1;
out:
	for (size_t i = 0; i < nov; i++)
		free(ov[i]);
	free(ov);
	return rc;
}
