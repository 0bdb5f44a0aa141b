/*
 * Functional tests of the sandbox library: real static programs from
 * tests/programs run through sandbox_run with memfd/pipe channels.
 * Program paths come from the environment (set by meson.build).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "sandbox.h"

#define U SANDBOX_UNBOUNDED

static const char *prog(const char *name)
{
	char var[64];
	const char *p;

	snprintf(var, sizeof(var), "PROG_%s", name);
	for (char *c = var; *c; c++)
		if (*c == '-')
			*c = '_';
	p = getenv(var);
	cr_assert(p, "environment variable %s is not set", var);
	return p;
}

static int memfd_with(const char *data)
{
	int fd = memfd_create("chan", MFD_CLOEXEC);

	cr_assert(fd >= 0);
	if (data)
		cr_assert(write(fd, data, strlen(data)) == (ssize_t)strlen(data));
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static char *contents(int fd)
{
	static char buf[1 << 16];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	cr_assert(n >= 0);
	buf[n] = '\0';
	return buf;
}

/* One run: std channels on memfds (stdin with `in`), extra channels. */
struct run {
	struct sandbox_channel ch[300];
	size_t n;
	const char *argv[8];
	struct sandbox_spec spec;
	struct sandbox_report rep;
	struct sandbox *sb;
	struct sandbox_error err;
	int rc;
};

static void run_init(struct run *r, const char *in)
{
	memset(r, 0, sizeof(*r));
	r->ch[0] = (struct sandbox_channel){"/dev/stdin", memfd_with(in), 0,
					    false, false, U, U, 0, 0};
	r->ch[1] = (struct sandbox_channel){"/dev/stdout", memfd_with(NULL), 0,
					    false, false, 0, 0, U, U};
	r->ch[2] = (struct sandbox_channel){"/dev/stderr", memfd_with(NULL), 0,
					    false, false, 0, 0, U, U};
	r->n = 3;
}

static struct sandbox_channel *run_add(struct run *r, const char *alias, int fd,
				       enum sandbox_access type)
{
	struct sandbox_channel *c = &r->ch[r->n++];

	*c = (struct sandbox_channel){.alias = alias, .fd = fd, .type = type};
	return c;
}

/* A readable, unlimited (direct) channel holding `data`. */
static void run_add_in(struct run *r, const char *alias, const char *data,
		       enum sandbox_access type)
{
	struct sandbox_channel *c = run_add(r, alias, memfd_with(data), type);

	c->gets = c->get_size = U;
}

/* The spec for test program `name` with the arguments in ap (to a NULL)
 * over r's channels. */
static void run_vprepare(struct run *r, const char *name, va_list ap)
{
	int i = 1;

	r->argv[0] = name;
	while ((r->argv[i] = va_arg(ap, const char *)))
		i++;
	r->spec.prog_fd = open(prog(name), O_RDONLY | O_CLOEXEC);
	cr_assert(r->spec.prog_fd >= 0, "%s", prog(name));
	r->spec.argv = r->argv;
	r->spec.channels = r->ch;
	r->spec.nchannels = r->n;
}

/* run_vprepare, for callers that spawn and wait themselves. */
static void run_prepare(struct run *r, const char *name, ...)
{
	va_list ap;

	va_start(ap, name);
	run_vprepare(r, name, ap);
	va_end(ap);
}

static void run_go(struct run *r, const char *name, ...)
{
	va_list ap;

	va_start(ap, name);
	run_vprepare(r, name, ap);
	va_end(ap);
	r->rc = sandbox_run(&r->spec, &r->sb, &r->rep, &r->err);
}

static const char *out(struct run *r)
{
	return contents(r->ch[1].fd);
}

static void run_free(struct run *r)
{
	sandbox_free(r->sb);
	for (size_t i = 0; i < r->n; i++)
		if (r->ch[i].fd > 2)
			close(r->ch[i].fd);
	close(r->spec.prog_fd);
}

/* Run sbtest with the std channels only; returns its stdout. */
static const char *sbtest(struct run *r, const char *a, const char *b,
			  const char *c)
{
	run_init(r, "");
	run_go(r, "sbtest", a, b, c, NULL);
	cr_assert_eq(r->rc, 0, "%s", r->err.msg);
	return out(r);
}

/* ------------------------------------------------------------ programs */

static void hello_case(const char *name)
{
	struct run r;

	run_init(&r, "");
	run_go(&r, name, NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err.msg);
	cr_assert_eq(r.rep.end, SANDBOX_END_EXIT);
	cr_assert_eq(r.rep.exit_code, 0);
	cr_assert_str_eq(out(&r), "hello, world\n");
	cr_assert_str_eq(r.rep.message, "ok");
	/* No channel reads: the kernel's reads of the ELF are not counted. */
	cr_assert_eq(r.rep.reads, 0);
	cr_assert_eq(r.rep.rbytes, 0);
	cr_assert_eq(r.rep.writes, 1);
	cr_assert_eq(r.rep.wbytes, 13);
	run_free(&r);
}

Test(programs, hello_glibc) { hello_case("hello"); }
Test(programs, hello_musl) { hello_case("hello-musl"); }
Test(programs, hello_static_pie) { hello_case("hello-pie"); }

