/* A thread (pthread_create → clone with CLONE_THREAD): whether the policy
 * allows threads or not, a thread must be as confined as its creator
 * (seccomp filters and namespaces are inherited). The thread repeats
 * escapes from the other programs; any success is an escape. */
#include <pthread.h>
#include <sys/socket.h>

#include "hostile.h"

static void *attack(void *arg)
{
	(void)arg;
	say("thread running\n");
	MUST_FAIL_FD(syscall(SYS_open, hostile_secret, O_RDONLY));
	MUST_FAIL_FD(syscall(SYS_open, "/etc/passwd", O_RDONLY));
	MUST_FAIL_FD(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
	must_not_spawn("fork from thread",
		       spawn_syscall(SYS_fork, 0, 0, 0, 0, 0));
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	int err;

	hostile_init(argc, argv);
	err = pthread_create(&t, NULL, attack, NULL);
	if (err) {
		say("contained: pthread_create -> %s\n", errname(err));
		return hostile_done();
	}
	say("pthread_create succeeded (threads allowed by the policy)\n");
	pthread_join(t, NULL);
	return hostile_done();
}
