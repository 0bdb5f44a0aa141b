/* execve(2) of /bin/sh: a shell would print ESCAPED and exit 99. */
#include "hostile.h"

int main(int argc, char **argv)
{
	char *sh[] = { "sh", "-c", "echo ESCAPED: a host shell ran; exit 99",
		       NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", NULL };

	hostile_init(argc, argv);
	MUST_FAIL(syscall(SYS_execve, "/bin/sh", sh, envp));
	MUST_FAIL(syscall(SYS_execve, "/usr/bin/sh", sh, envp));
	MUST_FAIL(syscall(SYS_execve, "/bin/bash", sh, envp));
	return hostile_done();
}
