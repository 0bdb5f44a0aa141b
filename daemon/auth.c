/* auth.c — the worker's check of signed internal requests and edge
 * hellos: the signature (proto/sign.c), then the replay cache.
 *
 * Every nonce that passed is remembered until its signature expires
 * (at most PROTO_EXPIRES_MAX seconds), so a captured request cannot be
 * sent twice. The cache is bounded: when it is full, new requests are
 * refused (503) rather than old nonces forgotten, which would reopen the
 * replay window. A hash set (open addressing, linear probing, backward
 * shift deletion) answers "seen?" in O(1); a min-heap by expiry drops
 * nonces in O(log n) as they expire. Only requests with a good signature
 * reach the cache, so strangers cannot fill it. Both tables start small
 * and double as nonces arrive, so memory follows the nonces in flight:
 * tables sized for the bound up front were touched page by page as
 * random nonces landed in them, and zvmd's RSS crept up by megabytes
 * for minutes (the cluster soak, tests/bench/soak.py). Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NONCE_BYTES (PROTO_NONCE_HEX / 2)

struct nonce {
	unsigned char key[NONCE_BYTES];
	int64_t expires;
	bool used;             /* in the hash set: the slot holds a nonce */
};

struct zvmd_auth {
	unsigned char secret[ZVMD_SECRET_MAX];
	size_t secret_len;
	struct nonce *slots;   /* hash set, at most half full */
	size_t mask;           /* slots - 1 (a power of two) */
	struct nonce *heap;    /* min-heap by expires */
	size_t heap_cap;       /* entries allocated in heap */
	size_t n, max;
};

#define AUTH_START 16      /* slots at first; the heap gets half */

struct zvmd_auth *zvmd_auth_new(const struct zvmd_secret *secret,
				size_t max_nonces)
{
	struct zvmd_auth *a;

	if (!max_nonces)
		max_nonces = ZVMD_AUTH_NONCES;
	if (secret->len < ZVMD_SECRET_MIN || secret->len > ZVMD_SECRET_MAX ||
	    max_nonces > SIZE_MAX / 4 / sizeof(struct nonce))
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->heap_cap = AUTH_START / 2;
	a->slots = calloc(AUTH_START, sizeof(*a->slots));
	a->heap = calloc(a->heap_cap, sizeof(*a->heap));
	if (!a->slots || !a->heap) {
		zvmd_auth_free(a);
		return NULL;
	}
	memcpy(a->secret, secret->key, secret->len);
	a->secret_len = secret->len;
	a->mask = AUTH_START - 1;
	a->max = max_nonces;
	return a;
}

void zvmd_auth_free(struct zvmd_auth *a)
{
	if (!a)
		return;
	memset(a->secret, 0, sizeof(a->secret));
	free(a->slots);
	free(a->heap);
	free(a);
}

int zvmd_auth_status(enum zvmd_auth_result r)
{
	switch (r) {
	case ZVMD_AUTH_OK: return 200;
	case ZVMD_AUTH_MISSING: return 401;
	case ZVMD_AUTH_BAD_SIGNATURE:
	case ZVMD_AUTH_EXPIRED:
	case ZVMD_AUTH_REPLAYED: return 403;
	case ZVMD_AUTH_FULL: return 503;
	}
	return 500;
}

size_t zvmd_auth_pending(const struct zvmd_auth *a)
{
	return a->n;
}

/* ---------------------------------------------------------- hash set */

static size_t slot_of(const struct zvmd_auth *a, const unsigned char *key)
{
	uint64_t h;

	/* Nonces are random and come only from signed requests. */
	memcpy(&h, key, sizeof(h));
	return (size_t)(h * 0x9e3779b97f4a7c15ull >> 17) & a->mask;
}

/* The slot holding key, or the free slot where it would go. */
static size_t set_find(const struct zvmd_auth *a, const unsigned char *key)
{
	size_t i = slot_of(a, key);

	while (a->slots[i].used &&
	       memcmp(a->slots[i].key, key, NONCE_BYTES))
		i = (i + 1) & a->mask;
	return i;
}

/* Remove the entry at slot i, moving later entries of its probe run back
 * so that lookups never stop early at the hole. */
static void set_delete(struct zvmd_auth *a, size_t i)
{
	size_t j = i;

	a->slots[i].used = false;
	for (;;) {
		size_t home;

		j = (j + 1) & a->mask;
		if (!a->slots[j].used)
			return;
		home = slot_of(a, a->slots[j].key);
		/* Move j into the hole i unless its home lies in (i, j]. */
		if (((j - home) & a->mask) >= ((j - i) & a->mask)) {
			a->slots[i] = a->slots[j];
			a->slots[j].used = false;
			i = j;
		}
	}
}

/* Move every nonce into a set of cap slots (a power of two). */
static int set_rehash(struct zvmd_auth *a, size_t cap)
{
	struct nonce *old = a->slots;
	size_t old_cap = a->mask + 1;

	a->slots = calloc(cap, sizeof(*a->slots));
	if (!a->slots) {
		a->slots = old;
		return -1;
	}
	a->mask = cap - 1;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].used)
			a->slots[set_find(a, old[i].key)] = old[i];
	free(old);
	return 0;
}

