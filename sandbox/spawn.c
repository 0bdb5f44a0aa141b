/*
 * spawn.c — start one program: clone, isolate, seccomp, execveat.
 *
 * The child is a clone(CLONE_VM) of the caller running on a small private
 * stack (posix_spawn style): it never gets a copy of the caller's memory,
 * and the program's address space is the fresh one execveat builds. The
 * child runs only raw system calls, in this order:
 *
 *   0. a parked child only: it is born named SANDBOX_PARKED_NAME (the
 *      parent thread wears the name for the clone), so that ps and leak
 *      checks tell it from a running program from its first moment (exec
 *      replaces the name)
 *   1. every signal back to its default disposition
 *   2. setns() into the holder's mount/ipc/uts/net namespaces (holder.c);
 *      chdir("/") — the empty read-only root
 *   3. channels to fds 0..n-1, the ELF to n and the spawn socket to n+1
 *      (close-on-exec), everything else closed — a parked child (below)
 *      keeps only the socket
 *   4. rlimits: AS = memory, CPU, CORE = 0, NOFILE, FSIZE
 *   5. setsid; groups, gid and uid to 65534; no capabilities (a caller
 *      that is not root keeps its own through a uid change)
 *   6. no_new_privs; SIGKILL when the spawning thread dies (and stop if
 *      our process is already gone: its pidfd, kept at n + 2 until here,
 *      is readable); unblock signals
 *   6b. deterministic mode only: the child was cloned into a pid
 *      namespace of its own (CLONE_NEWPID), so the program is pid 1
 *      (getpid, gettid 1, getppid 0) in every run; no address randomisation
 *      (personality ADDR_NO_RANDOMIZE), rdtsc/rdtscp fault (PR_SET_TSC:
 *      SIGSEGV), PTRACE_TRACEME so that the exec stops before the program
 *      runs: the spawning thread patches its auxv (determinism.c) and
 *      detaches
 *   7. seccomp filter with a user-notification listener; send the
 *      listener to the parent over the spawn socket (SCM_RIGHTS)
 *   7b. a parked child only: wait in kill(0, 0), a call every filter hands
 *      to the supervisor, until the spawn has placed its channels
 *   8. execveat(n, "", AT_EMPTY_PATH) — the filter allows execveat and
 *      sendmsg only on fds n and n + 1, which exec closes for good
 *
 * A direct spawn clones with CLONE_VFORK: the caller's thread sleeps until
 * the exec. Attaching the filter (step 7: the kernel JIT-compiles it and
 * emulates it for every system-call number) is the largest cost of a
 * spawn, and none of steps 1-7 depends on the program, only on its
 * *shape* (fd layout, limits, determinism). So with spec->prewarm (and no
 * image), after the spawn the thread starts a *parked* child of the same
 * shape, which isolates itself while the program runs and waits in step
 * 7b. The next spawn of that shape from that thread takes it: it installs
 * the channels at fds 0..n-1 and the ELF at n with
 * SECCOMP_IOCTL_NOTIF_ADDFD, places argv and envp in the shared
 * arguments, answers the call, and waits for the spawn socket to close
 * (exec done, or the child failed and exited).
 *
 * A step that fails records its number and errno in the shared arguments
 * and exits; the spawn reports the step.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
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
/* Where a parked child waits (step 7b): a call every filter notifies. */
#define PARK_NR SYS_kill

enum spawn_step {
	STEP_NONE, STEP_SETNS, STEP_CHDIR, STEP_DUP, STEP_MOVE, STEP_CLOSE,
	STEP_RLIMIT, STEP_SETSID, STEP_SETGROUPS, STEP_SETGID, STEP_SETUID,
	STEP_AMBIENT, STEP_CAPS, STEP_NNP, STEP_PDEATHSIG, STEP_PERSONALITY, STEP_TSC, STEP_TRACEME,
	STEP_AFFINITY, STEP_SECCOMP, STEP_SEND, STEP_EXEC, STEP_IMAGE, STEP_PARK,
};

