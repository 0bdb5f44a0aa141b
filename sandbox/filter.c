/*
 * filter.c — the seccomp allow-list every program runs under.
 *
 * Four kinds of answer (README.md has the table and the reasons):
 *   ALLOW   what a static program needs to start, compute, manage
 *           anonymous memory and use its channels directly
 *   NOTIFY  calls the supervisor answers (notify.c): paths (open, stat),
 *           fd creation and closing (so it knows the program's fd table),
 *           I/O on mediated fds, signals, the program's own execveat
 *   ERRNO   everything else: EPERM for the dangerous classes, ENOSYS for
 *           the merely unsupported (libc falls back), ENOTTY for ioctl
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
#include <asm/prctl.h>

#include "internal.h"

struct rule_list {
	uint32_t action;
	const int *nr;
	size_t n;
};

/* Unconditional answers. */
static const int allow_always[] = {
	SCMP_SYS(fstat), SCMP_SYS(munmap), SCMP_SYS(mprotect),
	SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(madvise),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigpending),
	SCMP_SYS(rt_sigsuspend), SCMP_SYS(rt_sigtimedwait),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid), SCMP_SYS(getresuid), SCMP_SYS(getresgid),
	SCMP_SYS(getgroups), SCMP_SYS(getpgrp), SCMP_SYS(getpgid),
	SCMP_SYS(getsid), SCMP_SYS(set_tid_address), SCMP_SYS(set_robust_list),
	SCMP_SYS(get_robust_list), SCMP_SYS(rseq), SCMP_SYS(getrlimit),
	SCMP_SYS(uname), SCMP_SYS(getrandom), SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(getcpu), SCMP_SYS(futex),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
	SCMP_SYS(getcwd), SCMP_SYS(getrusage), SCMP_SYS(times),
	SCMP_SYS(sysinfo), SCMP_SYS(umask), SCMP_SYS(fsync),
	SCMP_SYS(fdatasync), SCMP_SYS(pause), SCMP_SYS(alarm),
	SCMP_SYS(getitimer), SCMP_SYS(setitimer),
};

static const int notify_always[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(creat),
	SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(newfstatat), SCMP_SYS(statx),
	SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(close), SCMP_SYS(dup), SCMP_SYS(dup2), SCMP_SYS(dup3),
	SCMP_SYS(execveat), SCMP_SYS(kill), SCMP_SYS(tkill), SCMP_SYS(tgkill),
};

