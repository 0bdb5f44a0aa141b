/* Weakening seccomp: the program must already be filtered; mode 0 must be
 * refused; an allow-everything filter of its own (via prctl and seccomp)
 * may stack but must not lift the sandbox's: afterwards a socket and a
 * host open still fail. */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	struct sock_filter allow[] = {
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 1, .filter = allow };

	hostile_init(argc, argv);
	long mode = syscall(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0);
	say("PR_GET_SECCOMP -> %ld (%s)\n", mode, mode < 0 ? errname(errno) : "");
	if (mode == 0)
		escaped("the program runs without seccomp");
	MUST_FAIL(syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_DISABLED, 0,
			  0, 0));
	long r = syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog,
			 0, 0);
	say("allow-all filter via prctl -> %s\n", r == 0 ? "stacked" : errname(errno));
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_TSYNC, &prog);
	say("allow-all filter via seccomp -> %s\n", r == 0 ? "stacked" : errname(errno));
	MUST_FAIL_FD(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
	MUST_FAIL_FD(syscall(SYS_open, hostile_secret, O_RDONLY));
	return hostile_done();
}
