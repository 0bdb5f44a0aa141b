/* mknod(2) of device nodes: a block node for the host disk or a char
 * node for /dev/mem would read the host below every file permission. */
#include <sys/sysmacros.h>

#include "hostile.h"

static void try_node(const char *path, mode_t mode, dev_t dev)
{
	say("node %s %u:%u\n", path, major(dev), minor(dev));
	if (MUST_FAIL(syscall(SYS_mknodat, AT_FDCWD, path, mode, dev)) == 0)
		MUST_FAIL_FD(syscall(SYS_open, path, O_RDONLY));
}

int main(int argc, char **argv)
{
	char node[PATH_MAX];

	hostile_init(argc, argv);
	try_node("/zvm-hostile-vda", S_IFBLK | 0600, makedev(254, 0));
	try_node("/zvm-hostile-sda", S_IFBLK | 0600, makedev(8, 0));
	try_node("/zvm-hostile-mem", S_IFCHR | 0600, makedev(1, 1));
	snprintf(node, sizeof(node), "%s/pwned-node", hostile_canary);
	try_node(node, S_IFCHR | 0600, makedev(1, 3));
	MUST_FAIL(syscall(SYS_mknod, "zvm-hostile-fifo", S_IFIFO | 0600, 0));
	return hostile_done();
}
