/* Outliving the supervisor: the runner SIGKILLs the zvsh process once
 * this program is spinning (as the OOM killer or a crash would end a
 * daemon). Nobody enforces the timeout any more, so the program must die
 * with its supervisor; the runner checks that no process of it is left. */
#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_IGN);
	say("spinning\n");
	for (;;)
		__asm__ volatile("" ::: "memory");
}
