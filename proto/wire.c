/* wire.c — the plan and the task as JSON, for the coordinator -> worker
 * request (daemon/CLUSTER.md). Encoding writes text directly (a plan may
 * have a million channels: no JSON tree on the way out); decoding is
 * strict and names the field path of every problem, because the bytes
 * come from the network. */
#include <inttypes.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"

/* ------------------------------------------------------------ strings */

bool wire_utf8_ok(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

void wire_put_str(struct pbuf *b, const char *s)
{
	static const char digits[] = "0123456789abcdef";
	size_t n;

	if (!s) {
		pbuf_puts(b, "null");
		return;
	}
	n = strlen(s);
	if (!wire_utf8_ok(s, n)) {
		/* JSON strings are Unicode; argv may hold any byte (\xHH). */
		pbuf_puts(b, "{\"hex\":\"");
		for (size_t i = 0; i < n; i++) {
			char h[2] = { digits[(unsigned char)s[i] >> 4],
				      digits[(unsigned char)s[i] & 15] };

			pbuf_add(b, h, 2);
		}
		pbuf_puts(b, "\"}");
		return;
	}
	pbuf_add(b, "\"", 1);
	for (size_t i = 0, run = 0; i <= n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i < n && c >= 0x20 && c != '"' && c != '\\')
			continue;
		pbuf_add(b, s + run, i - run);
		run = i + 1;
		if (i == n)
			break;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			pbuf_add(b, e, 2);
		} else {
			pbuf_printf(b, "\\u%04x", c);
		}
	}
	pbuf_add(b, "\"", 1);
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static char *str_alloc(struct proto_arena *a, size_t n)
{
	return a ? arena_alloc(a, n + 1) : malloc(n + 1);
}

int wire_get_str(json_t *v, struct proto_arena *a, char **out, size_t *n)
{
	const char *h;
	size_t hn;
	char *s;

	if (json_is_string(v)) {
		h = json_string_value(v);
		hn = json_string_length(v);
		if (memchr(h, '\0', hn))
			return -1;
		s = str_alloc(a, hn);
		if (!s)
			return -2;
		memcpy(s, h, hn);
		s[hn] = '\0';
		*out = s;
		*n = hn;
		return 0;
	}
	if (!json_is_object(v) || json_object_size(v) != 1 ||
	    !json_is_string(json_object_get(v, "hex")))
		return -1;
	h = json_string_value(json_object_get(v, "hex"));
	hn = json_string_length(json_object_get(v, "hex"));
	if (hn % 2)
		return -1;
	s = str_alloc(a, hn / 2);
	if (!s)
		return -2;
	for (size_t i = 0; i < hn / 2; i++) {
		int hi = unhex(h[2 * i]), lo = unhex(h[2 * i + 1]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			if (!a)
				free(s);
			return -1;
		}
		s[i] = (char)(hi << 4 | lo);
	}
	s[hn / 2] = '\0';
	*out = s;
	*n = hn / 2;
	return 0;
}

/* ------------------------------------------------------- plan -> JSON */

static const char *const chan_kinds[] = {
	[PROTO_CHAN_OBJECT] = "object",
	[PROTO_CHAN_CONTAINER] = "container",
	[PROTO_CHAN_IMMEDIATE] = "immediate",
	[PROTO_CHAN_EMPTY] = "empty",
	[PROTO_CHAN_PIPE_IN] = "pipe_in",
	[PROTO_CHAN_PIPE_OUT] = "pipe_out",
	[PROTO_CHAN_IMAGE] = "image",
	[PROTO_CHAN_NODE] = "node",
};