Test(programs, cat_stdin_direct)
{
	struct run r;

	run_init(&r, "line one\nline two\n");
	run_go(&r, "cat", NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err.msg);
	cr_assert_str_eq(out(&r), "line one\nline two\n");
	cr_assert_eq(r.rep.reads, 2); /* data, then EOF */
	cr_assert_eq(r.rep.rbytes, 18);
	cr_assert_eq(r.rep.wbytes, 18);
	run_free(&r);
}

Test(programs, cat_musl_by_path)
{
	struct run r;

	run_init(&r, "");
	run_add_in(&r, "/dev/input", "via path\n", SANDBOX_RGET_SPUT);
	run_go(&r, "cat-musl", "/dev/input", NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err.msg);
	cr_assert_eq(r.rep.exit_code, 0);
	cr_assert_str_eq(out(&r), "via path\n");
	run_free(&r);
}

Test(programs, exit_codes)
{
	struct run r;

	sbtest(&r, "exit", "7", NULL);
	cr_assert_eq(r.rep.end, SANDBOX_END_EXIT);
	cr_assert_eq(r.rep.exit_code, 7);
	run_free(&r);
	sbtest(&r, "segv", NULL, NULL);
	cr_assert_eq(r.rep.end, SANDBOX_END_SIGNAL);
	cr_assert_eq(r.rep.signal, SIGSEGV);
	cr_assert(strncmp(r.rep.message, "Signal 11", 9) == 0, "%s", r.rep.message);
	run_free(&r);
	sbtest(&r, "raise", "15", NULL);
	cr_assert_eq(r.rep.end, SANDBOX_END_SIGNAL);
	cr_assert_eq(r.rep.signal, SIGTERM);
	run_free(&r);
}

/* ------------------------------------------------------------- channels */

Test(channels, fds_are_the_channels_only)
{
	struct run r;

	run_init(&r, "");
	run_add_in(&r, "/dev/input", "x", SANDBOX_SGET_SPUT);
	run_go(&r, "sbtest", "fds", NULL);
	cr_assert_str_eq(out(&r), "OK 0 1 2 3\n");
	run_free(&r);
}

Test(channels, dev_channels_lists_fd_and_alias)
{
	struct run r;

	run_init(&r, "");
	run_add_in(&r, "/dev/in/map-2", "x", SANDBOX_SGET_SPUT);
	run_go(&r, "cat", "/dev/channels", NULL);
	cr_assert_str_eq(out(&r), "0 /dev/stdin\n1 /dev/stdout\n2 /dev/stderr\n"
				  "3 /dev/in/map-2\n");
	run_free(&r);
}

/* sbtest CMD A B with the std channels prints `expect`. */
static void expect_out(const char *cmd, const char *a, const char *b,
		       const char *expect)
{
	struct run r;

	cr_expect_str_eq(sbtest(&r, cmd, a, b), expect, "sbtest %s %s %s", cmd,
			 a ? a : "", b ? b : "");
	run_free(&r);
}

Test(channels, open_by_alias_and_refusals)
{
	expect_out("open", "/dev/stdin", "r", "OK 5\n");
	expect_out("open", "/dev/stdin", "w", "ERR EACCES\n");
	expect_out("open", "/dev/stdout", "r", "ERR EACCES\n");
	expect_out("open", "/dev/../dev//stdout", "w", "OK 5\n");
	expect_out("open", "/etc/passwd", "r", "ERR ENOENT\n");
	expect_out("open", "/dev/channels", "w", "ERR EACCES\n");
	expect_out("stat", "/dev/stdin", NULL, "OK 0\n");
	expect_out("stat", "/", NULL, "ERR ENOENT\n");
	expect_out("access", "/dev/stdout", "w", "OK 0\n");
	expect_out("access", "/dev/stdout", "r", "ERR EACCES\n");
	expect_out("access", "/bin/sh", "x", "ERR ENOENT\n");
	/* numbers past the fd limit: refused by the filter itself */
	expect_out("readall", "5000", NULL, "ERR EBADF after 0\n");
	expect_out("dup2", "0", "5000", "ERR EBADF\n");
	expect_out("readall", "60", NULL, "ERR EBADF after 0\n");
}

Test(channels, direction_holds_even_on_an_rdwr_fd)
{
	struct run r;

	/* stdout is a memfd (O_RDWR) declared write-only */
	run_init(&r, "");
	cr_assert(write(r.ch[1].fd, "host data", 9) == 9);
	run_go(&r, "sbtest", "readall", "1", NULL);
	cr_assert_str_eq(out(&r), "host dataERR EBADF after 0\n");
	run_free(&r);
	/* stdin is a memfd declared read-only */
	run_init(&r, "keep");
	run_go(&r, "sbtest", "write", "0", "1", "4", NULL);
	cr_assert_str_eq(out(&r), "ERR EBADF after 0\n");
	cr_assert_str_eq(contents(r.ch[0].fd), "keep");
	run_free(&r);
}

