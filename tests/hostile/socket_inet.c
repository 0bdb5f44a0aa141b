/* socket(2)/connect(2) to 127.0.0.1 and ::1, where the runner listens
 * (TCP port argv[4], UDP port argv[5]) and checks nothing arrived. */
#include <netinet/in.h>
#include <sys/socket.h>

#include "hostile.h"

static void try_connect(const char *what, int family, int type,
			const struct sockaddr *sa, socklen_t len)
{
	say("%s\n", what);
	long fd = MUST_FAIL(syscall(SYS_socket, family, type, 0));
	if (fd < 0)
		return;
	if (type == SOCK_DGRAM)
		MUST_FAIL(syscall(SYS_sendto, (int)fd, "pwned", 5, 0, sa, len));
	else
		MUST_FAIL(syscall(SYS_connect, (int)fd, sa, len));
	close((int)fd);
}

int main(int argc, char **argv)
{
	int tcp = argc > 4 ? atoi(argv[4]) : 1;
	int udp = argc > 5 ? atoi(argv[5]) : 1;
	struct sockaddr_in v4 = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };

	hostile_init(argc, argv);
	v4.sin_port = htons(tcp);
	v6.sin6_port = htons(tcp);
	try_connect("tcp 127.0.0.1", AF_INET, SOCK_STREAM,
		    (struct sockaddr *)&v4, sizeof(v4));
	try_connect("tcp ::1", AF_INET6, SOCK_STREAM, (struct sockaddr *)&v6,
		    sizeof(v6));
	v4.sin_port = htons(udp);
	try_connect("udp 127.0.0.1", AF_INET, SOCK_DGRAM,
		    (struct sockaddr *)&v4, sizeof(v4));
	/* Via socketcall-free paths too: a socket made by accept on fd 0. */
	MUST_FAIL(syscall(SYS_accept4, 0, NULL, NULL, 0));
	return hostile_done();
}
