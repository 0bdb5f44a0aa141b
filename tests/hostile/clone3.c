/* clone3(2): its flags live in memory, out of seccomp's reach, so a sound
 * filter refuses the call whole. A thread, a process and a process in new
 * namespaces are each tried; any child is an escape. */
#include <linux/sched.h>
#include <sys/mman.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	size_t stack_size = 64 * 1024;
	void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct clone_args thread = {
		.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
			 CLONE_THREAD | CLONE_SYSVSEM,
		.stack = (uint64_t)(uintptr_t)stack,
		.stack_size = stack_size,
	};
	struct clone_args process = { .exit_signal = SIGCHLD };
	struct clone_args newns = {
		.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID,
		.exit_signal = SIGCHLD,
	};

	hostile_init(argc, argv);
	if (stack == MAP_FAILED)
		say("  mmap stack -> %s (thread try uses none)\n", errname(errno));
	must_not_spawn("clone3 thread",
		       spawn_syscall(SYS_clone3, (long)&thread, sizeof(thread),
				     0, 0, 0));
	must_not_spawn("clone3 process",
		       spawn_syscall(SYS_clone3, (long)&process,
				     sizeof(process), 0, 0, 0));
	must_not_spawn("clone3 new namespaces",
		       spawn_syscall(SYS_clone3, (long)&newns, sizeof(newns), 0,
				     0, 0));
	return hostile_done();
}
