/*
 * zerovm — the ZeroVM-compatible manifest runner.
 *
 *   zerovm [-t SECONDS] MANIFEST
 *
 * Reads a ZeroVM manifest (Version = 20130611), opens each channel's uri
 * as a host path in the direction its limits imply, runs Program in the
 * sandbox and prints ZeroVM's six report lines on stdout. With
 * `Image = DIR|TAR` the image is the program's root and Program a path
 * inside it. The exit code
 * tells the program's outcome from a failure of zerovm itself (see
 * usage()).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"
#include "sandbox.h"

/* The private /tmp of a run with an Image but no ImageTmp. */
#define ZEROVM_IMAGE_TMP (64ULL << 20)

enum zerovm_exit {
	ZEROVM_OK = 0,          /* the program exited 0 */
	ZEROVM_PROGRAM_FAILED = 1, /* it exited non-zero (retcode in report) */
	ZEROVM_SIGNALED = 2,    /* a signal ended it (report names it) */
	ZEROVM_TIMEOUT = 3,     /* session timeout */
	ZEROVM_USAGE = 64,      /* bad command line */
	ZEROVM_BAD_MANIFEST = 65, /* the manifest does not parse/validate */
	ZEROVM_NO_INPUT = 66,   /* the manifest, program or a channel won't open */
	ZEROVM_SANDBOX = 70,    /* the sandbox itself failed */
};

#define MANIFEST_MAX (512 * 1024)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zerovm [-t SECONDS] [-N] MANIFEST\n"
		"Run the program a ZeroVM manifest (Version = %s) describes in the\n"
		"zerovm sandbox and print the six ZeroVM report lines on stdout:\n"
		"validation, daemon flag, return code, etags, accounting\n"
		"(sys user reads rbytes writes wbytes nreads nrbytes nwrites nwbytes),\n"
		"exit state (ok, session timeout, Signal N (...), or an error).\n"
		"Channel uris are host paths (file, FIFO, character device); readable\n"
		"channels are opened for reading, writable ones for writing (regular\n"
		"files created or truncated). /dev/stdin, /dev/stdout, /dev/stderr as\n"
		"uris are zerovm's own standard streams.\n"
		"  -t SECONDS  override the manifest's Timeout\n"
		"  -N, --nondeterministic  the host's clocks, randomness, uname and\n"
		"              address randomisation (default: deterministic, the same\n"
		"              inputs give the same outputs; sandbox/README.md)\n"
		"Exit status:\n"
		"   0  the program exited 0\n"
		"   1  the program exited non-zero (the report has its code)\n"
		"   2  a signal ended the program (the report says which)\n"
		"   3  session timeout\n"
		"  64  bad command line\n"
		"  65  the manifest is invalid (message on stderr)\n"
		"  66  the manifest, the program or a channel could not be opened\n"
		"  70  the sandbox itself failed\n",
		PROTO_MANIFEST_VERSION);
}

/* The report for a run that never started: status = the error. */
static void report_failure(const char *msg)
{
	struct proto_report r = {.status = (char *)msg};
	char *text = proto_report_format(&r);

	if (text)
		fputs(text, stdout);
	free(text);
}

static char *manifest_read(const char *path, size_t *len)
{
	char *buf = malloc(MANIFEST_MAX + 1);
	FILE *f = fopen(path, "re");

	if (!buf || !f) {
		free(buf);
		if (f)
			fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, MANIFEST_MAX + 1, f);
	fclose(f);
	buf[*len > MANIFEST_MAX ? MANIFEST_MAX : *len] = '\0';
	return buf;
}

/* Open a channel's host side in the direction its limits imply. */
static int channel_open(const struct proto_manifest_channel *c)
{
	bool r = c->gets && c->get_size, w = c->puts && c->put_size;
	static const char *const std[3] = {"/dev/stdin", "/dev/stdout",
					   "/dev/stderr"};
	struct stat st;
	int flags;

	for (int i = 0; i < 3; i++)
		if (strcmp(c->uri, std[i]) == 0)
			return fcntl(i, F_DUPFD_CLOEXEC, 3);
	flags = r && w ? O_RDWR : w ? O_WRONLY : O_RDONLY;
	/* Create/truncate only regular files: a FIFO or device is opened
	 * as it is. */
	if (w && (stat(c->uri, &st) < 0 || S_ISREG(st.st_mode)))
		flags |= O_CREAT | (r ? 0 : O_TRUNC);
	return open(c->uri, flags | O_CLOEXEC | O_NOCTTY, 0644);
}

