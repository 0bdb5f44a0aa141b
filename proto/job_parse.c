/*
 * job_parse.c — the ZeroCloud job description (JSON "servlet") into
 * groups, checking every rule that needs no listing: fields, types,
 * names, devices, paths, limits. Errors name the group, the field and the
 * problem: `group "map": devices[1]: readable device must be a swift://
 * object`.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

int jerr(struct jctx *c, enum proto_error_kind kind, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->where[0])
		return proto_error_set(c->err, kind, "%s: %s", c->where, msg);
	return proto_error_set(c->err, kind, "%s", msg);
}

int joom(struct jctx *c)
{
	return proto_error_set(c->err, PROTO_EINTERNAL, "out of memory");
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Names that become aliases (/dev/in/<name>) and file names. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
		      ch == '.'))
			return false;
	}
	return true;
}

const char *json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* A string field: NULL if absent; error if present and not a clean string. */
static int get_string(struct jctx *c, json_t *obj, const char *key,
		      const char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return jerr(c, PROTO_EBADJOB, "%s: must be a string, got %s",
			    key, json_kind(v));
	if (has_ctl(json_string_value(v)))
		return jerr(c, PROTO_EBADJOB,
			    "%s: must not contain control characters", key);
	*out = arena_strdup(c->a, json_string_value(v));
	return *out ? 0 : joom(c);
}

static int check_fields(struct jctx *c, json_t *obj, const char *const *ok)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		size_t i;

		for (i = 0; ok[i]; i++)
			if (strcmp(key, ok[i]) == 0)
				break;
		if (!ok[i])
			return jerr(c, PROTO_EBADJOB, "unknown field \"%.64s\"",
				    key);
	}
	return 0;
}

/* ------------------------------------------------------------ paths */

const char *job_name_problem(const char *s, bool object, bool wild)
{
	const char *p = s;
	size_t max = object ? 1024 : 256;

	if (!*s)
		return "is empty";
	if (strlen(s) > max)
		return object ? "is longer than 1024 bytes"
			      : "is longer than 256 bytes";
	if (has_ctl(s))
		return "contains control characters";
	if (!wild && strchr(s, '*'))
		return "must not contain '*' here";
	if (!object && strchr(s, '/'))
		return "must not contain '/'";
	for (;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n == 0)
			return "has an empty path segment";
		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return "has a '.' or '..' segment";
		if (!e)
			return NULL;
		p = e + 1;
	}
}

static int swift_path(struct jctx *c, const char *url, struct jpath *p)
{
	const char *rest = url + strlen("swift://");
	const char *s1 = strchr(rest, '/'), *s2, *why;
	char *acct;

	if (!s1 || s1 == rest)
		return jerr(c, PROTO_EBADJOB,
			    "path \"%.128s\": expected swift://account/"
			    "container[/object]", url);
	acct = arena_strndup(c->a, rest, (size_t)(s1 - rest));
	if (!acct)
		return joom(c);
	if (strcmp(acct, "~") == 0 || strcmp(acct, ".") == 0) {
		p->account = c->account;
	} else {
		if ((why = job_name_problem(acct, false, false)))
			return jerr(c, PROTO_EBADJOB,
				    "path \"%.128s\": account %s", url, why);
		p->account = acct;
	}
	s2 = strchr(s1 + 1, '/');
	p->container = s2 ? arena_strndup(c->a, s1 + 1, (size_t)(s2 - s1 - 1))
			  : arena_strdup(c->a, s1 + 1);
	p->object = s2 ? arena_strdup(c->a, s2 + 1) : NULL;
	if (!p->container || (s2 && !p->object))
		return joom(c);
	if ((why = job_name_problem(p->container, false, true)))
		return jerr(c, PROTO_EBADJOB, "path \"%.128s\": container %s",
			    url, why);
	if (p->object && (why = job_name_problem(p->object, true, true)))
		return jerr(c, PROTO_EBADJOB, "path \"%.128s\": object %s",
			    url, why);
	p->wild = strchr(p->container, '*') ||
		  (p->object && strchr(p->object, '*'));
	p->kind = PATH_SWIFT;
	return 0;
}

