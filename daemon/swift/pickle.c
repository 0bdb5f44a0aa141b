/*
 * pickle.c - a strict reader for the one pickle shape Swift writes:
 * pickle.dumps(dict_of_str_or_bytes, protocol=2) of object metadata.
 *
 * Under Python 3, protocol 2 has no bytes opcode, so every bytes value is
 * pickled as a call:  GLOBAL '_codecs encode' (BINUNICODE <latin-1 text>,
 * BINUNICODE 'latin1') TUPLE2 REDUCE,  and b'' as  GLOBAL '__builtin__
 * bytes' EMPTY_TUPLE REDUCE.  Those two calls are the only ones accepted;
 * no other global is ever resolved, so a hostile pickle can do nothing but
 * be refused. Python 2 (SHORT_BINSTRING/BINSTRING) and protocols 3-4
 * (BINBYTES, SHORT_BINUNICODE, MEMOIZE, FRAME) are read too.
 */
#include "swift.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Memo indices beyond this are refused (Swift metadata has a few dozen). */
#define PICKLE_MAX_MEMO (1u << 20)

typedef enum pv_kind {
	PV_MARK,
	PV_TEXT,           /* unicode str, held as UTF-8 */
	PV_BYTES,
	PV_DICT,           /* the one result dict */
	PV_FN_ENCODE,      /* _codecs.encode */
	PV_FN_BYTES,       /* __builtin__.bytes / builtins.bytes */
	PV_TUPLE,
} pv_kind;

/* A value; values live in an arena and are referred to by index, so memo
 * entries and the stack can share them. */
typedef struct pv {
	pv_kind kind;
	char *data;        /* TEXT, BYTES: owned, NUL-terminated */
	size_t len;
	size_t items[2];   /* TUPLE: up to 2 arena indices */
	size_t nitems;
} pv;

typedef struct unpickler {
	const uint8_t *p, *end, *start;
	pv *arena;
	size_t narena, arena_cap;
	size_t *stack;
	size_t nstack, stack_cap;
	size_t *memo;      /* arena index + 1; 0 = unset */
	size_t memo_cap;
	size_t nmemo;      /* distinct indices set: MEMOIZE's next index */
	swift_meta *meta;
	bool have_dict;
	swift_error *err;
} unpickler;

static int fail(unpickler *u, const char *what)
{
	return swift_error_set(u->err, EINVAL, "metadata pickle: %s at byte "
			       "%td", what, u->p - u->start);
}

static int grow(void **buf, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	void *n = realloc(*buf, ncap * elem);
	if (!n)
		return -1;
	*buf = n;
	*cap = ncap;
	return 0;
}

static int value_new(unpickler *u, pv_kind kind, const void *data, size_t len,
		     size_t *index)
{
	if (grow((void **)&u->arena, &u->arena_cap, u->narena + 1,
		 sizeof *u->arena) < 0)
		return fail(u, "out of memory");
	pv *v = &u->arena[u->narena];
	*v = (pv){.kind = kind};
	if (kind == PV_TEXT || kind == PV_BYTES) {
		v->data = malloc(len + 1);
		if (!v->data)
			return fail(u, "out of memory");
		if (len)
			memcpy(v->data, data, len);
		v->data[len] = 0;
		v->len = len;
	}
	*index = u->narena++;
	return 0;
}

static int push(unpickler *u, size_t index)
{
	if (grow((void **)&u->stack, &u->stack_cap, u->nstack + 1,
		 sizeof *u->stack) < 0)
		return fail(u, "out of memory");
	u->stack[u->nstack++] = index;
	return 0;
}

static int push_new(unpickler *u, pv_kind kind, const void *data, size_t len)
{
	size_t index;
	if (value_new(u, kind, data, len, &index) < 0)
		return -1;
	return push(u, index);
}

static pv *top(unpickler *u)
{
	return u->nstack ? &u->arena[u->stack[u->nstack - 1]] : NULL;
}

/* Consume n bytes of argument. */
static const uint8_t *take(unpickler *u, size_t n)
{
	if ((size_t)(u->end - u->p) < n)
		return NULL;
	const uint8_t *at = u->p;
	u->p += n;
	return at;
}

