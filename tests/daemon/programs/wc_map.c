/* wc_map: count the words of stdin, send "word count" lines to the
 * reducers: /dev/out/<group>-1..N (or /dev/out/<group> for a single one),
 * partitioned by the word's hash. Usage: wc_map [GROUP] (default
 * "reduce"). */
#include <ctype.h>

#include "wc_table.h"

#define MAX_REDUCERS 256

static FILE *out[MAX_REDUCERS];
static size_t nout;

static void open_reducers(const char *group)
{
	char path[300];

	for (nout = 0; nout < MAX_REDUCERS; nout++) {
		snprintf(path, sizeof(path), "/dev/out/%s-%zu", group, nout + 1);
		if (!(out[nout] = fopen(path, "w")))
			break;
	}
	if (nout == 0) {
		snprintf(path, sizeof(path), "/dev/out/%s", group);
		if ((out[0] = fopen(path, "w")))
			nout = 1;
	}
	if (nout == 0) {
		fprintf(stderr, "wc_map: no /dev/out/%s-N channel\n", group);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct wc_table t = { 0 };
	char word[256];
	size_t len = 0;
	int c;

	open_reducers(argc > 1 ? argv[1] : "reduce");
	do {
		c = getchar();
		if (c != EOF && isascii(c) && isalpha(c)) {
			if (len < sizeof(word) - 1)
				word[len++] = (char)tolower(c);
			continue;
		}
		if (len) {
			word[len] = '\0';
			wc_add(&t, word, 1);
			len = 0;
		}
	} while (c != EOF);
	for (size_t i = 0; i < t.cap; i++)
		if (t.e[i].word)
			fprintf(out[wc_hash(t.e[i].word) % nout], "%s %lu\n",
				t.e[i].word, t.e[i].count);
	for (size_t r = 0; r < nout; r++)
		if (fclose(out[r])) {
			perror("wc_map: writing to a reducer");
			return 1;
		}
	return 0;
}
