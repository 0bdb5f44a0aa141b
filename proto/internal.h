/* internal.h — helpers shared by the files of proto/ (not public). */
#ifndef ZEROVM_PROTO_INTERNAL_H
#define ZEROVM_PROTO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* A growable byte buffer; `ok` turns false on the first failed allocation
 * so callers check once at the end instead of after every append. */
struct pbuf {
	char *s;
	size_t len, cap;
	bool ok;
};

void pbuf_init(struct pbuf *b);
void pbuf_add(struct pbuf *b, const char *s, size_t n);
void pbuf_puts(struct pbuf *b, const char *s);
void pbuf_printf(struct pbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The NUL-terminated string, or NULL (and freed) if any append failed. */
char *pbuf_take(struct pbuf *b);

/* strndup that tolerates NULL-free input of exact length. */
char *pstrndup(const char *s, size_t n);

/*
 * Parse a non-negative decimal integer made only of digits (no sign, no
 * spaces, no junk) that fits in int64_t. Returns false otherwise.
 */
bool parse_nonneg(const char *s, size_t n, int64_t *out);

/* Append `word` quoted so that proto_args_split gives it back unchanged. */
void args_quote(struct pbuf *b, const char *word);

/* Growable array of strings. */
int strv_push(char ***v, size_t *n, size_t *cap, char *s);

/* Plan memory: everything allocated here is freed by arena_free. */
struct proto_arena *arena_new(void);
void arena_free(struct proto_arena *a);
size_t arena_bytes(const struct proto_arena *a); /* memory it holds */
void *arena_alloc(struct proto_arena *a, size_t n); /* zeroed */
/* Concatenate the strings given, up to a NULL. */
char *arena_cat(struct proto_arena *a, ...) __attribute__((sentinel));
char *arena_strdup(struct proto_arena *a, const char *s);
char *arena_strndup(struct proto_arena *a, const char *s, size_t n);
char *arena_printf(struct proto_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Wildcards: at most this many `*` in one name. */
#define GLOB_MAX_STARS 16

struct glob_cap {
	const char *s; /* points into the matched name */
	size_t n;
};

/*
 * Match `s` against `pat` (whole name, `*` = any text, greedy from the
 * left). Returns 1 on a match with *ncaps captures stored in caps, 0 on
 * no match, -1 when the pattern has more stars than maxcaps or
 * GLOB_MAX_STARS or memory runs out.
 */
int glob_match(const char *pat, const char *s, struct glob_cap *caps,
	       size_t maxcaps, size_t *ncaps);

/* peer_chan of a pipe end not linked yet (while planning). */
#define PROTO_UNLINKED SIZE_MAX

/*
 * Link every pipe end whose peer_chan is PROTO_UNLINKED: the k-th such
 * PIPE_OUT from a writer to a reader (in the writer's channel order) with
 * the k-th such PIPE_IN of the reader from that writer (in its channel
 * order). Linear in channels + instances. PROTO_EINTERNAL when an end has
 * no partner.
 */
int plan_link_pipes(struct proto_plan *plan, struct proto_error *err);

/* ---- wire (proto/wire.c, frame.c, sign.c) */

static inline bool chan_is_pipe(const struct proto_channel *c)
{
	return c->kind == PROTO_CHAN_PIPE_IN || c->kind == PROTO_CHAN_PIPE_OUT;
}

/* A job id: [A-Za-z0-9._:-]{1,64} (it travels in the edge hello line). */
bool wire_job_ok(const char *s);
/* Is [s, s+n) valid UTF-8 (no overlong forms, surrogates or > U+10FFFF:
 * what jansson accepts)? */
bool wire_utf8_ok(const char *s, size_t n);
/* Append s as a JSON value: a string when it is UTF-8, else {"hex":..};
 * NULL gives null. */
void wire_put_str(struct pbuf *b, const char *s);

struct json_t;
/* "an object", "a string"... for messages (job_parse.c). */
const char *json_kind(const struct json_t *j);
/* The first key of object o not in the NULL-ended list, or NULL. */
const char *wire_unknown_key(struct json_t *o, const char *const *keys);
/* A string-valued field as wire_put_str wrote it: a JSON string or
 * {"hex": "..."}, no NUL byte either way. *out is NUL-terminated, in
 * arena a (malloc'd when a is NULL), *n its length. Returns 0, -1 when v
 * is neither form, -2 when memory runs out. */
int wire_get_str(struct json_t *v, struct proto_arena *a, char **out,
		 size_t *n);

#endif