static const char *const exec_kinds[] = {
	[PROTO_EXEC_OBJECT] = "object",
	[PROTO_EXEC_IMAGE] = "image",
	[PROTO_EXEC_JOB_IMAGE] = "job_image",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *enum_name(const char *const *names, size_t n, unsigned v)
{
	return v < n ? names[v] : "?";
}

static void put_key(struct pbuf *b, const char *key)
{
	pbuf_printf(b, ",\"%s\":", key);
}

/* Defaults, so that the bulk of a big plan — pipes — travels as
 * {"kind":"pipe_in","peer":3,"peer_chan":7}: a pipe's dir follows its
 * kind, its alias is /dev/in/<peer> or /dev/out/<peer> (connect's
 * names), a device is its alias without /dev/, limits follow dir. */
static int default_dir(enum proto_chan_kind kind)
{
	return kind == PROTO_CHAN_PIPE_IN ? PROTO_READ :
	       kind == PROTO_CHAN_PIPE_OUT ? PROTO_WRITE : 0;
}

static int64_t default_limit(int dir, bool get)
{
	return (dir & (get ? PROTO_READ : PROTO_WRITE)) ? PROTO_UNBOUNDED : 0;
}

static const char *pipe_prefix(enum proto_chan_kind kind)
{
	return kind == PROTO_CHAN_PIPE_IN ? "/dev/in/" : "/dev/out/";
}

static bool alias_is_default(const struct proto_plan *plan,
			     const struct proto_channel *c)
{
	const char *pre = pipe_prefix(c->kind);
	size_t n = strlen(pre);

	return chan_is_pipe(c) && c->peer < plan->ninst &&
	       strncmp(c->alias, pre, n) == 0 &&
	       strcmp(c->alias + n, plan->inst[c->peer].name) == 0;
}

static bool device_is_default(const struct proto_channel *c)
{
	return strncmp(c->alias, "/dev/", 5) == 0 && c->alias[5] &&
	       strcmp(c->device, c->alias + 5) == 0;
}

static void put_limit(struct pbuf *b, const char *key, int64_t v, int64_t def)
{
	if (v != def)
		pbuf_printf(b, ",\"%s\":%" PRId64, key, v);
}

/* Optional fields are written only when they differ from the default. */
static void put_channel(struct pbuf *b, const struct proto_plan *plan,
			const struct proto_channel *c)
{
	pbuf_printf(b, "{\"kind\":\"%s\"",
		    enum_name(chan_kinds, NELEM(chan_kinds), c->kind));
	if (!alias_is_default(plan, c)) {
		put_key(b, "alias");
		wire_put_str(b, c->alias);
	}
	if (!device_is_default(c)) {
		put_key(b, "device");
		wire_put_str(b, c->device);
	}
	if (c->dir != default_dir(c->kind))
		pbuf_printf(b, ",\"dir\":%d", c->dir);
	if (c->type)
		pbuf_printf(b, ",\"type\":%d", (int)c->type);
	if (c->path) {
		put_key(b, "path");
		wire_put_str(b, c->path);
	}
	if (chan_is_pipe(c))
		pbuf_printf(b, ",\"peer\":%zu,\"peer_chan\":%zu", c->peer,
			    c->peer_chan);
	if (c->content_type) {
		put_key(b, "content_type");
		wire_put_str(b, c->content_type);
	}
	if (c->nmeta) {
		pbuf_puts(b, ",\"meta\":[");
		for (size_t m = 0; m < c->nmeta; m++) {
			pbuf_puts(b, m ? ",[" : "[");
			wire_put_str(b, c->meta[m].key);
			pbuf_add(b, ",", 1);
			wire_put_str(b, c->meta[m].value);
			pbuf_add(b, "]", 1);
		}
		pbuf_add(b, "]", 1);
	}
	if (c->mode) {
		put_key(b, "mode");
		wire_put_str(b, c->mode);
	}
	if (c->min_size)
		pbuf_printf(b, ",\"min_size\":%" PRIu64, c->min_size);
	put_limit(b, "gets", c->gets, default_limit(c->dir, true));
	put_limit(b, "get_size", c->get_size, default_limit(c->dir, true));
	put_limit(b, "puts", c->puts, default_limit(c->dir, false));
	put_limit(b, "put_size", c->put_size, default_limit(c->dir, false));
	pbuf_add(b, "}", 1);
}

static void put_strv(struct pbuf *b, char *const *v, size_t n)
{
	pbuf_add(b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			pbuf_add(b, ",", 1);
		wire_put_str(b, v[i]);
	}
	pbuf_add(b, "]", 1);
}

static void put_instance(struct pbuf *b, const struct proto_plan *plan,
			 const struct proto_instance *in)
{
	pbuf_puts(b, "{\"name\":");
	wire_put_str(b, in->name);
	pbuf_printf(b, ",\"group\":%zu,\"exec_kind\":\"%s\",\"exec_path\":",
		    in->group, enum_name(exec_kinds, NELEM(exec_kinds),
					 in->exec_kind));
	wire_put_str(b, in->exec_path);
	put_key(b, "argv");
	put_strv(b, in->argv, in->argc);
	put_key(b, "env");
	put_strv(b, in->env, in->nenv);
	pbuf_printf(b, ",\"placement\":%ld,\"replicate\":%d,"
		    "\"deterministic\":%s", in->placement, in->replicate,
		    in->deterministic ? "true" : "false");
	/* Only when set: a task without it stays readable by workers that
	 * predate it. */
	if (in->memory_etag)
		pbuf_puts(b, ",\"memory_etag\":true");
	if (in->location) {
		put_key(b, "location");
		wire_put_str(b, in->location);
	}
	pbuf_puts(b, ",\"channels\":[");
	for (size_t k = 0; k < in->nchannels; k++) {
		if (k)
			pbuf_add(b, ",", 1);
		put_channel(b, plan, &in->channels[k]);
	}
	pbuf_puts(b, "]}");
}

static void put_plan(struct pbuf *b, const struct proto_plan *plan)
{
	pbuf_puts(b, "{\"account\":");
	wire_put_str(b, plan->account);
	put_key(b, "groups");
	put_strv(b, plan->groups, plan->ngroups);
	pbuf_puts(b, ",\"inst\":[");
	for (size_t i = 0; i < plan->ninst; i++) {
		if (i)
			pbuf_add(b, ",", 1);
		put_instance(b, plan, &plan->inst[i]);
	}
	pbuf_puts(b, "]}");
}

char *proto_plan_to_json(const struct proto_plan *plan)
{
	struct pbuf b;

	pbuf_init(&b);
	put_plan(&b, plan);
	return pbuf_take(&b);
}

/* ------------------------------------------------------- JSON -> plan */

/* Decoding state: where we are (for messages) and who owns the result. */
struct dctx {
	struct proto_arena *a;
	struct proto_error *err;
};

static int bad(struct dctx *c, const char *where, const char *key,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "<where>.<key>: <problem>" (key may be NULL). */
static int bad(struct dctx *c, const char *where, const char *key,
	       const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return proto_error_set(c->err, PROTO_EBADJOB, "%s%s%s: %s", where,
			       key ? "." : "", key ? key : "", why);
}

static int oom(struct dctx *c)
{
	return proto_error_set(c->err, PROTO_EINTERNAL, "out of memory");
}

const char *wire_unknown_key(json_t *o, const char *const *keys)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		size_t i;

		for (i = 0; keys[i] && strcmp(keys[i], k); i++)
			;
		if (!keys[i])
			return k;
	}
	return NULL;
}

