/*
 * manifest.c — the ZeroVM manifest (`Version = 20130611`).
 *
 * One `Key = Value` per line; blank lines and `#` comments are skipped and
 * a trailing CR is ignored. Keys (case-sensitive, as in ZeroVM):
 *   Version      required, must be 20130611
 *   Program      required, the program's path
 *   Memory       required, "<bytes>, <etag 0|1>"
 *   Timeout      required, seconds
 *   Node, Job    optional strings
 *   Image        optional: an image (directory or tar) that becomes the
 *                program's root; Program is then a path inside it
 *   ImageTmp     optional, bytes of the image run's private /tmp
 *   CommandLine  optional, split like a shell (proto_args_split)
 *   Environment  optional, "k1,v1,k2,v2"
 *   Channel      "uri, alias, type, etag, gets, get_size, puts, put_size",
 *                at least /dev/stdin, /dev/stdout and /dev/stderr
 * Every error names the line it was found on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ZeroVM refuses manifests larger than this (MANIFEST_SIZE_LIMIT). */
#define MANIFEST_MAX_SIZE (512 * 1024)

/* A trimmed slice of the manifest text. */
struct span {
	const char *s;
	size_t n;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static struct span trim(const char *s, size_t n)
{
	while (n && is_blank(*s)) {
		s++;
		n--;
	}
	while (n && is_blank(s[n - 1]))
		n--;
	return (struct span){ s, n };
}

/* Split `v` at commas into at most `max` trimmed fields; returns how many
 * fields there are (which may exceed max: only the first max are stored). */
static size_t split_commas(struct span v, struct span *out, size_t max)
{
	size_t count = 0;
	const char *p = v.s, *end = v.s + v.n;

	for (;;) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		const char *e = c ? c : end;

		if (count < max)
			out[count] = trim(p, (size_t)(e - p));
		count++;
		if (!c)
			return count;
		p = c + 1;
	}
}

/* State of one parse: where we are, for error messages. */
struct mparse {
	struct proto_manifest *m;
	struct proto_error *err;
	int line;
	int seen[16]; /* line of the first occurrence of each singleton key */
	size_t chan_cap;
};

/* "line N: Key: what, got "value"" */
static int fail(struct mparse *p, const char *key, const char *what,
		struct span v)
{
	return proto_error_set(p->err, PROTO_EUNPARSABLE,
			       "line %d: %s: %s, got \"%.*s\"", p->line, key,
			       what, (int)(v.n > 64 ? 64 : v.n), v.s);
}

static int fail_plain(struct mparse *p, const char *key, const char *what)
{
	return proto_error_set(p->err, PROTO_EUNPARSABLE, "line %d: %s: %s",
			       p->line, key, what);
}

static int oom(struct mparse *p)
{
	return proto_error_set(p->err, PROTO_EINTERNAL, "out of memory");
}

static int number(struct mparse *p, const char *key, const char *field,
		  struct span v, int64_t *out)
{
	char what[96];

	if (parse_nonneg(v.s, v.n, out))
		return 0;
	snprintf(what, sizeof(what), "%s must be a non-negative integer",
		 field);
	return fail(p, key, what, v);
}

static int flag(struct mparse *p, const char *key, const char *field,
		struct span v, bool *out)
{
	char what[96];

	if (v.n == 1 && (v.s[0] == '0' || v.s[0] == '1')) {
		*out = v.s[0] == '1';
		return 0;
	}
	snprintf(what, sizeof(what), "%s must be 0 or 1", field);
	return fail(p, key, what, v);
}

static int string(struct mparse *p, const char *key, struct span v,
		  char **out)
{
	if (v.n == 0)
		return fail_plain(p, key, "value is empty");
	*out = pstrndup(v.s, v.n);
	return *out ? 0 : oom(p);
}

static int key_version(struct mparse *p, struct span v)
{
	if (v.n != strlen(PROTO_MANIFEST_VERSION) ||
	    memcmp(v.s, PROTO_MANIFEST_VERSION, v.n) != 0)
		return fail(p, "Version",
			    "expected " PROTO_MANIFEST_VERSION,
			    v);
	return string(p, "Version", v, &p->m->version);
}

static int key_program(struct mparse *p, struct span v)
{
	return string(p, "Program", v, &p->m->program);
}

static int key_memory(struct mparse *p, struct span v)
{
	struct span f[2];

	if (split_commas(v, f, 2) != 2)
		return fail(p, "Memory",
			    "expected \"<bytes>, <etag 0|1>\"", v);
	if (number(p, "Memory", "size", f[0], &p->m->memory) < 0)
		return -1;
	return flag(p, "Memory", "etag", f[1], &p->m->memory_etag);
}