static const char *const step_names[] = {
	"", "setns into the holder's namespaces", "chdir /",
	"duplicating channel fds", "moving channel fds", "close_range",
	"setrlimit", "setsid", "setgroups", "setresgid", "setresuid",
	"clearing ambient capabilities", "dropping capabilities", "no_new_privs", "parent-death signal",
	"personality ADDR_NO_RANDOMIZE", "prctl PR_SET_TSC", "PTRACE_TRACEME",
	"sched_setaffinity", "installing the seccomp filter",
	"sending the seccomp listener", "execveat", "image root",
	"waiting for the spawn",
};

/* Shared with the child (CLONE_VM). A parked child outlives the call that
 * started it: then everything it reads is in struct park, not on a stack. */
struct spawn_args {
	int parent_pidfd;       /* our process, for the parent-death check */
	int holder_pidfd;
	const int *chan_fds;    /* NULL: parked, the channels come in step 7b */
	int *tmp;               /* n + 3 scratch slots */
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
	const char *const *argv, *const *envp; /* parked: set in step 7b */
	bool det;               /* spec->deterministic */
	bool tsc_trap;          /* det, and no ELF interpreter: ld.so reads
				 * the TSC at start (its timing statistics) */
	bool mem_etag;          /* spec->memory_etag: exit goes to us */
	cpu_set_t one_cpu;      /* mem_etag and det: the CPU it runs on */
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
	struct __user_cap_header_struct cap_hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct no_caps[2] = {{0, 0, 0}, {0, 0, 0}};
	unsigned long none = 0;
	size_t n = a->n;
	long r;

