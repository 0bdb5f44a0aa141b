/* io_uring_setup(2): io_uring performs opens, reads and connects in the
 * kernel without passing through seccomp, so it must be unavailable. */
#include <linux/io_uring.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	struct io_uring_params p;

	hostile_init(argc, argv);
	memset(&p, 0, sizeof(p));
	MUST_FAIL_FD(syscall(SYS_io_uring_setup, 8, &p));
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQPOLL;
	MUST_FAIL_FD(syscall(SYS_io_uring_setup, 8, &p));
	MUST_FAIL(syscall(SYS_io_uring_enter, 0, 1, 0, 0, NULL, 0));
	MUST_FAIL(syscall(SYS_io_uring_register, 0, IORING_REGISTER_PROBE,
			  NULL, 0));
	return hostile_done();
}
