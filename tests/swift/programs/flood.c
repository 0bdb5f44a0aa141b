/* flood GROUP MIB: write MIB MiB of 'x' lines to each /dev/out/GROUP-1..N
 * channel in turn (the edge tests: a writer a reader may leave blocked). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OUT 64

int main(int argc, char **argv)
{
	static char line[1024];
	FILE *out[MAX_OUT];
	char path[300];
	size_t nout = 0;
	long mib;

	if (argc != 3 || (mib = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: flood GROUP MIB\n");
		return 2;
	}
	for (; nout < MAX_OUT; nout++) {
		snprintf(path, sizeof(path), "/dev/out/%s-%zu", argv[1], nout + 1);
		if (!(out[nout] = fopen(path, "w")))
			break;
	}
	if (!nout) {
		fprintf(stderr, "flood: no /dev/out/%s-N channel\n", argv[1]);
		return 2;
	}
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	for (long i = 0; i < mib * 1024; i++)
		for (size_t o = 0; o < nout; o++)
			if (fwrite(line, sizeof(line), 1, out[o]) != 1) {
				perror("flood: write");
				return 1;
			}
	for (size_t o = 0; o < nout; o++)
		if (fclose(out[o])) {
			perror("flood: close");
			return 1;
		}
	return 0;
}
