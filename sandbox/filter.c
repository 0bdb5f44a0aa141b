/*
 * filter.c — the seccomp allow-list every program runs under.
 *
 * Four kinds of answer (README.md has the table and the reasons):
 *   ALLOW   what a static program needs to start, compute, manage
 *           anonymous memory and use its channels directly
 *   NOTIFY  calls the supervisor answers (notify.c): paths (open, stat),
 *           fd creation and closing (so it knows the program's fd table),
 *           I/O on mediated fds, signals
 *   ERRNO   everything else: EPERM; ENOSYS for in-kernel copies (libc
 *           falls back to read/write); ENOTTY for ioctl
 *   KILL    a foreign architecture (32-bit int 0x80, x32)
 *
 * The I/O rules depend on which fd numbers are direct channels (the
 * "layout"), so the compiled BPF is cached per layout: spawning the same
 * shape of sandbox again costs a memcpy.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

struct rule_list {
	uint32_t action;
	const int *nr;
	size_t n;
};

/* Unconditional answers. */
static const int allow_always[] = {
	SCMP_SYS(munmap), SCMP_SYS(mprotect),
	SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(madvise),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigpending),
	SCMP_SYS(rt_sigsuspend), SCMP_SYS(rt_sigtimedwait),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid), SCMP_SYS(getresuid), SCMP_SYS(getresgid),
	SCMP_SYS(getgroups), SCMP_SYS(getpgrp), SCMP_SYS(arch_prctl), SCMP_SYS(set_tid_address), SCMP_SYS(set_robust_list),
	SCMP_SYS(getrlimit), SCMP_SYS(sched_yield),
	SCMP_SYS(futex),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
	SCMP_SYS(getcwd),
	SCMP_SYS(umask), SCMP_SYS(fsync),
	SCMP_SYS(fdatasync), SCMP_SYS(pause), SCMP_SYS(alarm),
	SCMP_SYS(getitimer), SCMP_SYS(setitimer),
};

/* The program's end: the supervisor digests its memory first when the
 * memory etag is asked for (memory.c). */
static const int exit_calls[] = {SCMP_SYS(exit), SCMP_SYS(exit_group)};

static const int notify_always[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(creat),
	SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(kill), SCMP_SYS(tkill), SCMP_SYS(tgkill),
};

/* Everything not listed is refused with EPERM (the default action) —
 * sysinfo and getcpu too: they describe the host (load, memory, uptime,
 * which CPU), a channel between tenants and a source of nondeterminism.
 * And: new processes and threads, exec, sockets, ptrace and process_vm_*, mount
 * and namespaces, bpf, io_uring, userfaultfd, perf_event_open, keyctl,
 * modules, pipes, memfd, identity and limits, writes to the file system.
 * Listing them would only lengthen the filter, and the kernel pays for
 * its length at every attach (see filter_build). */

/* ENOSYS instead, so libc and coreutils fall back to plain read/write:
 * copying between fds inside the kernel would skip the supervisor. */
static const int deny_enosys[] = {
	SCMP_SYS(sendfile), SCMP_SYS(splice), SCMP_SYS(tee),
	SCMP_SYS(vmsplice), SCMP_SYS(copy_file_range),
};

/* The I/O calls the layout decides, and the fd bits that let each one
 * through directly (any of them). */
struct io_rule {
	int nr;
	int bits;
};

