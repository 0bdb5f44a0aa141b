/* worker.c — POST /internal/v1/task: a cluster worker's share of a job.
 *
 * The coordinator sends the whole plan with the placement of every
 * instance and what it saw of every object (etag, size). The worker runs
 * the instances placed on it:
 *
 *   verify    the request's signature and nonce (nothing runs before);
 *   open      every input object and program: the current .data file on
 *             this node's devices when it is the object the coordinator
 *             saw (no copy, no HTTP), else a GET through the proxy with
 *             the user's token into a spool file, its etag checked;
 *             container listings through the proxy (listing.c); system
 *             images from this node's [sysimages] (job.c opens them);
 *   edges     (daemon/edge.c) sockets to and from instances elsewhere;
 *   run       a part job (job.c), answered with frames; outputs are PUT
 *             through the proxy after their instance succeeded.
 *
 * The connection is suspended while GETs and edges are pending; the
 * access handler is called again once they are all settled. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* An input fetched through the proxy: an object or a listing. */
struct fetch {
	struct zvmd_task *t;
	size_t inst;
	long chan;                    /* -1: the program */
	const struct proto_object *obj;
	int fd;                       /* the spool file */
	char cipher_etag[64];         /* see struct proxied */
	struct zvmd_http_request *req;
	struct zvmd_listing *list;
};

struct zvmd_task {
	struct zvmd_server *srv;
	struct MHD_Connection *conn;
	struct proto_task *task;
	uint64_t id;
	size_t ninst, nhere;
	bool *here;
	int **fds;                    /* per instance, per channel */
	int *prog_fds;
	struct fetch *fetches;
	size_t nfetches, pending;
	size_t nlocal, nproxied;
	struct zvmd_edges *edges;     /* daemon/edge.c */
	int status;                   /* an answer other than the job's */
	char msg[600];
	bool suspended;
	bool counted;                 /* in srv->live_jobs while suspended */
	/* Admitted: the pool slots or the queue place it holds until its
	 * part job is submitted (srv->reserved_slots / reserved_queue). */
	unsigned reserved_slots;
	bool reserved_queue;
	struct zvmd_job *job;
};

/* A plain-text answer; a 503 says when to retry (retry_after). */
static enum MHD_Result answer_text(struct zvmd_server *srv,
				   struct MHD_Connection *conn, int status,
				   const char *text)
{
	return zvmd_reply(conn, status, "text/plain", text,
			  status == 503 ? srv->cfg.retry_after : 0);
}

static void task_fail(struct zvmd_task *t, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void task_fail(struct zvmd_task *t, int status, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (t->status)
		return; /* the first reason is the one to tell */
	t->status = status;
	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg) - 1, fmt, ap);
	va_end(ap);
	n = strlen(t->msg);
	t->msg[n] = '\n';
	t->msg[n + 1] = '\0';
}

/* ------------------------------------------------------------ verify */

static int verify(struct zvmd_task *t, const char *url, const char *body,
		  size_t len)
{
	struct MHD_Connection *c = t->conn;
	const char *expires = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							  "X-Zvm-Expires");
	const char *nonce = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							"X-Zvm-Nonce");
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      "X-Zvm-Signature");
	enum zvmd_auth_result r;
	char msg[300];

	r = zvmd_auth_request(t->srv->auth, "POST", url, expires, nonce, sig,
			      body, len, (int64_t)time(NULL), msg, sizeof(msg));
	if (r != ZVMD_AUTH_OK) {
		task_fail(t, zvmd_auth_status(r), "%s", msg);
		return -1;
	}
	return 0;
}

/* -------------------------------------------------------------- open */

/* "etag" and etag are the same (Swift quotes some). */
static bool etag_eq(const char *a, const char *b)
{
	size_t la, lb;

	if (!a || !b)
		return false;
	if (*a == '"')
		a++;
	if (*b == '"')
		b++;
	la = strlen(a);
	lb = strlen(b);
	if (la && a[la - 1] == '"')
		la--;
	if (lb && b[lb - 1] == '"')
		lb--;
	return la == lb && !strncasecmp(a, b, la);
}

static const char *flag_text(unsigned flags)
{
	if (flags & SWIFT_OBJ_SLO)
		return "a static large object manifest";
	if (flags & SWIFT_OBJ_DLO)
		return "a dynamic large object manifest";
	if (flags & SWIFT_OBJ_SYMLINK)
		return "a symlink";
	if (flags & SWIFT_OBJ_ENCRYPTED)
		return "encrypted";
	return "erasure-coded";
}

