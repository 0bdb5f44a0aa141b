/* cluster_prep.c — the coordinator's planning phase (CLUSTER.md,
 * "Coordinator planning"), in a uv work-queue thread.
 *
 * Swift stays the authority (DESIGN.md, decision 6): every question about
 * what the user may see goes to the proxy with the user's own token, and
 * nothing runs unless every answer was yes:
 *
 *   1. plan the job; wildcards are expanded from container listings
 *      (GET ?format=json, every page);
 *   2. HEAD every input object and program: 403/404 fail the job with
 *      that status, naming the object; the answers (etag, size,
 *      timestamp) become the task's `objects`, which workers check the
 *      bytes they read against. An object found in a listing the user
 *      read is not asked again when its entry is plainly the object's
 *      own bytes (listed_usable): the listing already answered for it;
 *   3. probe every swift:// output with a PUT that has no body and no
 *      Content-Length: Swift authorises it, then refuses it with 411, so
 *      "411" means "may write" and no object is ever created;
 *   4. place the instances (cluster_place.c) on the nodes of the object
 *      ring of each container's storage policy, asking each worker's
 *      GET /healthcheck.
 *
 * The HTTP is blocking (zvmd_http_fetch): this thread does nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "internal.h"

/* A listing page of 10 000 names of up to 1 KiB, in JSON. */
#define LISTING_MAX (32u << 20)
#define PROXY_CONNECT_MS 5000
/* A worker that does not answer /healthcheck this fast is not used. */
#define HEALTH_CONNECT_MS 500
#define HEALTH_TIMEOUT_MS 2000

struct prep_ctx {
	struct zvmd_prep *p;
	char base[256];         /* proxy_url without a trailing '/' */
	char auth[4200];        /* "X-Auth-Token: ..." */
	/* auth, and X-Newest: the proxy asks every primary and answers with
	 * the newest copy (else the first primary to answer, which may hold
	 * an old version the replicators have not replaced yet). */
	const char *headers[3];
	/* Storage policy of the containers met so far. */
	char **conts;
	int *policies;
	size_t nconts;
	/* Workers asked for their /healthcheck so far, and the answers. */
	char (*ips)[64];
	bool *up;
	size_t nips;
	const char *skip;       /* an IP taken as down (alternatives) */
	/* Plain objects as their containers' listings showed them, sorted
	 * by path once the plan is made (see listed_usable). */
	struct proto_object *listed;
	size_t nlisted, listed_cap;
};

static int fail(struct zvmd_prep *p, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct zvmd_prep *p, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	p->status = status;
	return -1;
}

/* "/v1/<acct>[/<cont>[/<obj>]]", each part percent-encoded. malloc'd. */
static char *swift_path(const char *acct, const char *cont, const char *obj)
{
	char *a = zvmd_url_escape(acct);
	char *c = cont ? zvmd_url_escape(cont) : NULL;
	char *o = obj ? zvmd_url_escape(obj) : NULL, *out = NULL;

	if (a && (!cont || c) && (!obj || o) &&
	    asprintf(&out, "/v1/%s%s%s%s%s", a, c ? "/" : "", c ? c : "",
		     o ? "/" : "", o ? o : "") < 0)
		out = NULL;
	free(a);
	free(c);
	free(o);
	return out;
}

/* "acct/cont/obj" -> its three parts (in buf). */
static int split_object(const char *path, char *buf, size_t cap,
			const char **acct, const char **cont, const char **obj)
{
	char *s1, *s2;

	if (snprintf(buf, cap, "%s", path) >= (int)cap)
		return -1;
	s1 = strchr(buf, '/');
	s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (!s2)
		return -1;
	*s1 = *s2 = '\0';
	*acct = buf;
	*cont = s1 + 1;
	*obj = s2 + 1;
	return 0;
}

/* The length of "acct/cont" in path "acct/cont/obj" (split_object or
 * check_url checked its shape). */
static int acct_cont_len(const char *path)
{
	return (int)(strchr(strchr(path, '/') + 1, '/') - path);
}

/* A request to the proxy with the user's token (c->headers). */
static void proxy_opts(struct prep_ctx *c, const char *method,
		       const char *url, struct zvmd_http_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->method = method;
	o->url = url;
	o->headers = c->headers;
	o->connect_timeout_ms = PROXY_CONNECT_MS;
	o->low_speed_bytes = 1;
	o->low_speed_secs = 60;
}

/* The 502 of a request the proxy did not answer. */
static int proxy_unreachable(struct prep_ctx *c, const char *method,
			     const char *url, const struct proto_error *err)
{
	return fail(c->p, 502, "the Swift proxy %s did not answer %s %s: %s",
		    c->base, method, url + strlen(c->base), err->msg);
}

