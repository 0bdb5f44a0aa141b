/* A dynamically linked program: its interpreter (/lib64/ld-linux-...)
 * is a host file. Were the exec done with the host's root, the host's
 * loader and libc would run it and it would report ESCAPED; the sandbox
 * must refuse it before it runs. Built without -static on purpose. */
#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	escaped("a dynamically linked program ran with the host's loader");
	return hostile_done();
}
