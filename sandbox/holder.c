/*
 * holder.c — the namespaces every program runs in, built once per process.
 *
 * Creating namespaces costs more than the rest of a spawn together (see
 * README.md), so a tiny holder process creates them once and then only
 * waits; every spawn enters them with one setns() on the holder's pidfd.
 *
 * The holder, step by step (raw system calls: it shares our memory):
 *   1. close every fd but its control pipe and status pipe
 *   2. unshare mount, ipc, uts and net namespaces (net: only a down lo)
 *   3. make every mount private, so nothing propagates either way
 *   4. mount an empty tmpfs, pivot_root into it, detach the old root
 *   5. remount it read-only, nosuid, nodev, noexec
 *   6. hostname "zerovm"
 *   7. report success, then block on the control pipe: it dies when we
 *      close it or when this process exits (the pipe's last writer).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "internal.h"

#define HOLDER_STACK (64 * 1024)

struct holder_args {
	int ctl_r, status_w;
};

/* Steps 2-6 above, as system calls: {what, nr, args}. */
struct holder_step {
	const char *what;
	long nr;
	long a[6];
};

#define ROOT_OPTS "size=4k,nr_inodes=4,mode=0555"
#define STR(s) ((long)(s))

static const struct holder_step holder_steps[] = {
	{"unshare namespaces", SYS_unshare, {SB_HOLDER_NS}},
	{"make mounts private", SYS_mount, {0, STR("/"), 0, MS_REC | MS_PRIVATE}},
	{"mount tmpfs root", SYS_mount,
	 {STR("zerovm"), STR("/tmp"), STR("tmpfs"),
	  MS_NOSUID | MS_NODEV | MS_NOEXEC, STR(ROOT_OPTS)}},
	{"chdir to new root", SYS_chdir, {STR("/tmp")}},
	{"pivot_root", SYS_pivot_root, {STR("."), STR(".")}},
	{"detach old root", SYS_umount2, {STR("."), MNT_DETACH}},
	{"chdir /", SYS_chdir, {STR("/")}},
	{"remount root read-only", SYS_mount,
	 {0, STR("/"), 0,
	  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC}},
	{"sethostname", SYS_sethostname, {STR("zerovm"), 6}},
};

#define HOLDER_NSTEPS (long)(sizeof(holder_steps) / sizeof(holder_steps[0]))

SB_CHILD_CODE static void holder_close_others(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 0)
		sb_raw(SYS_close_range, 0, lo - 1, 0, 0, 0, 0);
	if (hi > lo + 1)
		sb_raw(SYS_close_range, lo + 1, hi - 1, 0, 0, 0, 0);
	sb_raw(SYS_close_range, hi + 1, ~0U, 0, 0, 0, 0);
}

SB_CHILD_CODE static int holder_main(void *p)
{
	/* Copied: the parent's frame is gone once it has read our status. */
	const int ctl_r = ((struct holder_args *)p)->ctl_r;
	const int status_w = ((struct holder_args *)p)->status_w;
	long step, r = 0;
	char c;

	holder_close_others(ctl_r, status_w);
	for (step = 0; step < HOLDER_NSTEPS; step++) {
		const struct holder_step *h = &holder_steps[step];

		r = sb_raw(h->nr, h->a[0], h->a[1], h->a[2], h->a[3], h->a[4],
			   h->a[5]);
		if (r < 0)
			goto fail;
	}
	r = 0;
	sb_raw(SYS_write, status_w, (long)&r, sizeof(r), 0, 0, 0);
	while (sb_raw(SYS_read, ctl_r, (long)&c, 1, 0, 0, 0) == -EINTR)
		;
	sb_raw(SYS_exit, 0, 0, 0, 0, 0, 0);
	return 0;
fail:
	r = step << 16 | -r;
	sb_raw(SYS_write, status_w, (long)&r, sizeof(r), 0, 0, 0);
	sb_raw(SYS_exit, 1, 0, 0, 0, 0, 0);
	return 1;
}

static pthread_mutex_t holder_lock = PTHREAD_MUTEX_INITIALIZER;
static int holder_pidfd = -1;
static int holder_ctl_w = -1;
static void *holder_stack;

/* Forget a dead holder (reaping it) so the next spawn builds a new one. */
static void holder_reset(void)
{
	siginfo_t si;

	waitid(P_PIDFD, holder_pidfd, &si, WEXITED);
	close(holder_pidfd);
	close(holder_ctl_w);
	munmap(holder_stack, HOLDER_STACK);
	holder_pidfd = holder_ctl_w = -1;
	holder_stack = NULL;
}

static bool holder_alive(void)
{
	struct pollfd p = {.fd = holder_pidfd, .events = POLLIN};

	return poll(&p, 1, 0) == 0;
}

static int holder_start(struct sandbox_error *err)
{
	struct holder_args a;
	int ctl[2], status[2], pidfd = -1;
	sigset_t all, old;
	long res = -1;
	pid_t pid;

	if (pipe2(ctl, O_CLOEXEC) < 0 || pipe2(status, O_CLOEXEC) < 0) {
		sb_error(err, "holder: pipe: %s", strerror(errno));
		return -1;
	}
	holder_stack = mmap(NULL, HOLDER_STACK, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (holder_stack == MAP_FAILED) {
		holder_stack = NULL;
		sb_error(err, "holder: mmap stack: %s", strerror(errno));
		goto out;
	}
	a.ctl_r = ctl[0];
	a.status_w = status[1];
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(holder_main, (char *)holder_stack + HOLDER_STACK,
		    CLONE_VM | CLONE_PIDFD | SIGCHLD, &a, &pidfd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		sb_error(err, "holder: clone: %s", strerror(errno));
		goto out;
	}
	close(status[1]);
	status[1] = -1;
	if (read(status[0], &res, sizeof(res)) != sizeof(res) || res != 0) {
		long step = res > 0 ? res >> 16 : 0;

		sb_error(err, "namespace holder: %s: %s (run as root?)",
			 step < HOLDER_NSTEPS ? holder_steps[step].what : "start",
			 strerror((int)(res & 0xffff)));
		siginfo_t si;
		waitid(P_PIDFD, pidfd, &si, WEXITED);
		close(pidfd);
		goto out;
	}
	holder_pidfd = pidfd;
	holder_ctl_w = ctl[1];
	ctl[1] = -1;
out:
	close(ctl[0]);
	if (ctl[1] >= 0)
		close(ctl[1]);
	close(status[0]);
	if (status[1] >= 0)
		close(status[1]);
	if (holder_pidfd < 0 && holder_stack) {
		munmap(holder_stack, HOLDER_STACK);
		holder_stack = NULL;
	}
	return holder_pidfd;
}

int sb_holder_pidfd(struct sandbox_error *err)
{
	int fd;

	pthread_mutex_lock(&holder_lock);
	if (holder_pidfd >= 0 && !holder_alive())
		holder_reset();
	fd = holder_pidfd >= 0 ? holder_pidfd : holder_start(err);
	pthread_mutex_unlock(&holder_lock);
	return fd;
}
