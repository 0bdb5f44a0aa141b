/* Growing the heap with brk(2) past Memory (argv[4] bytes), 1 MiB at a
 * time, touching every page: it must stop before the limit. */
#include "hostile.h"

int main(int argc, char **argv)
{
	long memory = argc > 4 ? atol(argv[4]) : 64L << 20;
	unsigned char *start = (unsigned char *)syscall(SYS_brk, 0);
	unsigned char *end = start;

	hostile_init(argc, argv);
	while (end - start < 4 * memory) {
		unsigned char *want = end + (1 << 20);
		unsigned char *got = (unsigned char *)syscall(SYS_brk, want);

		if (got != want)
			break;
		for (unsigned char *q = end; q < want; q += 4096)
			*q = 1;
		end = want;
	}
	say("heap grew by %ld bytes, Memory %ld\n", (long)(end - start), memory);
	if (end - start > memory)
		escaped("heap grew past Memory");
	return hostile_done();
}