/* One blocking request to the proxy with the user's token. query is
 * appended as is (already encoded). */
static int proxy_call(struct prep_ctx *c, const char *method, const char *path,
		      const char *query, size_t max_body,
		      struct zvmd_http_fetched *out)
{
	struct zvmd_http_opts o;
	struct proto_error err;
	char *url;
	int rc;

	if (asprintf(&url, "%s%s%s", c->base, path, query ? query : "") < 0)
		return fail(c->p, 500, "out of memory");
	proxy_opts(c, method, url, &o);
	rc = zvmd_http_fetch(&o, max_body, out, &err);
	if (rc)
		proxy_unreachable(c, method, url, &err);
	free(url);
	return rc;
}

/* --------------------------------------------------------- listings */

/* The storage policy of container key ("acct/cont") if known: its
 * index, else -1. */
static int policy_find(const struct prep_ctx *c, const char *key)
{
	for (size_t i = 0; i < c->nconts; i++)
		if (!strcmp(c->conts[i], key))
			return c->policies[i];
	return -1;
}

/* Remember the storage policy of container key ("acct/cont") from an
 * answer to its HEAD or listing (NULL: none). A container the user may
 * read objects of but not list (.r: without .rlistings) answers 403: its
 * objects are then placed with the default policy's ring — the worker
 * reads through the proxy if the object is not where that ring says. */
static int policy_record(struct prep_ctx *c, const char *key,
			 const struct zvmd_http_response *r)
{
	const swift_conf *conf = &c->p->cl->conf;
	const swift_policy *pol = swift_conf_default_policy(conf);
	const char *name = r ? zvmd_http_header(r, "X-Storage-Policy") : NULL;
	const swift_policy *named = name && r->status / 100 == 2 ?
		swift_conf_policy_by_name(conf, name) : NULL;
	char **conts;
	int *pols;

	if (named)
		pol = named;
	conts = realloc(c->conts, (c->nconts + 1) * sizeof(*conts));
	if (conts)
		c->conts = conts;
	pols = realloc(c->policies, (c->nconts + 1) * sizeof(*pols));
	if (pols)
		c->policies = pols;
	if (conts && pols && (conts[c->nconts] = strdup(key))) {
		pols[c->nconts] = pol ? pol->index : 0;
		c->nconts++;
	}
	return pol ? pol->index : 0;
}

static int listing_status(struct zvmd_prep *p, long status, const char *what,
			  struct proto_error *err)
{
	if (status == 401 || status == 403)
		return proto_error_set(err, PROTO_EFORBIDDEN, "listing %s: "
				       "refused by Swift (%ld)", what, status);
	if (status == 404)
		return proto_error_set(err, PROTO_ENOTFOUND, "listing %s: not "
				       "found", what);
	p->status = 502;
	return proto_error_set(err, PROTO_EINTERNAL, "listing %s: the Swift "
			       "proxy answered %ld", what, status);
}

/* ------------------------------------------------- listed objects */

/* A listing's last_modified ("2026-11-27T13:00:00.123450", UTC) as an
 * X-Timestamp ("1795784400.12345"). malloc'd; NULL if unparsable. */
static char *listed_timestamp(const char *iso)
{
	struct tm tm = { 0 };
	char frac[8] = "0", *out;
	int n = 0;

	if (!iso || sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year,
			   &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			   &tm.tm_sec, &n) != 6)
		return NULL;
	if (iso[n] == '.' && sscanf(iso + n + 1, "%5[0-9]", frac) != 1)
		return NULL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if (asprintf(&out, "%lld.%.5s%.*s", (long long)timegm(&tm), frac,
		     5 - (int)strlen(frac), "00000") < 0)
		return NULL;
	return out;
}

static bool is_md5_hex(const char *s)
{
	size_t n = s ? strspn(s, "0123456789abcdef") : 0;

	return n == 32 && !s[n];
}