static int file_path(struct jctx *c, const char *url, struct jpath *p)
{
	const char *rest = url + strlen("file://");
	const char *colon = strchr(rest, ':');
	const char *file = colon ? colon + 1 : rest;
	size_t i;

	p->kind = PATH_FILE;
	if (colon) {
		p->image = arena_strndup(c->a, rest, (size_t)(colon - rest));
		if (!p->image)
			return joom(c);
		for (i = 0; i < c->nsysimages; i++)
			if (strcmp(c->sysimages[i], p->image) == 0)
				break;
		if (i == c->nsysimages)
			return jerr(c, PROTO_EBADJOB,
				    "path \"%.128s\": no system image named "
				    "\"%.64s\"", url, p->image);
	}
	while (*file == '/')
		file++;
	if (job_name_problem(file, true, false) || strchr(file, '*'))
		return jerr(c, PROTO_EBADJOB,
			    "path \"%.128s\": expected file://[image:]path "
			    "with a relative path and no '.', '..' or empty "
			    "segments", url);
	p->file = arena_strdup(c->a, file);
	return p->file ? 0 : joom(c);
}

static int zvm_path(struct jctx *c, const char *url, struct jpath *p)
{
	const char *rest = url + strlen("zvm://");
	const char *colon = strchr(rest, ':');
	const char *dev;

	if (!colon || colon == rest || !colon[1])
		return jerr(c, PROTO_EBADJOB,
			    "path \"%.128s\": expected zvm://group:device",
			    url);
	p->kind = PATH_ZVM;
	p->node = arena_strndup(c->a, rest, (size_t)(colon - rest));
	dev = colon + 1;
	if (strncmp(dev, "/dev/", 5) == 0)
		dev += 5;
	if (job_name_problem(dev, true, false) ||
	    strncmp(dev, "in/", 3) == 0 || strncmp(dev, "out/", 4) == 0)
		return jerr(c, PROTO_EBADJOB,
			    "path \"%.128s\": device must be a name under "
			    "/dev/ outside /dev/in/ and /dev/out/", url);
	p->device = arena_printf(c->a, "/dev/%s", dev);
	return p->node && p->device ? 0 : joom(c);
}

int job_path(struct jctx *c, const char *url, struct jpath *p)
{
	memset(p, 0, sizeof(*p));
	p->url = url;
	if (strncmp(url, "swift://", 8) == 0)
		return swift_path(c, url, p);
	if (strncmp(url, "file://", 7) == 0)
		return file_path(c, url, p);
	if (strncmp(url, "zvm://", 6) == 0)
		return zvm_path(c, url, p);
	return jerr(c, PROTO_EBADJOB,
		    "path \"%.128s\": expected swift://, file:// or zvm://",
		    url);
}

/* ---------------------------------------------------------- devices */

static const struct {
	const char *name;
	int dir;
	enum proto_access type;
} known_devs[] = {
	[DEV_STDIN] = { "stdin", PROTO_READ, PROTO_SGET_SPUT },
	[DEV_STDOUT] = { "stdout", PROTO_WRITE, PROTO_SGET_SPUT },
	[DEV_STDERR] = { "stderr", PROTO_WRITE, PROTO_SGET_SPUT },
	[DEV_INPUT] = { "input", PROTO_READ, PROTO_RGET_SPUT },
	[DEV_OUTPUT] = { "output", PROTO_WRITE, PROTO_SGET_RPUT },
	[DEV_SCRIPT] = { "script", PROTO_READ, PROTO_RGET_SPUT },
	[DEV_IMAGE] = { "image", PROTO_READ, PROTO_RGET_SPUT },
	[DEV_DEBUG] = { "debug", PROTO_WRITE, PROTO_SGET_SPUT },
};