/* A little-endian unsigned argument of width bytes. */
static int take_uint(unpickler *u, size_t width, size_t *v)
{
	const uint8_t *b = take(u, width);
	if (!b)
		return fail(u, "truncated argument");
	uint64_t x = 0;
	for (size_t i = width; i-- > 0;)
		x = x << 8 | b[i];
	*v = (size_t)x;
	return 0;
}

static int take_len(unpickler *u, size_t width, size_t *len)
{
	if (take_uint(u, width, len) < 0)
		return -1;
	if (*len > (size_t)(u->end - u->p))
		return fail(u, "string longer than the pickle");
	return 0;
}

static int op_string(unpickler *u, pv_kind kind, size_t width)
{
	size_t len = 0;
	if (take_len(u, width, &len) < 0)
		return -1;
	return push_new(u, kind, take(u, len), len);
}

static int op_memo_put(unpickler *u, size_t id)
{
	if (!u->nstack || top(u)->kind == PV_MARK)
		return fail(u, "memo put with nothing to store");
	if (id >= PICKLE_MAX_MEMO)
		return fail(u, "memo index too large");
	size_t old = u->memo_cap;
	if (grow((void **)&u->memo, &u->memo_cap, id + 1, sizeof *u->memo) < 0)
		return fail(u, "out of memory");
	memset(u->memo + old, 0, (u->memo_cap - old) * sizeof *u->memo);
	u->nmemo += !u->memo[id];
	u->memo[id] = u->stack[u->nstack - 1] + 1;
	return 0;
}

static int op_memo_get(unpickler *u, size_t id)
{
	if (id >= u->memo_cap || !u->memo[id])
		return fail(u, "memo get of an unset index");
	return push(u, u->memo[id] - 1);
}

static int op_global(unpickler *u)
{
	const uint8_t *nl1 = memchr(u->p, '\n', (size_t)(u->end - u->p));
	const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n',
					  (size_t)(u->end - nl1 - 1)) : NULL;
	if (!nl2)
		return fail(u, "truncated GLOBAL");
	size_t mlen = (size_t)(nl1 - u->p), nlen = (size_t)(nl2 - nl1 - 1);
	const char *mod = (const char *)u->p, *name = (const char *)nl1 + 1;
	u->p = nl2 + 1;
#define IS(s, l, lit) ((l) == sizeof(lit) - 1 && memcmp(s, lit, l) == 0)
	if (IS(mod, mlen, "_codecs") && IS(name, nlen, "encode"))
		return push_new(u, PV_FN_ENCODE, NULL, 0);
	if ((IS(mod, mlen, "__builtin__") || IS(mod, mlen, "builtins")) &&
	    IS(name, nlen, "bytes"))
		return push_new(u, PV_FN_BYTES, NULL, 0);
#undef IS
	return fail(u, "GLOBAL other than _codecs.encode or bytes "
		    "(not Swift metadata)");
}

static int op_tuple(unpickler *u, size_t n)
{
	if (u->nstack < n)
		return fail(u, "tuple of missing items");
	size_t index;
	if (value_new(u, PV_TUPLE, NULL, 0, &index) < 0)
		return -1;
	pv *t = &u->arena[index];
	for (size_t i = 0; i < n; i++) {
		size_t item = u->stack[u->nstack - n + i];
		if (u->arena[item].kind == PV_MARK)
			return fail(u, "tuple containing a MARK");
		t->items[i] = item;
	}
	t->nitems = n;
	u->nstack -= n;
	return push(u, index);
}

/* Turn UTF-8 text of code points < 256 into those bytes (str.encode
 * ('latin1')). */
static int latin1_encode(unpickler *u, const pv *text)
{
	char *out = malloc(text->len + 1);
	if (!out)
		return fail(u, "out of memory");
	size_t n = 0;
	const uint8_t *s = (const uint8_t *)text->data;
	for (size_t i = 0; i < text->len; i++) {
		if (s[i] < 0x80) {
			out[n++] = (char)s[i];
		} else if ((s[i] == 0xc2 || s[i] == 0xc3) &&
			   i + 1 < text->len && (s[i + 1] & 0xc0) == 0x80) {
			out[n++] = (char)(((s[i] & 0x03) << 6) |
					  (s[i + 1] & 0x3f));
			i++;
		} else {
			free(out);
			return fail(u, "latin1 encode of a character above "
				    "U+00FF or of bad UTF-8");
		}
	}
	out[n] = 0;
	size_t index;
	if (value_new(u, PV_BYTES, out, n, &index) < 0) {
		free(out);
		return -1;
	}
	free(out);
	return push(u, index);
}

