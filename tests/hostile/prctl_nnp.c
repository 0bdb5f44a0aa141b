/* PR_SET_NO_NEW_PRIVS must be set and cannot be cleared. */
#include <sys/prctl.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	long nnp = syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	say("PR_GET_NO_NEW_PRIVS -> %ld\n", nnp);
	if (nnp == 0)
		escaped("no_new_privs is not set");
	MUST_FAIL(syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
	nnp = syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	say("PR_GET_NO_NEW_PRIVS after clearing -> %ld\n", nnp);
	if (nnp == 0)
		escaped("no_new_privs was cleared");
	return hostile_done();
}
