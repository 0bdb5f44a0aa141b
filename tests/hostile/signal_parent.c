/* Signals to the supervisor: the parent (getppid) and the process group
 * (kill(0) reaches the zerovm CLI if the program shares its group). */
#include "hostile.h"

int main(int argc, char **argv)
{
	pid_t self = getpid(), ppid = getppid(), pgrp = getpgrp();

	hostile_init(argc, argv);
	say("pid %d ppid %d pgrp %d sid %d\n", self, ppid, pgrp, getsid(0));
	if (ppid > 0) {
		MUST_FAIL(syscall(SYS_kill, ppid, 0));
		MUST_FAIL(syscall(SYS_kill, -ppid, 0));
		MUST_FAIL_FD(syscall(SYS_pidfd_open, ppid, 0));
		siginfo_t si = { .si_signo = SIGCONT, .si_code = SI_QUEUE };
		MUST_FAIL(syscall(SYS_rt_sigqueueinfo, ppid, 0, &si));
	}
	/* Our own group only holds us if we lead it; otherwise kill(0) and
	 * kill(-pgrp) would reach other processes (pgrp 0: a group whose
	 * leader is outside our pid namespace, i.e. on the host). */
	if (pgrp != self) {
		MUST_FAIL(syscall(SYS_kill, 0, 0));
		if (pgrp > 0)
			MUST_FAIL(syscall(SYS_kill, -pgrp, 0));
	} else {
		say("own process group: kill(0) reaches only us\n");
	}
	/* Joining another group (the parent's) must fail too. */
	if (ppid > 0)
		MUST_FAIL(syscall(SYS_setpgid, 0, ppid));
	return hostile_done();
}
