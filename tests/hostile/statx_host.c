/* statx(2) of host paths. */
#include "hostile.h"

int main(int argc, char **argv)
{
	struct statx stx;

	hostile_init(argc, argv);
	for (size_t i = 0; hostile_paths[i]; i++) {
		say("path %s\n", hostile_paths[i]);
		MUST_FAIL(syscall(SYS_statx, AT_FDCWD, hostile_paths[i], 0,
				  STATX_ALL, &stx));
		MUST_FAIL(syscall(SYS_statx, AT_FDCWD, hostile_paths[i],
				  AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx));
	}
	return hostile_done();
}