	for (int sig = 1; sig <= 64; sig++)
		sb_raw(SYS_rt_sigaction, sig, (long)&dfl, 0, 8, 0, 0);
	TRY(STEP_SETNS, sb_raw(SYS_setns, a->holder_pidfd, SB_HOLDER_NS, 0, 0, 0, 0));
	if (a->image)
		TRY(STEP_IMAGE, sb_image_enter(a->image, &a->fail_image_step));
	TRY(STEP_CHDIR, sb_raw(SYS_chdir, (long)"/", 0, 0, 0, 0, 0));
	const long e = a->exec_fd;
	if (!a->chan_fds) {
		/* Parked (never with an image: e == n): only the socket and
		 * our pidfd, moved above their targets first. */
		long s, p;

		TRY(STEP_DUP, s = sb_raw(SYS_fcntl, a->sock, F_DUPFD_CLOEXEC,
					 e + 3, 0, 0, 0));
		TRY(STEP_DUP, p = sb_raw(SYS_fcntl, a->parent_pidfd,
					 F_DUPFD_CLOEXEC, e + 3, 0, 0, 0));
		TRY(STEP_MOVE, sb_raw(SYS_dup3, s, e + 1, O_CLOEXEC, 0, 0, 0));
		TRY(STEP_MOVE, sb_raw(SYS_dup3, p, e + 2, O_CLOEXEC, 0, 0, 0));
		TRY(STEP_CLOSE, sb_raw(SYS_close_range, 0, e, 0, 0, 0, 0));
		TRY(STEP_CLOSE, sb_raw(SYS_close_range, e + 3, ~0U, 0, 0, 0, 0));
		goto limits;
	}
	/* Above every target number first, so no move clobbers a source. */
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
	TRY(STEP_DUP, a->tmp[n + 2] = sb_raw(SYS_fcntl, a->parent_pidfd,
					     F_DUPFD_CLOEXEC, e + 2, 0, 0, 0));
	/* The first scratch copy may sit at e + 2: it has been moved when
	 * the pidfd (last) lands there. */
	for (size_t i = 0; i < n + 3; i++)
		TRY(STEP_MOVE, sb_raw(SYS_dup3, a->tmp[i], i < n ? (long)i : e + (long)(i - n),
				      i < n ? 0 : O_CLOEXEC, 0, 0, 0));
	if (e > (long)n)
		TRY(STEP_CLOSE, sb_raw(SYS_close_range, n, e - 1, 0, 0, 0, 0));
	TRY(STEP_CLOSE, sb_raw(SYS_close_range, e + 3, ~0U, 0, 0, 0, 0));
limits:
	for (int i = 0; i < 5; i++)
		TRY(STEP_RLIMIT, sb_raw(SYS_prlimit64, 0, a->lim_res[i],
					(long)&a->lim[i], 0, 0, 0));
	TRY(STEP_SETSID, sb_raw(SYS_setsid, 0, 0, 0, 0, 0, 0));
	TRY(STEP_SETGROUPS, sb_raw(SYS_setgroups, 0, 0, 0, 0, 0, 0));
	TRY(STEP_SETGID, sb_raw(SYS_setresgid, SB_GID, SB_GID, SB_GID, 0, 0, 0));
	TRY(STEP_SETUID, sb_raw(SYS_setresuid, SB_UID, SB_UID, SB_UID, 0, 0, 0));
	/* A caller that is not root (zvmd as the swift user) holds its
	 * capabilities as ambient ones, which would survive the uid change
	 * and the exec: the program must start with none. The permitted and
	 * effective ones survive the uid change too (not from root): gone
	 * now, not only at the exec, so a parked child holds none either. */
	TRY(STEP_AMBIENT, sb_raw(SYS_prctl, PR_CAP_AMBIENT,
				 PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0));
	TRY(STEP_CAPS, sb_raw(SYS_capset, (long)&cap_hdr, (long)no_caps,
			      0, 0, 0, 0));
	TRY(STEP_NNP, sb_raw(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0));
	/* The program dies with its supervisor's thread (set after the uid
	 * change, which clears it); if our process is already gone (its
	 * pidfd is readable), stop here. Not getppid(): in a pid namespace
	 * of its own the parent has no number. */
	TRY(STEP_PDEATHSIG, sb_raw(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0));
	struct pollfd parent = {.fd = (int)e + 2, .events = POLLIN};
	if (sb_raw(SYS_poll, (long)&parent, 1, 0, 0, 0, 0) != 0) {
		r = -ESRCH;
		a->fail_step = STEP_PDEATHSIG;
		goto fail;
	}
	TRY(STEP_CLOSE, sb_raw(SYS_close, e + 2, 0, 0, 0, 0, 0));
	sb_raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8, 0, 0);
	if (a->det) {
		TRY(STEP_PERSONALITY, sb_raw(SYS_personality, ADDR_NO_RANDOMIZE,
					     0, 0, 0, 0, 0));
		if (a->tsc_trap)
			TRY(STEP_TSC, sb_raw(SYS_prctl, PR_SET_TSC, PR_TSC_SIGSEGV,
					     0, 0, 0, 0));
		TRY(STEP_TRACEME, sb_raw(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0, 0, 0));
		if (a->mem_etag)
			TRY(STEP_AFFINITY, sb_raw(SYS_sched_setaffinity, 0,
						  sizeof(a->one_cpu),
						  (long)&a->one_cpu, 0, 0, 0));
	}
	TRY(STEP_SECCOMP, *a->msg_fd = sb_raw(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
					      SECCOMP_FILTER_FLAG_NEW_LISTENER,
					      (long)a->prog, 0, 0, 0));
	TRY(STEP_SEND, sb_raw(SYS_sendmsg, e + 1, (long)a->msg, 0, 0, 0, 0));
	/* Parked: the spawn answers n (the ELF's fd, installed with the
	 * answer) once the channels are in place (the listener's copy here, at
	 * fd 0 and close-on-exec, is overwritten); an error (-ENOSYS when the
	 * listener is gone) means "give up". */
	if (!a->chan_fds)
		TRY(STEP_PARK, sb_raw(PARK_NR, 0, 0, 0, 0, 0, 0));
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

/* The listener the child sent after attaching its filter, or -1 (with
 * flags 0 this waits for it, or for the child's end of the socket to
 * close). */
static int listener_recv(int sock, int flags)
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
	ssize_t got;
	int fd;

	do
		got = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
	while (got < 0 && errno == EINTR);
	if (got != 1)
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

