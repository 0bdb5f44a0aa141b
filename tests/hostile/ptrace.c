/* ptrace(2): be traced, or attach to the parent, pid 1 or any pid. */
#include <sys/ptrace.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	pid_t self = getpid();

	hostile_init(argc, argv);
	say("pid %d ppid %d\n", self, getppid());
	MUST_FAIL(syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0));
	if (getppid() > 0)
		MUST_FAIL(syscall(SYS_ptrace, PTRACE_ATTACH, getppid(), 0, 0));
	int hits = 0;
	for (pid_t pid = 1; pid <= 4096; pid++) {
		if (pid == self)
			continue;
		long r = syscall(SYS_ptrace, PTRACE_SEIZE, pid, 0, 0);
		if (r == 0) {
			escaped("PTRACE_SEIZE of pid %d", pid);
			syscall(SYS_ptrace, PTRACE_DETACH, pid, 0, 0);
			hits++;
		}
	}
	say("PTRACE_SEIZE of pids 1..4096: %d succeeded\n", hits);
	return hostile_done();
}