Test(channels, many_channels_by_fd_and_path)
{
	static char aliases[250][32];
	struct run r;

	run_init(&r, "");
	for (int i = 0; i < 250; i++) {
		snprintf(aliases[i], sizeof(aliases[i]), "/dev/in/map-%d", i + 1);
		run_add_in(&r, aliases[i], i == 249 ? "last\n" : "x",
			   SANDBOX_SGET_SPUT);
	}
	run_go(&r, "cat", "/dev/in/map-250", NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err.msg);
	cr_assert_str_eq(out(&r), "last\n");
	run_free(&r);
}

Test(channels, pipe_and_char_device)
{
	struct run r;
	int p[2];

	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	cr_assert(write(p[1], "through a pipe\n", 15) == 15);
	close(p[1]);
	run_init(&r, "");
	close(r.ch[0].fd);
	r.ch[0].fd = p[0];
	run_go(&r, "cat", NULL);
	cr_assert_str_eq(out(&r), "through a pipe\n");
	run_free(&r);

	/* /dev/zero with a byte limit: metered, stops with EDQUOT. */
	run_init(&r, "");
	close(r.ch[0].fd);
	r.ch[0].fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	r.ch[0].get_size = 100000;
	run_go(&r, "sbtest", "readall", "0", NULL);
	cr_assert_str_eq(out(&r), "ERR EDQUOT after 100000\n");
	cr_assert_eq(r.rep.channels[0].rbytes, 100000);
	cr_assert(r.rep.channels[0].limit_hit);
	run_free(&r);
}

Test(channels, directory_is_refused)
{
	struct run r;

	run_init(&r, "");
	struct sandbox_channel *c = run_add(&r, "/dev/dir",
					    open("/", O_RDONLY | O_CLOEXEC),
					    SANDBOX_SGET_SPUT);
	c->gets = c->get_size = U;
	run_go(&r, "hello", NULL);
	cr_assert_eq(r.rc, -1);
	cr_assert(strstr(r.err.msg, "directory"), "%s", r.err.msg);
	run_free(&r);
}

/* Run a shell script as the program: exec must fail. */
static void run_script(struct run *r, bool prewarm, bool det)
{
	run_init(r, "");
	r->argv[0] = "text";
	r->spec.prog_fd = memfd_with("#!/bin/sh\necho hi\n");
	r->spec.argv = r->argv;
	r->spec.channels = r->ch;
	r->spec.nchannels = r->n;
	r->spec.prewarm = prewarm;
	r->spec.deterministic = det;
	r->rc = sandbox_run(&r->spec, &r->sb, &r->rep, &r->err);
}

Test(channels, spec_errors_are_reported)
{
	struct run r;

	run_init(&r, "");
	r.n = 2;
	run_go(&r, "hello", NULL);
	cr_assert_eq(r.rc, -1);
	cr_assert(strstr(r.err.msg, "stdin, stdout and stderr"), "%s", r.err.msg);
	run_free(&r);

	run_init(&r, "");
	run_add(&r, "/dev/stdin", memfd_with(""), 0)->gets = 1;
	run_go(&r, "hello", NULL);
	cr_assert_eq(r.rc, -1);
	cr_assert(strstr(r.err.msg, "both use alias /dev/stdin"), "%s", r.err.msg);
	run_free(&r);

	/* Not an ELF: exec fails, spawn says so. */
	run_script(&r, false, false);
	cr_assert_eq(r.rc, -1);
	cr_assert(strstr(r.err.msg, "execveat"), "%s", r.err.msg);
	run_free(&r);
}

/* --------------------------------------------------------------- limits */

static struct sandbox_channel *out_channel(struct run *r, int64_t puts,
					   int64_t put_size, bool etag)
{
	struct sandbox_channel *c = run_add(r, "/dev/output", memfd_with(NULL),
					    SANDBOX_SGET_SPUT);
	c->puts = puts;
	c->put_size = put_size;
	c->etag = etag;
	return c;
}

Test(limits, gets)
{
	struct run r;

	run_init(&r, "abcdefgh");
	r.ch[0].gets = 1;
	run_go(&r, "sbtest", "readall", "0", NULL);
	/* One read succeeds, the second (which would see EOF) is refused. */
	cr_assert_str_eq(out(&r), "ERR EDQUOT after 8\n");
	cr_assert_eq(r.rep.channels[0].reads, 1);
	cr_assert(r.rep.channels[0].limit_hit);
	run_free(&r);
}

Test(limits, get_size)
{
	struct run r;

	run_init(&r, "0123456789");
	r.ch[0].get_size = 4;
	run_go(&r, "sbtest", "readall", "0", NULL);
	cr_assert_str_eq(out(&r), "ERR EDQUOT after 4\n");
	cr_assert_eq(r.rep.rbytes, 4);
	run_free(&r);
}

Test(limits, puts)
{
	struct run r;

	run_init(&r, "");
	out_channel(&r, 3, U, false);
	run_go(&r, "sbtest", "write", "3", "5", "10", NULL);
	cr_assert_str_eq(out(&r), "ERR EDQUOT after 3\n");
	cr_assert_eq(strlen(contents(r.ch[3].fd)), 30);
	cr_assert_eq(r.rep.channels[3].writes, 3);
	cr_assert(r.rep.channels[3].limit_hit);
	run_free(&r);
}

/* A full disk (here /dev/full) is told apart from a limit: the program
 * sees ENOSPC, the report keeps it for the daemon's message. */
