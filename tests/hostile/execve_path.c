/* execve(2) of host executables by path: this program itself (its host
 * path and /proc/self/exe) and a host binary. A successful exec of this
 * program is recognised by the extra "exec-child" argument. */
#include "hostile.h"

int main(int argc, char **argv)
{
	static char *const envp[] = { NULL };

	hostile_init(argc, argv);
	if (argc > 4 && strcmp(argv[4], "exec-child") == 0) {
		escaped("execve of a host path ran this program again");
		return hostile_done();
	}
	char *again[] = { argv[0], argv[1], argv[2], argc > 3 ? argv[3] : "",
			  "exec-child", NULL };
	char *tru[] = { "true", NULL };

	MUST_FAIL(syscall(SYS_execve, hostile_self, again, envp));
	MUST_FAIL(syscall(SYS_execve, "/proc/self/exe", again, envp));
	/* If this exec works, "true" exits 0 without the RESULT line. */
	MUST_FAIL(syscall(SYS_execve, "/usr/bin/true", tru, envp));
	MUST_FAIL(syscall(SYS_execve, "/bin/true", tru, envp));
	return hostile_done();
}