/* Start spawn_child on `stack` (CHILD_STACK bytes) sharing our memory;
 * deterministic: as pid 1 of a new pid namespace. Its pid, or -1 with
 * errno. */
static pid_t child_clone(struct spawn_args *a, void *stack, int flags,
			 int *pidfd)
{
	sigset_t all, old;
	pid_t pid;
	int e;

	a->parent_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (a->parent_pidfd < 0)
		return -1;
	/* No handler of ours may run on the child's stack before it resets
	 * the dispositions. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(spawn_child, (char *)stack + CHILD_STACK,
		    CLONE_VM | CLONE_PIDFD | SIGCHLD | flags |
			    (a->det ? CLONE_NEWPID : 0),
		    a, pidfd);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(a->parent_pidfd);
	errno = e;
	return pid;
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
	sb->pid = child_clone(a, stack, CLONE_VFORK, &pidfd);
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
	sb->notify_fd = listener_recv(sock[0], MSG_DONTWAIT);
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

/* ------------------------------------------------------ parked children */

/* A parked child and what we hold of it. One owner: the parking thread's
 * slot (park_key) while it waits, then the spawn that takes it. */
struct park {
	struct spawn_args a;
	struct msghdr msg;      /* the child's listener message (a.msg) */
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cmsg;
	pid_t owner;            /* getpid() of the process that parked it */
	pid_t pid;
	int pidfd;
	int sock;               /* our end of the spawn socket */
	int listener;           /* -1 until received */
	char *layout;           /* the filter's fd layout (filter.c) */
	struct sock_fprog prog;
	void *stack;
};

static pthread_key_t park_key;
static pthread_once_t park_once = PTHREAD_ONCE_INIT;
static int park_key_rc;

/* Kill and reap the child (if it is ours to reap), free the rest. */
static void park_free(struct park *pk)
{
	siginfo_t si;

	if (!pk)
		return;
	if (pk->pidfd >= 0 && pk->owner == getpid()) {
		syscall(SYS_pidfd_send_signal, pk->pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, pk->pidfd, &si, WEXITED);
	}
	if (pk->pidfd >= 0)
		close(pk->pidfd);
	if (pk->sock >= 0)
		close(pk->sock);
	if (pk->listener >= 0)
		close(pk->listener);
	if (pk->stack)
		munmap(pk->stack, CHILD_STACK);
	sb_filter_free(&pk->prog);
	free(pk->layout);
	free(pk);
}

/* A thread that ends takes its parked child with it (the parent-death
 * signal kills it; the key's destructor reaps it and closes our fds). */
static void park_key_make(void)
{
	park_key_rc = pthread_key_create(&park_key, (void (*)(void *))park_free);
}

/* The same shape: limits and determinism (the layout is compared apart). */
static bool park_fits(const struct spawn_args *a, const struct spawn_args *b)
{
	return memcmp(a->lim, b->lim, sizeof(a->lim)) == 0 &&
	       memcmp(a->lim_res, b->lim_res, sizeof(a->lim_res)) == 0 &&
	       a->det == b->det && a->tsc_trap == b->tsc_trap &&
	       a->mem_etag == b->mem_etag && CPU_EQUAL(&a->one_cpu, &b->one_cpu);
}

/* cpuid tells a program which CPU it runs on (the initial APIC ID; glibc
 * keeps it in memory at start) and this hardware cannot trap cpuid: a run
 * whose memory is digested stays on one CPU, the first one we may use. */
static void first_cpu(cpu_set_t *one)
{
	cpu_set_t all;

	CPU_ZERO(one);
	if (sched_getaffinity(0, sizeof(all), &all) < 0) {
		CPU_SET(0, one);
		return;
	}
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all)) {
			CPU_SET(c, one);
			return;
		}
}

