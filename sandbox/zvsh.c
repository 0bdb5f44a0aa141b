/*
 * zvsh — the developer shell: run a static program in the sandbox with
 * host files as channels.
 *
 *   zvsh [-t SECONDS] [-m MEMORY] [-v] [--image DIR [--tmp SIZE]] [--]
 *        PROG [ARG | @FILE | @NAME=FILE]...
 *
 * @FILE       channel /dev/<n>.<basename> (n = 1, 2, ... for each @FILE),
 *             the argument becomes that path
 * @NAME=FILE  channel /dev/NAME, the argument becomes /dev/NAME
 * @@text      the literal argument @text
 * An existing FILE is a readable channel (random access); a missing one is
 * created as a writable channel. stdin, stdout and stderr are the host's.
 * With --image, DIR (an extracted image tree) is the program's read-only
 * root and PROG a path inside it.
 *
 * Exit code: the program's; 128+N if signal N killed it; 124 on timeout;
 * 125 if the sandbox itself failed (bad arguments, setup error).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox.h"

#define ZVSH_FAILED 125
#define ZVSH_TIMEOUT 124
#define ZVSH_TMP_SIZE (64ULL << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zvsh [-t SECONDS] [-m MEMORY] [-N] [-v] [--image DIR|TAR [--tmp SIZE]] [--]\n"
		"            PROG [ARG | @FILE | @NAME=FILE]...\n"
		"Run the static x86-64 program PROG in the zerovm sandbox.\n"
		"  @FILE       map FILE to channel /dev/<n>.<basename> (n counts @FILE\n"
		"              arguments from 1) and pass that path as the argument\n"
		"  @NAME=FILE  map FILE to /dev/NAME and pass /dev/NAME\n"
		"  @@text      pass the literal argument @text\n"
		"  An existing FILE becomes a readable channel, a missing one is created\n"
		"  as a writable channel. stdin/stdout/stderr are passed through.\n"
		"  -t SECONDS  wall-clock timeout (default: none)\n"
		"  -m MEMORY   address-space limit, bytes or with K/M/G (default 1G)\n"
		"  -N          nondeterministic: the host's clocks, randomness, uname\n"
		"              and address randomisation (default: deterministic, the\n"
		"              same inputs give the same outputs; sandbox/README.md)\n"
		"  -v          print the sandbox report to stderr at the end\n"
		"  --image DIR|TAR  the directory tree DIR (or the tar archive TAR,\n"
		"              extracted once into $ZEROVM_IMAGE_CACHE, default\n"
		"              ~/.cache/zerovm/images) is the program's read-only root\n"
		"              and PROG a path inside it (dynamically linked programs\n"
		"              and interpreters work when the image holds their files)\n"
		"  --tmp SIZE  size of the image run's private /tmp (default 64M;\n"
		"              0 = none)\n"
		"Exit: the program's code; 128+N when killed by signal N; %d on\n"
		"timeout; %d when the sandbox failed (the message says why).\n",
		ZVSH_TIMEOUT, ZVSH_FAILED);
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

struct zvsh {
	struct sandbox_channel ch[256];
	char *alias[256];
	size_t n;
	const char **argv;
};

static int chan_add(struct zvsh *z, const char *alias, const char *file)
{
	struct sandbox_channel *c = &z->ch[z->n];
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	bool readable = fd >= 0;

	if (z->n == sizeof(z->ch) / sizeof(z->ch[0])) {
		fprintf(stderr, "zvsh: too many channels (max %zu)\n", z->n);
		return -1;
	}
	if (fd < 0 && errno == ENOENT)
		fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "zvsh: %s: %s\n", file, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < z->n; i++)
		if (strcmp(z->ch[i].alias, alias) == 0) {
			fprintf(stderr, "zvsh: %s is mapped twice\n", alias);
			close(fd);
			return -1;
		}
	z->alias[z->n] = strdup(alias);
	*c = (struct sandbox_channel){
		.alias = z->alias[z->n],
		.fd = fd,
		.type = readable ? SANDBOX_RGET_SPUT : SANDBOX_SGET_RPUT,
		.gets = readable ? SANDBOX_UNBOUNDED : 0,
		.get_size = readable ? SANDBOX_UNBOUNDED : 0,
		.puts = readable ? 0 : SANDBOX_UNBOUNDED,
		.put_size = readable ? 0 : SANDBOX_UNBOUNDED,
	};
	z->n++;
	return 0;
}

static void std_channels(struct zvsh *z)
{
	static const char *const names[3] = {"/dev/stdin", "/dev/stdout",
					     "/dev/stderr"};
	for (int i = 0; i < 3; i++) {
		z->alias[i] = NULL;
		z->ch[i] = (struct sandbox_channel){
			.alias = names[i],
			.fd = i,
			.gets = i == 0 ? SANDBOX_UNBOUNDED : 0,
			.get_size = i == 0 ? SANDBOX_UNBOUNDED : 0,
			.puts = i == 0 ? 0 : SANDBOX_UNBOUNDED,
			.put_size = i == 0 ? 0 : SANDBOX_UNBOUNDED,
		};
	}
	z->n = 3;
}

/* Rewrite the program's arguments, mapping @FILE and @NAME=FILE. */
static int args_map(struct zvsh *z, int argc, char **argv)
{
	int nfile = 0;

	z->argv = calloc(argc + 1, sizeof(char *));
	if (!z->argv)
		return -1;
	z->argv[0] = argv[0];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char alias[4096];

		if (a[0] != '@' || a[1] == '@') {
			z->argv[i] = a[0] == '@' ? a + 1 : a;
			continue;
		}
		const char *eq = strchr(a + 1, '=');
		if (eq) {
			snprintf(alias, sizeof(alias), "/dev/%.*s",
				 (int)(eq - a - 1), a + 1);
			if (eq == a + 1 || chan_add(z, alias, eq + 1) < 0)
				goto bad;
		} else {
			char *copy = strdup(a + 1);

			snprintf(alias, sizeof(alias), "/dev/%d.%s", ++nfile,
				 basename(copy));
			free(copy);
			if (a[1] == '\0' || chan_add(z, alias, a + 1) < 0)
				goto bad;
		}
		z->argv[i] = z->ch[z->n - 1].alias;
		continue;
bad:
		if (eq == a + 1 || a[1] == '\0')
			fprintf(stderr, "zvsh: bad channel argument \"%s\"\n", a);
		return -1;
	}
	return 0;
}

