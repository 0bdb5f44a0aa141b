/* arena.c — bump allocation for a plan: thousands of instances and
 * hundreds of thousands of channels are allocated and freed at once, so
 * one owner (the plan) frees a few large chunks instead of every string. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

struct achunk {
	struct achunk *next;
	size_t used, cap;
	size_t maplen;          /* mmap'd (huge) chunk: its length; else 0 */
	max_align_t data[];
};

struct proto_arena {
	struct achunk *head;
	size_t next_cap;        /* the next regular chunk's size: doubles */
};

#define ARENA_CHUNK (64 * 1024)
#define ARENA_MAX_CHUNK (4u << 20)
#define HUGE_PAGE (2u << 20)

/*
 * A plan of 10 000 instances is ~45 MiB written once: in 4 KiB pages that
 * is 11 000 page faults, which cost more than the planning itself. Chunks
 * of 2 MiB or more are therefore mmap'd 2 MiB-aligned and marked
 * MADV_HUGEPAGE, so the kernel backs them with a few huge pages.
 */
static struct achunk *chunk_map(size_t cap)
{
	size_t len = (sizeof(struct achunk) + cap + HUGE_PAGE - 1) &
		     ~(size_t)(HUGE_PAGE - 1);
	char *m = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;
	struct achunk *c;

	if (m == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	if (p > m)
		munmap(m, (size_t)(p - m));
	munmap(p + len, (size_t)(m + HUGE_PAGE - p));
	madvise(p, len, MADV_HUGEPAGE);
	c = (struct achunk *)p;
	c->maplen = len;
	c->cap = len - sizeof(*c);
	return c;
}

/* A zeroed chunk of at least cap bytes (fresh pages are zero already, so
 * large plans are not written twice). */
static struct achunk *chunk_new(size_t cap)
{
	struct achunk *c;

	if (cap >= HUGE_PAGE)
		return chunk_map(cap);
	c = calloc(1, sizeof(*c) + cap);
	if (c)
		c->cap = cap;
	return c;
}

static void chunk_free(struct achunk *c)
{
	if (c->maplen)
		munmap(c, c->maplen);
	else
		free(c);
}

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
		chunk_free(c);
	}
	free(a);
}

size_t arena_bytes(const struct proto_arena *a)
{
	size_t n = 0;

	for (const struct achunk *c = a->head; c; c = c->next)
		n += c->maplen ? c->maplen : sizeof(*c) + c->cap;
	return n;
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
		size_t regular = a->next_cap ? a->next_cap : ARENA_CHUNK;
		bool oneoff = n > regular / 4;

		c = chunk_new(oneoff ? n : regular);
		if (!c)
			return NULL;
		if (!oneoff && regular < ARENA_MAX_CHUNK)
			a->next_cap = regular * 2;
		/* A large one-off block goes behind the current chunk so the
		 * current chunk keeps filling. */
		if (a->head && oneoff) {
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
