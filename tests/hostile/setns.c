/* setns(2) into another process's namespaces: through /proc namespace
 * files, through a pidfd of pid 1 or the parent, through a channel fd. */
#include <sched.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	static const char *const ns[] = {
		"/proc/1/ns/mnt", "/proc/1/ns/user", "/proc/1/ns/net",
		"/proc/1/ns/pid", NULL,
	};

	hostile_init(argc, argv);
	for (size_t i = 0; ns[i]; i++) {
		long fd = MUST_FAIL(syscall(SYS_open, ns[i], O_RDONLY));
		if (fd >= 0)
			MUST_FAIL(syscall(SYS_setns, (int)fd, 0));
	}
	pid_t targets[] = { 1, getppid() };
	for (size_t i = 0; i < 2; i++) {
		if (targets[i] <= 0 || targets[i] == getpid())
			continue;
		long pfd = MUST_FAIL(syscall(SYS_pidfd_open, targets[i], 0));
		if (pfd >= 0)
			MUST_FAIL(syscall(SYS_setns, (int)pfd,
					  CLONE_NEWNS | CLONE_NEWNET));
	}
	for (int fd = 0; fd < 3; fd++)
		MUST_FAIL(syscall(SYS_setns, fd, 0));
	return hostile_done();
}