static int key_timeout(struct mparse *p, struct span v)
{
	return number(p, "Timeout", "seconds", v, &p->m->timeout);
}

static int key_node(struct mparse *p, struct span v)
{
	return string(p, "Node", v, &p->m->node);
}

static int key_job(struct mparse *p, struct span v)
{
	return string(p, "Job", v, &p->m->job);
}

static int key_image(struct mparse *p, struct span v)
{
	return string(p, "Image", v, &p->m->image);
}

static int key_image_tmp(struct mparse *p, struct span v)
{
	return number(p, "ImageTmp", "size", v, &p->m->image_tmp);
}

static int key_cmdline(struct mparse *p, struct span v)
{
	char *line = pstrndup(v.s, v.n);
	struct proto_error e;
	int rc;

	if (!line)
		return oom(p);
	rc = proto_args_split(line, &p->m->argv, &p->m->argc, &e);
	free(line);
	if (rc < 0 && e.kind == PROTO_EINTERNAL)
		return oom(p);
	if (rc < 0)
		return proto_error_set(p->err, PROTO_EUNPARSABLE,
				       "line %d: CommandLine: %s", p->line,
				       e.msg);
	return 0;
}

static int key_environment(struct mparse *p, struct span v)
{
	size_t n = split_commas(v, NULL, 0), i, cap = 0;
	struct span *f;
	int rc = 0;

	if (n % 2 != 0)
		return fail(p, "Environment",
			    "expected \"name,value,name,value...\" (an "
			    "even number of fields)", v);
	f = calloc(n, sizeof(*f));
	if (!f)
		return oom(p);
	split_commas(v, f, n);
	for (i = 0; i < n && rc == 0; i += 2) {
		struct pbuf b;

		if (f[i].n == 0 || memchr(f[i].s, '=', f[i].n)) {
			rc = fail(p, "Environment",
				  "variable name must be non-empty and "
				  "without '='", f[i]);
			break;
		}
		pbuf_init(&b);
		pbuf_add(&b, f[i].s, f[i].n);
		pbuf_add(&b, "=", 1);
		pbuf_add(&b, f[i + 1].s, f[i + 1].n);
		if (strv_push(&p->m->env, &p->m->nenv, &cap, pbuf_take(&b)) < 0)
			rc = oom(p);
	}
	free(f);
	return rc;
}

/* "/dev/" followed by a relative path with no empty, "." or ".." part. */
static bool alias_ok(struct span a)
{
	const char *p, *end = a.s + a.n;

	if (a.n <= 5 || memcmp(a.s, "/dev/", 5) != 0)
		return false;
	for (p = a.s + 5; p <= end;) {
		const char *s = memchr(p, '/', (size_t)(end - p));
		size_t n = (size_t)((s ? s : end) - p);

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!s)
			break;
		p = s + 1;
	}
	for (p = a.s; p < end; p++)
		if ((unsigned char)*p <= ' ')
			return false;
	return true;
}

static const struct proto_manifest_channel *
find_alias(const struct proto_manifest *m, const char *alias, size_t n)
{
	size_t i;

	for (i = 0; i < m->nchannels; i++)
		if (strlen(m->channels[i].alias) == n &&
		    memcmp(m->channels[i].alias, alias, n) == 0)
			return &m->channels[i];
	return NULL;
}

static const char *const limit_names[4] = {
	"gets", "get_size", "puts", "put_size"
};

static int key_channel(struct mparse *p, struct span v)
{
	struct proto_manifest *m = p->m;
	struct proto_manifest_channel c = { 0 };
	const struct proto_manifest_channel *dup;
	int64_t lim[4], type;
	struct span f[8];
	size_t n = split_commas(v, f, 8), i;

	if (n != 8)
		return fail(p, "Channel",
			    "expected 8 comma-separated fields (uri, alias, "
			    "type, etag, gets, get_size, puts, put_size)", v);
	if (f[0].n == 0)
		return fail_plain(p, "Channel", "uri is empty");
	if (!alias_ok(f[1]))
		return fail(p, "Channel",
			    "alias must be a path under /dev/ (like "
			    "/dev/input)", f[1]);
	dup = find_alias(m, f[1].s, f[1].n);
	if (dup) {
		char what[96];

		snprintf(what, sizeof(what), "alias is already used on line %d",
			 dup->line);
		return fail(p, "Channel", what, f[1]);
	}
	if (!parse_nonneg(f[2].s, f[2].n, &type) || type > 3)
		return fail(p, "Channel", "type must be 0..3", f[2]);
	if (flag(p, "Channel", "etag", f[3], &c.etag) < 0)
		return -1;
	for (i = 0; i < 4; i++)
		if (number(p, "Channel", limit_names[i], f[4 + i], &lim[i]) < 0)
			return -1;
	if ((lim[0] == 0 || lim[1] == 0) && (lim[2] == 0 || lim[3] == 0))
		return fail(p, "Channel",
			    "channel allows neither reads nor writes "
			    "(gets/get_size and puts/put_size are zero)", f[1]);
	if (m->nchannels == p->chan_cap) {
		size_t cap = p->chan_cap ? p->chan_cap * 2 : 8;
		void *nc = realloc(m->channels, cap * sizeof(c));

		if (!nc)
			return oom(p);
		m->channels = nc;
		p->chan_cap = cap;
	}
	c.type = (enum proto_access)type;
	c.gets = lim[0];
	c.get_size = lim[1];
	c.puts = lim[2];
	c.put_size = lim[3];
	c.line = p->line;
	c.uri = pstrndup(f[0].s, f[0].n);
	c.alias = pstrndup(f[1].s, f[1].n);
	m->channels[m->nchannels++] = c;
	return c.uri && c.alias ? 0 : oom(p);
}

