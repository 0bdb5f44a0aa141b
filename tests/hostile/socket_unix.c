/* AF_UNIX connect to a host socket: a path socket in the canary dir
 * (CANARY/sock) and an abstract one ("@zvm-hostile-TOKEN"), both served
 * by the runner, which checks that no connection arrived. */
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "hostile.h"

static void try_unix(const char *what, const struct sockaddr_un *sa,
		     socklen_t len, int type)
{
	say("%s\n", what);
	long fd = MUST_FAIL(syscall(SYS_socket, AF_UNIX, type, 0));
	if (fd < 0)
		return;
	MUST_FAIL(syscall(SYS_connect, (int)fd, sa, len));
	close((int)fd);
}

int main(int argc, char **argv)
{
	const char *token = argc > 3 ? argv[3] : "none";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;

	hostile_init(argc, argv);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", hostile_canary);
	try_unix("path socket", &sa, sizeof(sa), SOCK_STREAM);
	memset(sa.sun_path, 0, sizeof(sa.sun_path));
	len = offsetof(struct sockaddr_un, sun_path) + 1 +
	      snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1,
		       "zvm-hostile-%s", token);
	try_unix("abstract socket", &sa, len, SOCK_STREAM);
	/* Well-known host daemons. */
	memset(sa.sun_path, 0, sizeof(sa.sun_path));
	strcpy(sa.sun_path, "/run/systemd/private");
	try_unix("systemd", &sa, sizeof(sa), SOCK_STREAM);
	strcpy(sa.sun_path, "/dev/log");
	try_unix("syslog", &sa, sizeof(sa), SOCK_DGRAM);
	/* A socket pair is harmless, but it is no channel either. */
	int sv[2];
	MUST_FAIL(syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv));
	return hostile_done();
}