/* "/dev/memory MD5" (when asked for and the program exited by itself),
 * then "ALIAS MD5" per channel with etag set; "" = none. */
static char *etag_line(const struct proto_manifest *m,
		       const struct sandbox_report *rep)
{
	size_t size = 1 + 12 + 33;
	char *s;

	for (size_t i = 0; i < m->nchannels; i++)
		if (m->channels[i].etag)
			size += strlen(m->channels[i].alias) + 35;
	s = calloc(1, size);
	if (s && *rep->memory_etag)
		sprintf(s, "/dev/memory %s", rep->memory_etag);
	for (size_t i = 0; s && i < m->nchannels; i++)
		if (m->channels[i].etag)
			sprintf(s + strlen(s), "%s%s %s", *s ? " " : "",
				m->channels[i].alias, rep->channels[i].etag);
	return s;
}

static int report_print(const struct proto_manifest *m,
			const struct sandbox_report *rep)
{
	char note[96] = "";

	if (*rep->nondeterminism)
		snprintf(note, sizeof(note), "nondeterministic: %s",
			 rep->nondeterminism);
	struct proto_report r = {
		.validation_note = note,
		.retcode = rep->end == SANDBOX_END_EXIT ? rep->exit_code : 0,
		.etag = etag_line(m, rep),
		.acct = {rep->sys, rep->user, rep->reads, rep->rbytes,
			 rep->writes, rep->wbytes, rep->nreads, rep->nrbytes,
			 rep->nwrites, rep->nwbytes},
		.status = (char *)rep->message,
	};
	char *text = proto_report_format(&r);

	free(r.etag);
	if (!text)
		return -1;
	fputs(text, stdout);
	free(text);
	return 0;
}

struct run {
	struct proto_manifest *m;
	struct sandbox_channel *ch;
	const char **argv;
	const char **envp;
	int prog_fd;
	char *root_dir;     /* the extracted image, NULL without Image */
};

static int run_prepare(struct run *x, const char *path, char *msg, size_t msize)
{
	const struct proto_manifest *m = x->m;
	struct sandbox_error err;

	if (m->image) {
		if (sandbox_image_root(m->image, NULL, &x->root_dir, &err) < 0 ||
		    sandbox_image_open_program(x->root_dir, m->program,
					       &x->prog_fd, &err) < 0) {
			snprintf(msg, msize, "%s: %s", path, err.msg);
			return ZEROVM_NO_INPUT;
		}
	} else {
		x->prog_fd = open(m->program, O_RDONLY | O_CLOEXEC);
	}
	if (x->prog_fd < 0) {
		snprintf(msg, msize, "Program %s: %s", m->program, strerror(errno));
		return ZEROVM_NO_INPUT;
	}
	x->ch = calloc(m->nchannels, sizeof(*x->ch));
	x->argv = calloc(m->argc + 2, sizeof(char *));
	x->envp = calloc(m->nenv + 1, sizeof(char *));
	if (!x->ch || !x->argv || !x->envp) {
		snprintf(msg, msize, "out of memory");
		return ZEROVM_SANDBOX;
	}
	for (size_t i = 0; i < m->nchannels; i++)
		x->ch[i].fd = -1;
	for (size_t i = 0; i < m->nchannels; i++) {
		const struct proto_manifest_channel *c = &m->channels[i];

		x->ch[i] = (struct sandbox_channel){
			.alias = c->alias, .fd = channel_open(c),
			.type = (enum sandbox_access)c->type, .etag = c->etag,
			.gets = c->gets, .get_size = c->get_size,
			.puts = c->puts, .put_size = c->put_size,
		};
		if (x->ch[i].fd < 0) {
			snprintf(msg, msize, "%s: line %d: Channel %s: %s", path,
				 c->line, c->uri, strerror(errno));
			return ZEROVM_NO_INPUT;
		}
	}
	for (size_t i = 0; i < m->argc; i++)
		x->argv[i] = m->argv[i];
	if (m->argc == 0)
		x->argv[0] = basename(m->program);
	for (size_t i = 0; i < m->nenv; i++)
		x->envp[i] = m->env[i];
	return 0;
}