/* Room for one more nonce (the caller checked n < max): the heap holds
 * it, and the set stays at most half full (load <= 1/2 keeps probes
 * short). */
static int reserve(struct zvmd_auth *a)
{
	if (a->n == a->heap_cap) {
		size_t cap = a->heap_cap * 2 < a->max ? a->heap_cap * 2 : a->max;
		struct nonce *h = realloc(a->heap, cap * sizeof(*h));

		if (!h)
			return -1;
		a->heap = h;
		a->heap_cap = cap;
	}
	if (2 * (a->n + 1) > a->mask + 1)
		return set_rehash(a, 2 * (a->mask + 1));
	return 0;
}

/* ------------------------------------------------------------- heap */

static void heap_swap(struct nonce *h, size_t x, size_t y)
{
	struct nonce t = h[x];

	h[x] = h[y];
	h[y] = t;
}

static void heap_push(struct zvmd_auth *a, const struct nonce *e)
{
	size_t i = a->n++;

	a->heap[i] = *e;
	while (i && a->heap[(i - 1) / 2].expires > a->heap[i].expires) {
		heap_swap(a->heap, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_pop(struct zvmd_auth *a)
{
	size_t i = 0;

	a->heap[0] = a->heap[--a->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < a->n && a->heap[l].expires < a->heap[m].expires)
			m = l;
		if (r < a->n && a->heap[r].expires < a->heap[m].expires)
			m = r;
		if (m == i)
			return;
		heap_swap(a->heap, i, m);
		i = m;
	}
}

/* Forget the nonces whose signatures have expired by now. */
static void expire(struct zvmd_auth *a, int64_t now)
{
	while (a->n && a->heap[0].expires < now) {
		size_t i = set_find(a, a->heap[0].key);

		if (a->slots[i].used)
			set_delete(a, i);
		heap_pop(a);
	}
}

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Remember a (verified, so well-formed) nonce until it expires. */
static enum zvmd_auth_result remember(struct zvmd_auth *a, const char *hex,
				      int64_t expires, int64_t now, char *msg,
				      size_t cap)
{
	struct nonce e = { .expires = expires, .used = true };
	size_t i;

	for (size_t k = 0; k < NONCE_BYTES; k++)
		e.key[k] = (unsigned char)(unhex(hex[2 * k]) << 4 |
					   unhex(hex[2 * k + 1]));
	expire(a, now);
	i = set_find(a, e.key);
	if (a->slots[i].used) {
		snprintf(msg, cap, "replayed request (nonce %.32s was used "
			 "already)", hex);
		return ZVMD_AUTH_REPLAYED;
	}
	if (a->n == a->max) {
		snprintf(msg, cap, "too many signed requests in flight (%zu "
			 "nonces remembered); retry shortly", a->n);
		return ZVMD_AUTH_FULL;
	}
	if (reserve(a)) {
		snprintf(msg, cap, "out of memory remembering nonce %zu; retry "
			 "shortly", a->n + 1);
		return ZVMD_AUTH_FULL;
	}
	i = set_find(a, e.key); /* the set may have been rehashed */
	a->slots[i] = e;
	heap_push(a, &e);
	msg[0] = '\0';
	return ZVMD_AUTH_OK;
}

static enum zvmd_auth_result from_sig(enum proto_sig_result r)
{
	switch (r) {
	case PROTO_SIG_OK: return ZVMD_AUTH_OK;
	case PROTO_SIG_MISSING: return ZVMD_AUTH_MISSING;
	case PROTO_SIG_EXPIRED: return ZVMD_AUTH_EXPIRED;
	case PROTO_SIG_MALFORMED:
	case PROTO_SIG_BAD: return ZVMD_AUTH_BAD_SIGNATURE;
	}
	return ZVMD_AUTH_BAD_SIGNATURE;
}

enum zvmd_auth_result zvmd_auth_request(struct zvmd_auth *a,
					const char *method, const char *path,
					const char *expires, const char *nonce,
					const char *signature, const void *body,
					size_t len, int64_t now, char *msg,
					size_t cap)
{
	struct proto_error err = { 0 };
	enum proto_sig_result r;

	r = proto_verify_request(a->secret, a->secret_len, method, path,
				 expires, nonce, signature, body, len, now,
				 &err);
	if (r != PROTO_SIG_OK) {
		snprintf(msg, cap, "%s", err.msg);
		return from_sig(r);
	}
	/* verified: expires is canonical decimal, nonce lowercase hex */
	return remember(a, nonce, strtoll(expires, NULL, 10), now, msg, cap);
}

enum zvmd_auth_result zvmd_auth_edge(struct zvmd_auth *a, const char *line,
				     size_t len, int64_t now,
				     struct proto_edge_hello *out, char *msg,
				     size_t cap)
{
	struct proto_error err = { 0 };
	enum proto_sig_result r;

	if (proto_edge_hello_parse(line, len, out, &err)) {
		snprintf(msg, cap, "%s", err.msg);
		return ZVMD_AUTH_BAD_SIGNATURE;
	}
	r = proto_edge_hello_verify(a->secret, a->secret_len, out, now, &err);
	if (r != PROTO_SIG_OK) {
		snprintf(msg, cap, "%s", err.msg);
		return from_sig(r);
	}
	return remember(a, out->nonce, out->expires, now, msg, cap);
}
