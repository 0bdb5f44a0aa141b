/* execveat(2) of /bin/sh: by path, and through an O_PATH fd. */
#include "hostile.h"

int main(int argc, char **argv)
{
	char *sh[] = { "sh", "-c", "echo ESCAPED: a host shell ran; exit 99",
		       NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", NULL };

	hostile_init(argc, argv);
	MUST_FAIL(syscall(SYS_execveat, AT_FDCWD, "/bin/sh", sh, envp, 0));
	MUST_FAIL(syscall(SYS_execveat, AT_FDCWD, "/bin/sh", sh, envp,
			  AT_SYMLINK_NOFOLLOW));
	long dir = MUST_FAIL(syscall(SYS_open, "/bin", O_PATH | O_DIRECTORY));
	MUST_FAIL(syscall(SYS_execveat, (int)dir, "sh", sh, envp, 0));
	long fd = MUST_FAIL(syscall(SYS_open, "/bin/sh", O_PATH));
	MUST_FAIL(syscall(SYS_execveat, (int)fd, "", sh, envp, AT_EMPTY_PATH));
	return hostile_done();
}