/* Why an object is read through the proxy, and what that read must not
 * return. */
struct proxied {
	char why[600];
	/* The ETag of an encrypted copy on this node, "" if none. Swift's
	 * encrypter stores the md5 of the ciphertext as the ETag (the
	 * plaintext's is in X-Object-Sysmeta-Crypto-Etag, encrypted), so a
	 * proxy that answers with this etag did not decrypt: it lacks the
	 * cluster's keymaster and encryption middleware. An empty object's
	 * ciphertext is itself, and so is its etag: then it tells nothing. */
	char cipher_etag[64];
};

/* The proxy served the ciphertext of an encrypted object (etag, of the
 * size the coordinator saw): fail rather than hand it to the program. */
static bool ciphertext_served(struct zvmd_task *t,
			      const struct proto_object *o,
			      const char *cipher_etag, const char *etag,
			      const char *who)
{
	if (!cipher_etag[0] || o->size == 0 || !etag_eq(cipher_etag, etag))
		return false;
	task_fail(t, 502, "swift://%s is encrypted and %s served its "
		  "ciphertext (etag %s): that proxy has no keymaster and "
		  "encryption middleware; the [cluster] proxy_url of every "
		  "zvmd must be a proxy of the cluster that decrypts", o->path,
		  who, cipher_etag);
	return true;
}

/*
 * The object's current .data on one of this node's devices, if it is the
 * object the coordinator saw: 0 with *fd, or 1 with px saying why it must
 * be read through the proxy.
 */
static int local_open(struct zvmd_task *t, const struct proto_object *o,
		      int *fd, struct proxied *px)
{
	const struct zvmd_cluster *cl = t->srv->cluster;
	const struct swift_policy *pol = swift_conf_policy(&cl->conf,
							   o->policy);
	const struct swift_ring *ring = zvmd_cluster_ring(cl, o->policy);
	char acct[256], cont[256];
	const char *obj;
	struct swift_location loc;
	struct swift_error se;
	char *why = px->why;
	size_t cap = sizeof(px->why);

	px->cipher_etag[0] = '\0';
	snprintf(why, cap, "no copy on this node");
	if (!pol || !ring) {
		snprintf(why, cap, "storage policy %d is unknown here",
			 o->policy);
		return 1;
	}
	if (pol->type == SWIFT_POLICY_ERASURE_CODING) {
		snprintf(why, cap, "policy %d is erasure-coded", o->policy);
		return 1;
	}
	if (sscanf(o->path, "%255[^/]/%255[^/]/", acct, cont) != 2 ||
	    !(obj = strchr(strchr(o->path, '/') + 1, '/')))
		return 1;
	if (swift_ring_locate(ring, &cl->conf, acct, cont, obj + 1, &loc,
			      &se)) {
		snprintf(why, cap, "%s", se.msg);
		return 1;
	}
	for (size_t p = 0; p < loc.nprimaries; p++) {
		const struct swift_dev *dev = loc.primaries[p];
		struct swift_object so;
		char *dir;
		int rc;

		if (strcmp(dev->ip, cl->node_ip))
			continue;
		dir = swift_object_dir(t->srv->cfg.devices, dev->device,
				       o->policy, loc.part, loc.hash);
		if (!dir)
			continue;
		rc = swift_object_open(dir, pol, (double)time(NULL), &so, &se);
		free(dir);
		if (rc)
			continue;
		if (so.flags) {
			snprintf(why, cap, "the object is %s",
				 flag_text(so.flags));
			if ((so.flags & SWIFT_OBJ_ENCRYPTED) && so.etag)
				snprintf(px->cipher_etag,
					 sizeof(px->cipher_etag), "%s",
					 so.etag);
			swift_object_free(&so);
			return 1;
		}
		if (so.content_length != o->size || !etag_eq(so.etag, o->etag)) {
			snprintf(why, cap, "the copy on %s is stale (etag %s, "
				 "%llu bytes; the coordinator saw %s, %llu)",
				 dev->device, so.etag ? so.etag : "-",
				 (unsigned long long)so.content_length,
				 o->etag, (unsigned long long)o->size);
			swift_object_free(&so);
			continue;
		}
		*fd = so.fd;
		so.fd = -1;
		swift_object_free(&so);
		return 0;
	}
	return 1;
}

