/* grep WORD: print how many lines of stdin contain WORD (like grep -c -F).
 * Reads big blocks and searches them with memmem: the cluster benchmark
 * compares it with GNU grep over the same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK (1 << 20)

/* Count the lines of buf[0..len) that contain word; buf holds whole
 * lines (the last one may lack its newline). */
static unsigned long long count_lines(const char *buf, size_t len,
				      const char *word, size_t wlen)
{
	unsigned long long n = 0;
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *hit = memmem(p, (size_t)(end - p), word, wlen);
		const char *eol;

		if (!hit)
			break;
		n++;
		eol = memchr(hit + wlen - 1, '\n', (size_t)(end - hit - wlen + 1));
		if (!eol)
			break;
		p = eol + 1;
	}
	return n;
}

int main(int argc, char **argv)
{
	static char buf[2 * BLOCK];
	unsigned long long n = 0;
	size_t wlen, have = 0;

	if (argc != 2 || !(wlen = strlen(argv[1]))) {
		fprintf(stderr, "usage: grep WORD\n");
		return 2;
	}
	for (;;) {
		ssize_t r = read(0, buf + have, sizeof(buf) - have);
		char *last;

		if (r < 0) {
			perror("grep: read");
			return 2;
		}
		if (r == 0)
			break;
		have += (size_t)r;
		last = memrchr(buf, '\n', have);
		if (!last) {
			if (have == sizeof(buf)) {
				fprintf(stderr, "grep: a line longer than %d bytes\n",
					(int)sizeof(buf));
				return 2;
			}
			continue;
		}
		n += count_lines(buf, (size_t)(last + 1 - buf), argv[1], wlen);
		have -= (size_t)(last + 1 - buf);
		memmove(buf, last + 1, have);
	}
	n += count_lines(buf, have, argv[1], wlen);
	printf("%llu\n", n);
	return ferror(stdout) ? 2 : 0;
}