static const struct io_rule io_rules[] = {
	{SCMP_SYS(read), SB_FD_READ},
	{SCMP_SYS(readv), SB_FD_READ},
	{SCMP_SYS(write), SB_FD_WRITE},
	{SCMP_SYS(writev), SB_FD_WRITE},
	{SCMP_SYS(pread64), SB_FD_PREAD},
	{SCMP_SYS(preadv), SB_FD_PREAD},
	{SCMP_SYS(preadv2), SB_FD_PREAD},
	{SCMP_SYS(pwrite64), SB_FD_PWRITE},
	{SCMP_SYS(pwritev), SB_FD_PWRITE},
	{SCMP_SYS(pwritev2), SB_FD_PWRITE},
	{SCMP_SYS(lseek), SB_FD_PREAD | SB_FD_PWRITE},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int add_list(scmp_filter_ctx ctx, uint32_t action, const int *nr,
		    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = seccomp_rule_add(ctx, action, nr[i], 0);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One rule per aligned power-of-two block of [lo, hi] (libseccomp allows
 * one comparison per argument, so ranges become masked compares). */
static int add_fd_range(scmp_filter_ctx ctx, uint32_t action, int nr,
			uint64_t lo, uint64_t hi)
{
	while (lo <= hi) {
		uint64_t size = 1;

		while ((lo & (size * 2 - 1)) == 0 && lo + size * 2 - 1 <= hi)
			size *= 2;
		int rc = seccomp_rule_add(ctx, action, nr, 1,
					  SCMP_A0(SCMP_CMP_MASKED_EQ,
						  ~(size - 1), lo));
		if (rc < 0)
			return rc;
		lo += size;
	}
	return 0;
}

static bool fd_direct(char cls, int bits)
{
	return cls != SB_FD_NOTIFY && ((cls - SB_FD_DIRECT) & bits);
}

/* ALLOW `nr` on the fds whose class has one of `bits`, NOTIFY on every
 * other fd the program can have (below `nfds`, its RLIMIT_NOFILE), EBADF
 * for numbers no fd can have — no round trip for an fd scan. The mediated
 * run past the last direct fd is one range, and without any direct fd
 * there are no per-fd rules at all: the kernel pays for every instruction
 * at attach time. */
static int add_fd_rules(scmp_filter_ctx ctx, int nr, int bits,
			const char *layout, size_t nfds)
{
	size_t end = 0;
	int rc;

	for (size_t i = 0; layout[i]; i++)
		if (fd_direct(layout[i], bits))
			end = i + 1;
	/* libseccomp tests ">=" rules on one argument from the highest
	 * value down, so these two split the numbers at nfds. */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EBADF), nr, 1,
			      SCMP_A0(SCMP_CMP_GE, nfds));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 1,
				      SCMP_A0(SCMP_CMP_GE, end));
	for (size_t i = 0; rc == 0 && i < end;) {
		bool allow = fd_direct(layout[i], bits);
		size_t j = i;

		while (j + 1 < end && fd_direct(layout[j + 1], bits) == allow)
			j++;
		rc = add_fd_range(ctx, allow ? SCMP_ACT_ALLOW : SCMP_ACT_NOTIFY,
				  nr, i, j);
		i = j + 1;
	}
	return rc;
}

/* The stat family. With AT_EMPTY_PATH these are fstat (glibc's fstat is
 * one), or a path looked up in the empty root: nothing to hide, no round
 * trip. Without it, the supervisor answers for the channel aliases.
 * Deterministic: the supervisor answers every stat of a channel, with
 * the host's inode, device, owner and times replaced (determinism.c), and
 * continues the others. */
static int add_stat_rules(scmp_filter_ctx ctx, bool det)
{
	static const int stat_calls[] = {SCMP_SYS(fstat), SCMP_SYS(newfstatat),
					 SCMP_SYS(statx)};
	int rc = 0;

	if (det)
		return add_list(ctx, SCMP_ACT_NOTIFY, stat_calls, N(stat_calls));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fstat), 0);
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
			       SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH,
				       AT_EMPTY_PATH));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(newfstatat), 1,
			       SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(statx), 1,
			       SCMP_A2(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH,
				       AT_EMPTY_PATH));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(statx), 1,
			       SCMP_A2(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0));
	return rc;
}

