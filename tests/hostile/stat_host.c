/* stat(2) and lstat(2) of host paths: even metadata must not leak. */
#include "hostile.h"

int main(int argc, char **argv)
{
	struct stat st;

	hostile_init(argc, argv);
	for (size_t i = 0; hostile_paths[i]; i++) {
		say("path %s\n", hostile_paths[i]);
		MUST_FAIL(syscall(SYS_stat, hostile_paths[i], &st));
		MUST_FAIL(syscall(SYS_lstat, hostile_paths[i], &st));
	}
	return hostile_done();
}
