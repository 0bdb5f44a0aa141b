/* creat(2) of new files in host directories (and over host files). */
#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	MUST_FAIL_FD(syscall(SYS_creat, hostile_tmp_target, 0644));
	MUST_FAIL_FD(syscall(SYS_creat, hostile_canary_target, 0644));
	MUST_FAIL_FD(syscall(SYS_creat, "pwned-creat-cwd", 0644));
	MUST_FAIL_FD(syscall(SYS_creat, "/etc/zvm-hostile-pwned-creat", 0644));
	/* creat() truncates: it must not reach the canary secret either. */
	MUST_FAIL_FD(syscall(SYS_creat, hostile_secret, 0644));
	return hostile_done();
}
