/* The classic chroot escape: chroot into a subdirectory while keeping the
 * cwd outside it, climb "..", chroot("."); then look for host entries. */
#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	long made = syscall(SYS_mkdir, "zvm-hostile-jail", 0700);
	say("mkdir jail -> %s\n", made == 0 ? "ok" : errname(errno));
	MUST_FAIL(syscall(SYS_chroot, "zvm-hostile-jail"));
	for (int i = 0; i < 16; i++)
		syscall(SYS_chdir, "..");
	MUST_FAIL(syscall(SYS_chroot, "."));
	MUST_FAIL(syscall(SYS_chroot, "/"));
	MUST_FAIL(syscall(SYS_chroot, hostile_canary));
	long dfd = syscall(SYS_open, "/", O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		list_for_host("root after chroot tries", (int)dfd);
		close((int)dfd);
	}
	return hostile_done();
}
