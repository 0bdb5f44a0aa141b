/* Reading the supervisor's memory: /proc/<ppid>/mem, /proc/1/mem, and
 * process_vm_readv/writev on every pid. For process_vm_*, EFAULT means the
 * permission check passed (only the guessed remote address was wrong). */
#include <sys/uio.h>

#include "hostile.h"

static void judge_vm(const char *what, pid_t pid, long r, int *hits)
{
	if (r >= 0 || errno == EFAULT) {
		escaped("%s of pid %d allowed (%ld %s)", what, pid, r,
			r < 0 ? errname(errno) : "");
		(*hits)++;
	}
}

int main(int argc, char **argv)
{
	pid_t self = getpid(), ppid = getppid();
	char buf[64], path[64];
	struct iovec local = { buf, sizeof(buf) };
	/* Page 1 is never mapped: a permitted call fails with EFAULT and
	 * touches nothing. */
	struct iovec remote = { (void *)0x1000, sizeof(buf) };
	int hits = 0;

	hostile_init(argc, argv);
	say("pid %d ppid %d\n", self, ppid);
	snprintf(path, sizeof(path), "/proc/%d/mem", ppid);
	MUST_FAIL_FD(syscall(SYS_open, path, O_RDONLY));
	MUST_FAIL_FD(syscall(SYS_open, "/proc/1/mem", O_RDONLY));
	MUST_FAIL_FD(syscall(SYS_open, "/proc/1/environ", O_RDONLY));
	for (pid_t pid = 1; pid <= 65536 && hits < 5; pid++) {
		if (pid == self)
			continue;
		judge_vm("process_vm_readv", pid,
			 syscall(SYS_process_vm_readv, pid, &local, 1, &remote,
				 1, 0), &hits);
	}
	if (ppid > 0)
		judge_vm("process_vm_writev", ppid,
			 syscall(SYS_process_vm_writev, ppid, &local, 1,
				 &remote, 1, 0), &hits);
	return hostile_done();
}
