/* bigout N: write N bytes of the repeating pattern "0123456789abcdef" to
 * stdout, then exit 0 (1 if a write failed, e.g. on an output limit). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	unsigned long long left = argc > 1 ? strtoull(argv[1], NULL, 10) : 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = "0123456789abcdef"[i % 16];
	while (left) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);
		ssize_t w = write(1, buf, n);

		if (w <= 0) {
			perror("bigout: write");
			return 1;
		}
		left -= (unsigned long long)w;
	}
	return 0;
}