struct mkey {
	const char *name;
	bool single;
	bool required;
	int (*parse)(struct mparse *p, struct span v);
};

static const struct mkey keys[] = {
	{ "Version", true, true, key_version },
	{ "Program", true, true, key_program },
	{ "Memory", true, true, key_memory },
	{ "Timeout", true, true, key_timeout },
	{ "Node", true, false, key_node },
	{ "Job", true, false, key_job },
	{ "Image", true, false, key_image },
	{ "ImageTmp", true, false, key_image_tmp },
	{ "CommandLine", true, false, key_cmdline },
	{ "Environment", true, false, key_environment },
	{ "Channel", false, false, key_channel },
};
_Static_assert(sizeof(keys) / sizeof(keys[0]) <=
		       sizeof(((struct mparse *)0)->seen) / sizeof(int),
	       "struct mparse: seen[] needs a slot per key");

static int parse_line(struct mparse *p, struct span line)
{
	const char *eq = memchr(line.s, '=', line.n);
	struct span key, val;
	size_t i;

	if (!eq)
		return proto_error_set(p->err, PROTO_EUNPARSABLE,
				       "line %d: expected \"Key = Value\", got "
				       "\"%.*s\"", p->line,
				       (int)(line.n > 64 ? 64 : line.n), line.s);
	key = trim(line.s, (size_t)(eq - line.s));
	val = trim(eq + 1, (size_t)(line.s + line.n - eq - 1));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strlen(keys[i].name) != key.n ||
		    memcmp(keys[i].name, key.s, key.n) != 0)
			continue;
		if (keys[i].single && p->seen[i])
			return proto_error_set(p->err, PROTO_EUNPARSABLE,
					       "line %d: %s: duplicate key "
					       "(first given on line %d)",
					       p->line, keys[i].name,
					       p->seen[i]);
		if (!p->seen[i])
			p->seen[i] = p->line;
		return keys[i].parse(p, val);
	}
	return proto_error_set(p->err, PROTO_EUNPARSABLE,
			       "line %d: unknown key \"%.*s\"", p->line,
			       (int)(key.n > 64 ? 64 : key.n), key.s);
}

static int check_complete(struct mparse *p)
{
	static const char *const std[3] = {
		"/dev/stdin", "/dev/stdout", "/dev/stderr"
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].required && !p->seen[i])
			return proto_error_set(p->err, PROTO_EUNPARSABLE,
					       "line %d: end of manifest: "
					       "required key %s is missing",
					       p->line, keys[i].name);
	for (i = 0; i < 3; i++)
		if (!find_alias(p->m, std[i], strlen(std[i])))
			return proto_error_set(p->err, PROTO_EUNPARSABLE,
					       "line %d: end of manifest: no "
					       "Channel for %s", p->line,
					       std[i]);
	return 0;
}

int proto_manifest_parse(const char *text, size_t len,
			 struct proto_manifest **out,
			 struct proto_error *err)
{
	struct mparse p = { .err = err };
	const char *s = text, *end = text + len;

	*out = NULL;
	if (len > MANIFEST_MAX_SIZE)
		return proto_error_set(err, PROTO_ETOOLARGE,
				       "manifest is %zu bytes, the limit is %d",
				       len, MANIFEST_MAX_SIZE);
	p.m = calloc(1, sizeof(*p.m));
	if (!p.m)
		return oom(&p);
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end;
		struct span line = trim(s, (size_t)(e - s));