/*
 * May this listing entry stand for a HEAD of its object? A listing the
 * user may read proves that the user may read every object in it: Swift
 * has no per-object permissions, and its auth middlewares (tempauth,
 * keystoneauth) judge an object GET/HEAD by the container's read ACL
 * exactly as a listing GET, except that a referrer ACL (.r:) needs
 * .rlistings for the listing only — stricter for the listing. What a
 * listing does not prove is the authority of the bytes behind a
 * symlink (its target's container) or a large object manifest (its
 * segments' containers), and an expired object (X-Delete-At) is still
 * listed until the expirer removes it. So only entries that are plainly
 * an object's own bytes are used:
 *   - a positive size: symlinks and DLO manifests (the usual ones) are
 *     empty objects;
 *   - no symlink_path and no slo_etag: what the symlink and slo
 *     middlewares add to the entries of theirs;
 *   - an md5 hex etag: without the slo middleware an SLO's etag carries
 *     "; slo_etag=...".
 * Anything else is asked with a HEAD, as any object outside a listing.
 * Whatever a listing says, the worker still checks the .data it opens
 * against it (size, etag, expiry, manifest, symlink) and otherwise reads
 * through the proxy with the user's token, which Swift authorises (a
 * DLO manifest with a body of its own passes for a plain object here:
 * its bytes through Swift then differ from the listing's, 409, or Swift
 * refuses its segments, 403 — the one refusal that may come after other
 * instances started).
 * Freshness: the listing is asked with X-Newest (the newest of the
 * container's replicas), as a HEAD asks the object's; the two differ
 * only while a container update of an overwrite is pending, and then
 * the worker's copy differs from the listing (409) unless that node's
 * replica missed the same overwrite (then the job reads the version the
 * listing shows, as a GET without X-Newest may).
 */
static bool listed_usable(const json_t *e)
{
	json_t *bytes = json_object_get(e, "bytes");

	return json_is_integer(bytes) && json_integer_value(bytes) > 0 &&
	       !json_object_get(e, "symlink_path") &&
	       !json_object_get(e, "slo_etag") &&
	       is_md5_hex(json_string_value(json_object_get(e, "hash")));
}

/* Keep the usable entries of a listing page of acct/cont. */
static int listed_add(struct prep_ctx *c, const char *acct, const char *cont,
		      const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL), *e;
	size_t i;
	int rc = 0;

	json_array_foreach(j, i, e) {
		const char *name = json_string_value(json_object_get(e,
								    "name"));
		struct proto_object *o;

		if (!name || !listed_usable(e))
			continue;
		if (c->nlisted == c->listed_cap) {
			size_t cap = 2 * c->listed_cap + 64;

			o = realloc(c->listed, cap * sizeof(*o));
			if (!o) {
				rc = -1;
				break;
			}
			c->listed = o;
			c->listed_cap = cap;
		}
		o = &c->listed[c->nlisted];
		memset(o, 0, sizeof(*o));
		o->size = (uint64_t)json_integer_value(json_object_get(e,
								       "bytes"));
		o->timestamp = listed_timestamp(json_string_value(
				json_object_get(e, "last_modified")));
		o->etag = strdup(json_string_value(json_object_get(e, "hash")));
		if (asprintf(&o->path, "%s/%s/%s", acct, cont, name) < 0)
			o->path = NULL;
		if (!o->timestamp || !o->etag || !o->path) {
			free(o->timestamp);
			free(o->etag);
			free(o->path);
			continue;
		}
		c->nlisted++;
	}
	json_decref(j);
	return rc;
}

static int listed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct proto_object *)a)->path,
		      ((const struct proto_object *)b)->path);
}

/* The listing entry of acct/cont/obj path, or NULL. */
static const struct proto_object *listed_find(const struct prep_ctx *c,
					      const char *path)
{
	struct proto_object key = { .path = (char *)path };

	return c->nlisted ? bsearch(&key, c->listed, c->nlisted,
				    sizeof(key), listed_cmp) : NULL;
}

static void listed_free(struct prep_ctx *c)
{
	for (size_t i = 0; i < c->nlisted; i++) {
		free(c->listed[i].path);
		free(c->listed[i].etag);
		free(c->listed[i].timestamp);
	}
	free(c->listed);
}

/* proto_store.list over the proxy: every page, marker after marker,
 * until an empty one (a short page does not prove the end: the proxy's
 * page size is its own). */
static int store_list(void *ctx, const char *account, const char *container,
		      const char *prefix, struct proto_names *out,
		      struct proto_error *err)
{
	struct prep_ctx *c = ctx;
	char *path = swift_path(account, container, NULL);
	char *marker = NULL, what[600];
	size_t count, cap = 0;
	int rc = -1;

