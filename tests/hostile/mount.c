/* mount(2) and the new mount API. Targets are harmless even if the call
 * worked on the host: a tmpfs over the canary dir (the runner would see
 * its listing change) and detached trees. */
#include <linux/mount.h>

#include "hostile.h"

/* <sys/mount.h> clashes with <linux/mount.h> in glibc 2.36. */
#ifndef MNT_DETACH
#define MNT_DETACH 2
#endif

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	MUST_FAIL(syscall(SYS_mount, "none", hostile_canary, "tmpfs", 0, NULL));
	MUST_FAIL(syscall(SYS_mount, "/", hostile_canary, NULL, MS_BIND, NULL));
	MUST_FAIL(syscall(SYS_mount, "proc", hostile_canary, "proc", 0, NULL));
	MUST_FAIL(syscall(SYS_umount2, hostile_canary, MNT_DETACH));
	MUST_FAIL_FD(syscall(SYS_fsopen, "tmpfs", 0));
	MUST_FAIL_FD(syscall(SYS_fsopen, "proc", 0));
	MUST_FAIL_FD(syscall(SYS_open_tree, AT_FDCWD, "/",
			     OPEN_TREE_CLONE | AT_RECURSIVE));
	MUST_FAIL_FD(syscall(SYS_fspick, AT_FDCWD, "/", 0));
	MUST_FAIL(syscall(SYS_mount_setattr, AT_FDCWD, "/", 0,
			  &(struct mount_attr){ .attr_clr = MOUNT_ATTR_RDONLY },
			  sizeof(struct mount_attr)));
	return hostile_done();
}
