/* newfstatat(2) of host paths, following and not following links. */
#include "hostile.h"

int main(int argc, char **argv)
{
	struct stat st;

	hostile_init(argc, argv);
	for (size_t i = 0; hostile_paths[i]; i++) {
		say("path %s\n", hostile_paths[i]);
		MUST_FAIL(syscall(SYS_newfstatat, AT_FDCWD, hostile_paths[i],
				  &st, 0));
		MUST_FAIL(syscall(SYS_newfstatat, AT_FDCWD, hostile_paths[i],
				  &st, AT_SYMLINK_NOFOLLOW));
	}
	/* ".." relative to a channel fd names the host directory holding it. */
	MUST_FAIL(syscall(SYS_newfstatat, 0, "..", &st, 0));
	return hostile_done();
}