static int device_id(struct jctx *c, const char *name, struct jdev *d)
{
	size_t i;

	for (i = 0; i < sizeof(known_devs) / sizeof(known_devs[0]); i++)
		if (strcmp(known_devs[i].name, name) == 0) {
			d->id = (enum dev_id)i;
			d->dir = known_devs[i].dir;
			d->type = known_devs[i].type;
			return 0;
		}
	for (i = 0; i < c->nsysimages; i++)
		if (strcmp(c->sysimages[i], name) == 0) {
			d->id = DEV_SYSIMAGE;
			d->dir = PROTO_READ;
			d->type = PROTO_RGET_SPUT;
			return 0;
		}
	return jerr(c, PROTO_EBADJOB, "unknown device \"%.64s\" (known: "
		    "stdin, stdout, stderr, input, output, script, image, "
		    "debug%s)", name, c->nsysimages ? " and system images" : "");
}

/* Swift's metadata constraints (swift/common/constraints.py). */
static int parse_meta(struct jctx *c, json_t *meta, struct jdev *d)
{
	size_t total = 0, i = 0;
	const char *key;
	json_t *v;

	if (!json_is_object(meta))
		return jerr(c, PROTO_EBADJOB, "meta: must be an object, got %s",
			    json_kind(meta));
	if (json_object_size(meta) > 90)
		return jerr(c, PROTO_EBADJOB, "meta: more than 90 items");
	d->meta = arena_alloc(c->a, json_object_size(meta) * sizeof(*d->meta) + 1);
	if (!d->meta)
		return joom(c);
	json_object_foreach(meta, key, v) {
		if (!json_is_string(v))
			return jerr(c, PROTO_EBADJOB,
				    "meta: \"%.64s\" must be a string, got %s",
				    key, json_kind(v));
		if (!*key || strlen(key) > 128 || has_ctl(key) ||
		    strpbrk(key, ": "))
			return jerr(c, PROTO_EBADJOB,
				    "meta: name \"%.64s\" must be 1..128 "
				    "characters without ':', blanks or control "
				    "characters", key);
		if (strlen(json_string_value(v)) > 256 ||
		    has_ctl(json_string_value(v)))
			return jerr(c, PROTO_EBADJOB,
				    "meta: value of \"%.64s\" must be at most "
				    "256 characters without control characters",
				    key);
		total += strlen(key) + strlen(json_string_value(v));
		if (total > 4096)
			return jerr(c, PROTO_EBADJOB,
				    "meta: more than 4096 bytes in total");
		d->meta[i].key = arena_strdup(c->a, key);
		d->meta[i].value = arena_strdup(c->a, json_string_value(v));
		if (!d->meta[i].key || !d->meta[i].value)
			return joom(c);
		i++;
	}
	d->nmeta = i;
	return 0;
}

static int parse_device_fields(struct jctx *c, json_t *j, struct jdev *d)
{
	static const char *const modes[] = { "file", "char", "pipe", "block" };
	json_t *v;
	size_t i;

	if (get_string(c, j, "content_type", &d->content_type) < 0 ||
	    get_string(c, j, "mode", &d->mode) < 0)
		return -1;
	if (d->mode) {
		for (i = 0; i < 4; i++)
			if (strcmp(d->mode, modes[i]) == 0)
				break;
		if (i == 4)
			return jerr(c, PROTO_EBADJOB,
				    "mode: must be file, char, pipe or block, "
				    "got \"%.32s\"", d->mode);
	}
	v = json_object_get(j, "min_size");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0))
		return jerr(c, PROTO_EBADJOB,
			    "min_size: must be a non-negative integer");
	if (v)
		d->min_size = (uint64_t)json_integer_value(v);
	v = json_object_get(j, "meta");
	if (v && parse_meta(c, v, d) < 0)
		return -1;
	return 0;
}