Test(limits, full_disk_is_reported)
{
	struct run r;
	struct sandbox_channel *c;

	run_init(&r, "");
	c = run_add(&r, "/dev/output", open("/dev/full", O_WRONLY | O_CLOEXEC),
		    SANDBOX_SGET_SPUT);
	cr_assert(c->fd >= 0);
	c->puts = 100;
	c->put_size = 1000;
	run_go(&r, "sbtest", "write", "3", "5", "10", NULL);
	cr_assert_str_eq(out(&r), "ERR ENOSPC after 0\n");
	cr_assert_eq(r.rep.channels[3].write_errno, ENOSPC);
	cr_assert_not(r.rep.channels[3].limit_hit);
	cr_assert_eq(r.rep.channels[1].write_errno, 0);
	run_free(&r);
}

Test(limits, put_size_is_never_silently_truncated)
{
	struct run r;

	run_init(&r, "");
	out_channel(&r, U, 250, false);
	run_go(&r, "sbtest", "write", "3", "10", "100", NULL);
	/* 2 full writes, then a short one the program sees (50 bytes). */
	cr_assert_str_eq(out(&r), "SHORT 50 after 2\n");
	cr_assert_eq(strlen(contents(r.ch[3].fd)), 250);
	cr_assert_eq(r.rep.channels[3].wbytes, 250);
	run_free(&r);

	run_init(&r, "");
	out_channel(&r, U, 200, false);
	run_go(&r, "sbtest", "write", "3", "10", "100", NULL);
	cr_assert_str_eq(out(&r), "ERR EDQUOT after 2\n");
	run_free(&r);
}

Test(limits, etag_is_md5_of_the_bytes)
{
	unsigned char d[16];
	char hex[33];
	unsigned len;
	struct run r;

	run_init(&r, "");
	out_channel(&r, U, U, true);
	run_go(&r, "sbtest", "write", "3", "4", "1000", NULL);
	cr_assert_str_eq(out(&r), "OK 4\n");
	EVP_Digest(contents(r.ch[3].fd), 4000, d, &len, EVP_md5(), NULL);
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	cr_assert_str_eq(r.rep.channels[3].etag, hex);
	cr_assert_str_eq(r.rep.channels[0].etag, "");
	run_free(&r);
}

Test(limits, sequential_and_random_access)
{
	struct run r;
	struct sandbox_channel *c;

	/* metered sequential: pread refused */
	run_init(&r, "");
	c = run_add(&r, "/dev/seq", memfd_with("0123456789"), SANDBOX_SGET_SPUT);
	c->gets = 100;
	c->get_size = 100;
	run_go(&r, "sbtest", "pread", "3", "2", NULL);
	cr_assert_str_eq(out(&r), "ERR ESPIPE\n");
	run_free(&r);
	/* direct sequential: pread refused too */
	run_init(&r, "");
	run_add_in(&r, "/dev/seq", "0123456789", SANDBOX_SGET_SPUT);
	run_go(&r, "sbtest", "pread", "3", "2", NULL);
	cr_assert_str_eq(out(&r), "ERR ESPIPE\n");
	run_free(&r);
	/* random read, metered and direct */
	for (int metered = 0; metered < 2; metered++) {
		run_init(&r, "");
		c = run_add(&r, "/dev/rnd", memfd_with("0123456789"), SANDBOX_RGET_SPUT);
		c->gets = metered ? 100 : U;
		c->get_size = U;
		run_go(&r, "sbtest", "pread", "3", "2", NULL);
		cr_assert_str_eq(out(&r), "OK 8\n");
		run_free(&r);
	}
	/* random write, but never past put_size */
	run_init(&r, "");
	c = run_add(&r, "/dev/rw", memfd_with("0123456789"), SANDBOX_SGET_RPUT);
	c->puts = 10;
	c->put_size = 100;
	run_go(&r, "sbtest", "pwrite", "3", "100", NULL);
	cr_assert_str_eq(out(&r), "ERR EDQUOT\n");
	cr_assert_str_eq(contents(r.ch[3].fd), "0123456789");
	run_free(&r);
	/* random write */
	run_init(&r, "");
	c = run_add(&r, "/dev/rw", memfd_with("0123456789"), SANDBOX_SGET_RPUT);
	c->puts = 10;
	c->put_size = 100;
	run_go(&r, "sbtest", "pwrite", "3", "4", NULL);
	cr_assert_str_eq(out(&r), "OK 2\n");
	cr_assert_str_eq(contents(r.ch[3].fd), "0123pw6789");
	run_free(&r);
}

Test(limits, dup_keeps_metering)
{
	struct run r;

	run_init(&r, "0123456789");
	r.ch[0].get_size = 3;
	run_go(&r, "sbtest", "dupread", "0", NULL);
	cr_assert_str_eq(out(&r), "ERR EDQUOT after 3\n");
	run_free(&r);
	/* A metered channel may not take a direct channel's number. */
	run_init(&r, "");
	out_channel(&r, 5, 5, false);
	run_go(&r, "sbtest", "dup2", "3", "2", NULL);
	cr_assert_str_eq(out(&r), "ERR EPERM\n");
	run_free(&r);
}

