/* Another tenant: the runner starts a second sandbox (a spinning program,
 * pid argv[4]) next to this one. Every call that reaches a process by pid
 * — signals, pidfds, ptrace, its memory, its identity and its scheduling
 * and limits — must fail. The runner checks the victim is still running
 * with its nice value and limits unchanged. */
#include <linux/futex.h>
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	pid_t v = argc > 4 ? atoi(argv[4]) : -1;
	char buf[64];
	struct iovec local = { buf, sizeof(buf) };
	struct iovec remote = { (void *)0x1000, sizeof(buf) };
	struct rlimit low = { 1, 1 };
	struct sched_param prio = { 0 };
	cpu_set_t set;
	struct robust_list_head *head;
	size_t len;

	hostile_init(argc, argv);
	say("victim pid %d\n", v);
	if (v <= 0) {
		escaped("no victim pid given: nothing tested");
		return hostile_done();
	}
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	MUST_FAIL(syscall(SYS_kill, v, 0));
	MUST_FAIL(syscall(SYS_kill, v, SIGKILL));
	MUST_FAIL(syscall(SYS_tgkill, v, v, SIGKILL));
	MUST_FAIL_FD(syscall(SYS_pidfd_open, v, 0));
	MUST_FAIL(syscall(SYS_ptrace, PTRACE_SEIZE, v, 0, 0));
	long r = syscall(SYS_process_vm_readv, v, &local, 1, &remote, 1, 0);
	if (r >= 0 || errno == EFAULT)
		escaped("process_vm_readv of the victim allowed");
	else
		say("contained: process_vm_readv -> %s\n", errname(errno));
	MUST_FAIL(syscall(SYS_getpgid, v));
	MUST_FAIL(syscall(SYS_getsid, v));
	MUST_FAIL(syscall(SYS_sched_getaffinity, v, sizeof(set), &set));
	MUST_FAIL(syscall(SYS_get_robust_list, v, &head, &len));
	MUST_FAIL(syscall(SYS_prlimit64, v, RLIMIT_CPU, &low, NULL));
	MUST_FAIL(syscall(SYS_setpriority, PRIO_PROCESS, v, 19));
	MUST_FAIL(syscall(SYS_sched_setaffinity, v, sizeof(set), &set));
	MUST_FAIL(syscall(SYS_sched_setscheduler, v, SCHED_IDLE, &prio));
	MUST_FAIL(syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, v,
			  (3 << 13) /* IOPRIO_CLASS_IDLE */));
	MUST_FAIL(syscall(SYS_kcmp, getpid(), v, 0 /* KCMP_FILE */, 1, 1));
	return hostile_done();
}