/* Refuse keys of obj not in the NULL-ended list. */
static int only_keys(struct dctx *c, json_t *obj, const char *where,
		     const char *const *keys)
{
	const char *k = wire_unknown_key(obj, keys);

	if (k)
		return bad(c, where, NULL, "unknown field \"%.64s\"", k);
	return 0;
}

static int need_object(struct dctx *c, json_t *v, const char *where)
{
	if (!json_is_object(v))
		return bad(c, where, NULL, "must be an object, not %s",
			   json_kind(v));
	return 0;
}

static json_t *field(struct dctx *c, json_t *obj, const char *where,
		     const char *key, bool required, int *rc)
{
	json_t *v = json_object_get(obj, key);

	*rc = 0;
	if (!v && required)
		*rc = bad(c, where, key, "missing");
	return v;
}

/* A string field (absent and null give NULL when optional). */
static int get_str(struct dctx *c, json_t *obj, const char *where,
		   const char *key, bool required, bool nonempty, char **out)
{
	int rc;
	json_t *v = field(c, obj, where, key, required, &rc);
	size_t n;

	*out = NULL;
	if (rc)
		return rc;
	if (!v || (!required && json_is_null(v)))
		return 0;
	rc = wire_get_str(v, c->a, out, &n);
	if (rc == -2)
		return oom(c);
	if (rc)
		return bad(c, where, key, "must be a string without NUL, not %s",
			   json_kind(v));
	if (nonempty && n == 0)
		return bad(c, where, key, "must not be empty");
	return 0;
}

/* An optional boolean field; absent gives def. */
static int get_bool(struct dctx *c, json_t *obj, const char *where,
		    const char *key, bool def, bool *out)
{
	int rc;
	json_t *v = field(c, obj, where, key, false, &rc);

	*out = def;
	if (rc || !v)
		return rc;
	if (!json_is_boolean(v))
		return bad(c, where, key, "must be true or false, not %s",
			   json_kind(v));
	*out = json_is_true(v);
	return 0;
}

/* An integer field within [lo, hi]; absent gives def when optional. */
static int get_int(struct dctx *c, json_t *obj, const char *where,
		   const char *key, bool required, int64_t lo, int64_t hi,
		   int64_t def, int64_t *out)
{
	int rc;
	json_t *v = field(c, obj, where, key, required, &rc);
	json_int_t x;

	*out = def;
	if (rc || !v)
		return rc;
	if (!json_is_integer(v))
		return bad(c, where, key, "must be an integer, not %s",
			   json_kind(v));
	x = json_integer_value(v);
	if (x < lo || x > hi)
		return bad(c, where, key, "%lld is out of range (%" PRId64
			   "..%" PRId64 ")", (long long)x, lo, hi);
	*out = x;
	return 0;
}

/* An index field: < n, with a message that says what it indexes. */
static int get_index(struct dctx *c, json_t *obj, const char *where,
		     const char *key, size_t n, const char *what, size_t *out)
{
	int rc;
	json_t *v = field(c, obj, where, key, true, &rc);
	json_int_t x;

	if (rc)
		return rc;
	if (!json_is_integer(v))
		return bad(c, where, key, "must be an integer, not %s",
			   json_kind(v));
	x = json_integer_value(v);
	if (x < 0 || (uint64_t)x >= n)
		return bad(c, where, key, "%lld is out of range (%zu %s)",
			   (long long)x, n, what);
	*out = (size_t)x;
	return 0;
}

static int get_enum(struct dctx *c, json_t *obj, const char *where,
		    const char *key, const char *const *names, size_t n,
		    unsigned *out)
{
	int rc;
	json_t *v = field(c, obj, where, key, true, &rc);

	if (rc)
		return rc;
	if (json_is_string(v))
		for (size_t i = 0; i < n; i++)
			if (names[i] && strcmp(names[i], json_string_value(v)) == 0) {
				*out = (unsigned)i;
				return 0;
			}
	return bad(c, where, key, "must be one of the known names, not %s%s%.32s%s",
		   json_kind(v), json_is_string(v) ? " \"" : "",
		   json_is_string(v) ? json_string_value(v) : "",
		   json_is_string(v) ? "\"" : "");
}

static int get_array(struct dctx *c, json_t *obj, const char *where,
		     const char *key, bool required, size_t min, size_t max,
		     json_t **out)
{
	int rc;
	json_t *v = field(c, obj, where, key, required, &rc);

	*out = v;
	if (rc || !v)
		return rc;
	if (!json_is_array(v))
		return bad(c, where, key, "must be an array, not %s",
			   json_kind(v));
	if (json_array_size(v) < min || json_array_size(v) > max)
		return bad(c, where, key, "has %zu entries (%zu..%zu allowed)",
			   json_array_size(v), min, max);
	return 0;
}

/* An array of strings into a NULL-ended vector. */
static int get_strv(struct dctx *c, json_t *obj, const char *where,
		    const char *key, size_t min, bool env, char ***out,
		    size_t *n)
{
	json_t *arr, *v;
	size_t i, len;
	char **s;

	if (get_array(c, obj, where, key, true, min, SIZE_MAX / 16, &arr))
		return -1;
	*n = json_array_size(arr);
	s = *out = arena_alloc(c->a, (*n + 1) * sizeof(char *));
	if (!s)
		return oom(c);
	json_array_foreach(arr, i, v) {
		int rc = wire_get_str(v, c->a, &s[i], &len);
		char k[32];

		snprintf(k, sizeof(k), "%s[%zu]", key, i);
		if (rc == -2)
			return oom(c);
		if (rc)
			return bad(c, where, k, "must be a string without NUL, "
				   "not %s", json_kind(v));
		if (env && (s[i][0] == '=' || !strchr(s[i], '=')))
			return bad(c, where, k, "must be KEY=VALUE");
	}
	return 0;
}

