/* Sockets that reach the kernel or the VM host: netlink, packet, raw IP,
 * vsock. Creating any of them must fail. */
#include <linux/netlink.h>
#include <sys/socket.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	MUST_FAIL_FD(syscall(SYS_socket, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE));
	MUST_FAIL_FD(syscall(SYS_socket, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT));
	MUST_FAIL_FD(syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0x0300));
	MUST_FAIL_FD(syscall(SYS_socket, AF_INET, SOCK_RAW, 1 /* ICMP */));
	MUST_FAIL_FD(syscall(SYS_socket, AF_VSOCK, SOCK_STREAM, 0));
	MUST_FAIL_FD(syscall(SYS_socket, AF_ALG, SOCK_SEQPACKET, 0));
	return hostile_done();
}