Test(limits, memory)
{
	struct run r;

	run_init(&r, "");
	r.spec.memory = 64 << 20;
	run_go(&r, "sbtest", "alloc", "200000000", NULL);
	cr_assert_str_eq(out(&r), "ERR ENOMEM\n");
	run_free(&r);
	run_init(&r, "");
	r.spec.memory = 512 << 20;
	run_go(&r, "sbtest", "alloc", "200000000", NULL);
	cr_assert_str_eq(out(&r), "OK\n");
	run_free(&r);
}

Test(limits, timeout_kills, .timeout = 20)
{
	struct run r;

	run_init(&r, "");
	r.spec.timeout_ms = 300;
	run_go(&r, "sbtest", "spin", NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err.msg);
	cr_assert_eq(r.rep.end, SANDBOX_END_TIMEOUT);
	cr_assert_str_eq(r.rep.message, "session timeout");
	run_free(&r);
}

Test(limits, timeout_while_blocked_on_a_mediated_pipe, .timeout = 20)
{
	struct run r;
	int p[2];

	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	run_init(&r, "");
	close(r.ch[0].fd);
	r.ch[0].fd = p[0];
	r.ch[0].gets = 10; /* metered: the supervisor blocks, not the program */
	r.spec.timeout_ms = 300;
	run_go(&r, "cat", NULL);
	cr_assert_eq(r.rep.end, SANDBOX_END_TIMEOUT);
	close(p[1]);
	run_free(&r);
}

Test(limits, cpu_seconds, .timeout = 20)
{
	struct run r;

	run_init(&r, "");
	r.spec.cpu_seconds = 1;
	r.spec.timeout_ms = 15000;
	run_go(&r, "sbtest", "spin", NULL);
	cr_assert_eq(r.rep.end, SANDBOX_END_SIGNAL);
	cr_assert_eq(r.rep.signal, SIGXCPU);
	run_free(&r);
}

Test(limits, network_channels_count_apart)
{
	struct run r;

	run_init(&r, "");
	struct sandbox_channel *c = out_channel(&r, U, U, false);
	c->network = true;
	run_go(&r, "sbtest", "write", "3", "2", "10", NULL);
	cr_assert_eq(r.rep.nwrites, 2);
	cr_assert_eq(r.rep.nwbytes, 20);
	cr_assert_eq(r.rep.writes, 1); /* "OK 2\n" on stdout */
	run_free(&r);
}

/* ------------------------------------------------------------ isolation */

Test(isolation, identity_and_environment)
{
	expect_out("uid", NULL, NULL, "OK 65534 65534 65534 65534\n");
	expect_out("env", NULL, NULL, "OK 0\n");
	/* no core dumps; 3 channels + ELF + socket + 64 spare fds */
	expect_out("rlimit", "4", NULL, "OK 0 0\n");   /* RLIMIT_CORE */
	expect_out("rlimit", "7", NULL, "OK 69 69\n"); /* RLIMIT_NOFILE */
	expect_out("rlimit", "9", NULL, "OK 1073741824 1073741824\n"); /* AS */
	/* prctl is refused outright, so no_new_privs is checked by the
	 * hostile suite (prctl_nnp); here: the call itself is denied */
	expect_out("nnp", NULL, NULL, "ERR EPERM\n");
}

static void denied(const char *call, const char *expect)
{
	expect_out("sys", call, NULL, expect);
}

Test(isolation, dangerous_calls_are_refused)
{
	static const char *const eperm[] = {
		"fork", "vfork", "clone", "clone3", "socket", "ptrace", "mount",
		"unshare", "setns", "chroot", "bpf", "io_uring_setup",
		"userfaultfd", "perf_event_open", "keyctl", "memfd_create",
		"pipe", "execve", "execveat", "kill1", "killparent", "killall",
		"setuid0", "setrlimit", "process_vm_readv", "getdents", "sysinfo",
	};
	for (size_t i = 0; i < sizeof(eperm) / sizeof(eperm[0]); i++)
		denied(eperm[i], "ERR EPERM\n");
	denied("setfl", "ERR EPERM\n");
	denied("getsid1", "ERR ESRCH\n");
	denied("getsidself", "OK 0\n");
	denied("killself", "OK 0\n");
	denied("sendfile", "ERR ENOSYS\n");
	denied("mmapfile", "ERR ENODEV\n");
	denied("ioctl", "ERR ENOTTY\n");
}

Test(isolation, foreign_abis_kill)
{
	struct run r;

	sbtest(&r, "int80", NULL, NULL);
	cr_assert_eq(r.rep.end, SANDBOX_END_SIGNAL);
	cr_assert_eq(r.rep.signal, SIGSYS);
	run_free(&r);
	sbtest(&r, "x32", NULL, NULL);
	cr_assert_eq(r.rep.end, SANDBOX_END_SIGNAL);
	cr_assert_eq(r.rep.signal, SIGSYS);
	run_free(&r);
}

/* -------------------------------------------------------------- filter */

/* hello in one of four shapes, each with its own filter. */
static void shape_run(int shape)
{
	struct run r;

	run_init(&r, "");
	if (shape == 3)
		run_add_in(&r, "/dev/input", "x", SANDBOX_SGET_SPUT);
	r.spec.deterministic = shape == 1 || shape == 2;
	r.spec.memory_etag = shape == 2;
	run_go(&r, "hello", NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err.msg);
	cr_assert_str_eq(out(&r), "hello, world\n");
	run_free(&r);
}