/* Start a parked child of `shape` (steps 1-7b); it gets ready on its own. */
static struct park *park_start(const char *layout, const struct spawn_args *shape,
			       struct sandbox_error *err)
{
	struct park *pk = calloc(1, sizeof(*pk));
	struct spawn_args *a;
	struct cmsghdr *cm;
	int sv[2], pidfd = -1;
	char name[16] = "";

	if (!pk || !(pk->layout = strdup(layout))) {
		free(pk);
		sb_error(err, "out of memory");
		return NULL;
	}
	pk->pidfd = pk->sock = pk->listener = -1;
	pk->owner = getpid();
	a = &pk->a;
	memcpy(a->lim, shape->lim, sizeof(a->lim));
	memcpy(a->lim_res, shape->lim_res, sizeof(a->lim_res));
	a->det = shape->det;
	a->tsc_trap = shape->tsc_trap;
	a->mem_etag = shape->mem_etag;
	a->one_cpu = shape->one_cpu;
	a->holder_pidfd = sb_holder_pidfd(err);
	if (a->holder_pidfd < 0 ||
	    sb_filter_get(layout, a->det, false, a->mem_etag, &pk->prog, err) < 0)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		sb_error(err, "socketpair: %s", strerror(errno));
		goto fail;
	}
	pk->sock = sv[0];
	pk->stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (pk->stack == MAP_FAILED) {
		pk->stack = NULL;
		sb_error(err, "mmap: %s", strerror(errno));
		close(sv[1]);
		goto fail;
	}
	pk->iov = (struct iovec){"s", 1};
	pk->msg = (struct msghdr){.msg_iov = &pk->iov, .msg_iovlen = 1,
				  .msg_control = pk->cmsg.buf,
				  .msg_controllen = sizeof(pk->cmsg.buf)};
	cm = CMSG_FIRSTHDR(&pk->msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	a->msg = &pk->msg;
	a->msg_fd = (int *)CMSG_DATA(cm);
	a->n = strlen(layout) - 2;
	a->exec_fd = (int)a->n;
	a->sock = sv[1];
	a->prog = &pk->prog;
	/* The child inherits this thread's name: it is never seen unnamed. */
	prctl(PR_GET_NAME, name);
	prctl(PR_SET_NAME, SANDBOX_PARKED_NAME);
	pk->pid = child_clone(a, pk->stack, 0, &pidfd);
	prctl(PR_SET_NAME, name);
	close(sv[1]);
	if (pk->pid < 0) {
		sb_error(err, "clone: %s", strerror(errno));
		goto fail;
	}
	pk->pidfd = pidfd;
	return pk;
fail:
	park_free(pk);
	return NULL;
}

/* This thread's parked child if it has this shape and layout, else NULL
 * (one of another shape is discarded). */
static struct park *park_take(const char *layout, const struct spawn_args *shape)
{
	struct pollfd alive;
	struct park *pk;

	pthread_once(&park_once, park_key_make);
	if (park_key_rc || !(pk = pthread_getspecific(park_key)))
		return NULL;
	pthread_setspecific(park_key, NULL);
	alive = (struct pollfd){.fd = pk->pidfd, .events = POLLIN};
	/* After a fork, the child belongs to the parent process. */
	if (pk->owner == getpid() && poll(&alive, 1, 0) == 0 &&
	    park_fits(&pk->a, shape) && strcmp(pk->layout, layout) == 0)
		return pk;
	park_free(pk);
	return NULL;
}

/* Park the next child of this shape; a failure costs only the speed-up. */
static void park_ahead(const char *layout, const struct spawn_args *shape)
{
	struct sandbox_error ignored;
	struct park *pk;

	if (park_key_rc)
		return;
	pk = park_start(layout, shape, &ignored);
	if (pk && pthread_setspecific(park_key, pk) != 0)
		park_free(pk);
}

void sandbox_prewarm_drop(void)
{
	struct park *pk;

	pthread_once(&park_once, park_key_make);
	if (park_key_rc || !(pk = pthread_getspecific(park_key)))
		return;
	pthread_setspecific(park_key, NULL);
	park_free(pk);
}