	snprintf(what, sizeof(what), "swift://%s%s%s", account,
		 container ? "/" : "", container ? container : "");
	memset(out, 0, sizeof(*out));
	if (!path)
		return proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	do {
		struct zvmd_http_fetched f;
		char *ep = zvmd_url_escape(prefix ? prefix : "");
		char *em = zvmd_url_escape(marker ? marker : "");
		char *q = NULL;
		char limit[32] = "";

		if (c->p->list_limit)
			snprintf(limit, sizeof(limit), "&limit=%u",
				 c->p->list_limit);
		if (!ep || !em || asprintf(&q, "?format=json%s&prefix=%s"
					   "&marker=%s", limit, ep, em) < 0) {
			free(ep);
			free(em);
			proto_error_set(err, PROTO_EINTERNAL, "out of memory");
			goto out;
		}
		free(ep);
		free(em);
		if (proxy_call(c, "GET", path, q, LISTING_MAX, &f)) {
			free(q);
			proto_error_set(err, PROTO_EINTERNAL, "%s", c->p->msg);
			goto out;
		}
		free(q);
		if (f.resp.status == 204) {
			count = 0;
		} else if (f.resp.status != 200) {
			listing_status(c->p, f.resp.status, what, err);
			zvmd_http_fetched_free(&f);
			goto out;
		} else if (zvmd_listing_page_parse(f.body, f.len, out, &cap,
						   &count) ||
			   (container && listed_add(c, account, container,
						    f.body, f.len))) {
			zvmd_http_fetched_free(&f);
			c->p->status = 502;
			proto_error_set(err, PROTO_EINTERNAL, "listing %s: the "
					"proxy's answer is not a JSON listing",
					what);
			goto out;
		}
		/* A container's listing says its policy: no HEAD for it
		 * later. */
		if (container && !marker && policy_find(c, what + strlen("swift://")) < 0)
			policy_record(c, what + strlen("swift://"), &f.resp);
		zvmd_http_fetched_free(&f);
		free(marker);
		marker = count ? strdup(out->v[out->n - 1]) : NULL;
		if (count && !marker) {
			proto_error_set(err, PROTO_EINTERNAL, "out of memory");
			goto out;
		}
	} while (count);
	rc = 0;
out:
	free(marker);
	free(path);
	return rc;
}

/* ----------------------------------------------------------- objects */

/* The storage policy of acct/cont: HEAD of the container, once per
 * container (check_objects asks for all of them at once). */
static int container_policy(struct prep_ctx *c, const char *acct,
			    const char *cont)
{
	struct zvmd_http_fetched f;
	char key[600], *path;
	int pol;

	snprintf(key, sizeof(key), "%s/%s", acct, cont);
	pol = policy_find(c, key);
	if (pol >= 0)
		return pol;
	path = swift_path(acct, cont, NULL);
	if (path && !proxy_call(c, "HEAD", path, NULL, 0, &f)) {
		pol = policy_record(c, key, &f.resp);
		zvmd_http_fetched_free(&f);
	} else {
		pol = policy_record(c, key, NULL);
	}
	free(path);
	return pol;
}

static struct proto_object *seen_find(struct zvmd_prep *p, const char *path)
{
	for (size_t i = 0; i < p->nobjects; i++)
		if (!strcmp(p->objects[i].path, path))
			return &p->objects[i];
	return NULL;
}

/* A zeroed entry at the end of the checked objects, NULL when out of
 * memory. */
static struct proto_object *object_add(struct zvmd_prep *p)
{
	struct proto_object *v;

	v = realloc(p->objects, (p->nobjects + 1) * sizeof(*v));
	if (!v)
		return NULL;
	p->objects = v;
	memset(&v[p->nobjects], 0, sizeof(*v));
	return &v[p->nobjects++];
}

/* An input or program seen in its container's listing: recorded as a
 * HEAD would have recorded it (judge_read), without asking. */
static int listed_take(struct prep_ctx *c, const struct proto_object *l)
{
	struct zvmd_prep *p = c->p;
	struct proto_object *s;
	char key[600];

	if (seen_find(p, l->path))
		return 0;
	if (!(s = object_add(p)))
		return fail(p, 500, "out of memory");
	s->path = strdup(l->path);
	s->etag = strdup(l->etag);
	s->timestamp = strdup(l->timestamp);
	s->size = l->size;
	if (!s->path || !s->etag || !s->timestamp)
		return fail(p, 500, "out of memory");
	/* The listing said the container's policy (store_list). */
	snprintf(key, sizeof(key), "%.*s", acct_cont_len(l->path), l->path);
	s->policy = policy_find(c, key);
	if (s->policy < 0)
		s->policy = policy_record(c, key, NULL);
	return 0;
}

/* A response header's value (malloc'd, "" when absent); Swift quotes
 * the etag of a large-object manifest: quotes are dropped. */
static char *header_dup(const struct zvmd_http_response *r, const char *name)
{
	const char *v = zvmd_http_header(r, name);

	if (!v)
		v = "";
	if (*v == '"')
		v++;
	return strndup(v, strcspn(v, "\""));
}

/* ------------------------------------------------------------ checks */

/* One question to the proxy before anything runs. They are asked all at
 * once (a job over many objects would otherwise wait for one round trip
 * through the proxy, and its three primaries, per object) and judged in
 * plan order, so that the first refused object is the one named. */