/* "/v1/" + path, each byte not safe in a URL path %-escaped. */
static char *object_url(const char *proxy, const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(proxy) + 5 + 3 * strlen(path) + 1;
	char *url = malloc(n), *o;

	if (!url)
		return NULL;
	o = url + snprintf(url, n, "%s/v1/", proxy);
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-._~", *p)) {
			*o++ = (char)*p;
			continue;
		}
		*o++ = '%';
		*o++ = hex[*p >> 4];
		*o++ = hex[*p & 15];
	}
	*o = '\0';
	return url;
}

static void task_settled(struct zvmd_task *t);

static void fetch_done(struct zvmd_http_request *req,
		       const struct zvmd_http_result *res, void *arg)
{
	struct fetch *f = arg;
	struct zvmd_task *t = f->t;
	const struct proto_object *o = f->obj;
	long status = res->response ? res->response->status : 0;
	const char *etag = res->response ?
			   zvmd_http_header(res->response, "Etag") : NULL;
	char where[PATH_MAX + 128];

	(void)req;
	f->req = NULL;
	if (zvmd_errno_no_space(res->out_errno))
		task_fail(t, 507, "%s: reading swift://%s through the proxy "
			  "into it", zvmd_no_space(t->srv, false, where,
						   sizeof(where)), o->path);
	else if (res->error)
		task_fail(t, 502, "GET swift://%s through the proxy: %s",
			  o->path, res->error);
	else if (status == 401 || status == 403 || status == 404)
		task_fail(t, (int)status, "GET swift://%s through the proxy: "
			  "HTTP %ld", o->path, status);
	else if (status != 200)
		task_fail(t, 502, "GET swift://%s through the proxy: HTTP %ld",
			  o->path, status);
	else if (!etag_eq(etag, o->etag) || res->bytes_received != o->size) {
		if (!ciphertext_served(t, o, f->cipher_etag, etag,
				       "this node's proxy_url"))
			task_fail(t, 409, "swift://%s changed since the job "
				  "was planned (etag %s, %llu bytes; planned "
				  "%s, %llu): run the job again", o->path,
				  etag ? etag : "-",
				  (unsigned long long)res->bytes_received,
				  o->etag, (unsigned long long)o->size);
	}
	else if (lseek(f->fd, 0, SEEK_SET) < 0)
		task_fail(t, 500, "spool: %s", strerror(errno));
	else {
		*(f->chan < 0 ? &t->prog_fds[f->inst] :
		  &t->fds[f->inst][f->chan]) = f->fd;
		f->fd = -1;
	}
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	task_settled(t);
}

static int fetch_start(struct zvmd_task *t, size_t inst, long chan,
		       const struct proto_object *o, const char *cipher_etag)
{
	struct zvmd_server *srv = t->srv;
	struct fetch *f = &t->fetches[t->nfetches];
	char auth[1200];
	/* The newest of the replicas: a primary that missed an overwrite
	 * must not answer for the object. */
	const char *headers[] = { auth, "X-Newest: true", NULL };
	struct zvmd_http_opts opts = { 0 };
	struct proto_error err;
	char *url = object_url(srv->cfg.proxy_url, o->path);
	int rc;

	f->t = t;
	f->inst = inst;
	f->chan = chan;
	f->obj = o;
	snprintf(f->cipher_etag, sizeof(f->cipher_etag), "%s", cipher_etag);
	f->fd = openat(srv->spoolfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC,
		       0600);
	if (!url || f->fd < 0) {
		free(url);
		task_fail(t, 500, "spool for swift://%s: %s", o->path,
			  strerror(errno));
		return -1;
	}
	snprintf(auth, sizeof(auth), "X-Auth-Token: %s", t->task->token);
	opts.url = url;
	opts.headers = headers;
	opts.to_fd = true;
	opts.out_fd = f->fd;
	opts.on_done = fetch_done;
	opts.arg = f;
	rc = zvmd_http_start(srv->http, &opts, &f->req, &err);
	free(url);
	if (rc) {
		close(f->fd);
		task_fail(t, 500, "GET swift://%s: %s", o->path, err.msg);
		return -1;
	}
	t->nfetches++;
	t->pending++;
	return 0;
}