/* Wait until the child parks (step 7b) and receive that call. */
static int park_wait(struct park *pk, struct seccomp_notif *n)
{
	struct pollfd p[2] = {{.fd = pk->listener, .events = POLLIN},
			      {.fd = pk->pidfd, .events = POLLIN}};

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p[0].revents & POLLIN)
			break;
		if (p[1].revents || p[0].revents)
			return -1;
	}
	memset(n, 0, sizeof(*n));
	if (ioctl(pk->listener, SECCOMP_IOCTL_NOTIF_RECV, n) < 0)
		return -1;
	return n->pid == (__u32)pk->pid && n->data.nr == PARK_NR ? 0 : -1;
}

/*
 * Install src at dst in the parked child: one round trip to it (it
 * installs the fd itself). An interrupted plain ADDFD did not happen and
 * is made again. `answer`: also answer its call with dst, in the same
 * step (SECCOMP_ADDFD_FLAG_SEND). That marks the call answered before the
 * child has taken the fd, and a signal that interrupts our wait withdraws
 * the fd (notify.c, fd_install): the child would go on without it. So
 * every signal is blocked meanwhile; a stop (SIGSTOP cannot be blocked)
 * can still do it, and then the spawn fails (our ioctl fails, the child's
 * execveat of the missing fd too), it never runs the wrong thing.
 */
