/* Unit tests of wildcard matching (proto's internal glob). */
#include <criterion/criterion.h>
#include <string.h>

#include "internal.h"

static void expect_caps(const char *pat, const char *s, size_t n,
			const char *const *want)
{
	struct glob_cap caps[GLOB_MAX_STARS];
	size_t nc = 99;

	cr_assert_eq(glob_match(pat, s, caps, GLOB_MAX_STARS, &nc), 1,
		     "%s !~ %s", s, pat);
	cr_assert_eq(nc, n);
	for (size_t i = 0; i < n; i++)
		cr_expect(strlen(want[i]) == caps[i].n &&
			  memcmp(want[i], caps[i].s, caps[i].n) == 0,
			  "%s ~ %s: capture %zu is %.*s, want %s", s, pat, i,
			  (int)caps[i].n, caps[i].s, want[i]);
}

static int match(const char *pat, const char *s)
{
	struct glob_cap caps[GLOB_MAX_STARS];
	size_t nc;

	return glob_match(pat, s, caps, GLOB_MAX_STARS, &nc);
}

Test(glob, literal)
{
	cr_expect_eq(match("a.txt", "a.txt"), 1);
	cr_expect_eq(match("a.txt", "a.txt.bak"), 0);
	cr_expect_eq(match("", ""), 1);
}

Test(glob, whole_name_only)
{
	cr_expect_eq(match("*.txt", "a.txt.bak"), 0);
	cr_expect_eq(match("a*", "ba"), 0);
	cr_expect_eq(match("*a*a", "aa"), 1);
	cr_expect_eq(match("ab*ba", "aba"), 0);
}

/* Found by fuzz_job: a middle literal that occurs nowhere made the
 * capture walk run below index 0 of its table. */
Test(glob, regression_middle_literal_absent)
{
	cr_expect_eq(match("*-s*.log", "b/c.log"), 0);
	cr_expect_eq(match("*x*", "abc"), 0);
	cr_expect_eq(match("*x*", ""), 0);
}

Test(glob, captures_greedy_from_the_left)
{
	expect_caps("*.txt", "a.txt", 1, (const char *[]){ "a" });
	expect_caps("*", "", 1, (const char *[]){ "" });
	expect_caps("*.*", "a.b.c", 2, (const char *[]){ "a.b", "c" });
	expect_caps("x*y*z", "xayybz", 2, (const char *[]){ "ay", "b" });
	expect_caps("x*y*z", "xayyzbz", 2, (const char *[]){ "ay", "zb" });
	expect_caps("**", "abc", 2, (const char *[]){ "abc", "" });
	expect_caps("a/*/*", "a/b/c/d", 2, (const char *[]){ "b/c", "d" });
}

Test(glob, star_limit_and_pathological)
{
	char pat[64], s[2048];

	cr_expect_eq(match("*************************", "a"), -1);
	/* Many stars and a long near-miss: linear, not exponential. */
	strcpy(pat, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	cr_expect_eq(match(pat, s), 0);
}
