/* userfaultfd(2): stalls kernel page faults under the program's control,
 * the usual lever for kernel race exploits. */
#include <linux/userfaultfd.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	MUST_FAIL_FD(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
	MUST_FAIL_FD(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
	MUST_FAIL_FD(syscall(SYS_open, "/dev/userfaultfd", O_RDWR));
	return hostile_done();
}
