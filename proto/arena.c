/* arena.c — bump allocation for a plan: thousands of instances and
 * hundreds of thousands of channels are allocated and freed at once, so
 * one owner (the plan) frees a few large chunks instead of every string. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct achunk {
	struct achunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct proto_arena {
	struct achunk *head;
};

#define ARENA_CHUNK (64 * 1024)

struct proto_arena *arena_new(void)
{
	return calloc(1, sizeof(struct proto_arena));
}

void arena_free(struct proto_arena *a)
{
	struct achunk *c, *next;

	if (!a)
		return;
	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

void *arena_alloc(struct proto_arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	struct achunk *c = a->head;
	void *p;

	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + align - 1) / align * align;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;

		/* calloc: fresh pages from the kernel are zero already, so
		 * large plans are not written twice. */
		c = calloc(1, sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		/* A large one-off block goes behind the current chunk so the
		 * current chunk keeps filling. */
		if (a->head && cap != ARENA_CHUNK) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

char *arena_strndup(struct proto_arena *a, const char *s, size_t n)
{
	char *d = arena_alloc(a, n + 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *arena_strdup(struct proto_arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_cat(struct proto_arena *a, ...)
{
	size_t n = 0;
	const char *s;
	char *d, *p;
	va_list ap;

	va_start(ap, a);
	while ((s = va_arg(ap, const char *)))
		n += strlen(s);
	va_end(ap);
	d = p = arena_alloc(a, n + 1);
	if (!d)
		return NULL;
	va_start(ap, a);
	while ((s = va_arg(ap, const char *))) {
		size_t l = strlen(s);

		memcpy(p, s, l);
		p += l;
	}
	va_end(ap);
	*p = '\0';
	return d;
}

char *arena_printf(struct proto_arena *a, const char *fmt, ...)
{
	va_list ap;
	char *d;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	d = arena_alloc(a, (size_t)n + 1);
	if (!d)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(d, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return d;
}