static int add_special(scmp_filter_ctx ctx, int exec_fd, bool posix)
{
	int rc = 0;

	/* The child's own exec of the ELF at exec_fd and its hand-over of the
	 * listener on exec_fd + 1 (spawn.c). Both fds close at exec and
	 * nothing can live there again (the supervisor never puts anything
	 * at n, n + 1; with an image they are past RLIMIT_NOFILE), so
	 * afterwards these calls can only fail; without an image an
	 * absolute path for execveat resolves in the empty noexec root. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(execveat), 1,
			       SCMP_A0(SCMP_CMP_EQ, exec_fd));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 1,
			       SCMP_A0(SCMP_CMP_EQ, exec_fd + 1));

	/* Questions about a process: only about itself, as pid 0. It runs in
	 * the host's pid namespace, so any other pid "does not exist" (even
	 * its own number: answering that would cost a round trip per probe). */
	static const int self_only[] = {SCMP_SYS(getpgid), SCMP_SYS(getsid),
					SCMP_SYS(sched_getaffinity),
					SCMP_SYS(get_robust_list)};
	for (size_t i = 0; i < N(self_only); i++) {
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, self_only[i], 1,
				       SCMP_A0(SCMP_CMP_EQ, 0));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ESRCH), self_only[i], 1,
				       SCMP_A0(SCMP_CMP_NE, 0));
	}
	/* Reading limits is fine, changing them (or another's) is not. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 2,
			       SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0));
	/* File mappings would read or write channels behind the
	 * supervisor's back: only anonymous memory (the posix policy asks
	 * the supervisor about file mappings instead). */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
			       SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS,
				       MAP_ANONYMOUS));
	if (!posix)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENODEV), SCMP_SYS(mmap), 1,
				       SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, 0));
	/* fcntl: fd flags and reading status flags are fine, duplication is
	 * tracked, the rest refused — F_SETFL too: the open file description
	 * is shared with the caller (O_NONBLOCK would reach its event loop). */
	static const int fcntl_ok[] = {F_GETFD, F_SETFD, F_GETFL};
	for (size_t i = 0; i < N(fcntl_ok); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				       SCMP_A1(SCMP_CMP_EQ, fcntl_ok[i]));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(fcntl), 1,
			       SCMP_A1(SCMP_CMP_EQ, F_DUPFD));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(fcntl), 1,
			       SCMP_A1(SCMP_CMP_EQ, F_DUPFD_CLOEXEC));
	/* Terminals and devices: no ioctl at all (TIOCSTI could type into
	 * the host's terminal). Programs see "not a tty". */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 0);
	/* No channel is a symlink (an image's links are the kernel's). */
	if (!posix) {
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOENT), SCMP_SYS(readlink), 0);
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOENT),
				       SCMP_SYS(readlinkat), 0);
	}
	return rc;
}

static int filter_build(const char *layout, bool det, bool posix, bool exit_notify,
			struct sock_fprog *out, struct sandbox_error *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int rc, mfd = -1;
	struct stat st;

	if (!ctx) {
		sb_error(err, "seccomp_init failed");
		return -1;
	}
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			      SCMP_ACT_KILL_PROCESS);
	rc = rc ? rc : seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	/* A binary tree over syscall numbers instead of a linear list: the
	 * kernel emulates the filter for every syscall number when it is
	 * attached (to build its allow cache), and a list of ~250 checks
	 * made that cost 0.6 ms per spawn. */
	rc = rc ? rc : seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	rc = rc ? rc : add_list(ctx, SCMP_ACT_ALLOW, allow_always, N(allow_always));
	rc = rc ? rc : add_list(ctx, SCMP_ACT_NOTIFY, notify_always, N(notify_always));
	rc = rc ? rc : add_list(ctx, exit_notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ALLOW,
				exit_calls, N(exit_calls));
	rc = rc ? rc : add_stat_rules(ctx, det);
	/* rseq: the kernel writes the CPU the program runs on into its
	 * memory (glibc's sched_getcpu reads it): not when deterministic.
	 * libc runs without it. */
	rc = rc ? rc : seccomp_rule_add(ctx, det ? SCMP_ACT_ERRNO(ENOSYS)
						 : SCMP_ACT_ALLOW, SCMP_SYS(rseq), 0);
	/* clocks, sleeps, getrandom, uname: the host's, or the
	 * supervisor's deterministic answers (determinism.c) */
	rc = rc ? rc : add_list(ctx, det ? SCMP_ACT_NOTIFY : SCMP_ACT_ALLOW,
				sb_det_calls, sb_det_ncalls);
	rc = rc ? rc : add_list(ctx, SCMP_ACT_ERRNO(ENOSYS), deny_enosys, N(deny_enosys));
	/* fd table calls: tracked below the fd limit, EBADF above it */
	static const int fd_calls[] = {SCMP_SYS(close), SCMP_SYS(dup),
				       SCMP_SYS(dup2), SCMP_SYS(dup3)};
	size_t nfds = strlen(layout) + SB_FD_SLACK;
	for (size_t i = 0; rc == 0 && i < N(io_rules); i++)
		rc = add_fd_rules(ctx, io_rules[i].nr, io_rules[i].bits, layout,
				  nfds);
	for (size_t i = 0; rc == 0 && i < N(fd_calls); i++)
		rc = add_fd_rules(ctx, fd_calls[i],
				  posix && fd_calls[i] == SCMP_SYS(close) ? SB_FD_OWN : 0,
				  layout, nfds);
	rc = rc ? rc : add_special(ctx, posix ? (int)nfds : (int)strlen(layout) - 2,
				   posix);
	rc = rc ? rc : posix ? sb_filter_posix_rules(ctx, nfds, det) : 0;
	if (rc) {
		sb_error(err, "building the seccomp filter: %s", strerror(-rc));
		goto fail;
	}
	mfd = memfd_create("zerovm-filter", MFD_CLOEXEC);
	if (mfd < 0 || (rc = seccomp_export_bpf(ctx, mfd)) < 0 ||
	    fstat(mfd, &st) < 0) {
		sb_error(err, "exporting the seccomp filter failed");
		goto fail;
	}
	out->len = st.st_size / sizeof(struct sock_filter);
	out->filter = malloc(st.st_size);
	if (!out->filter ||
	    pread(mfd, out->filter, st.st_size, 0) != st.st_size) {
		free(out->filter);
		sb_error(err, "reading the seccomp filter back failed");
		goto fail;
	}
	close(mfd);
	seccomp_release(ctx);
	return 0;
