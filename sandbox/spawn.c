/*
 * spawn.c — start one program: clone, isolate, seccomp, execveat.
 *
 * The child is a clone(CLONE_VM | CLONE_VFORK) of the caller running on a
 * small private stack (posix_spawn style): it never gets a copy of the
 * caller's memory, and the program's address space is the fresh one
 * execveat builds; the caller's thread sleeps until then. The child runs
 * only raw system calls, in this order:
 *
 *   1. every signal back to its default disposition
 *   2. setns() into the holder's mount/ipc/uts/net namespaces (holder.c);
 *      chdir("/") — the empty read-only root
 *   3. channels to fds 0..n-1, the ELF to n and the spawn socket to n+1
 *      (close-on-exec), everything else closed
 *   4. rlimits: AS = memory, CPU, CORE = 0, NOFILE, FSIZE
 *   5. setsid; groups, gid and uid to 65534 (drops every capability)
 *   6. no_new_privs; SIGKILL when the spawning thread dies; unblock
 *      signals
 *   6b. deterministic mode only: no address randomisation
 *      (personality ADDR_NO_RANDOMIZE), rdtsc/rdtscp fault (PR_SET_TSC:
 *      SIGSEGV), PTRACE_TRACEME so that the exec stops before the program
 *      runs: the spawning thread patches its auxv (determinism.c) and
 *      detaches
 *   7. seccomp filter with a user-notification listener; send the
 *      listener to the parent over the spawn socket (SCM_RIGHTS)
 *   8. execveat(n, "", AT_EMPTY_PATH) — the filter allows execveat and
 *      sendmsg only on fds n and n + 1, which exec closes for good
 *
 * A step that fails records its number and errno in the shared arguments
 * and exits; the parent wakes up (vfork) and reports the step.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <elf.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#define CHILD_STACK (64 * 1024)

enum spawn_step {
	STEP_NONE, STEP_SETNS, STEP_CHDIR, STEP_DUP, STEP_MOVE, STEP_CLOSE,
	STEP_RLIMIT, STEP_SETSID, STEP_SETGROUPS, STEP_SETGID, STEP_SETUID,
	STEP_NNP, STEP_PDEATHSIG, STEP_PERSONALITY, STEP_TSC, STEP_TRACEME,
	STEP_SECCOMP, STEP_SEND, STEP_EXEC, STEP_IMAGE,
};

static const char *const step_names[] = {
	"", "setns into the holder's namespaces", "chdir /",
	"duplicating channel fds", "moving channel fds", "close_range",
	"setrlimit", "setsid", "setgroups", "setresgid", "setresuid",
	"no_new_privs", "parent-death signal",
	"personality ADDR_NO_RANDOMIZE", "prctl PR_SET_TSC", "PTRACE_TRACEME",
	"installing the seccomp filter",
	"sending the seccomp listener", "execveat", "image root",
};

struct spawn_args {
	pid_t parent;           /* our pid, for the parent-death check */
	int holder_pidfd;
	const int *chan_fds;
	int *tmp;               /* n + 2 scratch slots */
	size_t n;
	int prog_fd, sock;
	int exec_fd;            /* where the ELF goes (the socket above it): n,
				 * or past RLIMIT_NOFILE with an image */
	const struct sb_image *image; /* NULL: the holder's empty root */
	struct rlimit nofile_setup;   /* while placing fds past exec_fd */
	struct msghdr *msg;     /* one byte + SCM_RIGHTS for the listener */
	int *msg_fd;            /* where the listener goes in msg */
	struct rlimit lim[5];
	int lim_res[5];
	const struct sock_fprog *prog;
	const char *const *argv, *const *envp;
	bool det;               /* spec->deterministic */
	bool tsc_trap;          /* det, and no ELF interpreter: ld.so reads
				 * the TSC at start (its timing statistics) */
	/* written by the child */
	int fail_step, fail_errno, fail_image_step;
};

struct k_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long mask;
};