/* A daemon alternates shapes (determinism, memory etag, layouts): each
 * filter is compiled once, not again whenever another shape came between
 * (a one-entry cache made every prewarmed deterministic spawn after a
 * memory-etag one compile its filter again). */
Test(filter, alternating_shapes_stay_compiled)
{
	unsigned long first;

	for (int s = 0; s < 4; s++)
		shape_run(s);
	first = sb_filter_builds();
	cr_assert_geq(first, 4);
	for (int round = 0; round < 2; round++)
		for (int s = 0; s < 4; s++)
			shape_run(s);
	cr_assert_eq(sb_filter_builds(), first,
		     "%lu filters compiled again", sb_filter_builds() - first);
}

/* ------------------------------------------------------------- prewarm */

/* sbtest CMD A with the std channels and spec.prewarm (and `det`): the
 * first run of a shape parks a child, the next ones of that shape use it. */
static void prewarmed_out(bool det, const char *cmd, const char *a,
			  const char *expect)
{
	struct run r;

	run_init(&r, "");
	r.spec.prewarm = true;
	r.spec.deterministic = det;
	run_go(&r, "sbtest", cmd, a, NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err.msg);
	cr_assert_str_eq(out(&r), expect, "sbtest %s: %s", cmd, out(&r));
	run_free(&r);
}

/* Pids of this process's children (the namespace holder is one); at
 * most `max` are stored, all are counted. */
static int children(pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char path[300], buf[512];
	int n = 0;

	cr_assert(d);
	while ((e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t got = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[got > 0 ? got : 0] = '\0';
		char *paren = strrchr(buf, ')');
		if (!paren || atoi(paren + 4) != getpid())
			continue;
		if (n < max)
			pids[n] = atoi(buf);
		n++;
	}
	closedir(d);
	return n;
}

/* The pid a pidfd refers to (from its fdinfo). */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], buf[1024];
	const char *pid;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(fd >= 0);
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[got > 0 ? got : 0] = '\0';
	pid = strstr(buf, "Pid:");
	cr_assert(pid, "%s", buf);
	return atoi(pid + 4);
}

Test(prewarm, the_next_spawn_takes_the_parked_child)
{
	pid_t before[4], after[4], parked = 0;
	struct run r;
	int nb, na;

	hello_case("hello"); /* the holder exists, nothing is parked */
	nb = children(before, 4);
	cr_assert_eq(nb, 1);
	prewarmed_out(false, "fds", NULL, "OK 0 1 2\n");
	na = children(after, 4);
	cr_assert_eq(na, 2, "one child parked");
	for (int i = 0; i < na; i++)
		if (after[i] != before[0])
			parked = after[i];
	run_init(&r, "");
	run_prepare(&r, "hello", NULL);
	cr_assert_eq(sandbox_spawn(&r.spec, &r.sb, &r.err), 0, "%s", r.err.msg);
	cr_assert_eq(pidfd_pid(sandbox_pidfd(r.sb)), parked);
	cr_assert_eq(sandbox_wait(r.sb, &r.rep), 0);
	cr_assert_str_eq(out(&r), "hello, world\n");
	run_free(&r);
	/* without spec.prewarm nothing new is parked */
	cr_assert_eq(children(after, 4), 1);
}

/* The holder's pid and the other child of ours (0 if none). */
static pid_t parked_child(pid_t holder)
{
	pid_t pids[4], parked = 0;
	int n = children(pids, 4);

	cr_assert(n <= 2, "%d children: at most one is parked", n);
	for (int i = 0; i < n && i < 4; i++)
		if (pids[i] != holder)
			parked = pids[i];
	return parked;
}

/* A prewarmed spawn through a parked child parks the next one (during
 * its exec), exactly one, a new one; with determinism too. */
Test(prewarm, a_parked_childs_spawn_parks_the_next)
{
	pid_t holder;
	struct run r;

	hello_case("hello");
	cr_assert_eq(children(&holder, 1), 1);
	for (int det = 0; det < 2; det++) {
		prewarmed_out(det, "fds", NULL, "OK 0 1 2\n");
		pid_t first = parked_child(holder);
		cr_assert_neq(first, 0, "one child parked");
		run_init(&r, "");
		run_prepare(&r, "hello", NULL);
		r.spec.prewarm = true;
		r.spec.deterministic = det;
		cr_assert_eq(sandbox_spawn(&r.spec, &r.sb, &r.err), 0, "%s", r.err.msg);
		cr_assert_eq(pidfd_pid(sandbox_pidfd(r.sb)), first);
		cr_assert_eq(sandbox_wait(r.sb, &r.rep), 0);
		cr_assert_str_eq(out(&r), "hello, world\n");
		run_free(&r);
		pid_t next = parked_child(holder);
		cr_assert(next != 0 && next != first, "det %d: parked %d after %d",
			  det, next, first);
	}
	sandbox_prewarm_drop();
	cr_assert_eq(parked_child(holder), 0);
}