/* What a path may be on this device (ZeroCloud's rules plus ours). */
static int check_device_path(struct jctx *c, struct jdev *d)
{
	const struct jpath *p = &d->path;

	if (d->id == DEV_SYSIMAGE)
		return p->kind == PATH_NONE ? 0 :
		       jerr(c, PROTO_EBADJOB,
			    "system image device \"%.64s\" takes no path",
			    d->name);
	if (p->kind == PATH_NONE) {
		if (d->id == DEV_IMAGE || d->id == DEV_DEBUG ||
		    d->id == DEV_OUTPUT)
			return jerr(c, PROTO_EBADJOB,
				    "device \"%s\" needs a path%s", d->name,
				    d->id == DEV_OUTPUT ?
				    " (only stdout and stderr can be an "
				    "immediate response)" : "");
		return 0;
	}
	if (p->kind == PATH_ZVM)
		return d->dir == PROTO_WRITE ? 0 :
		       jerr(c, PROTO_EBADJOB,
			    "zvm:// path on readable device \"%s\": give the "
			    "zvm:// path to the writing device instead",
			    d->name);
	if (d->id == DEV_IMAGE && p->kind == PATH_FILE) {
		if (!p->image)
			return jerr(c, PROTO_EBADJOB,
				    "image: a file:// path must name a system "
				    "image (file://<image>:<path>)");
		return 0;
	}
	if (p->kind != PATH_SWIFT)
		return jerr(c, PROTO_EBADJOB, d->dir == PROTO_READ ?
			    "readable device must be a swift:// object" :
			    "writable device must be a swift:// object or a "
			    "zvm:// peer");
	if (d->dir == PROTO_WRITE && !p->object)
		return jerr(c, PROTO_EBADJOB,
			    "path \"%.128s\": a container path is read-only; "
			    "a writable device needs an object", p->url);
	if (d->id == DEV_IMAGE && (!p->object || p->wild))
		return jerr(c, PROTO_EBADJOB,
			    "image: path must be one swift:// object, without "
			    "wildcards");
	return 0;
}

static int parse_device(struct jctx *c, struct jgroup *g, json_t *j,
			size_t di, const char *list)
{
	static const char *const fields[] = {
		"name", "device", "path", "content_type", "meta", "mode",
		"min_size", NULL
	};
	size_t base = strlen(c->where);
	struct jdev *d = &g->devs[di];
	const char *dev_name, *alt, *path;
	size_t i;

	snprintf(c->where + base, sizeof(c->where) - base, ": %s[%zu]", list,
		 di);
	if (!json_is_object(j))
		return jerr(c, PROTO_EBADJOB, "must be an object, got %s",
			    json_kind(j));
	if (check_fields(c, j, fields) < 0 ||
	    get_string(c, j, "name", &dev_name) < 0 ||
	    get_string(c, j, "device", &alt) < 0 ||
	    get_string(c, j, "path", &path) < 0)
		return -1;
	if (dev_name && alt)
		return jerr(c, PROTO_EBADJOB,
			    "give \"name\" or \"device\", not both");
	d->name = dev_name ? dev_name : alt;
	if (!d->name)
		return jerr(c, PROTO_EBADJOB, "name: missing (the device, "
			    "like \"stdin\" or \"output\")");
	if (device_id(c, d->name, d) < 0)
		return -1;
	for (i = 0; i < di; i++)
		if (strcmp(g->devs[i].name, d->name) == 0)
			return jerr(c, PROTO_EBADJOB,
				    "device \"%s\" is already declared in "
				    "%s[%zu]", d->name, list, i);
	if (path && job_path(c, path, &d->path) < 0)
		return -1;
	if (check_device_path(c, d) < 0 || parse_device_fields(c, j, d) < 0)
		return -1;
	c->where[base] = '\0';
	return 0;
}