/* Open one object the task names: locally, else through the proxy. */
static int object_open(struct zvmd_task *t, size_t inst, long chan,
		       const char *path, int *fd)
{
	const struct proto_object *o = proto_task_object(t->task, path);
	struct proxied px;

	if (!o) {
		task_fail(t, 403, "swift://%s is not among the task's objects",
			  path);
		return -1;
	}
	if (!local_open(t, o, fd, &px)) {
		t->nlocal++;
		zvmd_log(ZVMD_LOG_INFO, "msg=input job=%s inst=%s "
			 "object=\"%s\" source=local", t->task->job,
			 t->task->plan->inst[inst].name, path);
		return 0;
	}
	t->nproxied++;
	zvmd_log(ZVMD_LOG_INFO, "msg=input job=%s inst=%s object=\"%s\" "
		 "source=proxy reason=\"%s\"", t->task->job,
		 t->task->plan->inst[inst].name, path, px.why);
	/* The coordinator planned with what its proxy answered. */
	if (ciphertext_served(t, o, px.cipher_etag, o->etag,
			      "the coordinator's proxy_url"))
		return -1;
	return fetch_start(t, inst, chan, o, px.cipher_etag);
}

static void listing_done(void *arg, int fd, int status, const char *msg)
{
	struct fetch *f = arg;
	struct zvmd_task *t = f->t;

	f->list = NULL;
	if (fd >= 0)
		t->fds[f->inst][f->chan] = fd;
	else
		task_fail(t, status, "%s", msg);
	task_settled(t);
}

/* A container channel: its listing through the proxy, as the user. */
static int listing_open(struct zvmd_task *t, size_t inst, size_t chan,
			const char *path)
{
	struct fetch *f = &t->fetches[t->nfetches];
	struct proto_error err;

	f->t = t;
	f->inst = inst;
	f->chan = (long)chan;
	f->fd = -1;
	if (zvmd_listing_start(t->srv, path, t->task->token, listing_done, f,
			       &f->list, &err)) {
		task_fail(t, 500, "%s", err.msg);
		return -1;
	}
	t->nfetches++;
	t->pending++;
	return 0;
}

/*
 * System images are each node's own: the coordinator planned with its
 * [sysimages], and every node must configure the images jobs name (the
 * same names; job.c opens the archive). A node without one refuses the
 * task naming itself and the image, before anything runs.
 */
static int sysimage_check(struct zvmd_task *t, const struct proto_instance *pi,
			  const char *name, size_t len)
{
	char buf[64];

	if (len < sizeof(buf)) {
		memcpy(buf, name, len);
		buf[len] = '\0';
		if (zvmd_sysimage_find(&t->srv->cfg, buf))
			return 0;
	}
	task_fail(t, 400, "node %s: no system image named \"%.*s\" in the "
		  "[sysimages] of its zvmd.conf (instance %s; every node must "
		  "configure the images jobs name)", t->srv->cluster->node_ip,
		  (int)(len < 64 ? len : 64), name, pi->name);
	return -1;
}

