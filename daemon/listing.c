/* listing.c — container listings through the Swift proxy, as the user.
 *
 * A `container` channel (swift://acct/cont as an input device) reads the
 * container's listing, one object name a line, in Swift's order: what a
 * local job reads from its store (job.c). A cluster worker has no store:
 * it GETs the listing through the proxy with the user's token, page
 * after page (?format=json&marker=...), into a spool file, on the loop's
 * HTTP client (http.c). The coordinator's planning reads listings the
 * same way, blocking, in its work thread (cluster_prep.c); both parse a
 * page with zvmd_listing_page_parse. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "internal.h"

/* A page of 10 000 names of up to 1 KiB, in JSON, fits. */
#define PAGE_MAX (32u << 20)

struct zvmd_listing {
	struct zvmd_server *srv;
	char *path;                 /* "acct/cont" */
	char *auth;                 /* "X-Auth-Token: ..." (wiped on free) */
	char *marker;               /* the last name so far; NULL: none */
	int fd;                     /* the spool file */
	char *body;                 /* the page being received */
	size_t len, cap;
	bool too_big;
	struct zvmd_http_request *req;
	zvmd_listing_done_cb done;
	void *arg;
};

char *zvmd_url_escape(const char *s)
{
	char *out = malloc(3 * strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *c = (const void *)s; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr("-._~/", *c))
			*o++ = (char)*c;
		else
			o += sprintf(o, "%%%02X", *c);
	}
	*o = '\0';
	return out;
}

int zvmd_listing_page_parse(const char *body, size_t len,
			    struct proto_names *out, size_t *cap,
			    size_t *count)
{
	json_t *j = json_loadb(body, len, 0, NULL), *e;
	size_t i;
	int rc = 0;

	*count = 0;
	if (!json_is_array(j)) {
		json_decref(j);
		return -1;
	}
	json_array_foreach(j, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));

		if (out->n == *cap) {
			char **v = realloc(out->v, (2 * *cap + 16) *
					   sizeof(*v));

			if (!v) {
				rc = -1;
				break;
			}
			out->v = v;
			*cap = 2 * *cap + 16;
		}
		if (!name || !(out->v[out->n] = strdup(name))) {
			rc = -1;
			break;
		}
		out->n++;
	}
	*count = json_array_size(j);
	json_decref(j);
	return rc;
}

static void listing_free(struct zvmd_listing *l)
{
	if (l->req)
		zvmd_http_cancel(l->req);
	if (l->fd >= 0)
		close(l->fd);
	if (l->auth) {
		memset(l->auth, 0, strlen(l->auth));
		free(l->auth);
	}
	free(l->path);
	free(l->marker);
	free(l->body);
	free(l);
}

void zvmd_listing_cancel(struct zvmd_listing *l)
{
	if (l)
		listing_free(l);
}