static int parse_devices(struct jctx *c, struct jgroup *g, json_t *j)
{
	json_t *devs = json_object_get(j, "devices");
	json_t *legacy = json_object_get(j, "file_list");
	const char *list = legacy ? "file_list" : "devices";
	json_t *v;
	size_t i;

	g->wild_dev = -1;
	g->list = list;
	if (devs && legacy)
		return jerr(c, PROTO_EBADJOB, "give \"devices\" or its old "
			    "name \"file_list\", not both");
	if (legacy)
		devs = legacy;
	if (!devs)
		return 0;
	if (!json_is_array(devs))
		return jerr(c, PROTO_EBADJOB, "%s: must be an array, got %s",
			    list, json_kind(devs));
	if (json_array_size(devs) > c->lim.max_devices)
		return jerr(c, PROTO_ETOOLARGE,
			    "%s: %zu devices, the limit is %zu", list,
			    json_array_size(devs), c->lim.max_devices);
	g->ndev = json_array_size(devs);
	g->devs = arena_alloc(c->a, g->ndev * sizeof(*g->devs) + 1);
	if (!g->devs)
		return joom(c);
	json_array_foreach(devs, i, v) {
		struct jdev *d = &g->devs[i];

		if (parse_device(c, g, v, i, list) < 0)
			return -1;
		if (!(d->dir & PROTO_READ) || !d->path.wild)
			continue;
		if (g->wild_dev >= 0)
			return jerr(c, PROTO_EBADJOB,
				    "%s[%zu]: only one readable device may "
				    "have a wildcard (%s[%ld] has one)", list,
				    i, list, g->wild_dev);
		g->wild_dev = (long)i;
	}
	return 0;
}

/* ------------------------------------------------------------- exec */

static int env_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t nx = strcspn(x, "="), ny = strcspn(y, "=");
	int r = memcmp(x, y, nx < ny ? nx : ny);

	return r ? r : (nx > ny) - (nx < ny);
}

static int parse_env(struct jctx *c, struct jgroup *g, json_t *env)
{
	const char *key;
	json_t *v;
	size_t i = 0;

	if (!json_is_object(env))
		return jerr(c, PROTO_EBADJOB,
			    "exec: env: must be an object of strings, got %s",
			    json_kind(env));
	g->env = arena_alloc(c->a, (json_object_size(env) + 1) * sizeof(char *));
	if (!g->env)
		return joom(c);
	json_object_foreach(env, key, v) {
		if (!json_is_string(v))
			return jerr(c, PROTO_EBADJOB,
				    "exec: env: \"%.64s\" must be a string, "
				    "got %s", key, json_kind(v));
		if (!*key || strchr(key, '=') || has_ctl(key) ||
		    has_ctl(json_string_value(v)))
			return jerr(c, PROTO_EBADJOB,
				    "exec: env: \"%.64s\": names must be "
				    "non-empty without '='; no control "
				    "characters", key);
		g->env[i] = arena_printf(c->a, "%s=%s", key,
					 json_string_value(v));
		if (!g->env[i++])
			return joom(c);
	}
	g->nenv = i;
	qsort(g->env, g->nenv, sizeof(char *), env_cmp);
	return 0;
}

static int parse_args(struct jctx *c, struct jgroup *g, const char *argv0,
		      const char *args)
{
	char **v = NULL;
	size_t n = 0, i;
	struct proto_error e;

	if (args && proto_args_split(args, &v, &n, &e) < 0)
		return e.kind == PROTO_EINTERNAL ? joom(c) :
		       jerr(c, PROTO_EBADJOB, "exec: args: %s", e.msg);
	g->argc = n + 1;
	g->argv = arena_alloc(c->a, (n + 2) * sizeof(char *));
	if (!g->argv) {
		proto_strv_free(v, n);
		return joom(c);
	}
	g->argv[0] = (char *)argv0;
	for (i = 0; i < n; i++)
		if (!(g->argv[i + 1] = arena_strdup(c->a, v[i])))
			break;
	proto_strv_free(v, n);
	return i == n ? 0 : joom(c);
}