/* Every source of instance i run here, or the reason it cannot run. */
static int inst_open(struct zvmd_task *t, size_t i)
{
	const struct proto_instance *pi = &t->task->plan->inst[i];

	t->fds[i] = malloc((pi->nchannels + 1) * sizeof(int));
	if (!t->fds[i]) {
		task_fail(t, 500, "out of memory");
		return -1;
	}
	for (size_t k = 0; k < pi->nchannels; k++)
		t->fds[i][k] = -1;
	/* A program in a system image (file://<image>:<path>) is opened
	 * in the image's tree by job.c; one in the job's image comes with
	 * that image, an input object like any other. */
	if (pi->exec_kind == PROTO_EXEC_OBJECT &&
	    object_open(t, i, -1, pi->exec_path, &t->prog_fds[i]))
		return -1;
	if (pi->exec_kind == PROTO_EXEC_IMAGE &&
	    sysimage_check(t, pi, pi->exec_path,
			   strcspn(pi->exec_path, ":")))
		return -1;
	for (size_t k = 0; k < pi->nchannels; k++) {
		const struct proto_channel *c = &pi->channels[k];

		if (c->kind == PROTO_CHAN_OBJECT && !(c->dir & PROTO_WRITE) &&
		    object_open(t, i, (long)k, c->path, &t->fds[i][k]))
			return -1;
		if (c->kind == PROTO_CHAN_CONTAINER &&
		    listing_open(t, i, k, c->path))
			return -1;
		if (c->kind == PROTO_CHAN_IMAGE &&
		    sysimage_check(t, pi, c->path, strcspn(c->path, ":")))
			return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- put */

struct put {
	struct zvmd_job *job;
	size_t inst;
	int fd;
	char *path;
};

static void put_done(struct zvmd_http_request *req,
		     const struct zvmd_http_result *res, void *arg)
{
	struct put *p = arg;
	long status = res->response ? res->response->status : 0;
	char msg[600];

	(void)req;
	if (res->error)
		snprintf(msg, sizeof(msg), "output swift://%s: %s", p->path,
			 res->error);
	else if (status != 201)
		snprintf(msg, sizeof(msg), "output swift://%s: PUT through the "
			 "proxy answered HTTP %ld", p->path, status);
	else
		msg[0] = '\0';
	close(p->fd);
	zvmd_job_put_done(p->job, p->inst, msg[0] ? msg : NULL);
	free(p->path);
	free(p);
}

/* The PUT's headers: token, content type, etag, X-Object-Meta-*. */
static char **put_headers(const struct proto_channel *c, const char *token,
			  const char *etag)
{
	char **h = calloc(c->nmeta + 4, sizeof(char *));
	size_t n = 0;
	bool bad;

	if (!h)
		return NULL;
	bad = asprintf(&h[n++], "X-Auth-Token: %s", token) < 0;
	bad |= asprintf(&h[n++], "Content-Type: %s", c->content_type ?
			c->content_type : "application/octet-stream") < 0;
	if (etag && etag[0])
		bad |= asprintf(&h[n++], "ETag: %s", etag) < 0;
	for (size_t m = 0; m < c->nmeta; m++)
		bad |= asprintf(&h[n++], "X-Object-Meta-%s: %s",
				c->meta[m].key, c->meta[m].value) < 0;
	if (!bad)
		return h;
	for (size_t i = 0; i < n; i++)
		free(h[i]);
	free(h);
	return NULL;
}

static void task_put(struct zvmd_job *job, size_t inst,
		     const struct proto_channel *c, int fd, const char *etag,
		     void *arg)
{
	struct zvmd_task *t = arg;
	struct zvmd_server *srv = t->srv;
	struct put *p = calloc(1, sizeof(*p));
	char **headers = put_headers(c, t->task->token, etag);
	char *url = object_url(srv->cfg.proxy_url, c->path);
	struct zvmd_http_opts opts = { 0 };
	struct proto_error err = { .msg = "out of memory" };
	struct zvmd_http_request *req;
	struct stat sb;
	int rc = -1;

	if (p && headers && url && !fstat(fd, &sb) &&
	    lseek(fd, 0, SEEK_SET) == 0) {
		p->job = job;
		p->inst = inst;
		p->fd = fd;
		p->path = strdup(c->path);
		opts.method = "PUT";
		opts.url = url;
		opts.headers = (const char *const *)headers;
		opts.body_kind = ZVMD_HTTP_BODY_FD;
		opts.body_fd = fd;
		opts.body_size = sb.st_size;
		opts.on_done = put_done;
		opts.arg = p;
		rc = p->path ? zvmd_http_start(srv->http, &opts, &req, &err)
			     : -1;
	}
	for (size_t i = 0; headers && headers[i]; i++)
		free(headers[i]);
	free(headers);
	free(url);
	if (!rc)
		return;
	close(fd);
	if (p)
		free(p->path);
	free(p);
	snprintf(err.msg + 0, sizeof(err.msg), "output swift://%s: %s",
		 c->path, err.msg[0] ? err.msg : "cannot start the PUT");
	zvmd_job_put_done(job, inst, err.msg);
}

/* ---------------------------------------------------------- admission */

/*
 * Room for the task's instances here, as for a job on one machine:
 * pool_size slots, then queue_length waiting; beyond that 503, before
 * anything is opened (the coordinator may try another replica's node).
 * The slots or queue place are held while inputs and edges are opened.
 */
static int task_admit(struct zvmd_task *t)
{
	struct zvmd_server *srv = t->srv;
	const struct proto_task *task = t->task;
	size_t n = 0;

	for (size_t i = 0; i < task->plan->ninst; i++)
		n += task->placement[i] == task->self;
	switch (zvmd_jobs_admit(srv, n)) {
	case ZVMD_ADMIT_RUN:
		t->reserved_slots = (unsigned)n;
		srv->reserved_slots += t->reserved_slots;
		return 0;
	case ZVMD_ADMIT_QUEUE:
		t->reserved_queue = true;
		srv->reserved_queue++;
		return 0;
	case ZVMD_ADMIT_FULL:
		break;
	}
	task_fail(t, 503, "worker %s:%u busy: %u of %u instance slots in "
		  "use, %u tasks waiting (queue_length %u); the task needs %zu",
		  srv->cluster->node_ip, srv->cfg.worker_port,
		  srv->slots_used + srv->reserved_slots, srv->cfg.pool_size,
		  srv->queue_depth + srv->reserved_queue, srv->cfg.queue_length,
		  n);
	zvmd_log(ZVMD_LOG_WARNING, "msg=\"task refused\" job=%s status=503 "
		 "error=\"%.*s\"", task->job, (int)strcspn(t->msg, "\n"),
		 t->msg);
	return -1;
}

/* The part job is submitted (or never will be): give back what
 * task_admit held. */
static void task_unreserve(struct zvmd_task *t)
{
	t->srv->reserved_slots -= t->reserved_slots;
	t->reserved_slots = 0;
	if (t->reserved_queue)
		t->srv->reserved_queue--;
	t->reserved_queue = false;
}

/* ------------------------------------------------------------ launch */

static void task_settled(struct zvmd_task *t)
{
	if (--t->pending > 0)
		return;
	if (t->suspended) {
		t->suspended = false;
		MHD_resume_connection(t->conn);
		zvmd_server_kick(t->srv);
	}
}

/* A task's instances must not outlive the coordinator's connection (cut,
 * or the coordinator died): MHD notices only when it next writes a frame,
 * which a quiet instance may never make it do. */
static void watch_coordinator(struct zvmd_task *t)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		t->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	if (ci && !zvmd_job_done(t->job))
		zvmd_job_watch_client(t->job, ci->connect_fd);
}

/* Everything is open (or failed): answer. */
static enum MHD_Result task_answer(struct zvmd_task *t)
{
	struct zvmd_job_part part = {
		t->here, t->fds, t->prog_fds, task_put, t,
	};
	struct proto_plan *plan = t->task->plan;
	struct proto_error err;
	struct MHD_Response *r;
	enum MHD_Result rc;

	task_unreserve(t);
	if (!t->status && !zvmd_edges_ready(t->edges, &err))
		task_fail(t, 504, "%s", err.msg);
	if (t->status) {
		zvmd_log(ZVMD_LOG_WARNING, "msg=task job=%s status=%d "
			 "error=\"%.*s\"", t->task->job, t->status,
			 (int)strcspn(t->msg, "\n"), t->msg);
		return answer_text(t->srv, t->conn, t->status, t->msg);
	}
	zvmd_edges_take(t->edges, t->fds);
	t->task->plan = NULL; /* the job's from here */
	if (zvmd_job_create_part(t->srv, plan, t->id, &part, NULL, NULL,
				 &t->job, &err)) {
		task_fail(t, proto_error_status(err.kind), "%s", err.msg);
		return answer_text(t->srv, t->conn, t->status, t->msg);
	}
	r = zvmd_job_frames_response(t->job, t->conn);
	if (!r)
		return MHD_NO;
	rc = MHD_queue_response(t->conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	zvmd_log(ZVMD_LOG_INFO, "msg=task job=%s id=%llu here=%zu "
		 "local_inputs=%zu proxied_inputs=%zu", t->task->job,
		 (unsigned long long)t->id, t->nhere,
		 t->nlocal, t->nproxied);
	zvmd_job_submit(t->job);
	watch_coordinator(t);
	return rc;
}

static void edges_settled(void *arg)
{
	task_settled(arg);
}

static int task_prepare(struct zvmd_task *t)
{
	const struct proto_task *task = t->task;
	const struct proto_plan *plan = task->plan;
	struct proto_error err;
	size_t nobj = 0;

	t->here = calloc(plan->ninst + 1, sizeof(bool));
	t->fds = calloc(plan->ninst + 1, sizeof(int *));
	t->prog_fds = malloc((plan->ninst + 1) * sizeof(int));
	for (size_t i = 0; i < plan->ninst; i++)
		nobj += plan->inst[i].nchannels + 1;
	t->fetches = calloc(nobj + 1, sizeof(*t->fetches));
	if (!t->here || !t->fds || !t->prog_fds || !t->fetches) {
		task_fail(t, 500, "out of memory");
		return -1;
	}
	t->ninst = plan->ninst;
	for (size_t i = 0; i < plan->ninst; i++) {
		t->prog_fds[i] = -1;
		t->here[i] = task->placement[i] == task->self;
		t->nhere += t->here[i];
	}
	/* Hold one count while starting, so that a GET settling at once
	 * does not answer before all have started. */
	t->pending = 1;
	for (size_t i = 0; i < plan->ninst; i++)
		if (t->here[i] && inst_open(t, i))
			return -1;
	t->pending++;
	if (zvmd_edges_start(t->srv, task, t->here, edges_settled, t,
			     &t->edges, &err)) {
		t->pending--;
		task_fail(t, 500, "%s", err.msg);
		return -1;
	}
	if (!t->edges)
		t->pending--;
	return 0;
}

/* --------------------------------------------------------- requests */

static struct zvmd_task *task_new(struct zvmd_server *srv,
				  struct MHD_Connection *conn)
{
	struct zvmd_task *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->srv = srv;
	t->conn = conn;
	t->id = ++srv->next_job_id;
	return t;
}

static enum MHD_Result task_start(struct zvmd_task *t, const char *url,
				  const char *body, size_t len)
{
	struct proto_limits lim;
	struct proto_error err;

	if (verify(t, url, body, len)) {
		zvmd_log(ZVMD_LOG_WARNING, "msg=\"task refused\" status=%d "
			 "error=\"%.*s\"", t->status,
			 (int)strcspn(t->msg, "\n"), t->msg);
		return answer_text(t->srv, t->conn, t->status, t->msg);
	}
	proto_limits_default(&lim);
	lim.max_instances = t->srv->cfg.max_instances;
	if (proto_task_from_json(body, len, &lim, &t->task, &err)) {
		task_fail(t, proto_error_status(err.kind), "task: %s", err.msg);
		return answer_text(t->srv, t->conn, t->status, t->msg);
	}
	if (task_admit(t))
		return answer_text(t->srv, t->conn, t->status, t->msg);
	task_prepare(t);
	if (--t->pending == 0 || t->status)
		return task_answer(t);
	/* A drain waits for it as for a job: MHD must not stop with a
	 * suspended connection. */
	t->suspended = true;
	t->counted = true;
	t->srv->live_jobs++;
	MHD_suspend_connection(t->conn);
	return MHD_YES;
}

enum MHD_Result zvmd_task_handle(struct zvmd_server *srv,
				 struct MHD_Connection *conn, const char *url,
				 const char *body, size_t len,
				 struct zvmd_task **slot)
{
	enum MHD_Result rc;

	if (*slot && (*slot)->pending)
		return MHD_YES;
	if (*slot) {
		/* Resumed: every GET and edge has settled (or one failed). */
		rc = task_answer(*slot);
		if ((*slot)->counted) {
			(*slot)->counted = false;
			srv->live_jobs--;
			zvmd_server_job_gone(srv);
		}
		return rc;
	}
	*slot = task_new(srv, conn);
	if (!*slot)
		return MHD_NO;
	if (srv->draining)
		return answer_text(srv, conn, 503, "zvmd is shutting down: no new "
				   "tasks\n");
	return task_start(*slot, url, body, len);
}

void zvmd_task_release(struct zvmd_task *t)
{
	if (!t)
		return;
	task_unreserve(t);
	for (size_t f = 0; f < t->nfetches; f++) {
		if (t->fetches[f].req)
			zvmd_http_cancel(t->fetches[f].req);
		zvmd_listing_cancel(t->fetches[f].list);
		if (t->fetches[f].fd >= 0)
			close(t->fetches[f].fd);
	}
	zvmd_edges_free(t->edges);
	if (t->job)
		zvmd_job_release(t->job);
	for (size_t i = 0; t->task && t->task->plan && i < t->task->plan->ninst;
	     i++) {
		if (t->prog_fds && t->prog_fds[i] >= 0)
			close(t->prog_fds[i]);
		for (size_t k = 0; t->fds && t->fds[i] &&
		     k < t->task->plan->inst[i].nchannels; k++)
			if (t->fds[i][k] >= 0)
				close(t->fds[i][k]);
	}
	for (size_t i = 0; t->fds && i < t->ninst; i++)
		free(t->fds[i]);
	free(t->fds);
	free(t->prog_fds);
	free(t->here);
	free(t->fetches);
	proto_task_free(t->task);
	free(t);
}
