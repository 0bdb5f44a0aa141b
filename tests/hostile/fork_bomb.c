/* A fork bomb, bounded for the sake of a shared machine: ten rounds in
 * which every process forks (≤ 1024 processes if nothing stops it). Any
 * child is an escape; children then wait forever so that the runner can
 * check the sandbox ended every one of them. */
#include "hostile.h"

int main(int argc, char **argv)
{
	int forks = 0, is_child = 0;

	hostile_init(argc, argv);
	for (int round = 0; round < 10; round++) {
		long pid = syscall(SYS_fork);
		if (pid == 0) {
			is_child = 1;
			forks = 0;
			continue;
		}
		if (pid > 0)
			forks++;
		else if (round == 0)
			say("contained: fork -> %s\n", errname(errno));
	}
	if (is_child)
		for (;;)
			syscall(SYS_pause);
	if (forks)
		escaped("the first process forked %d children", forks);
	return hostile_done();
}
