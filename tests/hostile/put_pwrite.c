/* Growing /dev/output (fd 3, random access, put_size argv[4]) past its
 * limit without write(2): pwrite at a far offset, lseek+write, ftruncate,
 * fallocate, and a shared writable mapping (writes no call would meter).
 * The runner checks the host file is no larger than the limit. */
#include <sys/mman.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	long limit = argc > 4 ? atol(argv[4]) : 1000;

	hostile_init(argc, argv);
	MUST_FAIL(pwrite(3, "x", 1, limit * 5));
	MUST_FAIL(syscall(SYS_pwrite64, 3, "x", 1, 1L << 30));
	if (lseek(3, limit * 10, SEEK_SET) >= 0)
		MUST_FAIL(write(3, "x", 1));
	else
		say("lseek -> %s\n", errname(errno));
	MUST_FAIL(syscall(SYS_ftruncate, 3, 1L << 20));
	MUST_FAIL(syscall(SYS_fallocate, 3, 0, 0, 1L << 20));
	void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
	if (p != MAP_FAILED)
		escaped("shared writable mapping of a metered channel");
	else
		say("contained: mmap MAP_SHARED -> %s\n", errname(errno));
	return hostile_done();
}