static int op_reduce(unpickler *u)
{
	if (u->nstack < 2)
		return fail(u, "REDUCE without callable and arguments");
	pv *args = &u->arena[u->stack[u->nstack - 1]];
	pv *fn = &u->arena[u->stack[u->nstack - 2]];
	if (args->kind != PV_TUPLE)
		return fail(u, "REDUCE arguments are not a tuple");
	u->nstack -= 2;
	if (fn->kind == PV_FN_BYTES && args->nitems == 0)
		return push_new(u, PV_BYTES, "", 0);
	if (fn->kind != PV_FN_ENCODE || args->nitems != 2)
		return fail(u, "REDUCE of something other than "
			    "_codecs.encode(text, 'latin1') or bytes()");
	pv *text = &u->arena[args->items[0]];
	pv *codec = &u->arena[args->items[1]];
	if (text->kind != PV_TEXT || codec->kind != PV_TEXT ||
	    strcmp(codec->data, "latin1") != 0)
		return fail(u, "_codecs.encode called with other than "
			    "(text, 'latin1')");
	return latin1_encode(u, text);
}

static int dict_add(unpickler *u, const pv *k, const pv *v)
{
	if ((k->kind != PV_TEXT && k->kind != PV_BYTES) ||
	    (v->kind != PV_TEXT && v->kind != PV_BYTES))
		return fail(u, "dict item that is not str/bytes -> str/bytes");
	swift_meta *m = u->meta;
	for (size_t i = 0; i < m->nitems; i++) {
		swift_meta_item *it = &m->items[i];
		if (it->key_len == k->len && memcmp(it->key, k->data,
						    k->len) == 0)
			return fail(u, "duplicate key in metadata dict");
	}
	swift_meta_item *grown = realloc(m->items,
					 (m->nitems + 1) * sizeof *grown);
	if (!grown)
		return fail(u, "out of memory");
	m->items = grown;
	swift_meta_item *it = &m->items[m->nitems];
	it->key = malloc(k->len + 1);
	it->value = malloc(v->len + 1);
	if (!it->key || !it->value) {
		free(it->key);
		free(it->value);
		return fail(u, "out of memory");
	}
	memcpy(it->key, k->data, k->len + 1);
	memcpy(it->value, v->data, v->len + 1);
	it->key_len = k->len;
	it->value_len = v->len;
	m->nitems++;
	return 0;
}

/* SETITEM (from = nstack - 2) or SETITEMS (from = after the MARK). */
static int set_items(unpickler *u, size_t from)
{
	if (from == 0 || (u->nstack - from) % 2)
		return fail(u, "SETITEM(S) with an odd number of items");
	pv *dict = &u->arena[u->stack[from - 1]];
	if (dict->kind != PV_DICT)
		return fail(u, "SETITEM(S) on something other than the dict");
	for (size_t i = from; i < u->nstack; i += 2)
		if (dict_add(u, &u->arena[u->stack[i]],
			     &u->arena[u->stack[i + 1]]) < 0)
			return -1;
	u->nstack = from;
	return 0;
}

static int op_setitems(unpickler *u)
{
	size_t mark = u->nstack;
	while (mark > 0 && u->arena[u->stack[mark - 1]].kind != PV_MARK)
		mark--;
	if (mark == 0)
		return fail(u, "SETITEMS without MARK");
	/* Drop the MARK, then the items start where it was. */
	memmove(u->stack + mark - 1, u->stack + mark,
		(u->nstack - mark) * sizeof *u->stack);
	u->nstack--;
	return set_items(u, mark - 1);
}

static int op_tuple_mark(unpickler *u)
{
	size_t mark = u->nstack;
	while (mark > 0 && u->arena[u->stack[mark - 1]].kind != PV_MARK)
		mark--;
	if (mark == 0 || u->nstack - mark > 2)
		return fail(u, "TUPLE without MARK or with more than 2 items");
	size_t n = u->nstack - mark;
	memmove(u->stack + mark - 1, u->stack + mark, n * sizeof *u->stack);
	u->nstack--;
	return op_tuple(u, n);
}

