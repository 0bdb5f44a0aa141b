/*
 * hostile.h — the shared conventions of the hostile programs.
 *
 * Every hostile program tries ONE kind of escape from the sandbox, prints
 * what it observed on stdout, and ends with:
 *   exit 0   "RESULT: contained" — every attempt failed as it must;
 *   exit 99  "RESULT: ESCAPED"   — at least one attempt succeeded;
 * or it is killed by the sandbox (e.g. SIGSYS), which the runner
 * (run_hostile.py) accepts only where it expects exactly that.
 *
 * Command line, set by the runner:
 *   argv[1]  CANARY  a host directory (holds `secret`; must stay unchanged)
 *   argv[2]  SELF    the host path of this very program
 *   argv[3]  TOKEN   a unique word; any leftover process carries it
 *   argv[4…]         program-specific arguments
 *
 * Output goes straight to fd 1 (or hostile_log_fd) with dprintf (no stdio
 * buffer): if the sandbox kills the program, everything up to the fatal
 * call is printed.
 * Attempts use raw syscall() where libc would hide or reroute them.
 */
#ifndef ZEROVM_HOSTILE_H
#define ZEROVM_HOSTILE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define HOSTILE_ESCAPED 99

static int hostile_escapes;
static int hostile_log_fd = 1; /* a program that moves fd 1 logs on 2 */
static const char *hostile_canary = "/nonexistent-canary";
static const char *hostile_self = "/nonexistent-self";
static char hostile_secret[PATH_MAX];     /* CANARY/secret */
static char hostile_tmp_target[PATH_MAX]; /* /tmp/zvm-hostile-pwned-NAME */
static char hostile_canary_target[PATH_MAX]; /* CANARY/pwned-NAME */
/* Running from an image (sandbox/README.md "Images"): /tmp is the
 * program's own private scratch, so writing there is no escape; the
 * runner still checks that the host's /tmp is untouched. */
static int hostile_in_image;

static inline void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void say(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vdprintf(hostile_log_fd, fmt, ap);
	va_end(ap);
	errno = saved;
}

static inline void escaped(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void escaped(const char *fmt, ...)
{
	va_list ap;

	dprintf(hostile_log_fd, "ESCAPED: ");
	va_start(ap, fmt);
	vdprintf(hostile_log_fd, fmt, ap);
	va_end(ap);
	dprintf(hostile_log_fd, "\n");
	hostile_escapes++;
}

static inline const char *errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

/* An attempt that must fail with -1/errno; anything else is an escape. */
static inline long must_fail(const char *what, long ret)
{
	int e = errno;

	if (ret == -1)
		say("contained: %s -> %s\n", what, errname(e));
	else
		escaped("%s returned %ld", what, ret);
	errno = e;
	return ret;
}
#define MUST_FAIL(call) must_fail(#call, (long)(call))

/* Show up to 96 bytes of an fd that should never have been opened, so the
 * runner can see leaked host content (it looks for the canary secret). */
static inline void show_fd(int fd)
{
	char buf[97];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n < 0) {
		say("  (read -> %s)\n", errname(errno));
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			buf[i] = '.';
	buf[n] = '\0';
	say("  read: \"%s\"\n", buf);
}

/* An open-like attempt that must fail; on success show what it opened. */
static inline void must_fail_fd(const char *what, long fd)
{
	if (must_fail(what, fd) >= 0) {
		show_fd((int)fd);
		close((int)fd);
	}
}
#define MUST_FAIL_FD(call) must_fail_fd(#call, (long)(call))

/* Host paths no sandboxed program may reach (NULL-terminated). */
static const char *hostile_paths[16];

static inline void hostile_init(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1
						 : argv[0];
	size_t n = 0;

	if (argc > 1)
		hostile_canary = argv[1];
	if (argc > 2)
		hostile_self = argv[2];
	snprintf(hostile_secret, sizeof(hostile_secret), "%s/secret",
		 hostile_canary);
	struct stat tmp_st;
	hostile_in_image = stat("/tmp", &tmp_st) == 0 && S_ISDIR(tmp_st.st_mode);
	/* In an image the nearest thing to the host's /tmp is the
	 * read-only image root. */
	snprintf(hostile_tmp_target, sizeof(hostile_tmp_target),
		 hostile_in_image ? "/zvm-hostile-pwned-%s"
				  : "/tmp/zvm-hostile-pwned-%s", name);
	snprintf(hostile_canary_target, sizeof(hostile_canary_target),
		 "%s/pwned-%s", hostile_canary, name);
	hostile_paths[n++] = hostile_secret;
	hostile_paths[n++] = hostile_canary;
	hostile_paths[n++] = hostile_self;
	hostile_paths[n++] = "/etc/passwd";
	hostile_paths[n++] = "/etc/hostname";
	hostile_paths[n++] = "/proc/self/status";
	hostile_paths[n++] = "/proc/1/cmdline";
	hostile_paths[n++] = "/sys/kernel/osrelease";
	hostile_paths[n++] = "/bin/sh";
	hostile_paths[n++] = "/usr/bin/env";
	hostile_paths[n++] = "/dev/vda";
	hostile_paths[n++] = "/dev/mem";
	hostile_paths[n++] = "secret";              /* cwd = CANARY if leaked */
	hostile_paths[n++] = "../../../../../etc/passwd";
	hostile_paths[n] = NULL;
	say("hostile %s: canary %s\n", name, hostile_canary);
}

/* Names that exist in a host root but never in the sandbox's empty one. */
static inline int is_host_entry(const char *name)
{
	static const char *const host[] = {
		"etc", "usr", "proc", "sys", "bin", "sbin", "var", "home",
		"root", "boot", "lib", "lib64", "opt", "srv", "work", NULL,
	};

	for (size_t i = 0; host[i]; i++)
		if (strcmp(name, host[i]) == 0)
			return 1;
	return 0;
}

/* List directory fd `dfd` with raw getdents64; an entry that only a host
 * root has is an escape. Returns the number of entries seen. */
static inline int list_for_host(const char *what, int dfd)
{
	char buf[8192];
	int count = 0;
	long n;

	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);

			say("  %s entry: %s\n", what, d->d_name);
			if (is_host_entry(d->d_name) ||
			    strncmp(d->d_name, "zvm-hostile-", 12) == 0)
				escaped("%s lists host entry %s", what,
					d->d_name);
			count++;
			off += d->d_reclen;
		}
	}
	if (n < 0)
		say("  %s getdents64 -> %s\n", what, errname(errno));
	return count;
}

static inline int hostile_done(void)
{
	if (hostile_escapes) {
		say("RESULT: ESCAPED (%d)\n", hostile_escapes);
		return HOSTILE_ESCAPED;
	}
	say("RESULT: contained\n");
	return 0;
}

/*
 * A process-creating system call whose child, if one is ever created,
 * exits at once with 99 without touching memory (it may share the stack
 * with the caller). Returns what the parent sees: a pid or -errno.
 */
static inline long spawn_syscall(long nr, long a1, long a2, long a3, long a4,
			  long a5)
{
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "mov $99, %%edi\n\t"
			 "mov $60, %%eax\n\t"
			 "syscall\n\t"
			 "1:"
			 : "=a"(ret)
			 : "0"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10),
			   "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

/* spawn_syscall() judged: a child (ret > 0) is an escape. */
static inline void must_not_spawn(const char *what, long ret)
{
	if (ret < 0) {
		say("contained: %s -> %s\n", what, errname((int)-ret));
		return;
	}
	escaped("%s created child %ld", what, ret);
}

#endif