		p.line++;
		s = nl ? nl + 1 : end;
		if (memchr(line.s, '\0', line.n)) {
			proto_error_set(err, PROTO_EUNPARSABLE,
					"line %d: contains a NUL byte", p.line);
			goto fail;
		}
		if (line.n == 0 || line.s[0] == '#')
			continue;
		if (parse_line(&p, line) < 0)
			goto fail;
	}
	if (check_complete(&p) < 0)
		goto fail;
	*out = p.m;
	return 0;
fail:
	proto_manifest_free(p.m);
	return -1;
}

void proto_manifest_free(struct proto_manifest *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nchannels; i++) {
		free(m->channels[i].uri);
		free(m->channels[i].alias);
	}
	free(m->channels);
	free(m->version);
	free(m->program);
	free(m->node);
	free(m->job);
	free(m->image);
	proto_strv_free(m->argv, m->argc);
	proto_strv_free(m->env, m->nenv);
	free(m);
}

/* ------------------------------------------------------------ format */

/*
 * A value survives a round trip if it has no line break or NUL, no
 * leading/trailing blanks (the parser trims them) and, inside a
 * comma-separated value, no comma.
 */
static bool representable(const char *s, bool in_list)
{
	size_t n;

	if (!s || !*s)
		return false;
	n = strlen(s);
	if (is_blank(s[0]) || is_blank(s[n - 1]))
		return false;
	if (strpbrk(s, in_list ? "\n\r," : "\n\r"))
		return false;
	return true;
}

static bool env_representable(const char *kv)
{
	const char *eq = strchr(kv, '=');
	struct span k, v;

	if (!eq || eq == kv || strpbrk(kv, "\n\r,"))
		return false;
	k = trim(kv, (size_t)(eq - kv));
	v = trim(eq + 1, strlen(eq + 1));
	return k.n == (size_t)(eq - kv) && v.n == strlen(eq + 1);
}

static bool manifest_representable(const struct proto_manifest *m)
{
	size_t i;

	if (!representable(m->program, false) ||
	    (m->node && !representable(m->node, false)) ||
	    (m->job && !representable(m->job, false)) ||
	    (m->image && !representable(m->image, false)) ||
	    m->memory < 0 || m->timeout < 0 || m->image_tmp < 0)
		return false;
	for (i = 0; i < m->argc; i++)
		if (strpbrk(m->argv[i], "\n\r"))
			return false;
	for (i = 0; i < m->nenv; i++)
		if (!env_representable(m->env[i]))
			return false;
	for (i = 0; i < m->nchannels; i++) {
		const struct proto_manifest_channel *c = &m->channels[i];

		if (!representable(c->uri, true) ||
		    !representable(c->alias, true) || c->gets < 0 ||
		    c->get_size < 0 || c->puts < 0 || c->put_size < 0)
			return false;
	}
	return true;
}

char *proto_manifest_format(const struct proto_manifest *m)
{
	struct pbuf b;
	size_t i;

	if (!m || !manifest_representable(m))
		return NULL;
	pbuf_init(&b);
	pbuf_printf(&b, "Version = %s\nProgram = %s\nMemory = %lld, %d\n"
			"Timeout = %lld\n", PROTO_MANIFEST_VERSION, m->program,
		    (long long)m->memory, m->memory_etag ? 1 : 0,
		    (long long)m->timeout);
	if (m->node)
		pbuf_printf(&b, "Node = %s\n", m->node);
	if (m->job)
		pbuf_printf(&b, "Job = %s\n", m->job);
	if (m->image)
		pbuf_printf(&b, "Image = %s\n", m->image);
	if (m->image_tmp)
		pbuf_printf(&b, "ImageTmp = %lld\n", (long long)m->image_tmp);
	if (m->argc) {
		pbuf_puts(&b, "CommandLine =");
		for (i = 0; i < m->argc; i++) {
			pbuf_add(&b, " ", 1);
			args_quote(&b, m->argv[i]);
		}
		pbuf_add(&b, "\n", 1);
	}
	if (m->nenv) {
		pbuf_puts(&b, "Environment = ");
		for (i = 0; i < m->nenv; i++) {
			const char *eq = strchr(m->env[i], '=');

			pbuf_add(&b, m->env[i], (size_t)(eq - m->env[i]));
			pbuf_printf(&b, ",%s%s", eq + 1,
				    i + 1 < m->nenv ? "," : "\n");
		}
	}
	for (i = 0; i < m->nchannels; i++) {
		const struct proto_manifest_channel *c = &m->channels[i];

		pbuf_printf(&b, "Channel = %s, %s, %d, %d, %lld, %lld, %lld, "
				"%lld\n", c->uri, c->alias, (int)c->type,
			    c->etag ? 1 : 0, (long long)c->gets,
			    (long long)c->get_size, (long long)c->puts,
			    (long long)c->put_size);
	}
	return pbuf_take(&b);
}