static int get_meta(struct dctx *c, json_t *obj, const char *where,
		    struct proto_channel *ch)
{
	json_t *arr, *pair;
	size_t i, n;

	if (get_array(c, obj, where, "meta", false, 0, 1024, &arr) || !arr)
		return arr ? -1 : 0;
	ch->nmeta = json_array_size(arr);
	ch->meta = arena_alloc(c->a, ch->nmeta * sizeof(*ch->meta));
	if (!ch->meta)
		return oom(c);
	json_array_foreach(arr, i, pair) {
		int r1 = -1, r2 = -1;

		if (json_is_array(pair) && json_array_size(pair) == 2) {
			r1 = wire_get_str(json_array_get(pair, 0), c->a,
					  &ch->meta[i].key, &n);
			r2 = r1 ? r1 : wire_get_str(json_array_get(pair, 1),
						    c->a, &ch->meta[i].value,
						    &n);
		}
		if (r1 == -2 || r2 == -2)
			return oom(c);
		if (r1 || r2 || !ch->meta[i].key[0]) {
			char k[32];

			snprintf(k, sizeof(k), "meta[%zu]", i);
			return bad(c, where, k, "must be a pair of strings "
				   "[key, value], key not empty");
		}
	}
	return 0;
}

static const char *const channel_keys[] = {
	"device", "alias", "kind", "dir", "type", "path", "peer", "peer_chan",
	"content_type", "meta", "mode", "min_size", "gets", "get_size",
	"puts", "put_size", NULL
};

static int get_channel(struct dctx *c, json_t *v, const char *where,
		       struct proto_channel *ch)
{
	unsigned kind;
	bool pipe;
	int64_t x;

	if (need_object(c, v, where) || only_keys(c, v, where, channel_keys) ||
	    get_enum(c, v, where, "kind", chan_kinds, NELEM(chan_kinds), &kind))
		return -1;
	ch->kind = (enum proto_chan_kind)kind;
	pipe = chan_is_pipe(ch);
	/* A pipe's default alias names its peer: set by pipe_aliases. */
	if (get_str(c, v, where, "alias", !pipe, true, &ch->alias) ||
	    get_str(c, v, where, "device", ch->alias &&
		    (strncmp(ch->alias, "/dev/", 5) || !ch->alias[5]), true,
		    &ch->device))
		return -1;
	if (!ch->device && ch->alias)
		ch->device = ch->alias + 5;
	if (get_int(c, v, where, "dir", !pipe, 1, 3, default_dir(ch->kind), &x))
		return -1;
	if (pipe && x != default_dir(ch->kind))
		return bad(c, where, "dir", "must be %d for a %s channel",
			   default_dir(ch->kind), chan_kinds[ch->kind]);
	ch->dir = (int)x;
	if (get_int(c, v, where, "type", false, 0, 3, 0, &x))
		return -1;
	ch->type = (enum proto_access)x;
	if (get_str(c, v, where, "path", false, true, &ch->path))
		return -1;
	if (!ch->path && (ch->kind == PROTO_CHAN_OBJECT ||
			  ch->kind == PROTO_CHAN_CONTAINER ||
			  ch->kind == PROTO_CHAN_IMAGE ||
			  ch->kind == PROTO_CHAN_NODE))
		return bad(c, where, "path", "missing (a %s channel has one)",
			   chan_kinds[ch->kind]);
	if (!pipe && (json_object_get(v, "peer") ||
		      json_object_get(v, "peer_chan")))
		return bad(c, where, NULL, "only pipe channels have a peer");
	if (get_str(c, v, where, "content_type", false, false,
		    &ch->content_type) ||
	    get_meta(c, v, where, ch) ||
	    get_str(c, v, where, "mode", false, true, &ch->mode))
		return -1;
	if (ch->mode && strcmp(ch->mode, "file") && strcmp(ch->mode, "char") &&
	    strcmp(ch->mode, "pipe") && strcmp(ch->mode, "block"))
		return bad(c, where, "mode", "must be file, char, pipe or "
			   "block, not \"%.32s\"", ch->mode);
	if (get_int(c, v, where, "min_size", false, 0, INT64_MAX, 0, &x))
		return -1;
	ch->min_size = (uint64_t)x;
	return get_int(c, v, where, "gets", false, 0, PROTO_UNBOUNDED,
		       default_limit(ch->dir, true), &ch->gets) ||
	       get_int(c, v, where, "get_size", false, 0, PROTO_UNBOUNDED,
		       default_limit(ch->dir, true), &ch->get_size) ||
	       get_int(c, v, where, "puts", false, 0, PROTO_UNBOUNDED,
		       default_limit(ch->dir, false), &ch->puts) ||
	       get_int(c, v, where, "put_size", false, 0, PROTO_UNBOUNDED,
		       default_limit(ch->dir, false), &ch->put_size) ? -1 : 0;
}

static const char *const inst_keys[] = {
	"name", "group", "exec_kind", "exec_path", "argv", "env", "placement",
	"replicate", "deterministic", "memory_etag", "location", "channels",
	NULL
};

static int get_instance(struct dctx *c, json_t *v, const char *where,
			const struct proto_plan *plan, size_t *budget,
			struct proto_instance *in)
{
	char cw[128];
	json_t *chans, *cv;
	unsigned ek;
	int64_t x;
	size_t k;