static int parse_exec(struct jctx *c, struct jgroup *g, json_t *j)
{
	static const char *const fields[] = {
		"path", "args", "env", "name", "deterministic", "memory_etag",
		NULL
	};
	json_t *ex = json_object_get(j, "exec"), *env, *det, *mem;
	const char *path, *args, *name, *group_args;
	struct jpath p;

	if (!ex)
		return jerr(c, PROTO_EBADJOB, "exec: missing (the program "
			    "to run: {\"path\": \"swift://...\"})");
	if (!json_is_object(ex))
		return jerr(c, PROTO_EBADJOB, "exec: must be an object, got %s",
			    json_kind(ex));
	strncat(c->where, ": exec", sizeof(c->where) - strlen(c->where) - 1);
	if (check_fields(c, ex, fields) < 0 ||
	    get_string(c, ex, "path", &path) < 0 ||
	    get_string(c, ex, "args", &args) < 0 ||
	    get_string(c, ex, "name", &name) < 0)
		return -1;
	if (!path)
		return jerr(c, PROTO_EBADJOB, "path: missing");
	if (job_path(c, path, &p) < 0)
		return -1;
	if (p.kind == PATH_ZVM || (p.kind == PATH_SWIFT && (!p.object || p.wild)))
		return jerr(c, PROTO_EBADJOB,
			    "path \"%.128s\": the program must be one "
			    "swift:// object (no wildcards) or a file:// path",
			    path);
	if (name && !*name)
		return jerr(c, PROTO_EBADJOB, "name: is empty");
	det = json_object_get(ex, "deterministic");
	if (det && !json_is_boolean(det))
		return jerr(c, PROTO_EBADJOB, "deterministic: must be true or "
			    "false, got %s", json_kind(det));
	g->deterministic = !det || json_is_true(det);
	mem = json_object_get(ex, "memory_etag");
	if (mem && !json_is_boolean(mem))
		return jerr(c, PROTO_EBADJOB, "memory_etag: must be true or "
			    "false, got %s", json_kind(mem));
	g->memory_etag = json_is_true(mem);
	*strrchr(c->where, ':') = '\0';
	if (get_string(c, j, "args", &group_args) < 0)
		return -1;
	if (group_args && args)
		return jerr(c, PROTO_EBADJOB, "args: given both in the group "
			    "and in exec; keep exec.args");
	if (p.kind == PATH_SWIFT) {
		g->exec_kind = PROTO_EXEC_OBJECT;
		g->exec_path = arena_printf(c->a, "%s/%s/%s", p.account,
					    p.container, p.object);
	} else if (p.image) {
		g->exec_kind = PROTO_EXEC_IMAGE;
		g->exec_path = arena_printf(c->a, "%s:%s", p.image, p.file);
	} else {
		g->exec_kind = PROTO_EXEC_JOB_IMAGE;
		g->exec_path = p.file;
	}
	if (!g->exec_path)
		return joom(c);
	env = json_object_get(ex, "env");
	if (env && parse_env(c, g, env) < 0)
		return -1;
	if (!env && !(g->env = arena_alloc(c->a, sizeof(char *))))
		return joom(c);
	return parse_args(c, g, name ? name : g->name,
			  args ? args : group_args);
}

/* ------------------------------------------------------------ group */

static int parse_connect(struct jctx *c, struct jgroup *g, json_t *j)
{
	json_t *v = json_object_get(j, "connect"), *e;
	size_t i, k;

	if (!v)
		return 0;
	if (!json_is_array(v))
		return jerr(c, PROTO_EBADJOB,
			    "connect: must be an array of group names, got %s",
			    json_kind(v));
	g->nconnect = json_array_size(v);
	g->connect_names = arena_alloc(c->a, g->nconnect * sizeof(char *) + 1);
	g->connect = arena_alloc(c->a, g->nconnect * sizeof(size_t) + 1);
	if (!g->connect_names || !g->connect)
		return joom(c);
	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			return jerr(c, PROTO_EBADJOB,
				    "connect[%zu]: must be a group name, got %s",
				    i, json_kind(e));
		for (k = 0; k < i; k++)
			if (strcmp(g->connect_names[k],
				   json_string_value(e)) == 0)
				return jerr(c, PROTO_EBADJOB,
					    "connect[%zu]: \"%.64s\" is listed "
					    "twice", i, json_string_value(e));
		g->connect_names[i] = arena_strdup(c->a, json_string_value(e));
		if (!g->connect_names[i])
			return joom(c);
	}
	return 0;
}

