/* prctl tricks that open the program to others or rewrite what others
 * see of it: PR_SET_DUMPABLE, PR_SET_PTRACER any, PR_SET_MM exe link,
 * becoming a child subreaper. */
#include <sys/prctl.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	say("PR_GET_DUMPABLE -> %ld\n",
	    syscall(SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0));
	MUST_FAIL(syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0));
	MUST_FAIL(syscall(SYS_prctl, PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0));
	MUST_FAIL(syscall(SYS_prctl, PR_SET_MM, PR_SET_MM_EXE_FILE, 0, 0, 0));
	MUST_FAIL(syscall(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	return hostile_done();
}
