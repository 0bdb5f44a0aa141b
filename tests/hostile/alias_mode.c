/* Writing through a read-only channel: /dev/input (fd 3) is readable
 * only, /dev/output (fd 4) writable only. Opening the input for writing,
 * emptying it with O_TRUNC, writing or truncating fd 3, or reading fd 4
 * must fail; the runner checks the input file is unchanged. */
#include "hostile.h"

int main(int argc, char **argv)
{
	char c;

	hostile_init(argc, argv);
	MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, "/dev/input", O_WRONLY));
	MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, "/dev/input", O_RDWR));
	/* O_RDONLY|O_TRUNC may open (reading is allowed) but not truncate. */
	long fd = syscall(SYS_openat, AT_FDCWD, "/dev/input", O_RDONLY | O_TRUNC);
	struct stat st;
	if (fd >= 0 && fstat((int)fd, &st) == 0 && st.st_size == 0)
		escaped("O_TRUNC open emptied the read-only input");
	else
		say("O_RDONLY|O_TRUNC -> %s\n", fd >= 0 ? "opened, not truncated"
							  : errname(errno));
	MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, "/dev/input",
			     O_WRONLY | O_APPEND));
	MUST_FAIL(syscall(SYS_write, 3, "pwned", 5));
	MUST_FAIL(syscall(SYS_pwrite64, 3, "pwned", 5, 0));
	MUST_FAIL(syscall(SYS_ftruncate, 3, 0));
	MUST_FAIL(syscall(SYS_read, 4, &c, 1));
	MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, "/dev/output", O_RDONLY));
	return hostile_done();
}