	if (need_object(c, v, where) || only_keys(c, v, where, inst_keys) ||
	    get_str(c, v, where, "name", true, true, &in->name) ||
	    get_index(c, v, where, "group", plan->ngroups, "groups",
		      &in->group) ||
	    get_enum(c, v, where, "exec_kind", exec_kinds, NELEM(exec_kinds),
		     &ek) ||
	    get_str(c, v, where, "exec_path", true, true, &in->exec_path) ||
	    get_strv(c, v, where, "argv", 1, false, &in->argv, &in->argc) ||
	    get_strv(c, v, where, "env", 0, true, &in->env, &in->nenv) ||
	    get_int(c, v, where, "replicate", true, 0, 3, 0, &x))
		return -1;
	in->exec_kind = (enum proto_exec_kind)ek;
	in->replicate = (int)x;
	if (get_bool(c, v, where, "deterministic", true,
		     &in->deterministic) ||
	    get_bool(c, v, where, "memory_etag", false, &in->memory_etag))
		return -1;
	if (get_str(c, v, where, "location", false, false, &in->location) ||
	    get_array(c, v, where, "channels", true, 0, *budget, &chans))
		return -1;
	in->nchannels = json_array_size(chans);
	*budget -= in->nchannels;
	in->channels = arena_alloc(c->a, (in->nchannels ? in->nchannels : 1) *
				   sizeof(*in->channels));
	if (!in->channels)
		return oom(c);
	json_array_foreach(chans, k, cv) {
		snprintf(cw, sizeof(cw), "%s.channels[%zu]", where, k);
		if (get_channel(c, cv, cw, &in->channels[k]))
			return -1;
	}
	if (get_int(c, v, where, "placement", true, -1,
		    (int64_t)in->nchannels - 1, 0, &x))
		return -1;
	in->placement = (long)x;
	return 0;
}

/* Pipe ends name an instance and one of its channels: in range? (The
 * pairing itself is checked by proto_plan_edges.) */
static int check_peers(struct dctx *c, const struct proto_plan *plan,
		       const char *root)
{
	char w[128];

	for (size_t i = 0; i < plan->ninst; i++)
		for (size_t k = 0; k < plan->inst[i].nchannels; k++) {
			const struct proto_channel *ch = &plan->inst[i].channels[k];
			json_int_t peer, pc;

			if (!chan_is_pipe(ch))
				continue;
			snprintf(w, sizeof(w), "%s.inst[%zu].channels[%zu]", root,
				 i, k);
			peer = (json_int_t)ch->peer;
			pc = (json_int_t)ch->peer_chan;
			if (ch->peer >= plan->ninst)
				return bad(c, w, "peer", "%lld is out of range "
					   "(%zu instances)", (long long)peer,
					   plan->ninst);
			if (ch->peer == i)
				return bad(c, w, "peer", "%zu is the instance "
					   "itself", i);
			if (ch->peer_chan >= plan->inst[ch->peer].nchannels)
				return bad(c, w, "peer_chan", "%lld is out of "
					   "range (inst[%zu] has %zu channels)",
					   (long long)pc, ch->peer,
					   plan->inst[ch->peer].nchannels);
		}
	return 0;
}

/* Pipe ends: both fields, any non-negative value (ranges need the whole
 * plan: check_peers). */
static int get_pipe_ends(struct dctx *c, json_t *inst, const char *root,
			 struct proto_plan *plan)
{
	char w[128];
	size_t i, k;
	json_t *iv;

	json_array_foreach(inst, i, iv) {
		json_t *chans = json_object_get(iv, "channels");
		json_t *cv;

		json_array_foreach(chans, k, cv) {
			struct proto_channel *ch = &plan->inst[i].channels[k];
			int64_t x;

			if (!chan_is_pipe(ch))
				continue;
			snprintf(w, sizeof(w), "%s.inst[%zu].channels[%zu]", root,
				 i, k);
			if (get_int(c, cv, w, "peer", true, 0, INT64_MAX, 0, &x))
				return -1;
			ch->peer = (size_t)x;
			if (get_int(c, cv, w, "peer_chan", true, 0, INT64_MAX, 0,
				    &x))
				return -1;
			ch->peer_chan = (size_t)x;
		}
	}
	return 0;
}

/* Pipes sent without an alias get connect's: /dev/in/<peer name> or
 * /dev/out/<peer name> (peers are in range: check_peers ran). */
static int pipe_aliases(struct dctx *c, struct proto_plan *plan)
{
	for (size_t i = 0; i < plan->ninst; i++)
		for (size_t k = 0; k < plan->inst[i].nchannels; k++) {
			struct proto_channel *ch = &plan->inst[i].channels[k];

			if (!chan_is_pipe(ch) || ch->alias)
				continue;
			ch->alias = arena_cat(c->a, pipe_prefix(ch->kind),
					      plan->inst[ch->peer].name, NULL);
			if (!ch->alias)
				return oom(c);
			if (!ch->device)
				ch->device = ch->alias + 5;
		}
	return 0;
}

static void limits_fill(struct proto_limits *l, const struct proto_limits *in)
{
	struct proto_limits def;

	proto_limits_default(&def);
	*l = in ? *in : def;
	if (!l->max_groups)
		l->max_groups = def.max_groups;
	if (!l->max_instances)
		l->max_instances = def.max_instances;
	if (!l->max_channels)
		l->max_channels = def.max_channels;
}

static const char *const plan_keys[] = { "account", "groups", "inst", NULL };

/* Decode plan JSON value v (its path is root) into a new plan. */
static int plan_decode(json_t *v, const char *root,
		       const struct proto_limits *limits,
		       struct proto_plan **out, struct proto_error *err)
{
	struct proto_limits lim;
	struct proto_plan *plan = calloc(1, sizeof(*plan));
	struct dctx c = { .err = err };
	json_t *inst, *iv;
	char w[96];
	size_t i, budget;

