/* Using a channel against its declared direction when the host fd allows
 * both: the runner passes stdin and stdout as O_RDWR files (as a terminal
 * or a socket would be). Reading the write-only stdout (which holds 512
 * bytes of earlier host data) or writing into the read-only stdin must fail.
 * Logs go to fd 2. */
#include <sys/uio.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	char buf[256];
	struct iovec iov = { buf, sizeof(buf) };

	hostile_log_fd = 2;
	hostile_init(argc, argv);
	MUST_FAIL(syscall(SYS_read, 1, buf, sizeof(buf)));
	MUST_FAIL(syscall(SYS_readv, 1, &iov, 1));
	MUST_FAIL(syscall(SYS_write, 0, "pwned", 5));
	MUST_FAIL(syscall(SYS_writev, 0, &iov, 1));
	MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, "/dev/stdout", O_RDONLY));
	MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, "/dev/stdin", O_WRONLY));
	return hostile_done();
}