static int park_addfd(const struct park *pk, __u64 id, int src, int dst,
		      int flags, bool answer, struct sandbox_error *err)
{
	struct seccomp_notif_addfd add = {
		.id = id, .srcfd = src, .newfd = dst, .newfd_flags = flags,
		.flags = SECCOMP_ADDFD_FLAG_SETFD |
			 (answer ? SECCOMP_ADDFD_FLAG_SEND : 0),
	};
	sigset_t all, old;
	int r;

	sigfillset(&all);
	if (answer)
		pthread_sigmask(SIG_SETMASK, &all, &old);
	do
		r = ioctl(pk->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
	while (r < 0 && errno == EINTR && !answer);
	if (answer) {
		int e = errno;

		pthread_sigmask(SIG_SETMASK, &old, NULL);
		errno = e;
	}
	if (r == dst)
		return 0;
	sb_error(err, "sandbox setup: installing fd %d: %s", dst, strerror(errno));
	return -1;
}

/* Place the channels, let the child go and wait until step 8 is over: 0,
 * 1 when the child stopped at a step (or is somewhere unexpected), -1 on
 * an error of ours (in err). */
static int park_go(struct park *pk, const struct sandbox *sb,
		   const struct sandbox_spec *spec, const struct spawn_args *shape,
		   struct sandbox_error *err)
{
	struct seccomp_notif n;
	size_t nch = pk->a.n;
	char c;

	if (pk->listener < 0)
		pk->listener = listener_recv(pk->sock, 0);
	if (pk->listener < 0 || park_wait(pk, &n) < 0)
		return 1;
	for (size_t i = 0; i < nch; i++)
		if (park_addfd(pk, n.id, sb->ch[i].fd, (int)i, 0, false, err) < 0)
			return -1;
	/* The ELF last, with the answer: the child goes on to execveat. */
	pk->a.argv = spec->argv;
	pk->a.envp = shape->envp;
	if (park_addfd(pk, n.id, spec->prog_fd, (int)nch, O_CLOEXEC, true,
		       err) < 0)
		return -1;
	/* The child's end of the socket closes at its exec or its exit. */
	while (read(pk->sock, &c, 1) < 0 && errno == EINTR)
		;
	if (pk->a.fail_step != STEP_NONE)
		return 1;
	/* The next one parks now, while this one's exec goes on to its end
	 * (deterministic: to the exec stop), rather than once the program
	 * runs, which would then wait for the clone at its first mediated
	 * call when this thread supervises it. Not sooner: until the exec
	 * renames this one (right after closing the socket) it is still
	 * named as a parked child, and there is never more than one. */
	if (spec->prewarm)
		park_ahead(sb->layout, shape);
	return 0;
}

/* Make the parked child the sandbox's program; pk is freed either way. */
static int park_launch(struct park *pk, struct sandbox *sb,
		       const struct sandbox_spec *spec, const struct spawn_args *shape,
		       struct sandbox_error *err)
{
	int rc = park_go(pk, sb, spec, shape, err);

	if (rc > 0) {
		/* End it if it is not ending already, then read what it
		 * recorded. */
		siginfo_t si;

		syscall(SYS_pidfd_send_signal, pk->pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, pk->pidfd, &si, WEXITED | WNOWAIT);
		child_error(&pk->a, spec, err);
	}
	if (rc == 0) {
		sb->pid = pk->pid;
		sb->pidfd = pk->pidfd;
		sb->notify_fd = pk->listener;
		pk->pidfd = pk->listener = -1;
	}
	park_free(pk);
	if (rc != 0)
		return -1;
	if (sb->det && exec_stop(sb, err) < 0) {
		child_reap(sb);
		return -1;
	}
	return 0;
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

/* A direct spawn: everything at once, the child has exec'd when this
 * returns. */
static int spawn_now(struct sandbox *sb, const struct sandbox_spec *spec,
		     struct spawn_args *a, struct sandbox_error *err)
{
	struct sock_fprog prog = {0};
	struct sb_image im = {-1, -1, -1};
	int *fds = NULL, rc = -1;

	if (sb->image && sb_image_prepare(spec, &im, err) < 0)
		goto out;
	a->holder_pidfd = sb_holder_pidfd(err);
	if (a->holder_pidfd < 0 ||
	    sb_filter_get(sb->layout, sb->det, sb->image, a->mem_etag, &prog,
			  err) < 0)
		goto out;
	fds = malloc((2 * sb->nch + 3) * sizeof(int));
	if (!fds) {
		sb_error(err, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < sb->nch; i++)
		fds[i] = sb->ch[i].fd;
	a->chan_fds = fds;
	a->tmp = fds + sb->nch;
	a->n = sb->nch;
	a->prog_fd = spec->prog_fd;
	a->exec_fd = sb->image ? (int)sb->nfdt : (int)sb->nch;
	a->nofile_setup.rlim_cur = a->nofile_setup.rlim_max = a->exec_fd + sb->nch + 8;
	a->image = sb->image ? &im : NULL;
	a->prog = &prog;
	rc = spawn_run(sb, spec, a, err);
out:
	sb_image_release(&im);
	free(fds);
	sb_filter_free(&prog);
	return rc;
}

int sandbox_spawn(const struct sandbox_spec *spec, struct sandbox **out,
		  struct sandbox_error *err)
{
	static const char *const no_env[] = {NULL};
	struct spawn_args a = {0};
	struct sandbox *sb;
	struct park *pk;
	int rc;

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
	sb->cpu_seconds = spec->cpu_seconds;
	sb->image = spec->root_dir != NULL;
	if (sb_chans_init(sb, spec, err) < 0)
		goto fail;
	/* The shape: what a parked child must have been made for. */
	a.det = sb->det;
	a.tsc_trap = sb->det && !(sb->image && elf_has_interp(spec->prog_fd));
	a.mem_etag = spec->memory_etag;
	sb->tsc_readable = sb->det && !a.tsc_trap;
	sb->cpu_pinned = sb->det && a.mem_etag;
	if (sb->cpu_pinned)
		first_cpu(&a.one_cpu);
	args_limits(&a, spec, sb);
	a.argv = spec->argv;
	a.envp = spec->envp ? spec->envp : no_env;
	exec_reads(spec->prog_fd, sb->base);
	pk = sb->image ? NULL : park_take(sb->layout, &a);
	rc = pk ? park_launch(pk, sb, spec, &a, err)
		: spawn_now(sb, spec, &a, err);
	if (rc < 0)
		goto fail;
	/* A parked child's launch parked the next one already. */
	if (!pk && spec->prewarm && !sb->image)
		park_ahead(sb->layout, &a);
	*out = sb;
	return 0;
fail:
	sandbox_free(sb);
	return -1;
}
