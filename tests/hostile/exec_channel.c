/* Exec through a channel: /dev/payload (fd 3) is an executable host file
 * (a tiny ELF that exits 99). execveat(fd, "", AT_EMPTY_PATH) on it, on
 * copies of it at every fd number (the filter lets the sandbox's own exec
 * through on one number), and by alias path must all fail. */
#include "hostile.h"

static void try_exec(int fd)
{
	char *args[] = { "payload", NULL };
	char *envp[] = { NULL };
	long r = syscall(SYS_execveat, fd, "", args, envp, AT_EMPTY_PATH);

	if (r != -1)
		escaped("execveat(%d) returned %ld", fd, r);
	else if (errno != EBADF)
		say("contained: execveat(%d) -> %s\n", fd, errname(errno));
}

int main(int argc, char **argv)
{
	char *args[] = { "payload", NULL };
	char *envp[] = { NULL };

	hostile_init(argc, argv);
	try_exec(3);
	for (int fd = 4; fd < 128; fd++) {
		long r = syscall(SYS_dup2, 3, fd);
		if (r == fd)
			try_exec(fd);
		else if (fd < 8)
			say("dup2(3, %d) -> %s\n", fd, errname(errno));
	}
	long fd = syscall(SYS_fcntl, 3, F_DUPFD, 0);
	if (fd >= 0)
		try_exec((int)fd);
	MUST_FAIL(syscall(SYS_execveat, AT_FDCWD, "/dev/payload", args, envp, 0));
	MUST_FAIL(syscall(SYS_execve, "/dev/payload", args, envp));
	return hostile_done();
}
