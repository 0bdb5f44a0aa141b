/* wc_reduce: sum the "word count" lines of every /dev/in/ channel (listed
 * in /dev/channels, "FD ALIAS" lines) and print "word count" lines sorted
 * by word. All reducers read their inputs in the same order, so mappers
 * always make progress. */
#include "wc_table.h"

static int by_word(const void *a, const void *b)
{
	const struct wc_entry *x = a, *y = b;

	return strcmp(x->word, y->word);
}

static void read_input(struct wc_table *t, const char *alias)
{
	FILE *f = fopen(alias, "r");
	char word[256];
	unsigned long n;

	if (!f) {
		fprintf(stderr, "wc_reduce: cannot open %s\n", alias);
		exit(2);
	}
	while (fscanf(f, "%255s %lu", word, &n) == 2)
		wc_add(t, word, n);
	fclose(f);
}

int main(void)
{
	struct wc_table t = { 0 };
	FILE *ch = fopen("/dev/channels", "r");
	char alias[300];
	size_t k = 0;
	int fd;

	if (!ch) {
		fputs("wc_reduce: no /dev/channels\n", stderr);
		return 2;
	}
	while (fscanf(ch, "%d %299s", &fd, alias) == 2)
		if (!strncmp(alias, "/dev/in/", 8))
			read_input(&t, alias);
	fclose(ch);
	for (size_t i = 0; i < t.cap; i++)
		if (t.e[i].word)
			t.e[k++] = t.e[i];
	qsort(t.e, k, sizeof(*t.e), by_word);
	for (size_t i = 0; i < k; i++)
		printf("%s %lu\n", t.e[i].word, t.e[i].count);
	return 0;
}