static int op_arg(unpickler *u, size_t width, size_t *v)
{
	return take_uint(u, width, v);
}

/* One opcode; 1 at STOP. */
static int step(unpickler *u)
{
	size_t n = 0;
	const uint8_t *b;
	uint8_t op = *u->p++;
	switch (op) {
	case 0x80: /* PROTO */
		if (!(b = take(u, 1)) || *b < 2 || *b > 4)
			return fail(u, "protocol other than 2..4");
		return 0;
	case 0x95: /* FRAME: 8-byte length, framing only */
		return take(u, 8) ? 0 : fail(u, "truncated FRAME");
	case '}': /* EMPTY_DICT */
		if (u->have_dict)
			return fail(u, "more than one dict");
		u->have_dict = true;
		return push_new(u, PV_DICT, NULL, 0);
	case '(': return push_new(u, PV_MARK, NULL, 0);
	case 'X': return op_string(u, PV_TEXT, 4);          /* BINUNICODE */
	case 0x8c: return op_string(u, PV_TEXT, 1);         /* SHORT_BINUNICODE */
	case 'C': return op_string(u, PV_BYTES, 1);         /* SHORT_BINBYTES */
	case 'B': return op_string(u, PV_BYTES, 4);         /* BINBYTES */
	case 'U': return op_string(u, PV_BYTES, 1);         /* SHORT_BINSTRING */
	case 'T': return op_string(u, PV_BYTES, 4);         /* BINSTRING */
	case 'q': return op_arg(u, 1, &n) ?: op_memo_put(u, n); /* BINPUT */
	case 'r': return op_arg(u, 4, &n) ?: op_memo_put(u, n); /* LONG_BINPUT */
	case 0x94: return op_memo_put(u, u->nmemo);            /* MEMOIZE */
	case 'h': return op_arg(u, 1, &n) ?: op_memo_get(u, n); /* BINGET */
	case 'j': return op_arg(u, 4, &n) ?: op_memo_get(u, n); /* LONG_BINGET */
	case 'c': return op_global(u);
	case ')': return op_tuple(u, 0);                    /* EMPTY_TUPLE */
	case 0x85: return op_tuple(u, 1);                   /* TUPLE1 */
	case 0x86: return op_tuple(u, 2);                   /* TUPLE2 */
	case 't': return op_tuple_mark(u);                  /* TUPLE */
	case 'R': return op_reduce(u);
	case 's': return set_items(u, u->nstack >= 2 ? u->nstack - 2 : 0);
	case 'u': return op_setitems(u);
	case '.': /* STOP */
		if (u->nstack != 1 || top(u)->kind != PV_DICT)
			return fail(u, "STOP without exactly the dict on the "
				    "stack");
		return 1;
	default: {
		char what[64];
		u->p--;
		snprintf(what, sizeof what, "unsupported opcode 0x%02x", op);
		return fail(u, what);
	}
	}
}

int swift_pickle_load(const void *buf, size_t len, swift_meta *meta,
		      swift_error *err)
{
	*meta = (swift_meta){0};
	unpickler u = {.p = buf, .start = buf, .end = (const uint8_t *)buf + len,
		       .meta = meta, .err = err};
	int rc = 0;
	while (rc == 0) {
		if (u.p >= u.end) {
			rc = fail(&u, "truncated (no STOP)");
			break;
		}
		rc = step(&u);
	}
	if (rc == 1 && u.p != u.end)
		rc = fail(&u, "data after STOP");
	for (size_t i = 0; i < u.narena; i++)
		free(u.arena[i].data);
	free(u.arena);
	free(u.stack);
	free(u.memo);
	if (rc != 1) {
		swift_meta_free(meta);
		return -1;
	}
	return 0;
}

void swift_meta_free(swift_meta *meta)
{
	for (size_t i = 0; i < meta->nitems; i++) {
		free(meta->items[i].key);
		free(meta->items[i].value);
	}
	free(meta->items);
	*meta = (swift_meta){0};
}

const swift_meta_item *swift_meta_get(const swift_meta *meta, const char *key)
{
	size_t klen = strlen(key);
	for (size_t i = 0; i < meta->nitems; i++)
		if (meta->items[i].key_len == klen &&
		    strncasecmp(meta->items[i].key, key, klen) == 0)
			return &meta->items[i];
	return NULL;
}
