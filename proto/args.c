/* args.c — split a command line the way ZeroCloud users wrote it
 * (Python's shlex.split in POSIX mode, plus the `\xHH` escapes ZeroVM's
 * runtime decoded, e.g. `\x2c` for a comma), and quote words so that
 * splitting them again gives them back. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	       c == '\v' || c == '\f';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* `\xHH` at p: the byte it stands for, or -1 if p is not such an escape. */
static int hex_escape(const char *p)
{
	int hi, lo;

	if (p[0] != '\\' || p[1] != 'x')
		return -1;
	hi = hexval(p[2]);
	lo = hi < 0 ? -1 : hexval(p[3]);
	return lo < 0 ? -1 : hi * 16 + lo;
}

/*
 * Rules (shlex POSIX mode): whitespace separates words; '...' is literal;
 * inside "..." a backslash escapes only '"' and '\'; outside quotes a
 * backslash escapes any character; quotes join with adjacent text
 * (a'b'c is one word "abc"); '' is an empty word. Outside single quotes
 * `\xHH` is the byte HH (`\x00` is refused: argv strings end at NUL).
 */
/* Add the byte of a `\xHH` escape at *p; 1 if done, 0 if none, -1 for NUL. */
static int add_hex(struct pbuf *w, const char **p)
{
	int byte = hex_escape(*p);
	char ch;

	if (byte < 0)
		return 0;
	if (byte == 0)
		return -1;
	ch = (char)byte;
	pbuf_add(w, &ch, 1);
	*p += 4;
	return 1;
}

int proto_args_split(const char *line, char ***argv, size_t *argc,
		     struct proto_error *err)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	const char *p = line ? line : "";
	struct pbuf w;
	int hex;

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
			if ((hex = add_hex(&w, &p)) != 0) {
				if (hex < 0)
					goto nul_escape;
			} else if (*p == '\'') {
				const char *q = strchr(p + 1, '\'');

				if (!q)
					goto unterminated_single;
				pbuf_add(&w, p + 1, (size_t)(q - p - 1));
				p = q + 1;
			} else if (*p == '"') {
				for (p++; *p && *p != '"';) {
					if ((hex = add_hex(&w, &p)) < 0)
						goto nul_escape;
					if (hex)
						continue;
					if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					pbuf_add(&w, p++, 1);
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
				pbuf_add(&w, p++, 1);
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
nul_escape:
	proto_error_set(err, PROTO_EBADJOB, "\\x00 is not allowed in an "
			"argument");
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
