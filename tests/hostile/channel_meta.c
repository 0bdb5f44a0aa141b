/* Changing the host file behind a channel without writing to it: mode,
 * owner, timestamps, extended attributes, locks on the host inode. The
 * runner checks /dev/input's host file (fd 3) keeps mode and times. */
#include <sys/file.h>
#include <sys/xattr.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	struct timespec times[2] = { { 0, 0 }, { 0, 0 } };

	hostile_init(argc, argv);
	MUST_FAIL(syscall(SYS_fchmod, 3, 04777));
	MUST_FAIL(syscall(SYS_fchown, 3, 0, 0));
	MUST_FAIL(syscall(SYS_utimensat, 3, NULL, times, 0));
	MUST_FAIL(syscall(SYS_fsetxattr, 3, "user.zvm-hostile", "x", 1, 0));
	MUST_FAIL(syscall(SYS_fchmodat, AT_FDCWD, "/dev/input", 04777, 0));
	MUST_FAIL(syscall(SYS_fchownat, AT_FDCWD, "/dev/input", 0, 0, 0));
	MUST_FAIL(syscall(SYS_utimensat, AT_FDCWD, "/dev/input", times, 0));
	MUST_FAIL(syscall(SYS_setxattr, "/dev/input", "user.zvm-hostile", "x",
			  1, 0));
	return hostile_done();
}