enum check_kind {
	CHECK_READ,     /* HEAD an input or the program */
	CHECK_POLICY,   /* HEAD its container: the storage policy */
	CHECK_WRITE,    /* write probe of an output */
	CHECK_LIST,     /* listing of a container channel */
};

struct check {
	enum check_kind kind;
	const char *path;       /* the plan's, or own for CHECK_POLICY */
	char *own;
	const char *role;       /* "input", "program" */
	const char *method;
	char *url;
};

struct checks {
	struct check *v;
	size_t n, cap;
};

/* At most this many requests to the proxy at once: enough to keep a
 * busy proxy working while some of them wait for their object servers
 * (the grep benchmark at load 30: 4 at once 4.1 s, 16 2.2-3.4 s, 32
 * 2.3-3.2 s for 64 HEADs), few enough not to crowd out the users' own
 * requests or its token cache (see check_objects). */
#define CHECK_PARALLEL 16

static bool check_listed(const struct checks *cs, enum check_kind kind,
			 const char *path)
{
	for (size_t i = 0; i < cs->n; i++)
		if (cs->v[i].kind == kind && !strcmp(cs->v[i].path, path))
			return true;
	return false;
}

/* The request of a check (into ck->url, ck->method). */
static int check_url(struct prep_ctx *c, struct check *ck)
{
	const char *acct, *cont, *obj, *query = NULL;
	char buf[2048], *path;

	if (ck->kind == CHECK_LIST || ck->kind == CHECK_POLICY) {
		const char *slash = strchr(ck->path, '/');

		if (!slash || slash - ck->path >= 256)
			return fail(c->p, 400, "input swift://%s: not "
				    "acct/cont", ck->path);
		snprintf(buf, sizeof(buf), "%.*s", (int)(slash - ck->path),
			 ck->path);
		path = swift_path(buf, slash + 1, NULL);
		ck->method = ck->kind == CHECK_LIST ? "GET" : "HEAD";
		if (ck->kind == CHECK_LIST)
			query = "?format=json&limit=1";
	} else {
		if (split_object(ck->path, buf, sizeof(buf), &acct, &cont,
				 &obj))
			return fail(c->p, 400, "%s swift://%s: not "
				    "acct/cont/obj", ck->role, ck->path);
		path = swift_path(acct, cont, obj);
		ck->method = ck->kind == CHECK_READ ? "HEAD" : "PUT";
	}
	if (!path)
		return fail(c->p, 500, "out of memory");
	if (asprintf(&ck->url, "%s%s%s", c->base, path, query ? query : "")
	    < 0) {
		ck->url = NULL;
		free(path);
		return fail(c->p, 500, "out of memory");
	}
	free(path);
	return 0;
}

static int check_add(struct prep_ctx *c, struct checks *cs,
		     enum check_kind kind, const char *path, const char *role)
{
	struct check *ck;
	const struct proto_object *l;
	char *own = NULL;

	if (kind == CHECK_POLICY) {
		/* path is acct/cont/obj: its acct/cont */
		own = strndup(path, (size_t)acct_cont_len(path));
		if (!own)
			return fail(c->p, 500, "out of memory");
		path = own;
	}
	if (check_listed(cs, kind, path) ||
	    (kind == CHECK_POLICY && policy_find(c, path) >= 0)) {
		free(own);
		return 0;
	}
	if (kind == CHECK_READ && (l = listed_find(c, path)))
		return listed_take(c, l);
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? 2 * cs->cap : 16;

		ck = realloc(cs->v, cap * sizeof(*ck));
		if (!ck) {
			free(own);
			return fail(c->p, 500, "out of memory");
		}
		cs->v = ck;
		cs->cap = cap;
	}
	ck = &cs->v[cs->n++];
	memset(ck, 0, sizeof(*ck));
	ck->kind = kind;
	ck->path = path;
	ck->own = own;
	ck->role = role;
	if (check_url(c, ck))
		return -1;
	/* Where an input or program is depends on its container's
	 * storage policy. */
	if (kind == CHECK_READ)
		return check_add(c, cs, CHECK_POLICY, path, role);
	return 0;
}

/* Every input and program to HEAD, output to probe and listing to ask
 * for, each once, in plan order. */
