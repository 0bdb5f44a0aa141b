/* open(2) of host files, for reading and for creating. */
#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	for (size_t i = 0; hostile_paths[i]; i++) {
		const char *p = hostile_paths[i];

		say("path %s\n", p);
		MUST_FAIL_FD(syscall(SYS_open, p, O_RDONLY));
		MUST_FAIL_FD(syscall(SYS_open, p, O_PATH));
	}
	MUST_FAIL_FD(syscall(SYS_open, hostile_tmp_target,
			     O_WRONLY | O_CREAT | O_EXCL, 0644));
	MUST_FAIL_FD(syscall(SYS_open, hostile_canary_target,
			     O_WRONLY | O_CREAT | O_EXCL, 0644));
	if (!hostile_in_image)
		MUST_FAIL_FD(syscall(SYS_open, "/tmp", O_TMPFILE | O_RDWR, 0600));
	MUST_FAIL_FD(syscall(SYS_open, hostile_canary, O_TMPFILE | O_RDWR, 0600));
	return hostile_done();
}
