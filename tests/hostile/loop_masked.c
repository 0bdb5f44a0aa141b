/* Spins with every signal blocked and ignored (and the CPU limit's
 * SIGXCPU with them): only SIGKILL ends it, and the sandbox must still
 * report "session timeout". */
#include "hostile.h"

int main(int argc, char **argv)
{
	sigset_t all;

	hostile_init(argc, argv);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_IGN);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	say("spinning with all signals blocked\n");
	for (;;)
		__asm__ volatile("" ::: "memory");
}
