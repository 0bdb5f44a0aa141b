/* args.c — split a command line the way ZeroCloud did (Python's
 * shlex.split in POSIX mode), and quote words so that splitting them
 * again gives them back. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	       c == '\v' || c == '\f';
}

/*
 * Rules (shlex POSIX mode): whitespace separates words; '...' is literal;
 * inside "..." a backslash escapes only '"' and '\'; outside quotes a
 * backslash escapes any character; quotes join with adjacent text
 * (a'b'c is one word "abc"); '' is an empty word.
 */
int proto_args_split(const char *line, char ***argv, size_t *argc,
		     struct proto_error *err)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	const char *p = line ? line : "";
	struct pbuf w;

	pbuf_init(&w);
	v = calloc(1, sizeof(*v));
	if (!v)
		goto oom;
	cap = 1;
	for (;;) {
		bool inword = false;

		while (is_space(*p))
			p++;
		if (!*p)
			break;
		while (*p && !is_space(*p)) {
			inword = true;
			if (*p == '\'') {
				const char *q = strchr(p + 1, '\'');

				if (!q)
					goto unterminated_single;
				pbuf_add(&w, p + 1, (size_t)(q - p - 1));
				p = q + 1;
			} else if (*p == '"') {
				p++;
				while (*p && *p != '"') {
					if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					pbuf_add(&w, p, 1);
					p++;
				}
				if (!*p)
					goto unterminated_double;
				p++;
			} else if (*p == '\\') {
				if (!p[1])
					goto trailing_backslash;
				pbuf_add(&w, p + 1, 1);
				p += 2;
			} else {
				pbuf_add(&w, p, 1);
				p++;
			}
		}
		if (inword) {
			char *s = pbuf_take(&w);

			if (!s || strv_push(&v, &n, &cap, s) < 0)
				goto oom;
		}
	}
	*argv = v;
	*argc = n;
	return 0;

unterminated_single:
	proto_error_set(err, PROTO_EBADJOB, "unterminated single quote");
	goto fail;
unterminated_double:
	proto_error_set(err, PROTO_EBADJOB, "unterminated double quote");
	goto fail;
trailing_backslash:
	proto_error_set(err, PROTO_EBADJOB, "backslash at the end of the line");
	goto fail;
oom:
	proto_error_set(err, PROTO_EINTERNAL, "out of memory");
fail:
	free(pbuf_take(&w));
	proto_strv_free(v, n);
	return -1;
}

/* Characters that never need quoting, in either direction. */
static bool is_plain(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("_@%+=:,./-", c);
}

void args_quote(struct pbuf *b, const char *word)
{
	const char *p;
	bool plain = *word != '\0';

	for (p = word; *p && plain; p++)
		plain = is_plain(*p);
	if (plain) {
		pbuf_puts(b, word);
		return;
	}
	pbuf_add(b, "'", 1);
	for (p = word; *p; p++) {
		if (*p == '\'')
			pbuf_puts(b, "'\\''");
		else
			pbuf_add(b, p, 1);
	}
	pbuf_add(b, "'", 1);
}
