/*
 * glob.c — `*` wildcards in Swift container and object names.
 *
 * A pattern must match the whole name. Each `*` captures text; like
 * ZeroCloud (a Python regex with greedy `(.*)` groups), an earlier `*`
 * takes the longest text that still lets the rest match. A table of
 * "can the rest match from here" makes that linear in name length times
 * the number of stars, never exponential.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Does literal `lit` (length ln) occur in s at position q? */
static bool lit_at(const char *s, size_t n, size_t q, const char *lit,
		   size_t ln)
{
	return q + ln <= n && memcmp(s + q, lit, ln) == 0;
}

int glob_match(const char *pat, const char *s, struct glob_cap *caps,
	       size_t maxcaps, size_t *ncaps)
{
	const char *seg[GLOB_MAX_STARS + 1];
	size_t segn[GLOB_MAX_STARS + 1], k = 0, n = strlen(s), i, pos;
	const char *p = pat;
	unsigned char *ok, *suf;
	int rc = 0;

	for (;;) {
		const char *star = strchr(p, '*');

		seg[k] = p;
		segn[k] = star ? (size_t)(star - p) : strlen(p);
		if (!star)
			break;
		if (++k > GLOB_MAX_STARS || k > maxcaps)
			return -1;
		p = star + 1;
	}
	*ncaps = k;
	if (k == 0)
		return strcmp(pat, s) == 0;
	if (!lit_at(s, n, 0, seg[0], segn[0]) || segn[0] + segn[k] > n ||
	    memcmp(s + n - segn[k], seg[k], segn[k]) != 0)
		return 0;
	/* ok[i * (n + 1) + q]: the pattern after star i+1 (that is,
	 * seg[i+1] * ... seg[k]) matches s[q..] when seg[i+1] starts at q. */
	ok = calloc(k * (n + 1) + n + 2, 1);
	if (!ok)
		return -1;
	suf = ok + k * (n + 1); /* suf[r]: some ok[i + 1][r'] with r' >= r */
	for (i = k; i-- > 0;) {
		size_t q;

		for (q = 0; q <= n; q++) {
			unsigned char *cell = &ok[i * (n + 1) + q];

			if (!lit_at(s, n, q, seg[i + 1], segn[i + 1]))
				continue;
			if (i + 1 == k)
				*cell = q + segn[k] == n;
			else
				*cell = suf[q + segn[i + 1]];
		}
		suf[n + 1] = 0;
		for (q = n + 1; q-- > 0;)
			suf[q] = ok[i * (n + 1) + q] || suf[q + 1];
	}
	pos = segn[0];
	for (i = 0; i < k; i++) {
		size_t q = n + 1;
		bool found = false;

		while (q > pos && !found)
			found = ok[i * (n + 1) + --q];
		if (!found)
			goto out;
		caps[i].s = s + pos;
		caps[i].n = q - pos;
		pos = q + segn[i + 1];
	}
	rc = 1;
out:
	free(ok);
	return rc;
}