/* Dangerous classes: refused with EPERM, documented in README.md. */
static const int deny_eperm[] = {
	/* new processes, threads, programs */
	SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(fork), SCMP_SYS(vfork),
	SCMP_SYS(execve),
	/* networking */
	SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect),
	SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(accept), SCMP_SYS(accept4),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmmsg), SCMP_SYS(recvmmsg),
	SCMP_SYS(shutdown), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	/* other processes */
	SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv),
	SCMP_SYS(process_vm_writev), SCMP_SYS(kcmp), SCMP_SYS(pidfd_open),
	SCMP_SYS(pidfd_getfd), SCMP_SYS(pidfd_send_signal),
	SCMP_SYS(rt_sigqueueinfo), SCMP_SYS(rt_tgsigqueueinfo),
	SCMP_SYS(setpriority), SCMP_SYS(sched_setaffinity),
	SCMP_SYS(sched_setscheduler), SCMP_SYS(sched_setparam),
	SCMP_SYS(ioprio_set), SCMP_SYS(process_madvise),
	SCMP_SYS(process_mrelease),
	/* file systems, namespaces, the machine */
	SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(mount_setattr),
	SCMP_SYS(move_mount), SCMP_SYS(open_tree), SCMP_SYS(fsopen),
	SCMP_SYS(fsconfig), SCMP_SYS(fsmount), SCMP_SYS(fspick),
	SCMP_SYS(pivot_root), SCMP_SYS(chroot), SCMP_SYS(chdir),
	SCMP_SYS(fchdir), SCMP_SYS(unshare), SCMP_SYS(setns),
	SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at),
	SCMP_SYS(init_module), SCMP_SYS(finit_module),
	SCMP_SYS(delete_module), SCMP_SYS(reboot), SCMP_SYS(kexec_load),
	SCMP_SYS(kexec_file_load), SCMP_SYS(swapon), SCMP_SYS(swapoff),
	SCMP_SYS(acct), SCMP_SYS(settimeofday), SCMP_SYS(clock_settime),
	SCMP_SYS(clock_adjtime), SCMP_SYS(adjtimex), SCMP_SYS(sethostname),
	SCMP_SYS(setdomainname), SCMP_SYS(syslog), SCMP_SYS(quotactl),
	SCMP_SYS(iopl), SCMP_SYS(ioperm),
	/* kernel attack surface */
	SCMP_SYS(bpf), SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register), SCMP_SYS(userfaultfd),
	SCMP_SYS(perf_event_open), SCMP_SYS(keyctl), SCMP_SYS(add_key),
	SCMP_SYS(request_key), SCMP_SYS(personality), SCMP_SYS(seccomp),
	SCMP_SYS(prctl), SCMP_SYS(memfd_create), SCMP_SYS(memfd_secret),
	SCMP_SYS(modify_ldt), SCMP_SYS(lookup_dcookie),
	SCMP_SYS(fanotify_init), SCMP_SYS(inotify_init),
	SCMP_SYS(inotify_init1), SCMP_SYS(mbind), SCMP_SYS(set_mempolicy),
	SCMP_SYS(migrate_pages), SCMP_SYS(move_pages), SCMP_SYS(vhangup),
	/* identity and limits */
	SCMP_SYS(setuid), SCMP_SYS(setgid), SCMP_SYS(setreuid),
	SCMP_SYS(setregid), SCMP_SYS(setresuid), SCMP_SYS(setresgid),
	SCMP_SYS(setgroups), SCMP_SYS(setfsuid), SCMP_SYS(setfsgid),
	SCMP_SYS(capset), SCMP_SYS(setrlimit), SCMP_SYS(setsid),
	SCMP_SYS(setpgid),
	/* fds that are not channels */
	SCMP_SYS(pipe), SCMP_SYS(pipe2), SCMP_SYS(eventfd),
	SCMP_SYS(eventfd2), SCMP_SYS(signalfd), SCMP_SYS(signalfd4),
	SCMP_SYS(timerfd_create), SCMP_SYS(epoll_create),
	SCMP_SYS(epoll_create1), SCMP_SYS(close_range),
	SCMP_SYS(ftruncate), SCMP_SYS(fallocate), SCMP_SYS(flock),
	/* writes to the (read-only, empty) file system */
	SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rmdir), SCMP_SYS(unlink),
	SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
	SCMP_SYS(renameat2), SCMP_SYS(link), SCMP_SYS(linkat),
	SCMP_SYS(symlink), SCMP_SYS(symlinkat), SCMP_SYS(mknod),
	SCMP_SYS(mknodat), SCMP_SYS(chmod), SCMP_SYS(fchmod),
	SCMP_SYS(fchmodat), SCMP_SYS(chown), SCMP_SYS(fchown),
	SCMP_SYS(lchown), SCMP_SYS(fchownat), SCMP_SYS(truncate),
	SCMP_SYS(utime), SCMP_SYS(utimes), SCMP_SYS(utimensat),
	SCMP_SYS(futimesat), SCMP_SYS(setxattr), SCMP_SYS(lsetxattr),
	SCMP_SYS(fsetxattr), SCMP_SYS(removexattr), SCMP_SYS(lremovexattr),
	SCMP_SYS(fremovexattr),
};

/* Not listed anywhere, so ENOSYS (the default): sendfile, splice, tee,
 * vmsplice, copy_file_range — copying between fds inside the kernel would
 * skip the supervisor, and libc and coreutils fall back to read/write. */

static const int io_seq[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
};
static const int io_pos[] = {
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv),
	SCMP_SYS(pwritev), SCMP_SYS(preadv2), SCMP_SYS(pwritev2),
	SCMP_SYS(lseek),
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

/* For each syscall in nr: ALLOW on fds whose class is in `direct`,
 * NOTIFY on every other fd (including every number >= len). */
