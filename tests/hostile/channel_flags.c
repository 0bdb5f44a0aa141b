/* Changing the host's side of a channel through the shared open file
 * description: O_NONBLOCK on stdin (a pipe the runner holds, like a
 * terminal or a daemon's socket: its owner would get EAGAIN, or block
 * where it expected not to) and O_APPEND on stdout. The runner compares
 * its own fds' flags before and after. */
#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	for (int fd = 0; fd < 3; fd++) {
		long fl = syscall(SYS_fcntl, fd, F_GETFL);
		say("fd %d flags %#lx\n", fd, fl);
		long r = syscall(SYS_fcntl, fd, F_SETFL, (fl < 0 ? 0 : fl) ^
				 (O_NONBLOCK | O_APPEND));
		say("fd %d F_SETFL -> %s\n", fd, r == 0 ? "changed" : errname(errno));
	}
	return hostile_done();
}