static int checks_collect(struct prep_ctx *c, struct checks *cs)
{
	const struct proto_plan *plan = c->p->plan;

	for (size_t i = 0; i < plan->ninst; i++) {
		const struct proto_instance *in = &plan->inst[i];

		if (in->exec_kind == PROTO_EXEC_OBJECT &&
		    check_add(c, cs, CHECK_READ, in->exec_path, "program"))
			return -1;
		for (size_t k = 0; k < in->nchannels; k++) {
			const struct proto_channel *ch = &in->channels[k];
			int rc = 0;

			if (ch->kind == PROTO_CHAN_CONTAINER)
				rc = check_add(c, cs, CHECK_LIST, ch->path,
					       "input");
			else if (ch->kind == PROTO_CHAN_OBJECT)
				rc = check_add(c, cs, ch->dir & PROTO_WRITE ?
					       CHECK_WRITE : CHECK_READ,
					       ch->path, "input");
			if (rc)
				return -1;
		}
	}
	return 0;
}

/* The HEAD of an input or the program: record what the proxy saw. */
static int judge_read(struct prep_ctx *c, const struct check *ck,
		      const struct zvmd_http_response *r)
{
	struct zvmd_prep *p = c->p;
	struct proto_object *s;
	const char *acct, *cont, *obj, *len;
	char buf[2048];
	long status = r->status;

	if (status / 100 != 2) {
		if (status == 401 || status == 403)
			return fail(p, 403, "%s swift://%s: read refused by "
				    "Swift (%ld)", ck->role, ck->path, status);
		if (status == 404)
			return fail(p, 404, "%s swift://%s: not found",
				    ck->role, ck->path);
		return fail(p, 502, "%s swift://%s: the Swift proxy answered "
			    "%ld to HEAD", ck->role, ck->path, status);
	}
	if (!(s = object_add(p)))
		return fail(p, 500, "out of memory");
	s->path = strdup(ck->path);
	s->etag = header_dup(r, "Etag");
	s->timestamp = header_dup(r, "X-Timestamp");
	len = zvmd_http_header(r, "Content-Length");
	s->size = len ? strtoull(len, NULL, 10) : 0;
	if (!s->path || !s->etag || !s->timestamp ||
	    split_object(ck->path, buf, sizeof(buf), &acct, &cont, &obj))
		return fail(p, 500, "out of memory");
	s->policy = container_policy(c, acct, cont);
	return 0;
}

/* May the user write this object? The probe is a PUT with neither
 * Content-Length nor chunked encoding: the proxy checks the ACL first and
 * then refuses the body-less request with 411, before any object server
 * is asked. */
static int judge_write(struct prep_ctx *c, const struct check *ck,
		       const struct zvmd_http_response *r)
{
	long status = r->status;

	if (status == 411)
		return 0;
	if (status == 401 || status == 403)
		return fail(c->p, 403, "output swift://%s: write refused by "
			    "Swift (%ld)", ck->path, status);
	if (status == 404)
		return fail(c->p, 404, "output swift://%s: container "
			    "swift://%.*s not found", ck->path,
			    acct_cont_len(ck->path), ck->path);
	return fail(c->p, 502, "output swift://%s: the Swift proxy answered "
		    "%ld to a write probe (expected 411)", ck->path, status);
}

/* May the user list this container (a read-only listing channel)? */
static int judge_list(struct prep_ctx *c, const struct check *ck,
		      const struct zvmd_http_response *r)
{
	long status = r->status;

	if (status == 200 || status == 204)
		return 0;
	if (status == 401 || status == 403)
		return fail(c->p, 403, "input swift://%s: listing refused by "
			    "Swift (%ld)", ck->path, status);
	if (status == 404)
		return fail(c->p, 404, "input swift://%s: no such container",
			    ck->path);
	return fail(c->p, 502, "input swift://%s: the Swift proxy answered "
		    "%ld to a listing", ck->path, status);
}

/* The containers' policies first (judge_read needs them), then every
 * other answer in plan order. */
static int checks_judge(struct prep_ctx *c, const struct checks *cs,
			const struct zvmd_http_fetched *f, const int *rc,
			const struct proto_error *err)
{
	for (size_t i = 0; i < cs->n; i++)
		if (cs->v[i].kind == CHECK_POLICY)
			policy_record(c, cs->v[i].path,
				      rc[i] ? NULL : &f[i].resp);
	for (size_t i = 0; i < cs->n; i++) {
		const struct check *ck = &cs->v[i];
		int bad;

		if (ck->kind == CHECK_POLICY)
			continue;
		if (rc[i])
			return proxy_unreachable(c, ck->method, ck->url,
						 &err[i]);
		if (ck->kind == CHECK_READ)
			bad = judge_read(c, ck, &f[i].resp);
		else if (ck->kind == CHECK_WRITE)
			bad = judge_write(c, ck, &f[i].resp);
		else
			bad = judge_list(c, ck, &f[i].resp);
		if (bad)
			return -1;
	}
	return 0;
}

/* HEAD every input and program, probe every output, ask for every
 * listing: each once, all at once. */