Test(prewarm, a_parked_child_is_the_same_sandbox)
{
	for (int i = 0; i < 3; i++) {
		hello_case("hello");
		prewarmed_out(false, "fds", NULL, "OK 0 1 2\n");
		prewarmed_out(false, "uid", NULL, "OK 65534 65534 65534 65534\n");
		prewarmed_out(false, "env", NULL, "OK 0\n");
		prewarmed_out(false, "rlimit", "7", "OK 69 69\n");
		prewarmed_out(false, "rlimit", "4", "OK 0 0\n");
		prewarmed_out(false, "sys", "clone", "ERR EPERM\n");
		prewarmed_out(false, "sys", "setrlimit", "ERR EPERM\n");
	}
}

Test(prewarm, reports_and_metering_through_a_parked_child)
{
	struct run r;

	for (int i = 0; i < 3; i++) {
		run_init(&r, "");
		r.spec.prewarm = true;
		run_go(&r, "hello", NULL);
		cr_assert_eq(r.rc, 0, "%s", r.err.msg);
		cr_assert_str_eq(out(&r), "hello, world\n");
		cr_assert_eq(r.rep.reads, 0);
		cr_assert_eq(r.rep.writes, 1);
		cr_assert_eq(r.rep.wbytes, 13);
		run_free(&r);
	}
	for (int i = 0; i < 3; i++) {
		run_init(&r, "abcdefgh");
		r.spec.prewarm = true;
		r.ch[0].gets = 1;
		run_go(&r, "sbtest", "readall", "0", NULL);
		cr_assert_str_eq(out(&r), "ERR EDQUOT after 8\n");
		cr_assert_eq(r.rep.channels[0].reads, 1);
		run_free(&r);
	}
}

Test(prewarm, shapes_change)
{
	struct run r;

	prewarmed_out(false, "fds", NULL, "OK 0 1 2\n");
	/* another layout: the parked child is discarded, not used */
	run_init(&r, "");
	r.spec.prewarm = true;
	run_add_in(&r, "/dev/input", "x", SANDBOX_SGET_SPUT);
	run_go(&r, "sbtest", "fds", NULL);
	cr_assert_str_eq(out(&r), "OK 0 1 2 3\n");
	run_free(&r);
	/* other limits */
	run_init(&r, "");
	r.spec.prewarm = true;
	r.spec.memory = 64 << 20;
	run_go(&r, "sbtest", "rlimit", "9", NULL);
	cr_assert_str_eq(out(&r), "OK 67108864 67108864\n");
	run_free(&r);
	/* deterministic, twice: the second one is a parked traced child */
	prewarmed_out(true, "uid", NULL, "OK 65534 65534 65534 65534\n");
	prewarmed_out(true, "uid", NULL, "OK 65534 65534 65534 65534\n");
	prewarmed_out(false, "fds", NULL, "OK 0 1 2\n");
}

Test(prewarm, exec_errors_through_a_parked_child)
{
	struct run r;

	for (int det = 0; det < 2; det++) {
		prewarmed_out(det, "fds", NULL, "OK 0 1 2\n");
		run_script(&r, true, det);
		cr_assert_eq(r.rc, -1);
		cr_assert(strstr(r.err.msg, "execveat text: not a static executable"),
			  "%s", r.err.msg);
		run_free(&r);
		prewarmed_out(det, "fds", NULL, "OK 0 1 2\n");
	}
}

static void *prewarmed_thread(void *arg)
{
	(void)arg;
	prewarmed_out(false, "fds", NULL, "OK 0 1 2\n");
	return NULL;
}

Test(prewarm, a_parked_child_ends_with_its_thread)
{
	pthread_t t;
	int before;

	pid_t pids[4];

	hello_case("hello"); /* the holder exists */
	before = children(pids, 4);
	cr_assert_eq(pthread_create(&t, NULL, prewarmed_thread, NULL), 0);
	pthread_join(t, NULL);
	cr_assert_eq(children(pids, 4), before);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), 0); /* nothing left to reap */
}