static int add_fd_rules(scmp_filter_ctx ctx, const int *nr, size_t n,
			const char *layout, const char *direct)
{
	size_t len = strlen(layout);

	for (size_t k = 0; k < n; k++) {
		size_t i = 0;

		while (i < len) {
			bool allow = strchr(direct, layout[i]) != NULL;
			size_t j = i;

			while (j + 1 < len &&
			       (strchr(direct, layout[j + 1]) != NULL) == allow)
				j++;
			int rc = add_fd_range(ctx,
					      allow ? SCMP_ACT_ALLOW : SCMP_ACT_NOTIFY,
					      nr[k], i, j);
			if (rc < 0)
				return rc;
			i = j + 1;
		}
		int rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr[k], 1,
					  SCMP_A0(SCMP_CMP_GE, len));
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int add_special(scmp_filter_ctx ctx)
{
	int rc = 0;

	/* The libc's first call: where the supervisor snapshots the I/O
	 * counters, so the kernel's reads of the ELF during exec don't
	 * count as channel reads. Other arch_prctl codes are harmless. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(arch_prctl), 1,
			       SCMP_A0(SCMP_CMP_EQ, ARCH_SET_FS));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(arch_prctl), 1,
			       SCMP_A0(SCMP_CMP_NE, ARCH_SET_FS));
	/* Reading limits is fine, changing them (or another's) is not. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 2,
			       SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0));
	/* File mappings would read or write channels behind the
	 * supervisor's back: only anonymous memory. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
			       SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS,
				       MAP_ANONYMOUS));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENODEV), SCMP_SYS(mmap), 1,
			       SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, 0));
	/* fcntl: flags are fine, duplication is tracked, the rest refused. */
	static const int fcntl_ok[] = {F_GETFD, F_SETFD, F_GETFL, F_SETFL};
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
	/* No channel is a symlink. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOENT), SCMP_SYS(readlink), 0);
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOENT), SCMP_SYS(readlinkat), 0);
	return rc;
}

static int filter_build(const char *layout, struct sock_fprog *out,
			struct sandbox_error *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
	int rc, mfd = -1;
	struct stat st;

	if (!ctx) {
		sb_error(err, "seccomp_init failed");
		return -1;
	}
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			      SCMP_ACT_KILL_PROCESS);
	rc = rc ? rc : seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	rc = rc ? rc : add_list(ctx, SCMP_ACT_ALLOW, allow_always, N(allow_always));
	rc = rc ? rc : add_list(ctx, SCMP_ACT_NOTIFY, notify_always, N(notify_always));
	rc = rc ? rc : add_list(ctx, SCMP_ACT_ERRNO(EPERM), deny_eperm, N(deny_eperm));
	rc = rc ? rc : add_fd_rules(ctx, io_seq, N(io_seq), layout, "sr");
	rc = rc ? rc : add_fd_rules(ctx, io_pos, N(io_pos), layout, "r");
	rc = rc ? rc : add_special(ctx);
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

/* One cached entry: a daemon spawns the same shapes over and over. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static char *cache_layout;
static struct sock_fprog cache_prog;

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

int sb_filter_get(const char *layout, struct sock_fprog *out,
		  struct sandbox_error *err)
{
	struct sock_fprog fresh;
	int rc = 0;

	pthread_mutex_lock(&cache_lock);
	if (!cache_layout || strcmp(cache_layout, layout) != 0) {
		char *copy = strdup(layout);

		if (!copy || filter_build(layout, &fresh, err) < 0) {
			if (!copy)
				sb_error(err, "out of memory");
			free(copy);
			rc = -1;
			goto out;
		}
		free(cache_layout);
		free(cache_prog.filter);
		cache_layout = copy;
		cache_prog = fresh;
	}
	if (fprog_copy(&cache_prog, out) < 0) {
		sb_error(err, "out of memory");
		rc = -1;
	}
out:
	pthread_mutex_unlock(&cache_lock);
	return rc;
}

void sb_filter_free(struct sock_fprog *f)
{
	free(f->filter);
	f->filter = NULL;
	f->len = 0;
}
