/* personality(2): changing the execution domain (32-bit address space,
 * executable data, fake kernel version) must be refused. */
#include <sys/personality.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	MUST_FAIL(syscall(SYS_personality, PER_LINUX32));
	MUST_FAIL(syscall(SYS_personality, PER_LINUX | READ_IMPLIES_EXEC));
	MUST_FAIL(syscall(SYS_personality, PER_LINUX | UNAME26));
	MUST_FAIL(syscall(SYS_personality, PER_LINUX | ADDR_COMPAT_LAYOUT));
	return hostile_done();
}
