/* Terminal injection: TIOCSTI pushes bytes into a terminal's input, to be
 * run by the shell that owns it. Neither the channels nor /dev/tty may
 * give a terminal the program can inject into or take control of. */
#include <sys/ioctl.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	for (int fd = 0; fd < 3; fd++) {
		say("fd %d\n", fd);
		MUST_FAIL(syscall(SYS_ioctl, fd, TIOCSTI, "#"));
		MUST_FAIL(syscall(SYS_ioctl, fd, TIOCSCTTY, 1));
	}
	long tty = MUST_FAIL(syscall(SYS_open, "/dev/tty", O_RDWR));
	if (tty >= 0)
		MUST_FAIL(syscall(SYS_ioctl, (int)tty, TIOCSTI, "#"));
	MUST_FAIL_FD(syscall(SYS_open, "/dev/ptmx", O_RDWR));
	return hostile_done();
}
