/*
 * sbtest CMD [ARGS]: one probe of the sandbox per run, for tests/sandbox.
 * Prints "OK ..." or "ERR <ERRNO NAME>" on stdout; exit code 0 unless the
 * command says otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int err(void)
{
	printf("ERR %s\n", strerrorname_np(errno));
	return 0;
}

static int show(long r)
{
	if (r < 0)
		return err();
	printf("OK %ld\n", r);
	return 0;
}

static int cmd_open(const char *path, const char *mode)
{
	int flags = strcmp(mode, "r") == 0   ? O_RDONLY
		    : strcmp(mode, "w") == 0 ? O_WRONLY
					     : O_RDWR;
	return show(open(path, flags));
}

static int cmd_readall(int fd)
{
	static char buf[65536];
	long total = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	if (n < 0) {
		printf("ERR %s after %ld\n", strerrorname_np(errno), total);
		return 0;
	}
	printf("OK %ld\n", total);
	return 0;
}

/* Open `path` `count` times; every open must give a new fd (3 and up):
 * a supervisor interrupted while installing one must not answer 0. */
static int cmd_reopen(long count, const char *path)
{
	for (long i = 0; i < count; i++) {
		int fd = open(path, O_RDONLY);

		if (fd < 3) {
			printf("ERR open %ld gave %d (%s)\n", i, fd,
			       fd < 0 ? strerrorname_np(errno) : "not a new fd");
			return 0;
		}
		close(fd);
	}
	printf("OK %ld\n", count);
	return 0;
}

static int cmd_write(int fd, long count, long size)
{
	char *buf = malloc(size + 1);
	long i;

	memset(buf, 'x', size);
	for (i = 0; i < count; i++) {
		ssize_t w = write(fd, buf, size);

		if (w < 0) {
			printf("ERR %s after %ld\n", strerrorname_np(errno), i);
			return 0;
		}
		if (w != size) {
			printf("SHORT %zd after %ld\n", w, i);
			return 0;
		}
	}
	printf("OK %ld\n", i);
	return 0;
}

static int cmd_fds(void)
{
	printf("OK");
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			printf(" %d", fd);
	printf("\n");
	return 0;
}

static int cmd_alloc(long bytes)
{
	char *p = malloc(bytes);

	if (!p)
		return err();
	for (long i = 0; i < bytes; i += 4096)
		p[i] = 1;
	printf("OK\n");
	return 0;
}

/* Raw system calls the sandbox must refuse. */
static long probe(const char *name)
{
	static char path[] = "/";
	if (!strcmp(name, "fork")) return syscall(SYS_fork);
	if (!strcmp(name, "vfork")) return syscall(SYS_vfork);
	if (!strcmp(name, "clone")) return syscall(SYS_clone, CLONE_VM | CLONE_THREAD | CLONE_SIGHAND, 0, 0, 0, 0);
	if (!strcmp(name, "clone3")) return syscall(SYS_clone3, 0, 0);
	if (!strcmp(name, "socket")) return syscall(SYS_socket, 2, 1, 0);
	if (!strcmp(name, "ptrace")) return syscall(SYS_ptrace, 0, 0, 0, 0);
	if (!strcmp(name, "mount")) return syscall(SYS_mount, "none", "/", "tmpfs", 0, 0);
	if (!strcmp(name, "unshare")) return syscall(SYS_unshare, 0x20000);
	if (!strcmp(name, "setns")) return syscall(SYS_setns, 0, 0);
	if (!strcmp(name, "chroot")) return syscall(SYS_chroot, path);
	if (!strcmp(name, "bpf")) return syscall(SYS_bpf, 0, 0, 0);
	if (!strcmp(name, "io_uring_setup")) return syscall(SYS_io_uring_setup, 1, 0);
	if (!strcmp(name, "userfaultfd")) return syscall(SYS_userfaultfd, 0);
	if (!strcmp(name, "perf_event_open")) return syscall(SYS_perf_event_open, 0, 0, -1, -1, 0);
	if (!strcmp(name, "keyctl")) return syscall(SYS_keyctl, 0, 0, 0, 0, 0);
	if (!strcmp(name, "memfd_create")) return syscall(SYS_memfd_create, "x", 0);
	if (!strcmp(name, "pipe")) { int p[2]; return syscall(SYS_pipe2, p, 0); }
	if (!strcmp(name, "kill1")) return syscall(SYS_kill, 1, 0);
	if (!strcmp(name, "killparent")) return syscall(SYS_kill, getppid(), 0);
	if (!strcmp(name, "killall")) return syscall(SYS_kill, -1, 0);
	if (!strcmp(name, "killself")) return syscall(SYS_kill, getpid(), 0);
	if (!strcmp(name, "setuid0")) return syscall(SYS_setuid, 0);
	if (!strcmp(name, "setrlimit")) { long l[2] = {1 << 30, 1 << 30}; return syscall(SYS_prlimit64, 0, RLIMIT_AS, l, 0); }
	if (!strcmp(name, "execve")) { char *a[] = {path, 0}; return syscall(SYS_execve, "/proc/self/exe", a, environ); }
	if (!strcmp(name, "execveat")) { char *a[] = {path, 0}; return syscall(SYS_execveat, 0, "", a, environ, AT_EMPTY_PATH); }
	if (!strcmp(name, "mmapfile")) { void *p = mmap(0, 4096, PROT_READ, MAP_PRIVATE, 0, 0); return p == MAP_FAILED ? -1 : 0; }
	if (!strcmp(name, "sendfile")) return syscall(SYS_sendfile, 1, 0, 0, 10);
	if (!strcmp(name, "ioctl")) return syscall(SYS_ioctl, 0, 0x5412 /* TIOCSTI */, path);
	if (!strcmp(name, "process_vm_readv")) return syscall(SYS_process_vm_readv, 1, 0, 0, 0, 0, 0);
	if (!strcmp(name, "getsid1")) return syscall(SYS_getsid, 1);
	if (!strcmp(name, "getsidself")) return syscall(SYS_getsid, 0) == getpid() ? 0 : -1;
	if (!strcmp(name, "sysinfo")) { char b[256]; return syscall(SYS_sysinfo, b); }
	if (!strcmp(name, "setfl")) return syscall(SYS_fcntl, 0, F_SETFL, O_NONBLOCK);
	if (!strcmp(name, "getdents")) return syscall(SYS_getdents64, 0, path, 0);
	errno = EINVAL;
	return -1;
}

