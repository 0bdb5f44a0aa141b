/* Unit tests of the shell-like command-line splitter. */
#include <criterion/criterion.h>
#include <string.h>

#include "proto.h"

static void expect_split(const char *line, size_t n, const char *const *want)
{
	char **argv = NULL;
	size_t argc = 99, i;
	struct proto_error err = { 0 };

	cr_assert_eq(proto_args_split(line, &argv, &argc, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(argc, n, "split of [%s]: %zu words", line, argc);
	for (i = 0; i < n; i++)
		cr_expect_str_eq(argv[i], want[i]);
	cr_expect_null(argv[n]);
	proto_strv_free(argv, argc);
}

Test(args, empty_and_blank)
{
	expect_split("", 0, NULL);
	expect_split(" \t \n", 0, NULL);
	expect_split(NULL, 0, NULL);
}

Test(args, words_and_quotes)
{
	expect_split("a  b\tc", 3, (const char *[]){ "a", "b", "c" });
	expect_split("'a b' \"c d\"", 2, (const char *[]){ "a b", "c d" });
	expect_split("a'b'\"c\"d", 1, (const char *[]){ "abcd" });
	expect_split("'' \"\"", 2, (const char *[]){ "", "" });
	expect_split("'\\n'", 1, (const char *[]){ "\\n" });
	expect_split("\"a\\\"b\\\\c\\d\"", 1, (const char *[]){ "a\"b\\c\\d" });
	expect_split("a\\ b \\'c", 2, (const char *[]){ "a b", "'c" });
	expect_split("--x=\"1 2\" $HOME", 2,
		     (const char *[]){ "--x=1 2", "$HOME" });
}

Test(args, zerocloud_hex_escapes)
{
	expect_split("a\\x2cb \"c\\x20d\" 'e\\x2cf' \\x4", 4,
		     (const char *[]){ "a,b", "c d", "e\\x2cf", "x4" });
	expect_split("\\x41\\x62", 1, (const char *[]){ "Ab" });
}

Test(args, errors)
{
	const char *bad[] = { "'abc", "\"abc", "abc\\", "a 'b\" c", "a\\x00",
			      "\"\\x00\"" };
	size_t i;

	for (i = 0; i < 6; i++) {
		char **argv = (void *)1;
		size_t argc = 0;
		struct proto_error err = { 0 };

		cr_expect_eq(proto_args_split(bad[i], &argv, &argc, &err), -1,
			     "%s", bad[i]);
		cr_expect_eq(err.kind, PROTO_EBADJOB);
	}
}