#define TRY(step, expr)                          \
	do {                                     \
		r = (expr);                      \
		if (r < 0) {                     \
			a->fail_step = (step);   \
			goto fail;               \
		}                                \
	} while (0)

SB_CHILD_CODE static int spawn_child(void *p)
{
	struct spawn_args *a = p;
	struct k_sigaction dfl = {0};
	unsigned long none = 0;
	size_t n = a->n;
	long r;

	for (int sig = 1; sig <= 64; sig++)
		sb_raw(SYS_rt_sigaction, sig, (long)&dfl, 0, 8, 0, 0);
	TRY(STEP_SETNS, sb_raw(SYS_setns, a->holder_pidfd, SB_HOLDER_NS, 0, 0, 0, 0));
	if (a->image)
		TRY(STEP_IMAGE, sb_image_enter(a->image, &a->fail_image_step));
	TRY(STEP_CHDIR, sb_raw(SYS_chdir, (long)"/", 0, 0, 0, 0, 0));
	/* Above every target number first, so no move clobbers a source. */
	const long e = a->exec_fd;
	/* Room for the ELF and the socket past the program's own limit (the
	 * caller's soft limit may be lower; step 4 sets the program's). */
	if (e > (long)n)
		TRY(STEP_RLIMIT, sb_raw(SYS_prlimit64, 0, RLIMIT_NOFILE,
					(long)&a->nofile_setup, 0, 0, 0));
	for (size_t i = 0; i < n; i++)
		TRY(STEP_DUP, a->tmp[i] = sb_raw(SYS_fcntl, a->chan_fds[i],
						 F_DUPFD_CLOEXEC, e + 2, 0, 0, 0));
	TRY(STEP_DUP, a->tmp[n] = sb_raw(SYS_fcntl, a->prog_fd, F_DUPFD_CLOEXEC,
					 e + 2, 0, 0, 0));
	TRY(STEP_DUP, a->tmp[n + 1] = sb_raw(SYS_fcntl, a->sock, F_DUPFD_CLOEXEC,
					     e + 2, 0, 0, 0));
	for (size_t i = 0; i < n + 2; i++)
		TRY(STEP_MOVE, sb_raw(SYS_dup3, a->tmp[i], i < n ? (long)i : e + (long)(i - n),
				      i < n ? 0 : O_CLOEXEC, 0, 0, 0));
	if (e > (long)n)
		TRY(STEP_CLOSE, sb_raw(SYS_close_range, n, e - 1, 0, 0, 0, 0));
	TRY(STEP_CLOSE, sb_raw(SYS_close_range, e + 2, ~0U, 0, 0, 0, 0));
	for (int i = 0; i < 5; i++)
		TRY(STEP_RLIMIT, sb_raw(SYS_prlimit64, 0, a->lim_res[i],
					(long)&a->lim[i], 0, 0, 0));
	TRY(STEP_SETSID, sb_raw(SYS_setsid, 0, 0, 0, 0, 0, 0));
	TRY(STEP_SETGROUPS, sb_raw(SYS_setgroups, 0, 0, 0, 0, 0, 0));
	TRY(STEP_SETGID, sb_raw(SYS_setresgid, SB_GID, SB_GID, SB_GID, 0, 0, 0));
	TRY(STEP_SETUID, sb_raw(SYS_setresuid, SB_UID, SB_UID, SB_UID, 0, 0, 0));
	TRY(STEP_NNP, sb_raw(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0));
	/* The program dies with its supervisor's thread (set after the uid
	 * change, which clears it); if that is already gone, stop here. */
	TRY(STEP_PDEATHSIG, sb_raw(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0));
	if (sb_raw(SYS_getppid, 0, 0, 0, 0, 0, 0) != a->parent) {
		r = -ESRCH;
		a->fail_step = STEP_PDEATHSIG;
		goto fail;
	}
	sb_raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8, 0, 0);
	if (a->det) {
		TRY(STEP_PERSONALITY, sb_raw(SYS_personality, ADDR_NO_RANDOMIZE,
					     0, 0, 0, 0, 0));
		if (a->tsc_trap)
			TRY(STEP_TSC, sb_raw(SYS_prctl, PR_SET_TSC, PR_TSC_SIGSEGV,
					     0, 0, 0, 0));
		TRY(STEP_TRACEME, sb_raw(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0, 0, 0));
	}
	TRY(STEP_SECCOMP, *a->msg_fd = sb_raw(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
					      SECCOMP_FILTER_FLAG_NEW_LISTENER,
					      (long)a->prog, 0, 0, 0));
	TRY(STEP_SEND, sb_raw(SYS_sendmsg, e + 1, (long)a->msg, 0, 0, 0, 0));
	r = sb_raw(SYS_execveat, e, (long)"", (long)a->argv, (long)a->envp,
		   AT_EMPTY_PATH, 0);
	a->fail_step = STEP_EXEC;
