/* Links towards host files, and moving a channel's host file: symlink,
 * link and rename must not make a host file reachable or move one. */
#include "hostile.h"

int main(int argc, char **argv)
{
	char target[PATH_MAX];

	hostile_init(argc, argv);
	if (syscall(SYS_symlink, hostile_secret, "/zvm-hostile-link") == 0) {
		say("symlink in the sandbox root made\n");
		MUST_FAIL_FD(syscall(SYS_open, "/zvm-hostile-link", O_RDONLY));
	} else {
		say("contained: symlink in sandbox root -> %s\n", errname(errno));
	}
	snprintf(target, sizeof(target), "%s/pwned-link", hostile_canary);
	MUST_FAIL(syscall(SYS_symlink, "/etc/shadow", target));
	MUST_FAIL(syscall(SYS_link, hostile_secret, "/zvm-hostile-hard"));
	MUST_FAIL(syscall(SYS_linkat, 3, "", AT_FDCWD, target, AT_EMPTY_PATH));
	MUST_FAIL(syscall(SYS_rename, "/dev/input", target));
	MUST_FAIL(syscall(SYS_renameat2, AT_FDCWD, "/dev/input", AT_FDCWD,
			  "/zvm-hostile-moved", 0));
	return hostile_done();
}