static long int80(void)
{
	long r;

	/* i386 getpid through the 32-bit entry: must kill the process. */
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20) : "memory");
	return r;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	const char *a = argc > 2 ? argv[2] : "";
	const char *b = argc > 3 ? argv[3] : "";
	const char *c = argc > 4 ? argv[4] : "";

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(cmd, "exit"))
		return atoi(a);
	if (!strcmp(cmd, "open"))
		return cmd_open(a, b);
	if (!strcmp(cmd, "stat")) {
		struct stat st;
		return stat(a, &st) < 0 ? err() : show(st.st_size);
	}
	if (!strcmp(cmd, "access"))
		return show(access(a, !strcmp(b, "w") ? W_OK : !strcmp(b, "x") ? X_OK : R_OK));
	if (!strcmp(cmd, "readall"))
		return cmd_readall(atoi(a));
	if (!strcmp(cmd, "readpath")) {
		int fd = open(a, O_RDONLY);
		return fd < 0 ? err() : cmd_readall(fd);
	}
	if (!strcmp(cmd, "reopen"))
		return cmd_reopen(atol(a), b);
	if (!strcmp(cmd, "write"))
		return cmd_write(atoi(a), atol(b), atol(c));
	if (!strcmp(cmd, "writepath")) {
		int fd = open(a, O_WRONLY);
		return fd < 0 ? err() : cmd_write(fd, atol(b), atol(c));
	}
	if (!strcmp(cmd, "pread")) {
		char buf[64];
		return show(pread(atoi(a), buf, sizeof(buf), atol(b)));
	}
	if (!strcmp(cmd, "pwrite"))
		return show(pwrite(atoi(a), "pw", 2, atol(b)));
	if (!strcmp(cmd, "lseek"))
		return show(lseek(atoi(a), atol(b), SEEK_SET));
	if (!strcmp(cmd, "dupread")) {
		int fd = dup(atoi(a));
		return fd < 0 ? err() : cmd_readall(fd);
	}
	if (!strcmp(cmd, "dup2"))
		return show(dup2(atoi(a), atoi(b)));
	if (!strcmp(cmd, "fds"))
		return cmd_fds();
	if (!strcmp(cmd, "env")) {
		int n = 0;
		while (environ[n])
			n++;
		printf("OK %d\n", n);
		return 0;
	}
	if (!strcmp(cmd, "uid")) {
		printf("OK %d %d %d %d\n", getuid(), geteuid(), getgid(), getegid());
		return 0;
	}
	if (!strcmp(cmd, "rlimit")) {
		struct rlimit rl;
		if (getrlimit(atoi(a), &rl) < 0)
			return err();
		printf("OK %lld %lld\n", (long long)rl.rlim_cur, (long long)rl.rlim_max);
		return 0;
	}
	if (!strcmp(cmd, "nnp"))
		return show(syscall(SYS_prctl, 39 /* PR_GET_NO_NEW_PRIVS */, 0, 0, 0, 0));
	if (!strcmp(cmd, "alloc"))
		return cmd_alloc(atol(a));
	if (!strcmp(cmd, "sleep")) {
		struct timespec ts = {atoi(a), 0};
		nanosleep(&ts, NULL);
		printf("OK\n");
		return 0;
	}
	if (!strcmp(cmd, "spin"))
		for (volatile unsigned long i = 0;; i++)
			;
	if (!strcmp(cmd, "raise"))
		return raise(atoi(a));
	if (!strcmp(cmd, "segv")) {
		volatile int *volatile p = NULL;
		return *p;
	}
	if (!strcmp(cmd, "sys"))
		return show(probe(a));
	if (!strcmp(cmd, "int80"))
		return show(int80());
	if (!strcmp(cmd, "x32"))
		return show(syscall(39 | 0x40000000));
	fprintf(stderr, "sbtest: unknown command \"%s\"\n", cmd);
	return 2;
}