fail:
	if (mfd >= 0)
		close(mfd);
	seccomp_release(ctx);
	return -1;
}

/* A daemon spawns a few shapes over and over, of every kind (determinism,
 * memory etag, image runs): one entry per kind thrashed as soon as two
 * shapes alternated, and each miss costs a libseccomp build (~0.7 ms of
 * CPU) inside the spawn. The least recently used entry goes. */
#define CACHE_SLOTS 16

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct filter_cache {
	char *layout;           /* NULL: a free slot */
	bool det, posix, exit_notify;
	unsigned long used;     /* cache_clock at the last hit */
	struct sock_fprog prog;
} cache[CACHE_SLOTS];
static unsigned long cache_clock, cache_builds;

static int fprog_copy(const struct sock_fprog *from, struct sock_fprog *to)
{
	size_t size = from->len * sizeof(struct sock_filter);

	to->filter = malloc(size);
	if (!to->filter)
		return -1;
	memcpy(to->filter, from->filter, size);
	to->len = from->len;
	return 0;
}

/* The entry of this policy, else the slot to build it in (free or least
 * recently used). */
static struct filter_cache *cache_slot(const char *layout, bool det, bool posix,
				       bool exit_notify, bool *hit)
{
	struct filter_cache *victim = &cache[0];

	for (int i = 0; i < CACHE_SLOTS; i++) {
		struct filter_cache *c = &cache[i];

		if (c->layout && c->det == det && c->posix == posix &&
		    c->exit_notify == exit_notify && strcmp(c->layout, layout) == 0) {
			*hit = true;
			return c;
		}
		if (victim->layout && (!c->layout || c->used < victim->used))
			victim = c;
	}
	*hit = false;
	return victim;
}

int sb_filter_get(const char *layout, bool det, bool posix, bool exit_notify,
		  struct sock_fprog *out, struct sandbox_error *err)
{
	struct filter_cache *c;
	struct sock_fprog fresh;
	bool hit;
	int rc = 0;

	pthread_mutex_lock(&cache_lock);
	c = cache_slot(layout, det, posix, exit_notify, &hit);
	if (!hit) {
		char *copy = strdup(layout);

		if (!copy || filter_build(layout, det, posix, exit_notify, &fresh,
					  err) < 0) {
			if (!copy)
				sb_error(err, "out of memory");
			free(copy);
			rc = -1;
			goto out;
		}
		cache_builds++;
		free(c->layout);
		free(c->prog.filter);
		c->layout = copy;
		c->det = det;
		c->posix = posix;
		c->exit_notify = exit_notify;
		c->prog = fresh;
	}
	c->used = ++cache_clock;
	if (fprog_copy(&c->prog, out) < 0) {
		sb_error(err, "out of memory");
		rc = -1;
	}
out:
	pthread_mutex_unlock(&cache_lock);
	return rc;
}

unsigned long sb_filter_builds(void)
{
	unsigned long n;

	pthread_mutex_lock(&cache_lock);
	n = cache_builds;
	pthread_mutex_unlock(&cache_lock);
	return n;
}

void sb_filter_free(struct sock_fprog *f)
{
	free(f->filter);
	f->filter = NULL;
	f->len = 0;
}
