/* Allocating past Memory (argv[4] bytes): raising the address-space limit
 * must fail, and so must mapping and touching four times the limit
 * (or the program is killed). */
#include <sys/mman.h>
#include <sys/resource.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	long memory = argc > 4 ? atol(argv[4]) : 64L << 20;
	struct rlimit inf = { RLIM_INFINITY, RLIM_INFINITY };
	size_t want = (size_t)memory * 4;

	hostile_init(argc, argv);
	MUST_FAIL(syscall(SYS_setrlimit, RLIMIT_AS, &inf));
	MUST_FAIL(syscall(SYS_prlimit64, 0, RLIMIT_AS, &inf, NULL));
	MUST_FAIL(syscall(SYS_setrlimit, RLIMIT_DATA, &inf));
	unsigned char *p = mmap(NULL, want, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		say("contained: mmap of %zu bytes -> %s\n", want, errname(errno));
		return hostile_done();
	}
	for (size_t off = 0; off < want; off += 4096)
		p[off] = 1;
	escaped("mapped and touched %zu bytes with Memory = %ld", want, memory);
	return hostile_done();
}
