/* Spins forever: the sandbox must end it with "session timeout". */
#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	say("spinning\n");
	for (;;)
		__asm__ volatile("" ::: "memory");
}