	limits_fill(&lim, limits);
	budget = lim.max_channels;
	*out = NULL;
	if (!plan || !(plan->arena = c.a = arena_new())) {
		free(plan);
		return oom(&c);
	}
	if (need_object(&c, v, root) || only_keys(&c, v, root, plan_keys) ||
	    get_str(&c, v, root, "account", true, true, &plan->account) ||
	    get_strv(&c, v, root, "groups", 1, false, &plan->groups,
		     &plan->ngroups))
		goto fail;
	if (plan->ngroups > lim.max_groups) {
		bad(&c, root, "groups", "%zu groups, more than the %zu allowed",
		    plan->ngroups, lim.max_groups);
		goto fail;
	}
	if (get_array(&c, v, root, "inst", true, 1, lim.max_instances, &inst))
		goto fail;
	plan->ninst = json_array_size(inst);
	plan->inst = arena_alloc(c.a, plan->ninst * sizeof(*plan->inst));
	if (!plan->inst) {
		oom(&c);
		goto fail;
	}
	json_array_foreach(inst, i, iv) {
		snprintf(w, sizeof(w), "%s.inst[%zu]", root, i);
		if (get_instance(&c, iv, w, plan, &budget, &plan->inst[i]))
			goto fail;
	}
	if (get_pipe_ends(&c, inst, root, plan) ||
	    check_peers(&c, plan, root) || pipe_aliases(&c, plan))
		goto fail;
	if (proto_plan_edges(plan, NULL, NULL, err)) {
		err->kind = PROTO_EBADJOB;
		goto fail;
	}
	*out = plan;
	return 0;
fail:
	proto_plan_free(plan);
	return -1;
}

/* Parse JSON text; errors say what the text was meant to be. */
static json_t *load(const char *json, size_t len, const char *what,
		    struct proto_error *err)
{
	json_error_t je;
	json_t *v = json_loadb(json ? json : "", json ? len : 0,
			       JSON_REJECT_DUPLICATES, &je);

	if (!v)
		proto_error_set(err, PROTO_EUNPARSABLE, "%s is not valid JSON: "
				"line %d, column %d: %s", what, je.line,
				je.column, je.text);
	return v;
}

int proto_plan_from_json(const char *json, size_t len,
			 const struct proto_limits *limits,
			 struct proto_plan **out, struct proto_error *err)
{
	json_t *v = load(json, len, "plan", err);
	int rc;

	*out = NULL;
	if (!v)
		return -1;
	rc = plan_decode(v, "plan", limits, out, err);
	json_decref(v);
	return rc;
}

/* ------------------------------------------------------- task <-> JSON */

/* "host:port" (host a name, an IPv4 or a [v6] literal; port 1..65535). */
static bool addr_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	int64_t port;

	if (!colon || colon == s || strlen(s) > 255 ||
	    !parse_nonneg(colon + 1, strlen(colon + 1), &port) || port < 1 ||
	    port > 65535 || (colon[1] == '0'))
		return false;
	for (const char *p = s; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(".-_[]:", *p)))
			return false;
	return true;
}

/* A token goes into an HTTP header: visible ASCII only. */
static bool token_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 4096)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

static bool etag_ok(const char *s)
{
	return token_ok(s) && strlen(s) <= 128;
}