static int check_objects(struct prep_ctx *c)
{
	struct checks cs = { 0 };
	struct zvmd_http_opts *o = NULL;
	struct zvmd_http_fetched *f = NULL;
	struct proto_error *err = NULL;
	int *rc = NULL, ret = -1;

	if (checks_collect(c, &cs))
		goto out;
	o = calloc(cs.n + 1, sizeof(*o));
	f = calloc(cs.n + 1, sizeof(*f));
	err = calloc(cs.n + 1, sizeof(*err));
	rc = calloc(cs.n + 1, sizeof(*rc));
	if (!o || !f || !err || !rc) {
		fail(c->p, 500, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cs.n; i++)
		proxy_opts(c, cs.v[i].method, cs.v[i].url, &o[i]);
	/* A write probe's 411 has a short body; a listing's first name fits
	 * in 64 KiB; a HEAD has none. */
	zvmd_http_fetch_many(o, cs.n, CHECK_PARALLEL, 65536, f, rc, err);
	/* The user's token was good a moment ago (the proxy let the job
	 * through), so a 401 is most likely tempauth's token cache failing
	 * under the burst (its memcache pool timing out: seen at load 38):
	 * ask those once more, one at a time. A token that expired meanwhile
	 * is refused again. */
	for (size_t i = 0; i < cs.n; i++) {
		if (rc[i] || f[i].resp.status != 401)
			continue;
		zvmd_http_fetched_free(&f[i]);
		rc[i] = zvmd_http_fetch(&o[i], 65536, &f[i], &err[i]);
	}
	ret = checks_judge(c, &cs, f, rc, err);
	for (size_t i = 0; i < cs.n; i++)
		if (!rc[i])
			zvmd_http_fetched_free(&f[i]);
out:
	for (size_t i = 0; i < cs.n; i++) {
		free(cs.v[i].url);
		free(cs.v[i].own);
	}
	free(cs.v);
	free(o);
	free(f);
	free(err);
	free(rc);
	return ret;
}

/* ---------------------------------------------------------- placement */

static bool health_check(struct prep_ctx *c, const char *ip)
{
	struct zvmd_http_opts o = { 0 };
	struct zvmd_http_fetched f;
	struct proto_error err;
	char *url;
	bool up;

	if (asprintf(&url, "http://%s:%u/healthcheck", ip,
		     c->p->cfg.worker_port) < 0)
		return false;
	o.url = url;
	o.connect_timeout_ms = HEALTH_CONNECT_MS;
	o.timeout_ms = HEALTH_TIMEOUT_MS;
	up = !zvmd_http_fetch(&o, 4096, &f, &err);
	if (up) {
		up = f.resp.status == 200;
		zvmd_http_fetched_free(&f);
	}
	zvmd_log(up ? ZVMD_LOG_DEBUG : ZVMD_LOG_WARNING, "msg=\"worker %s\" "
		 "worker=%s:%u", up ? "up" : "down", ip, c->p->cfg.worker_port);
	free(url);
	return up;
}

/* Each worker is asked once per job, however often placement runs. */
static bool worker_alive(void *ctx, const char *ip)
{
	struct prep_ctx *c = ctx;
	char (*ips)[64];
	bool *up;

	if (c->skip && !strcmp(c->skip, ip))
		return false;
	for (size_t i = 0; i < c->nips; i++)
		if (!strcmp(c->ips[i], ip))
			return c->up[i];
	ips = realloc(c->ips, (c->nips + 1) * sizeof(*ips));
	if (ips)
		c->ips = ips;
	up = realloc(c->up, (c->nips + 1) * sizeof(*up));
	if (up)
		c->up = up;
	if (!ips || !up)
		return false;
	snprintf(ips[c->nips], sizeof(ips[c->nips]), "%s", ip);
	up[c->nips] = health_check(c, ip);
	return up[c->nips++];
}

/* Nodes with a pipe to another node: their instances cannot move alone
 * (the other side was told where they run). */
static bool *pinned_nodes(const struct zvmd_prep *p)
{
	bool *pinned = calloc(p->place.nnodes + 1, sizeof(*pinned));
	struct proto_edge *e = NULL;
	struct proto_error err;
	size_t n = 0;

	if (!pinned || proto_plan_edges(p->plan, &e, &n, &err)) {
		free(pinned);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		size_t w = p->place.inst[e[i].writer], r = p->place.inst[e[i].reader];

		if (w != r)
			pinned[w] = pinned[r] = true;
	}
	free(e);
	return pinned;
}

/* Where each node's instances go if the node cannot be reached at
 * dispatch: placement again with that node down (the other nodes'
 * answers are remembered), for nodes whose instances have no pipe to
 * another node. Best effort: without one, the instances fail. */
static void alternatives(struct prep_ctx *c, const int *policy)
{
	struct zvmd_prep *p = c->p;
	bool *pinned = pinned_nodes(p);

	p->alt = calloc(p->place.nnodes + 1, sizeof(*p->alt));
	if (!pinned || !p->alt) {
		free(pinned);
		return;
	}
	for (size_t k = 0; k < p->place.nnodes; k++) {
		struct zvmd_placement alt;
		char msg[256];
		size_t first = 0;

		if (pinned[k])
			continue;
		while (p->place.inst[first] != k)
			first++;
		c->skip = p->place.nodes[k].ip;
		if (zvmd_place(p->cl, p->cfg.worker_port, p->cfg.edge_port,
			       p->plan, policy, worker_alive, c, &alt, msg,
			       sizeof(msg)) == 0) {
			p->alt[k] = alt.nodes[alt.inst[first]];
			p->alt[k].ninst = p->place.nodes[k].ninst;
			zvmd_placement_clear(&alt);
		}
		c->skip = NULL;
	}
	free(pinned);
}

static int place(struct prep_ctx *c)
{
	struct zvmd_prep *p = c->p;
	int *policy = calloc(p->plan->ninst + 1, sizeof(*policy));
	int rc;

	if (!policy)
		return fail(p, 500, "out of memory");
	for (size_t i = 0; i < p->plan->ninst; i++) {
		const struct proto_instance *in = &p->plan->inst[i];
		const struct proto_object *s = in->placement < 0 ? NULL :
			seen_find(p, in->channels[in->placement].path);

		policy[i] = s ? s->policy : 0;
	}
	rc = zvmd_place(p->cl, p->cfg.worker_port, p->cfg.edge_port, p->plan,
			policy, worker_alive, c, &p->place, p->msg,
			sizeof(p->msg));
	if (rc)
		p->status = 503;
	else
		alternatives(c, policy);
	free(policy);
	return rc;
}

/* --------------------------------------------------------------- run */

void zvmd_prep_run(struct zvmd_prep *p)
{
	struct prep_ctx c = { .p = p };
	struct proto_store store = { store_list, &c };
	struct proto_limits lim;
	struct proto_error err = { 0 };
	const char *sysimages[ZVMD_MAX_SYSIMAGES];
	size_t n;

	p->status = 200;
	p->msg[0] = '\0';
	snprintf(c.base, sizeof(c.base), "%s", p->cfg.proxy_url);
	n = strlen(c.base);
	if (n && c.base[n - 1] == '/')
		c.base[n - 1] = '\0';
	snprintf(c.auth, sizeof(c.auth), "X-Auth-Token: %s",
		 p->token ? p->token : "");
	c.headers[0] = c.auth;
	c.headers[1] = "X-Newest: true";
	proto_limits_default(&lim);
	lim.max_job_size = p->cfg.max_job_size;
	lim.max_instances = p->cfg.max_instances;
	for (size_t i = 0; i < p->cfg.nsysimages; i++)
		sysimages[i] = p->cfg.sysimages[i].name;
	if (proto_job_plan(p->json ? p->json : "", p->len, p->account,
			   sysimages, p->cfg.nsysimages, &lim, &store, &p->plan,
			   &err)) {
		/* A listing that failed in transport already set 502. */
		fail(p, p->status != 200 ? p->status :
		     proto_error_status(err.kind), "%s", err.msg);
	} else {
		/* listed_find looks entries up from now on. */
		if (c.nlisted)
			qsort(c.listed, c.nlisted, sizeof(*c.listed),
			      listed_cmp);
		if (!check_objects(&c))
			place(&c);
	}
	for (size_t i = 0; i < c.nconts; i++)
		free(c.conts[i]);
	free(c.conts);
	free(c.policies);
	free(c.ips);
	free(c.up);
	listed_free(&c);
	memset(c.auth, 0, sizeof(c.auth));
}

void zvmd_prep_clear(struct zvmd_prep *p)
{
	proto_plan_free(p->plan);
	p->plan = NULL;
	zvmd_placement_clear(&p->place);
	free(p->alt);
	p->alt = NULL;
	for (size_t i = 0; i < p->nobjects; i++) {
		free(p->objects[i].path);
		free(p->objects[i].etag);
		free(p->objects[i].timestamp);
	}
	free(p->objects);
	p->objects = NULL;
	p->nobjects = 0;
	free(p->json);
	p->json = NULL;
	if (p->token) {
		memset(p->token, 0, strlen(p->token));
		free(p->token);
		p->token = NULL;
	}
}