static int parse_numbers(struct jctx *c, struct jgroup *g, json_t *j)
{
	json_t *count = json_object_get(j, "count");
	json_t *rep = json_object_get(j, "replicate");

	g->count = 1;
	g->replicate = 1;
	if (count) {
		if (!json_is_integer(count) || json_integer_value(count) < 1)
			return jerr(c, PROTO_EBADJOB,
				    "count: must be a positive integer");
		g->count = json_integer_value(count);
		if ((uint64_t)g->count > c->lim.max_instances)
			return jerr(c, PROTO_ETOOLARGE,
				    "count: %lld instances, the limit is %zu",
				    (long long)g->count, c->lim.max_instances);
	}
	if (rep) {
		if (!json_is_integer(rep) || json_integer_value(rep) < 0 ||
		    json_integer_value(rep) > 3)
			return jerr(c, PROTO_EBADJOB,
				    "replicate: must be an integer 0..3");
		g->replicate = (int)json_integer_value(rep);
	}
	return 0;
}

static int parse_group(struct jctx *c, json_t *j, size_t gi)
{
	static const char *const fields[] = {
		"name", "exec", "devices", "file_list", "count", "connect",
		"replicate", "attach", "location", "args", NULL
	};
	struct jgroup *g = &c->g[gi];
	size_t i;

	snprintf(c->where, sizeof(c->where), "group [%zu]", gi);
	if (!json_is_object(j))
		return jerr(c, PROTO_EBADJOB, "must be an object, got %s",
			    json_kind(j));
	if (get_string(c, j, "name", &g->name) < 0)
		return -1;
	if (!g->name)
		return jerr(c, PROTO_EBADJOB, "name: missing");
	if (!name_ok(g->name))
		return jerr(c, PROTO_EBADJOB,
			    "name: \"%.64s\" must be 1..64 letters, digits, "
			    "'_', '-' or '.', not starting with '.' or '-'",
			    g->name);
	for (i = 0; i < gi; i++)
		if (strcmp(c->g[i].name, g->name) == 0)
			return jerr(c, PROTO_EBADJOB,
				    "name: \"%s\" is also the name of group "
				    "[%zu]", g->name, i);
	snprintf(c->where, sizeof(c->where), "group \"%s\"", g->name);
	if (check_fields(c, j, fields) < 0 || parse_exec(c, g, j) < 0 ||
	    parse_devices(c, g, j) < 0 || parse_connect(c, g, j) < 0 ||
	    parse_numbers(c, g, j) < 0 ||
	    get_string(c, j, "attach", &g->attach) < 0 ||
	    get_string(c, j, "location", &g->location) < 0)
		return -1;
	if (g->attach && strcmp(g->attach, "default") == 0)
		g->attach = NULL;
	return 0;
}

int job_parse(struct jctx *c, const char *json, size_t len)
{
	json_error_t jerror;
	json_t *root, *v;
	size_t i;
	int rc = -1;

	c->where[0] = '\0';
	if (len > c->lim.max_job_size)
		return jerr(c, PROTO_ETOOLARGE,
			    "job is %zu bytes, the limit is %zu", len,
			    c->lim.max_job_size);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerror);
	if (!root)
		return jerr(c, PROTO_EUNPARSABLE,
			    "job is not valid JSON: line %d, column %d: %s",
			    jerror.line, jerror.column, jerror.text);
	if (!json_is_array(root) || json_array_size(root) == 0) {
		jerr(c, PROTO_EBADJOB, "job must be a non-empty JSON array "
		     "of groups, got %s", json_is_array(root) ?
		     "an empty array" : json_kind(root));
		goto out;
	}
	if (json_array_size(root) > c->lim.max_groups) {
		jerr(c, PROTO_ETOOLARGE, "job has %zu groups, the limit is %zu",
		     json_array_size(root), c->lim.max_groups);
		goto out;
	}
	c->ng = json_array_size(root);
	c->g = arena_alloc(c->a, c->ng * sizeof(*c->g));
	if (!c->g) {
		joom(c);
		goto out;
	}
	json_array_foreach(root, i, v)
		if (parse_group(c, v, i) < 0)
			goto out;
	c->where[0] = '\0';
	rc = 0;
out:
	json_decref(root);
	return rc;
}