fail:
	a->fail_errno = (int)-r;
	sb_raw(SYS_exit_group, 127, 0, 0, 0, 0, 0);
	return 127;
}

static void args_limits(struct spawn_args *a, const struct sandbox_spec *spec,
			const struct sandbox *sb)
{
	uint64_t mem = spec->memory ? spec->memory : SB_DEFAULT_MEMORY;
	rlim_t fsize = 0;

	for (size_t i = 0; i < sb->nch; i++)
		if (sb->ch[i].writable && (rlim_t)sb->ch[i].put_size > fsize)
			fsize = sb->ch[i].put_size;
	/* An image run's /tmp files are bounded by the tmpfs itself. */
	if (spec->root_dir && spec->tmp_size > fsize)
		fsize = spec->tmp_size;
	if (fsize >= (rlim_t)SANDBOX_UNBOUNDED)
		fsize = RLIM_INFINITY;
	a->lim_res[0] = RLIMIT_AS;
	a->lim[0] = (struct rlimit){mem, mem};
	a->lim_res[1] = RLIMIT_CPU;
	a->lim[1] = spec->cpu_seconds
			    ? (struct rlimit){spec->cpu_seconds, spec->cpu_seconds + 1}
			    : (struct rlimit){RLIM_INFINITY, RLIM_INFINITY};
	a->lim_res[2] = RLIMIT_CORE;
	a->lim[2] = (struct rlimit){0, 0};
	a->lim_res[3] = RLIMIT_NOFILE;
	a->lim[3] = (struct rlimit){sb->nfdt, sb->nfdt};
	a->lim_res[4] = RLIMIT_FSIZE;
	a->lim[4] = (struct rlimit){fsize, fsize};
}

/*
 * What the kernel's execveat adds to the I/O counters of /proc/<pid>/io,
 * which report.c subtracts so that only channel I/O is counted: the first
 * 256 bytes (BINPRM_BUF_SIZE) and the program headers, two reads. (The
 * child's own sendmsg counts nothing.) tests/sandbox checks that a program
 * which does no I/O reports none, so a kernel that reads more shows up.
 */
/* Does the ELF name an interpreter (a dynamically linked program)? */
static bool elf_has_interp(int prog_fd)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (pread(prog_fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    eh.e_phentsize != sizeof(ph) || eh.e_phnum > 256)
		return false;
	for (int i = 0; i < eh.e_phnum; i++)
		if (pread(prog_fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) ==
			    sizeof(ph) && ph.p_type == PT_INTERP)
			return true;
	return false;
}