static void report_print(const struct sandbox_report *r)
{
	fprintf(stderr,
		"zvsh: %s; exit %d; sys %.3f user %.3f; reads %" PRIu64
		" rbytes %" PRIu64 " writes %" PRIu64 " wbytes %" PRIu64 "%s%s\n",
		r->message, r->exit_code, r->sys, r->user, r->reads, r->rbytes,
		r->writes, r->wbytes, *r->nondeterminism ? "; nondeterministic: " : "",
		r->nondeterminism);
}

int main(int argc, char **argv)
{
	struct sandbox_spec spec = {.deterministic = true};
	struct sandbox_report rep;
	struct sandbox_error err = {{0}};
	struct sandbox *sb;
	struct zvsh z;
	bool verbose = false;
	const char *image = NULL;
	char *root = NULL;
	uint64_t secs = 0;
	int opt, code;

	static const struct option longopts[] = {
		{"image", required_argument, NULL, 'I'},
		{"tmp", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};

	spec.tmp_size = ZVSH_TMP_SIZE;
	while ((opt = getopt_long(argc, argv, "+t:m:Nvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'I': image = optarg; break;
		case 'T':
			if (parse_size(optarg, &spec.tmp_size) < 0) {
				fprintf(stderr, "zvsh: --tmp %s: not a size\n", optarg);
				return ZVSH_FAILED;
			}
			break;
		case 't':
			if (parse_size(optarg, &secs) < 0 || strpbrk(optarg, "kKmMgG")) {
				fprintf(stderr, "zvsh: -t %s: not a number of seconds\n", optarg);
				return ZVSH_FAILED;
			}
			break;
		case 'm':
			if (parse_size(optarg, &spec.memory) < 0) {
				fprintf(stderr, "zvsh: -m %s: not a size\n", optarg);
				return ZVSH_FAILED;
			}
			break;
		case 'N': spec.deterministic = false; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return ZVSH_FAILED;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return ZVSH_FAILED;
	}
	if (!image) {
		spec.tmp_size = 0;
		spec.prog_fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
		if (spec.prog_fd < 0) {
			fprintf(stderr, "zvsh: %s: %s\n", argv[optind], strerror(errno));
			return ZVSH_FAILED;
		}
	} else if (sandbox_image_root(image, NULL, &root, &err) < 0 ||
		   sandbox_image_open_program(root, argv[optind], &spec.prog_fd,
					      &err) < 0) {
		fprintf(stderr, "zvsh: %s\n", err.msg);
		free(root);
		return ZVSH_FAILED;
	}
	spec.root_dir = root;
	std_channels(&z);
	z.argv = NULL;
	code = ZVSH_FAILED;
	if (args_map(&z, argc - optind, argv + optind) < 0)
		goto out;
	spec.argv = z.argv;
	spec.channels = z.ch;
	spec.nchannels = z.n;
	spec.timeout_ms = secs * 1000;
	if (sandbox_run(&spec, &sb, &rep, &err) < 0) {
		fprintf(stderr, "zvsh: %s\n", err.msg);
		goto out;
	}
	if (verbose)
		report_print(&rep);
	code = rep.end == SANDBOX_END_EXIT      ? rep.exit_code
	       : rep.end == SANDBOX_END_TIMEOUT ? ZVSH_TIMEOUT
						: 128 + rep.signal;
	if (rep.end == SANDBOX_END_TIMEOUT)
		fprintf(stderr, "zvsh: session timeout after %" PRIu64 " s\n", secs);
	sandbox_free(sb);
out:
	for (size_t i = 3; i < z.n; i++) {
		close(z.ch[i].fd);
		free(z.alias[i]);
	}
	free(z.argv);
	free(root);
	close(spec.prog_fd);
	return code;
}
