/* A crash: a core dump would land in the cwd or go to the host's
 * core_pattern helper with the program's memory. The sandbox must report
 * SIGSEGV and leave no core file anywhere the runner looks. */
#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);

	volatile int *volatile nowhere = NULL;

	say("writing through a NULL pointer\n");
	*nowhere = 1;
	escaped("survived a NULL write");
	return hostile_done();
}