static void exec_reads(int prog_fd, uint64_t base[4])
{
	Elf64_Ehdr eh;
	struct stat st;

	memset(base, 0, 4 * sizeof(base[0]));
	if (fstat(prog_fd, &st) < 0 ||
	    pread(prog_fd, &eh, sizeof(eh), 0) != sizeof(eh))
		return;
	base[0] = 2;
	base[1] = st.st_size < 256 ? (uint64_t)st.st_size : 256;
	base[1] += (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
}

/* The listener the child sent before exec, or -1. */
static int listener_recv(int sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char c;
	struct iovec iov = {&c, 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

static void child_reap(struct sandbox *sb)
{
	siginfo_t si;

	syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
	waitid(P_PIDFD, sb->pidfd, &si, WEXITED);
	close(sb->pidfd);
	sb->pidfd = -1;
	sb->pid = 0;
}

static void child_error(const struct spawn_args *a, const struct sandbox_spec *spec,
			struct sandbox_error *err)
{
	if (a->fail_step == STEP_EXEC && a->fail_errno == ENOEXEC)
		sb_error(err, "execveat %s: not an x86-64 ELF executable",
			 spec->argv[0]);
	else if (a->fail_step == STEP_EXEC && a->fail_errno == EACCES)
		sb_error(err, "execveat %s: permission denied: the program runs as "
			 "uid %d, its file must be executable by others (chmod o+x)",
			 spec->argv[0], SB_UID);
	else if (a->fail_step == STEP_EXEC && a->fail_errno == ENOENT)
		sb_error(err, spec->root_dir
			 ? "execveat %s: its interpreter (PT_INTERP) is not in the image"
			 : "execveat %s: not a static executable (its "
			   "interpreter does not exist in the sandbox; dynamically "
			   "linked programs need an image)", spec->argv[0]);
	else if (a->fail_step == STEP_IMAGE)
		sb_error(err, "sandbox setup: image %s: %s: %s", spec->root_dir,
			 sb_image_step_names[a->fail_image_step],
			 strerror(a->fail_errno));
	else if (a->fail_step == STEP_EXEC)
		sb_error(err, "execveat %s: %s", spec->argv[0],
			 strerror(a->fail_errno));
	else if (a->fail_step > STEP_NONE)
		sb_error(err, "sandbox setup: %s: %s", step_names[a->fail_step],
			 strerror(a->fail_errno));
	else
		sb_error(err, "sandbox setup: the child died");
}

/* Deterministic mode: the program traced itself (PTRACE_TRACEME), so its
 * exec stopped it with SIGTRAP before its first instruction. Patch its
 * auxv and let it go without the signal. */
static int exec_stop(struct sandbox *sb, struct sandbox_error *err)
{
	siginfo_t si;
	int r;

	do {
		memset(&si, 0, sizeof(si));
		r = waitid(P_PIDFD, sb->pidfd, &si, WEXITED | WSTOPPED);
	} while (r < 0 && errno == EINTR);
	if (r < 0 || si.si_code != CLD_TRAPPED) {
		sb_error(err, "deterministic start: the program did not stop "
			 "after exec (%s)", r < 0 ? strerror(errno) : "it died");
		return -1;
	}
	r = sb_det_patch_auxv(sb);
	if (ptrace(PTRACE_DETACH, sb->pid, NULL, NULL) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		sb_error(err, "deterministic start: patching the program's auxv: %s",
			 strerror(-r));
		return -1;
	}
	return 0;
}

/* Clone the child; it has exec'd (or failed) when clone returns. */
static int spawn_run(struct sandbox *sb, const struct sandbox_spec *spec,
		     struct spawn_args *a, struct sandbox_error *err)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {"s", 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	int sock[2], pidfd = -1, rc = -1;
	sigset_t all, old;
	char *stack;

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	a->msg = &msg;
	a->msg_fd = (int *)CMSG_DATA(cm);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0) {
		sb_error(err, "socketpair: %s", strerror(errno));
		return -1;
	}
	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		sb_error(err, "mmap: %s", strerror(errno));
		close(sock[0]);
		close(sock[1]);
		return -1;
	}
	a->sock = sock[1];
	/* No handler of ours may run on the child's stack before it resets
	 * the dispositions. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	sb->pid = clone(spawn_child, stack + CHILD_STACK,
			CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, a, &pidfd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(sock[1]);
	munmap(stack, CHILD_STACK);
	if (sb->pid < 0) {
		sb_error(err, "clone: %s", strerror(errno));
		sb->pid = 0;
		goto out;
	}
	sb->pidfd = pidfd;
	if (a->fail_step != STEP_NONE) {
		child_error(a, spec, err);
		goto fail;
	}
	if (a->det && exec_stop(sb, err) < 0)
		goto fail;
	sb->notify_fd = listener_recv(sock[0]);
	if (sb->notify_fd < 0) {
		sb_error(err, "sandbox setup: no seccomp listener from the child");
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	child_reap(sb);
out:
	close(sock[0]);
	return rc;
}

static int spec_check(const struct sandbox_spec *spec, struct sandbox_error *err)
{
	if (!spec->argv || !spec->argv[0]) {
		sb_error(err, "argv[0] is required");
		return -1;
	}
	if (spec->prog_fd < 0) {
		sb_error(err, "no program fd");
		return -1;
	}
	if (spec->deterministic && spec->epoch_ns > SANDBOX_EPOCH_MAX_NS) {
		sb_error(err, "epoch_ns %llu is past 2100-01-01 (SANDBOX_EPOCH_MAX_NS)",
			 (unsigned long long)spec->epoch_ns);
		return -1;
	}
	if (spec->tmp_size && !spec->root_dir) {
		sb_error(err, "tmp_size needs an image (root_dir)");
		return -1;
	}
	return 0;
}

int sandbox_spawn(const struct sandbox_spec *spec, struct sandbox **out,
		  struct sandbox_error *err)
{
	static const char *const no_env[] = {NULL};
	struct sock_fprog prog = {0};
	struct spawn_args a = {0};
	struct sb_image im = {-1, -1, -1};
	struct sandbox *sb;
	int *fds = NULL;

	*out = NULL;
	if (spec_check(spec, err) < 0)
		return -1;
	sb = calloc(1, sizeof(*sb));
	if (!sb) {
		sb_error(err, "out of memory");
		return -1;
	}
	sb->pidfd = sb->notify_fd = sb->channels_memfd = -1;
	sb_det_init(sb, spec);
	sb->image = spec->root_dir != NULL;
	if (sb_chans_init(sb, spec, err) < 0)
		goto fail;
	if (sb->image && sb_image_prepare(spec, &im, err) < 0)
		goto fail;
	a.holder_pidfd = sb_holder_pidfd(err);
	if (a.holder_pidfd < 0 ||
	    sb_filter_get(sb->layout, sb->det, sb->image, &prog, err) < 0)
		goto fail;
	fds = malloc((2 * sb->nch + 2) * sizeof(int));
	if (!fds) {
		sb_error(err, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < sb->nch; i++)
		fds[i] = sb->ch[i].fd;
	a.chan_fds = fds;
	a.tmp = fds + sb->nch;
	a.n = sb->nch;
	a.prog_fd = spec->prog_fd;
	a.exec_fd = sb->image ? (int)sb->nfdt : (int)sb->nch;
	a.nofile_setup.rlim_cur = a.nofile_setup.rlim_max = a.exec_fd + sb->nch + 8;
	a.image = sb->image ? &im : NULL;
	a.prog = &prog;
	a.argv = spec->argv;
	a.envp = spec->envp ? spec->envp : no_env;
	a.det = sb->det;
	a.tsc_trap = sb->det && !(sb->image && elf_has_interp(spec->prog_fd));
	args_limits(&a, spec, sb);
	exec_reads(spec->prog_fd, sb->base);
	a.parent = getpid();
	if (spawn_run(sb, spec, &a, err) < 0)
		goto fail;
	sb_image_release(&im);
	free(fds);
	sb_filter_free(&prog);
	*out = sb;
	return 0;
fail:
	sb_image_release(&im);
	free(fds);
	sb_filter_free(&prog);
	sandbox_free(sb);
	return -1;
}
