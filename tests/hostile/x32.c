/* The x32 ABI (syscall number | 0x40000000): a filter that only checks
 * x86-64 numbers would let these through. Any success is an escape. */
#include <sys/socket.h>

#include "hostile.h"

#define X32 0x40000000L

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	MUST_FAIL(syscall(X32 | SYS_getpid));
	MUST_FAIL_FD(syscall(X32 | SYS_openat, AT_FDCWD, hostile_secret, O_RDONLY));
	MUST_FAIL_FD(syscall(X32 | SYS_socket, AF_INET, SOCK_STREAM, 0));
	MUST_FAIL(syscall(X32 | SYS_kill, -1, 0));
	MUST_FAIL(syscall(X32 | SYS_unshare, 0x10000000 /* CLONE_NEWUSER */));
	must_not_spawn("x32 fork", spawn_syscall(X32 | SYS_fork, 0, 0, 0, 0, 0));
	MUST_FAIL(syscall(X32 | 520 /* x32 execve */, "/bin/sh", NULL, NULL));
	return hostile_done();
}
