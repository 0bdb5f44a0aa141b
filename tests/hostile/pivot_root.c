/* pivot_root(2): swap the sandbox root for another mount. */
#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	MUST_FAIL(syscall(SYS_pivot_root, ".", "."));
	MUST_FAIL(syscall(SYS_pivot_root, "/", "/"));
	MUST_FAIL(syscall(SYS_pivot_root, hostile_canary, hostile_canary));
	MUST_FAIL(syscall(SYS_pivot_root, "/dev", "/dev"));
	return hostile_done();
}
