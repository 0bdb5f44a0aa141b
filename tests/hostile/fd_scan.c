/* Leaked descriptors: scan fds 0..65535. Only the declared channels
 * (fds 0..argv[4]-1) may be open; any other open fd is a leak from the
 * supervisor (its sockets, the daemon's files, the seccomp listener). */
#include <poll.h>

#include "hostile.h"

/* fcntl(F_GETFD) answers EBADF exactly for closed fds. Should the policy
 * refuse it (another errno), an fd is open if any other probe succeeds. */
static int fd_open(int fd)
{
	struct stat st;
	char c;

	if (syscall(SYS_fcntl, fd, F_GETFD) >= 0)
		return 1;
	if (errno == EBADF)
		return 0;
	if (syscall(SYS_fstat, fd, &st) == 0)
		return 1;
	if (syscall(SYS_read, fd, &c, 0) >= 0)
		return 1;
	return syscall(SYS_write, fd, &c, 0) >= 0;
}

int main(int argc, char **argv)
{
	int declared = argc > 4 ? atoi(argv[4]) : 3;
	int open_count = 0;

	hostile_init(argc, argv);
	for (int fd = 0; fd < 65536; fd++) {
		if (!fd_open(fd))
			continue;
		open_count++;
		if (fd < declared) {
			say("fd %d open (declared channel)\n", fd);
			continue;
		}
		struct stat st;
		if (syscall(SYS_fstat, fd, &st) == 0)
			escaped("fd %d is open: mode %#o dev %#lx ino %lu", fd,
				st.st_mode, (unsigned long)st.st_dev,
				(unsigned long)st.st_ino);
		else
			escaped("fd %d is open", fd);
	}
	say("%d open fds, %d declared\n", open_count, declared);
	return hostile_done();
}
