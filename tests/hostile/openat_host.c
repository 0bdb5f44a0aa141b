/* openat(2) of host files: from the cwd, and relative to each channel fd. */
#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	for (size_t i = 0; hostile_paths[i]; i++) {
		const char *p = hostile_paths[i];

		say("path %s\n", p);
		MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, p, O_RDONLY));
		MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, p, O_PATH | O_NOFOLLOW));
	}
	/* A channel fd as the directory: ".." from a host file's dentry. */
	for (int fd = 0; fd < 3; fd++) {
		MUST_FAIL_FD(syscall(SYS_openat, fd, "..", O_RDONLY));
		MUST_FAIL_FD(syscall(SYS_openat, fd, "../etc/passwd", O_RDONLY));
	}
	MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, hostile_tmp_target,
			     O_WRONLY | O_CREAT | O_EXCL, 0644));
	MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, hostile_canary_target,
			     O_WRONLY | O_CREAT | O_EXCL, 0644));
	return hostile_done();
}