/* /proc/<pid>/comm, without the newline ("" if it is gone). */
static void comm_of(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	got = fd < 0 ? 0 : read(fd, buf, cap - 1);
	if (fd >= 0)
		close(fd);
	buf[got > 0 ? got : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

Test(prewarm, a_parked_child_is_named_and_dropped_on_request)
{
	pid_t before[4], after[4], parked = 0;
	char name[32];
	int nb;

	hello_case("hello"); /* the holder exists */
	nb = children(before, 4);
	cr_assert_eq(nb, 1);
	sandbox_prewarm_drop(); /* nothing parked: nothing to do */
	prewarmed_out(false, "fds", NULL, "OK 0 1 2\n");
	cr_assert_eq(children(after, 4), 2);
	parked = after[0] == before[0] ? after[1] : after[0];
	comm_of(parked, name, sizeof(name));
	cr_assert_str_eq(name, SANDBOX_PARKED_NAME, "born with the name");
	cr_assert_eq(prctl(PR_GET_NAME, name), 0);
	cr_assert_str_neq(name, SANDBOX_PARKED_NAME, "we have our name back");
	sandbox_prewarm_drop();
	cr_assert_eq(children(after, 4), 1, "the parked child is reaped");
	cr_assert_eq(after[0], before[0]);
	/* with nothing parked the next spawn is a direct one; it parks anew */
	prewarmed_out(false, "fds", NULL, "OK 0 1 2\n");
	sandbox_prewarm_drop();
	cr_assert_eq(children(after, 4), 1);
}

/* ------------------------------------------------------ event-loop API */

/* Like the daemon: a worker thread services the notify fd (and may block
 * in channel I/O) while another thread decides to kill. */
static void *service_thread(void *arg)
{
	struct sandbox *sb = arg;
	struct pollfd pf[2] = {{.fd = sandbox_pidfd(sb), .events = POLLIN},
			       {.fd = sandbox_notify_fd(sb), .events = POLLIN}};

	while (poll(pf, 2, -1) >= 0 && !pf[0].revents) {
		if ((pf[1].revents & POLLIN) && sandbox_service(sb) < 0)
			break;
		if (pf[1].revents & POLLHUP)
			pf[1].fd = -1; /* exiting: the pidfd comes next */
	}
	return NULL;
}

/* The daemon's service threads get signals meant for the process: while
 * its spawning thread waits for a child's exec with every signal blocked,
 * the kernel hands a SIGCHLD to another thread. One that lands while the
 * supervisor installs the fd of an open() must not make that open return
 * 0 without an fd (notify.c, fd_install). A signal hits that window in
 * most rounds; a few rounds make a miss unlikely. */
struct signalled {
	struct sandbox *sb;
	pthread_t thread;
	atomic_bool done;
};

static void on_sigusr1(int sig)
{
	(void)sig;
}

static void *signalled_service(void *arg)
{
	struct signalled *s = arg;

	service_thread(s->sb);
	atomic_store(&s->done, true);
	return NULL;
}

static void reopen_under_signals(void)
{
	struct signalled s = {0};
	struct run r;

	run_init(&r, "");
	run_prepare(&r, "sbtest", "reopen", "5000", "/dev/stdin", NULL);
	cr_assert_eq(sandbox_spawn(&r.spec, &s.sb, &r.err), 0, "%s", r.err.msg);
	cr_assert_eq(pthread_create(&s.thread, NULL, signalled_service, &s), 0);
	while (!atomic_load(&s.done)) {
		pthread_kill(s.thread, SIGUSR1);
		sched_yield();
	}
	pthread_join(s.thread, NULL);
	cr_assert_eq(sandbox_wait(s.sb, &r.rep), 0);
	cr_assert_str_eq(out(&r), "OK 5000\n");
	cr_assert_eq(r.rep.exit_code, 0);
	sandbox_free(s.sb);
	run_free(&r);
}

Test(api, opens_survive_signals_to_the_service_thread)
{
	struct sigaction sa = {.sa_handler = on_sigusr1, .sa_flags = SA_RESTART};

	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	for (int round = 0; round < 8; round++)
		reopen_under_signals();
}

Test(api, service_thread_and_kill, .timeout = 30)
{
	struct run r;
	struct sandbox *sb;
	pthread_t t;
	int p[2];

	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	run_init(&r, "");
	close(r.ch[0].fd);
	r.ch[0].fd = p[0];
	r.ch[0].gets = 100; /* mediated: reads arrive on the notify fd */
	run_prepare(&r, "cat", NULL);
	cr_assert_eq(sandbox_spawn(&r.spec, &sb, &r.err), 0, "%s", r.err.msg);
	cr_assert_eq(pthread_create(&t, NULL, service_thread, sb), 0);
	cr_assert(write(p[1], "abc", 3) == 3);
	for (int i = 0; i < 1000 && strcmp(out(&r), "abc") != 0; i++)
		usleep(10000);
	cr_assert_str_eq(out(&r), "abc");
	/* cat now waits for more input, the worker blocks in the pipe read */
	sandbox_kill(sb, SANDBOX_END_KILLED);
	pthread_join(t, NULL);
	cr_assert_eq(sandbox_wait(sb, &r.rep), 0);
	cr_assert_eq(r.rep.end, SANDBOX_END_KILLED);
	cr_assert_str_eq(r.rep.message, "killed");
	cr_assert_eq(r.rep.channels[0].rbytes, 3);
	sandbox_free(sb);
	close(p[1]);
	run_free(&r);
}

/* A mediated read of `data` through cat (the supervisor's transfer buffer
 * is set up on the first one). */
static void cat_mediated(const char *data)
{
	struct run r;

	run_init(&r, data);
	r.ch[0].gets = 100;
	run_go(&r, "cat", NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err.msg);
	cr_assert_str_eq(out(&r), data);
	cr_assert_eq(r.rep.channels[0].reads, 2);
	run_free(&r);
}

/* The 1 MiB transfer buffer of mediated I/O goes back to the system with
 * its sandbox. Malloc'd, the first one freed made glibc raise its mmap and
 * trim thresholds, and every later one stayed in the heap of the thread
 * that serviced it (zvmd's RSS grew 30 % in a soak). */
Test(api, transfer_buffer_is_returned_to_the_system)
{
	size_t before;

	cat_mediated("first");
	before = mallinfo2().arena;
	for (int i = 0; i < 4; i++)
		cat_mediated("again");
	cr_assert_lt(mallinfo2().arena, before + (512 << 10),
		     "the heap grew from %zu to %zu bytes", before,
		     mallinfo2().arena);
}
