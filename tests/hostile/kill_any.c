/* Signals to other processes: kill(-1), kill(1), and every pid. Signal 0
 * probes the permission without harming anything if the check is
 * missing; any success on another process is an escape (a sibling
 * sandbox, the spawner, or the host). */
#include "hostile.h"

int main(int argc, char **argv)
{
	pid_t self = getpid();
	int hits = 0;

	hostile_init(argc, argv);
	say("pid %d\n", self);
	MUST_FAIL(syscall(SYS_kill, -1, 0));
	if (self != 1) {
		MUST_FAIL(syscall(SYS_kill, 1, 0));
		MUST_FAIL(syscall(SYS_tkill, 1, 0));
		MUST_FAIL(syscall(SYS_tgkill, 1, 1, 0));
		MUST_FAIL_FD(syscall(SYS_pidfd_open, 1, 0));
	}
	for (pid_t pid = 2; pid <= 32768; pid++) {
		if (pid == self)
			continue;
		if (syscall(SYS_kill, pid, 0) == 0) {
			escaped("kill(%d, 0) succeeded", pid);
			if (++hits > 5)
				break;
		}
	}
	return hostile_done();
}
