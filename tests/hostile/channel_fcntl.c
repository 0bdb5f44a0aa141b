/* fcntl/flock on channel fds that act on the host: SIGIO to another
 * process (F_SETOWN), leases and locks that stall host processes opening
 * the same file, directory notifications. /dev/input is fd 3. */
#include <sys/file.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	struct flock lk = { .l_type = F_RDLCK, .l_whence = SEEK_SET };

	hostile_init(argc, argv);
	MUST_FAIL(syscall(SYS_fcntl, 3, F_SETOWN, 1));
	MUST_FAIL(syscall(SYS_fcntl, 3, F_SETOWN, -1));
	MUST_FAIL(syscall(SYS_fcntl, 3, F_SETSIG, SIGKILL));
	MUST_FAIL(syscall(SYS_fcntl, 3, F_SETLEASE, F_RDLCK));
	MUST_FAIL(syscall(SYS_fcntl, 3, F_NOTIFY, DN_ACCESS));
	MUST_FAIL(syscall(SYS_fcntl, 3, F_SETLK, &lk));
	MUST_FAIL(syscall(SYS_fcntl, 3, F_OFD_SETLK, &lk));
	MUST_FAIL(syscall(SYS_flock, 3, LOCK_SH | LOCK_NB));
	return hostile_done();
}
