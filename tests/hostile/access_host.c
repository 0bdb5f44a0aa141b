/* access(2), faccessat(2), faccessat2(2) of host paths: probing only. */
#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	for (size_t i = 0; hostile_paths[i]; i++) {
		const char *p = hostile_paths[i];

		say("path %s\n", p);
		MUST_FAIL(syscall(SYS_access, p, F_OK));
		MUST_FAIL(syscall(SYS_faccessat, AT_FDCWD, p, R_OK));
		MUST_FAIL(syscall(SYS_faccessat2, AT_FDCWD, p, F_OK,
				  AT_EACCESS));
	}
	return hostile_done();
}
