/* util.c — small string and buffer helpers for proto/. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void pbuf_init(struct pbuf *b)
{
	b->s = NULL;
	b->len = b->cap = 0;
	b->ok = true;
}

static bool pbuf_reserve(struct pbuf *b, size_t extra)
{
	size_t need, cap;
	char *s;

	if (!b->ok)
		return false;
	if (extra > SIZE_MAX - b->len - 1)
		return b->ok = false;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	s = realloc(b->s, cap);
	if (!s)
		return b->ok = false;
	b->s = s;
	b->cap = cap;
	return true;
}

void pbuf_add(struct pbuf *b, const char *s, size_t n)
{
	if (!pbuf_reserve(b, n))
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void pbuf_puts(struct pbuf *b, const char *s)
{
	pbuf_add(b, s, strlen(s));
}

void pbuf_printf(struct pbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->ok = false;
		return;
	}
	if (!pbuf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *pbuf_take(struct pbuf *b)
{
	char *s;

	if (b->ok && !b->s)
		pbuf_add(b, "", 0);
	s = b->ok ? b->s : NULL;
	if (!s)
		free(b->s);
	pbuf_init(b);
	return s;
}

char *pstrndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

bool parse_nonneg(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		int d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = s[i] - '0';
		if (v > (INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

int strv_push(char ***v, size_t *n, size_t *cap, char *s)
{
	if (!s)
		return -1;
	if (*n + 1 >= *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		char **nv = realloc(*v, c * sizeof(*nv));

		if (!nv) {
			free(s);
			return -1;
		}
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
	return 0;
}

void proto_strv_free(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
