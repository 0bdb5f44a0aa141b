/* unshare(2) into new namespaces: a new user namespace would hand the
 * program every capability inside it. */
#include <sched.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	MUST_FAIL(syscall(SYS_unshare, CLONE_NEWUSER));
	MUST_FAIL(syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS));
	MUST_FAIL(syscall(SYS_unshare, CLONE_NEWNS));
	MUST_FAIL(syscall(SYS_unshare, CLONE_NEWNET));
	MUST_FAIL(syscall(SYS_unshare, CLONE_NEWPID));
	MUST_FAIL(syscall(SYS_unshare, CLONE_NEWIPC | CLONE_NEWUTS));
	MUST_FAIL(syscall(SYS_unshare, CLONE_NEWCGROUP));
	MUST_FAIL(syscall(SYS_unshare, CLONE_NEWTIME));
	return hostile_done();
}
