/* wc_table.h — the word-count table shared by wc_map and wc_reduce:
 * an open-addressing hash of word -> count, and the partition hash.
 * Words are maximal runs of ASCII letters, lowercased. */
#ifndef WC_TABLE_H
#define WC_TABLE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wc_entry {
	char *word;
	unsigned long count;
};

struct wc_table {
	struct wc_entry *e;
	size_t cap, n;
};

static uint64_t wc_hash(const char *w)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *w; w++)
		h = (h ^ (unsigned char)*w) * 1099511628211ULL;
	return h;
}

static void wc_add(struct wc_table *t, const char *w, unsigned long n);

static void wc_grow(struct wc_table *t)
{
	struct wc_table big = { calloc(t->cap ? t->cap * 2 : 1024,
				       sizeof(struct wc_entry)),
				t->cap ? t->cap * 2 : 1024, 0 };

	if (!big.e) {
		fputs("wc: out of memory\n", stderr);
		exit(1);
	}
	for (size_t i = 0; i < t->cap; i++)
		if (t->e[i].word) {
			wc_add(&big, t->e[i].word, t->e[i].count);
			free(t->e[i].word);
		}
	free(t->e);
	*t = big;
}

static void wc_add(struct wc_table *t, const char *w, unsigned long n)
{
	size_t i;

	if ((t->n + 1) * 2 > t->cap)
		wc_grow(t);
	for (i = wc_hash(w) & (t->cap - 1); t->e[i].word;
	     i = (i + 1) & (t->cap - 1))
		if (!strcmp(t->e[i].word, w)) {
			t->e[i].count += n;
			return;
		}
	t->e[i].word = strdup(w);
	if (!t->e[i].word) {
		fputs("wc: out of memory\n", stderr);
		exit(1);
	}
	t->e[i].count = n;
	t->n++;
}

#endif
