/* A second process by fork(2), vfork(2) and clone(2). Any child (which
 * exits at once) is an escape: the sandbox is one process. */
#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	must_not_spawn("fork", spawn_syscall(SYS_fork, 0, 0, 0, 0, 0));
	must_not_spawn("vfork", spawn_syscall(SYS_vfork, 0, 0, 0, 0, 0));
	must_not_spawn("clone(SIGCHLD)",
		       spawn_syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
	must_not_spawn("clone(CLONE_VFORK|CLONE_VM)",
		       spawn_syscall(SYS_clone, 0x4000 | 0x100 | SIGCHLD, 0, 0,
				     0, 0));
	must_not_spawn("clone(CLONE_NEWUSER|CLONE_NEWPID)",
		       spawn_syscall(SYS_clone, 0x10000000 | 0x20000000 | SIGCHLD,
				     0, 0, 0, 0));
	return hostile_done();
}