/* Swift's X-Timestamp: "1700000000.12345", optionally "_<16 hex>". */
static bool timestamp_ok(const char *s)
{
	size_t i = 0, d = 0;

	while (s[i] >= '0' && s[i] <= '9')
		i++, d++;
	if (d == 0 || d > 20)
		return false;
	if (s[i] == '.') {
		for (i++, d = 0; s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (d == 0 || d > 10)
			return false;
	}
	if (s[i] == '_') {
		for (i++, d = 0; (s[i] >= '0' && s[i] <= '9') ||
				  (s[i] >= 'a' && s[i] <= 'f'); i++)
			d++;
		if (d != 16)
			return false;
	}
	return s[i] == '\0';
}

/* "acct/cont/obj": three non-empty parts. */
static bool object_path_ok(const char *s)
{
	const char *a = strchr(s, '/'), *b = a ? strchr(a + 1, '/') : NULL;

	return a && b && a > s && b > a + 1 && b[1] && strlen(s) <= 2048;
}

static int task_check(const struct proto_task *t, struct proto_error *err)
{
	if (t->version != PROTO_TASK_VERSION)
		return proto_error_set(err, PROTO_EBADJOB, "task.version: %d is "
				       "not supported (this zvmd speaks %d)",
				       t->version, PROTO_TASK_VERSION);
	if (!t->job || !wire_job_ok(t->job))
		return proto_error_set(err, PROTO_EBADJOB, "task.job: must be "
				       "1..64 of [A-Za-z0-9._:-]");
	if (!t->plan)
		return proto_error_set(err, PROTO_EBADJOB, "task.plan: missing");
	if (!t->placement && t->plan->ninst)
		return proto_error_set(err, PROTO_EBADJOB, "task.placement: "
				       "missing");
	if (!t->nodes && t->nnodes)
		return proto_error_set(err, PROTO_EBADJOB, "task.nodes: missing");
	if (!t->objects && t->nobjects)
		return proto_error_set(err, PROTO_EBADJOB, "task.objects: "
				       "missing");
	if (!t->account || strcmp(t->account, t->plan->account))
		return proto_error_set(err, PROTO_EBADJOB, "task.account: "
				       "\"%.64s\" is not the plan's account "
				       "\"%.64s\"", t->account ? t->account : "",
				       t->plan->account);
	if (!t->token || !token_ok(t->token))
		return proto_error_set(err, PROTO_EBADJOB, "task.token: must be "
				       "1..4096 visible ASCII characters");
	if (t->nnodes == 0 || t->nnodes > PROTO_TASK_MAX_NODES)
		return proto_error_set(err, PROTO_EBADJOB, "task.nodes: has %zu "
				       "entries (1..%d allowed)", t->nnodes,
				       PROTO_TASK_MAX_NODES);
	if (t->self >= t->nnodes)
		return proto_error_set(err, PROTO_EBADJOB, "task.self: %zu is out "
				       "of range (%zu nodes)", t->self,
				       t->nnodes);
	for (size_t i = 0; i < t->nnodes; i++)
		if (!t->nodes[i].http || !addr_ok(t->nodes[i].http) ||
		    !t->nodes[i].edge || !addr_ok(t->nodes[i].edge))
			return proto_error_set(err, PROTO_EBADJOB,
					       "task.nodes[%zu]: http and edge "
					       "must be host:port", i);
	for (size_t i = 0; i < t->plan->ninst; i++)
		if (t->placement[i] >= t->nnodes)
			return proto_error_set(err, PROTO_EBADJOB,
					       "task.placement[%zu]: %zu is out "
					       "of range (%zu nodes)", i,
					       t->placement[i], t->nnodes);
	if (t->nobjects > PROTO_TASK_MAX_OBJECTS)
		return proto_error_set(err, PROTO_EBADJOB, "task.objects: %zu "
				       "entries, more than the %d allowed",
				       t->nobjects, PROTO_TASK_MAX_OBJECTS);
	for (size_t i = 0; i < t->nobjects; i++) {
		const struct proto_object *o = &t->objects[i];
		const char *p = o->path ? o->path : "";

		if (!o->path || !object_path_ok(p) ||
		    !wire_utf8_ok(p, strlen(p)))
			return proto_error_set(err, PROTO_EBADJOB, "task.objects:"
					       " \"%.128s\" is not an acct/cont/"
					       "obj path", p);
		if (!o->etag || !etag_ok(o->etag))
			return proto_error_set(err, PROTO_EBADJOB, "task.objects"
					       "[\"%.128s\"].etag: must be 1..128"
					       " visible ASCII characters", p);
		if (!o->timestamp || !timestamp_ok(o->timestamp))
			return proto_error_set(err, PROTO_EBADJOB, "task.objects"
					       "[\"%.128s\"].timestamp: must be "
					       "a Swift timestamp", p);
		if (o->size > INT64_MAX || o->policy < 0)
			return proto_error_set(err, PROTO_EBADJOB, "task.objects"
					       "[\"%.128s\"]: size and policy "
					       "must not be negative", p);
	}
	return 0;
}

char *proto_task_to_json(const struct proto_task *t, struct proto_error *err)
{
	struct pbuf b;
	char *s;

	if (task_check(t, err))
		return NULL;
	pbuf_init(&b);
	pbuf_printf(&b, "{\"version\":%d,\"job\":", t->version);
	wire_put_str(&b, t->job);
	put_key(&b, "account");
	wire_put_str(&b, t->account);
	put_key(&b, "token");
	wire_put_str(&b, t->token);
	pbuf_printf(&b, ",\"self\":%zu,\"nodes\":[", t->self);
	for (size_t i = 0; i < t->nnodes; i++) {
		pbuf_puts(&b, i ? ",{\"http\":" : "{\"http\":");
		wire_put_str(&b, t->nodes[i].http);
		put_key(&b, "edge");
		wire_put_str(&b, t->nodes[i].edge);
		pbuf_add(&b, "}", 1);
	}
	pbuf_puts(&b, "],\"placement\":[");
	for (size_t i = 0; i < t->plan->ninst; i++)
		pbuf_printf(&b, i ? ",%zu" : "%zu", t->placement[i]);
	pbuf_puts(&b, "],\"objects\":{");
	for (size_t i = 0; i < t->nobjects; i++) {
		const struct proto_object *o = &t->objects[i];

		if (i)
			pbuf_add(&b, ",", 1);
		wire_put_str(&b, o->path);
		pbuf_puts(&b, ":{\"etag\":");
		wire_put_str(&b, o->etag);
		pbuf_printf(&b, ",\"size\":%" PRIu64 ",\"timestamp\":", o->size);
		wire_put_str(&b, o->timestamp);
		pbuf_printf(&b, ",\"policy\":%d}", o->policy);
	}
	pbuf_puts(&b, "},\"plan\":");
	put_plan(&b, t->plan);
	pbuf_add(&b, "}", 1);
	s = pbuf_take(&b);
	if (!s)
		proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	return s;
}

static const char *const task_keys[] = {
	"version", "job", "account", "token", "self", "nodes", "placement",
	"objects", "plan", NULL
};
static const char *const node_keys[] = { "http", "edge", NULL };
static const char *const object_keys[] = {
	"etag", "size", "timestamp", "policy", NULL
};

static int get_nodes(struct dctx *c, json_t *v, struct proto_task *t)
{
	json_t *arr, *nv;
	char w[64];
	size_t i;

	if (get_array(c, v, "task", "nodes", true, 1, PROTO_TASK_MAX_NODES,
		      &arr))
		return -1;
	t->nnodes = json_array_size(arr);
	t->nodes = arena_alloc(c->a, t->nnodes * sizeof(*t->nodes));
	if (!t->nodes)
		return oom(c);
	json_array_foreach(arr, i, nv) {
		snprintf(w, sizeof(w), "task.nodes[%zu]", i);
		if (need_object(c, nv, w) || only_keys(c, nv, w, node_keys) ||
		    get_str(c, nv, w, "http", true, true, &t->nodes[i].http) ||
		    get_str(c, nv, w, "edge", true, true, &t->nodes[i].edge))
			return -1;
	}
	return 0;
}

static int get_placement(struct dctx *c, json_t *v, struct proto_task *t,
			 size_t ninst)
{
	json_t *arr, *pv;
	size_t i;

	if (get_array(c, v, "task", "placement", true, 0, SIZE_MAX, &arr))
		return -1;
	if (json_array_size(arr) != ninst)
		return bad(c, "task", "placement", "has %zu entries for %zu "
			   "plan instances", json_array_size(arr), ninst);
	t->placement = arena_alloc(c->a, (ninst ? ninst : 1) *
				   sizeof(*t->placement));
	if (!t->placement)
		return oom(c);
	json_array_foreach(arr, i, pv) {
		char k[40];

		snprintf(k, sizeof(k), "placement[%zu]", i);
		if (!json_is_integer(pv) || json_integer_value(pv) < 0 ||
		    (uint64_t)json_integer_value(pv) >= t->nnodes)
			return bad(c, "task", k, "must be a node index < %zu",
				   t->nnodes);
		t->placement[i] = (size_t)json_integer_value(pv);
	}
	return 0;
}

static int object_cmp(const void *a, const void *b)
{
	return strcmp(((const struct proto_object *)a)->path,
		      ((const struct proto_object *)b)->path);
}

static int get_objects(struct dctx *c, json_t *v, struct proto_task *t)
{
	json_t *obj = json_object_get(v, "objects"), *ov;
	const char *key;
	char w[192];
	size_t i = 0;

	if (!obj)
		return bad(c, "task", "objects", "missing");
	if (!json_is_object(obj))
		return bad(c, "task", "objects", "must be an object, not %s",
			   json_kind(obj));
	t->nobjects = json_object_size(obj);
	if (t->nobjects > PROTO_TASK_MAX_OBJECTS)
		return bad(c, "task", "objects", "%zu entries, more than the %d "
			   "allowed", t->nobjects, PROTO_TASK_MAX_OBJECTS);
	t->objects = arena_alloc(c->a, (t->nobjects ? t->nobjects : 1) *
				 sizeof(*t->objects));
	if (!t->objects)
		return oom(c);
	json_object_foreach(obj, key, ov) {
		struct proto_object *o = &t->objects[i++];
		int64_t x;

		snprintf(w, sizeof(w), "task.objects[\"%.128s\"]", key);
		o->path = arena_strdup(c->a, key);
		if (!o->path)
			return oom(c);
		if (need_object(c, ov, w) || only_keys(c, ov, w, object_keys) ||
		    get_str(c, ov, w, "etag", true, true, &o->etag) ||
		    get_str(c, ov, w, "timestamp", true, true, &o->timestamp) ||
		    get_int(c, ov, w, "size", true, 0, INT64_MAX, 0, &x))
			return -1;
		o->size = (uint64_t)x;
		if (get_int(c, ov, w, "policy", true, 0, INT_MAX, 0, &x))
			return -1;
		o->policy = (int)x;
	}
	qsort(t->objects, t->nobjects, sizeof(*t->objects), object_cmp);
	return 0;
}

static int task_decode(struct dctx *c, json_t *v,
		       const struct proto_limits *limits, struct proto_task *t)
{
	int64_t x;

	if (need_object(c, v, "task") || only_keys(c, v, "task", task_keys) ||
	    get_int(c, v, "task", "version", true, 0, INT_MAX, 0, &x))
		return -1;
	t->version = (int)x;
	if (t->version != PROTO_TASK_VERSION)
		return bad(c, "task", "version", "%d is not supported (this "
			   "zvmd speaks %d)", t->version, PROTO_TASK_VERSION);
	if (get_str(c, v, "task", "job", true, true, &t->job) ||
	    get_str(c, v, "task", "account", true, true, &t->account) ||
	    get_str(c, v, "task", "token", true, true, &t->token) ||
	    get_nodes(c, v, t) ||
	    get_int(c, v, "task", "self", true, 0, INT64_MAX, 0, &x))
		return -1;
	t->self = (size_t)x;
	if (!json_object_get(v, "plan"))
		return bad(c, "task", "plan", "missing");
	if (plan_decode(json_object_get(v, "plan"), "task.plan", limits,
			&t->plan, c->err) ||
	    get_placement(c, v, t, t->plan->ninst) || get_objects(c, v, t))
		return -1;
	return task_check(t, c->err);
}

int proto_task_from_json(const char *json, size_t len,
			 const struct proto_limits *limits,
			 struct proto_task **out, struct proto_error *err)
{
	struct proto_task *t = calloc(1, sizeof(*t));
	struct dctx c = { .err = err };
	json_t *v;

	*out = NULL;
	if (!t || !(t->arena = c.a = arena_new())) {
		free(t);
		return oom(&c);
	}
	v = load(json, len, "task", err);
	if (!v || task_decode(&c, v, limits, t)) {
		json_decref(v);
		proto_task_free(t);
		return -1;
	}
	json_decref(v);
	*out = t;
	return 0;
}

void proto_task_free(struct proto_task *t)
{
	if (!t)
		return;
	proto_plan_free(t->plan);
	arena_free(t->arena);
	free(t);
}

const struct proto_object *proto_task_object(const struct proto_task *t,
					     const char *path)
{
	struct proto_object key = { .path = (char *)path };

	if (!t->nobjects)
		return NULL;
	return bsearch(&key, t->objects, t->nobjects, sizeof(key), object_cmp);
}