/* The end: the spool file (rewound) to done, or why there is none. */
static void finish(struct zvmd_listing *l, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void finish(struct zvmd_listing *l, int status, const char *fmt, ...)
{
	char msg[700] = "";
	int fd = -1;
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	if (status == 200 && lseek(l->fd, 0, SEEK_SET) < 0) {
		status = 500;
		snprintf(msg, sizeof(msg), "listing swift://%s: spool: %s",
			 l->path, strerror(errno));
	}
	if (status == 200) {
		fd = l->fd;
		l->fd = -1;
	}
	l->done(l->arg, fd, status, msg);
	listing_free(l);
}

static enum zvmd_http_flow page_data(struct zvmd_http_request *req,
				     const char *buf, size_t len, void *arg)
{
	struct zvmd_listing *l = arg;

	(void)req;
	if (l->too_big || len > PAGE_MAX - l->len) {
		l->too_big = true;
		return ZVMD_HTTP_CONSUMED;
	}
	if (l->len + len > l->cap) {
		size_t cap = 2 * (l->len + len);
		char *b = realloc(l->body, cap);

		if (!b) {
			l->too_big = true;
			return ZVMD_HTTP_CONSUMED;
		}
		l->body = b;
		l->cap = cap;
	}
	memcpy(l->body + l->len, buf, len);
	l->len += len;
	return ZVMD_HTTP_CONSUMED;
}

/* The names of one page, one a line, at the end of the spool file. */
static int names_write(int fd, const struct proto_names *nm)
{
	for (size_t i = 0; i < nm->n; i++) {
		size_t n = strlen(nm->v[i]);

		if (write(fd, nm->v[i], n) != (ssize_t)n ||
		    write(fd, "\n", 1) != 1)
			return -1;
	}
	return 0;
}

static int page_start(struct zvmd_listing *l, struct proto_error *err);

/* A page is in: its names to the file, then the next page, or the end
 * (an empty page: the proxy's page size is its own, a short page does
 * not prove the end). */
static void page_next(struct zvmd_listing *l)
{
	struct proto_names nm = { 0 };
	struct proto_error err;
	size_t cap = 0, count;
	char where[PATH_MAX + 128];
	int rc, saved;

	if (zvmd_listing_page_parse(l->body ? l->body : "", l->len, &nm, &cap,
				    &count)) {
		proto_strv_free(nm.v, nm.n);
		finish(l, 502, "listing swift://%s: the proxy's answer is not "
		       "a JSON listing", l->path);
		return;
	}
	l->len = 0;
	rc = names_write(l->fd, &nm);
	if (!rc && count) {
		free(l->marker);
		l->marker = strdup(nm.v[nm.n - 1]);
		rc = l->marker ? 0 : (errno = ENOMEM, -1);
	}
	saved = errno;
	proto_strv_free(nm.v, nm.n);
	if (rc && zvmd_errno_no_space(saved))
		finish(l, 507, "listing swift://%s: %s", l->path,
		       zvmd_no_space(l->srv, false, where, sizeof(where)));
	else if (rc)
		finish(l, 500, "listing swift://%s: spool: %s", l->path,
		       strerror(saved));
	else if (!count)
		finish(l, 200, NULL);
	else if (page_start(l, &err))
		finish(l, 500, "listing swift://%s: %s", l->path, err.msg);
}

static void page_done(struct zvmd_http_request *req,
		      const struct zvmd_http_result *res, void *arg)
{
	struct zvmd_listing *l = arg;
	long status = res->response ? res->response->status : 0;

	(void)req;
	l->req = NULL;
	if (res->error)
		finish(l, 502, "listing swift://%s through the proxy: %s",
		       l->path, res->error);
	else if (status == 401 || status == 403)
		finish(l, 403, "listing swift://%s: refused by Swift (%ld)",
		       l->path, status);
	else if (status == 404)
		finish(l, 404, "listing swift://%s: no such container",
		       l->path);
	else if (status == 204)
		finish(l, 200, NULL);
	else if (status != 200)
		finish(l, 502, "listing swift://%s: the Swift proxy answered "
		       "%ld", l->path, status);
	else if (l->too_big)
		finish(l, 502, "listing swift://%s: a page of the listing is "
		       "over %u MiB", l->path, PAGE_MAX >> 20);
	else
		page_next(l);
}

static int page_start(struct zvmd_listing *l, struct proto_error *err)
{
	/* As the coordinator's: the newest of the container's replicas. */
	const char *headers[] = { l->auth, "X-Newest: true", NULL };
	const char *base = l->srv->cfg.proxy_url;
	size_t n = strlen(base);
	char *path = zvmd_url_escape(l->path);
	char *marker = zvmd_url_escape(l->marker ? l->marker : "");
	struct zvmd_http_opts o = { 0 };
	char *url = NULL;
	int rc;

	while (n && base[n - 1] == '/')
		n--;
	if (!path || !marker ||
	    asprintf(&url, "%.*s/v1/%s?format=json&marker=%s", (int)n, base,
		     path, marker) < 0)
		url = NULL;
	free(path);
	free(marker);
	if (!url)
		return proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	o.url = url;
	o.headers = headers;
	o.on_data = page_data;
	o.on_done = page_done;
	o.arg = l;
	rc = zvmd_http_start(l->srv->http, &o, &l->req, err);
	free(url);
	return rc;
}

int zvmd_listing_start(struct zvmd_server *srv, const char *path,
		       const char *token, zvmd_listing_done_cb done,
		       void *arg, struct zvmd_listing **out,
		       struct proto_error *err)
{
	struct zvmd_listing *l = calloc(1, sizeof(*l));

	if (!l)
		return proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	l->srv = srv;
	l->done = done;
	l->arg = arg;
	l->fd = openat(srv->spoolfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC,
		       0600);
	if (l->fd < 0) {
		proto_error_set(err, PROTO_EINTERNAL, "listing swift://%s: "
				"spool file in %s: %s", path, srv->cfg.spool,
				strerror(errno));
		listing_free(l);
		return -1;
	}
	l->path = strdup(path);
	if (!l->path || asprintf(&l->auth, "X-Auth-Token: %s", token) < 0) {
		l->auth = NULL;
		listing_free(l);
		return proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	}
	if (page_start(l, err)) {
		listing_free(l);
		return -1;
	}
	*out = l;
	return 0;
}