static void run_free(struct run *x)
{
	for (size_t i = 0; x->ch && i < x->m->nchannels; i++)
		if (x->ch[i].fd >= 0)
			close(x->ch[i].fd);
	if (x->prog_fd >= 0)
		close(x->prog_fd);
	free(x->ch);
	free(x->argv);
	free(x->envp);
	free(x->root_dir);
	proto_manifest_free(x->m);
}

static int run_sandbox(struct run *x, long timeout, bool det)
{
	struct sandbox_spec spec = {
		.prog_fd = x->prog_fd,
		.argv = x->argv,
		.envp = x->envp,
		.channels = x->ch,
		.nchannels = x->m->nchannels,
		.memory = (uint64_t)x->m->memory,
		.timeout_ms = (uint64_t)(timeout >= 0 ? timeout : x->m->timeout) * 1000,
		.deterministic = det,
		.memory_etag = x->m->memory_etag,
		.root_dir = x->root_dir,
		.tmp_size = !x->root_dir ? 0
			    : x->m->image_tmp ? (uint64_t)x->m->image_tmp
					      : ZEROVM_IMAGE_TMP,
	};
	struct sandbox_report rep;
	struct sandbox_error err;
	struct sandbox *sb;
	int code;

	if (sandbox_run(&spec, &sb, &rep, &err) < 0) {
		fprintf(stderr, "zerovm: %s\n", err.msg);
		report_failure(err.msg);
		return ZEROVM_SANDBOX;
	}
	code = rep.end == SANDBOX_END_EXIT	? (rep.exit_code ? ZEROVM_PROGRAM_FAILED : ZEROVM_OK)
	       : rep.end == SANDBOX_END_TIMEOUT ? ZEROVM_TIMEOUT
						: ZEROVM_SIGNALED;
	if (report_print(x->m, &rep) < 0)
		code = ZEROVM_SANDBOX;
	sandbox_free(sb);
	return code;
}

int main(int argc, char **argv)
{
	struct run x = {.prog_fd = -1};
	struct proto_error perr;
	char msg[768];
	long timeout = -1;
	bool det = true;
	size_t len;
	char *text, *end;
	int opt, code;

	static const struct option longopts[] = {
		{"help", no_argument, 0, 'h'},
		{"nondeterministic", no_argument, 0, 'N'},
		{0, 0, 0, 0}};
	while ((opt = getopt_long(argc, argv, "t:Nh", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			errno = 0;
			timeout = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || timeout < 0) {
				fprintf(stderr, "zerovm: -t %s: not a number of seconds\n",
					optarg);
				return ZEROVM_USAGE;
			}
			break;
		case 'N': det = false; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return ZEROVM_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return ZEROVM_USAGE;
	}
	text = manifest_read(argv[optind], &len);
	if (!text) {
		snprintf(msg, sizeof(msg), "manifest %s: %s", argv[optind],
			 strerror(errno));
		fprintf(stderr, "zerovm: %s\n", msg);
		report_failure(msg);
		return ZEROVM_NO_INPUT;
	}
	code = proto_manifest_parse(text, len, &x.m, &perr);
	free(text);
	if (code < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", argv[optind], perr.msg);
		fprintf(stderr, "zerovm: %s\n", msg);
		report_failure(msg);
		return ZEROVM_BAD_MANIFEST;
	}
	code = run_prepare(&x, argv[optind], msg, sizeof(msg));
	if (code) {
		fprintf(stderr, "zerovm: %s\n", msg);
		report_failure(msg);
	} else {
		code = run_sandbox(&x, timeout, det);
	}
	run_free(&x);
	return code;
}
