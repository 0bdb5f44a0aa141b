/* server.c — the loop: libmicrohttpd driven by libuv, routing, signals.
 *
 * MHD runs in "external" epoll mode: it exposes one epoll fd, which the
 * loop watches with a uv_poll; MHD_run() is called when it is readable or
 * when MHD's own timeout (a uv_timer) expires. A job request suspends its
 * connection while the job runs; the job's completion resumes it and the
 * access handler, called again, queues the response. */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "internal.h"
#include "sandbox.h"

struct request {
	struct zvmd_server *srv;
	struct MHD_Connection *conn;
	char *body;
	size_t len, cap;
	uint64_t received;
	uint64_t id;
	bool too_large, stream, suspended, logged;
	char account[256];
	struct zvmd_job *job;
	bool is_task;             /* POST /internal/v1/task (cluster worker) */
	struct zvmd_task *task;
	struct zvmd_coord *coord;  /* role = cluster: planning, dispatch */
	bool planned;              /* the coordinator's planning has ended */
	struct timespec t0;
};

#define log_line(...) zvmd_log(ZVMD_LOG_INFO, __VA_ARGS__)

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The one line per job request (and its metrics). */
static void request_log(struct request *req, int status)
{
	struct zvmd_server *srv = req->srv;
	double secs = since(&req->t0);
	size_t ninst = 0;
	uint64_t in = 0, out = 0, body = 0;

	if (req->logged)
		return;
	req->logged = true;
	if (req->job)
		zvmd_job_totals(req->job, &ninst, &in, &out, &body);
	srv->metrics.bytes_in += req->received;
	zvmd_metrics_job(&srv->metrics, status, secs);
	log_line("msg=job id=%llu account=%s instances=%zu duration_ms=%.3f "
		 "status=%d request_bytes=%llu bytes_in=%llu bytes_out=%llu "
		 "response_bytes=%llu%s",
		 (unsigned long long)req->id, req->account[0] ?
		 req->account : "-", ninst, secs * 1000, status,
		 (unsigned long long)req->received, (unsigned long long)in,
		 (unsigned long long)out, (unsigned long long)body,
		 req->stream ? " stream=1" : "");
}

/* A small answer copied from text; retry_after > 0 adds Retry-After. */
enum MHD_Result zvmd_reply(struct MHD_Connection *conn, int status,
			   const char *type, const char *text,
			   unsigned retry_after)
{
	struct MHD_Response *r;
	enum MHD_Result rc;
	char ra[16];

	r = MHD_create_response_from_buffer(strlen(text), (void *)text,
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (retry_after) {
		snprintf(ra, sizeof(ra), "%u", retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	rc = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return rc;
}

/* A job request answered with an error: message as body, logged. */
static enum MHD_Result job_error(struct request *req, int status,
				 unsigned retry_after, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static enum MHD_Result job_error(struct request *req, int status,
				 unsigned retry_after, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	strcat(msg, "\n");
	request_log(req, status);
	return zvmd_reply(req->conn, status, "text/plain", msg, retry_after);
}

/* ------------------------------------------------------- MHD pumping */

static void mhd_pump(struct zvmd_server *srv);

static void on_mhd_timer(uv_timer_t *t)
{
	mhd_pump(t->data);
}

static void on_mhd_poll(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	mhd_pump(h->data);
}

static unsigned mhd_connections(struct zvmd_server *srv)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(
		srv->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return i ? i->num_connections : 0;
}

static void mhd_pump(struct zvmd_server *srv)
{
	MHD_UNSIGNED_LONG_LONG ms;
	unsigned before;

	if (srv->stopping)
		return;
	before = mhd_connections(srv);
	MHD_run(srv->mhd);
	if (srv->stopping)
		return;
	/* At its connection cap MHD takes the listen socket out of its epoll
	 * set and puts it back only at the start of a later MHD_run: when the
	 * run that closed connections is the last one, clients waiting in
	 * the backlog would wait forever. */
	if (mhd_connections(srv) < before)
		ms = 0;
	else if (MHD_get_timeout(srv->mhd, &ms) != MHD_YES)
		ms = UINT64_MAX;
	if (ms != UINT64_MAX)
		uv_timer_start(&srv->mhd_timer, on_mhd_timer, ms, 0);
	else
		uv_timer_stop(&srv->mhd_timer);
}

void zvmd_server_kick(struct zvmd_server *srv)
{
	if (!srv->stopping)
		uv_timer_start(&srv->mhd_timer, on_mhd_timer, 0, 0);
}

/* ---------------------------------------------------------- routing */

static int store_list(void *ctx, const char *account, const char *container,
		      const char *prefix, struct proto_names *out,
		      struct proto_error *err)
{
	struct zvmd_store *st = ctx;

	return st->ops->list(st, account, container, prefix, out, err);
}

static void on_job_done(struct zvmd_job *job, void *arg)
{
	struct request *req = arg;

	(void)job;
	if (req->stream) {
		request_log(req, zvmd_job_status(job));
		return;
	}
	if (req->suspended) {
		req->suspended = false;
		MHD_resume_connection(req->conn);
		zvmd_server_kick(req->srv);
	}
}

/* "/v1/acct[/cont[/obj]]" -> account, or -1. Only the account is used,
 * but every segment must be a valid store name all the same: a path like
 * /v1/acct/../../x is refused rather than silently read as /v1/acct. */
static int parse_account(const char *url, char *acct, size_t cap)
{
	const char *p, *slash;
	size_t n;

	if (strncmp(url, "/v1/", 4))
		return -1;
	p = url + 4;
	slash = strchr(p, '/');
	n = slash ? (size_t)(slash - p) : strlen(p);
	if (!zvmd_segment_ok(p, n) || n >= cap)
		return -1;
	snprintf(acct, cap, "%.*s", (int)n, p);
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -1;
	while (slash) {
		p = slash + 1;
		slash = strchr(p, '/');
		if (!zvmd_segment_ok(p, slash ? (size_t)(slash - p) : strlen(p)))
			return -1;
	}
	return 0;
}

/* A cluster job says where each instance ran. */
static void add_node_header(struct request *req, struct MHD_Response *r)
{
	char *nodes = req->coord ? zvmd_coord_nodes(req->coord) : NULL;

	if (nodes)
		MHD_add_response_header(r, "X-Nexe-Node", nodes);
	free(nodes);
}

static enum MHD_Result job_reply(struct request *req)
{
	struct MHD_Response *r = zvmd_job_response(req->job);
	int status = zvmd_job_status(req->job);
	enum MHD_Result rc;

	request_log(req, status);
	if (!r)
		return MHD_NO;
	add_node_header(req, r);
	if (status == 503) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%u", req->srv->cfg.retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	rc = MHD_queue_response(req->conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return rc;
}

/* Run a created job and answer: the streamed response at once, or the
 * whole one when it is done. */
static enum MHD_Result job_launch(struct request *req)
{
	struct MHD_Connection *conn = req->conn;
	const union MHD_ConnectionInfo *ci;
	struct MHD_Response *r;
	enum MHD_Result rc;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (req->stream) {
		r = zvmd_job_stream_response(req->job, conn);
		if (!r)
			return MHD_NO;
		add_node_header(req, r);
		rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
		MHD_destroy_response(r);
		zvmd_job_submit(req->job);
	} else {
		/* A job can end inside submit (no instance could start):
		 * answer at once, as a resume right after a suspend inside
		 * the handler is lost. Otherwise it ends from the loop,
		 * after the suspend. */
		zvmd_job_submit(req->job);
		if (zvmd_job_done(req->job))
			return job_reply(req);
		req->suspended = true;
		MHD_suspend_connection(conn);
		rc = MHD_YES;
	}
	if (ci && !zvmd_job_done(req->job))
		zvmd_job_watch_client(req->job, ci->connect_fd);
	return rc;
}

/* The coordinator's planning ended: answer (error) or run (from the
 * handler, where responses are queued). */
static void on_planned(struct zvmd_coord *co, void *arg)
{
	struct request *req = arg;

	(void)co;
	req->planned = true;
	req->suspended = false;
	MHD_resume_connection(req->conn);
	zvmd_server_kick(req->srv);
}

static enum MHD_Result coord_job_launch(struct request *req)
{
	const char *msg;
	int status = zvmd_coord_status(req->coord, &msg);

	if (status != 200)
		return job_error(req, status, status == 503 ?
				 req->srv->cfg.retry_after : 0, "%s", msg);
	req->job = zvmd_coord_job(req->coord);
	if (job_launch(req) == MHD_NO)
		return MHD_NO;
	if (!zvmd_job_done(req->job))
		zvmd_coord_dispatch(req->coord);
	return MHD_YES;
}

/* role = cluster: plan in a work thread with the user's token (the proxy
 * filter forwards it), then dispatch to the workers. */
static enum MHD_Result coord_job_start(struct request *req)
{
	const struct zvmd_config *cfg = &req->srv->cfg;
	const char *token = MHD_lookup_connection_value(req->conn,
		MHD_HEADER_KIND, "X-Auth-Token");
	char *json;

	if (!token || !*token)
		return job_error(req, 401, 0, "X-Auth-Token is missing: a "
				 "cluster job acts with the user's token (send "
				 "it through the Swift proxy)");
	if (req->srv->coord_jobs >= cfg->pool_size + cfg->queue_length)
		return job_error(req, 503, cfg->retry_after, "coordinator busy: "
				 "%u jobs in planning or running (at most "
				 "pool_size + queue_length = %u)",
				 req->srv->coord_jobs,
				 cfg->pool_size + cfg->queue_length);
	json = req->body ? req->body : strdup("");
	req->body = NULL;
	if (!json || zvmd_coord_start(req->srv, req->id, req->account, token,
				      json, req->len, on_job_done, on_planned,
				      req, &req->coord))
		return job_error(req, 500, 0, "cannot start planning the job");
	req->suspended = true;
	MHD_suspend_connection(req->conn);
	return MHD_YES;
}

static enum MHD_Result job_start(struct request *req)
{
	struct zvmd_server *srv = req->srv;
	const struct zvmd_config *cfg = &srv->cfg;
	struct proto_store store = { store_list, srv->store };
	struct proto_limits lim;
	struct proto_plan *plan = NULL;
	struct proto_error err = { 0 };
	const char *sysimages[ZVMD_MAX_SYSIMAGES];

	if (req->too_large)
		return job_error(req, 413, 0, "job description is %llu bytes, "
				 "more than max_job_size (%zu)",
				 (unsigned long long)req->received,
				 cfg->max_job_size);
	if (srv->draining)
		return job_error(req, 503, cfg->retry_after,
				 "zvmd is shutting down: no new jobs");
	if (srv->cluster)
		return coord_job_start(req);
	proto_limits_default(&lim);
	lim.max_job_size = cfg->max_job_size;
	lim.max_instances = cfg->max_instances;
	for (size_t i = 0; i < cfg->nsysimages; i++)
		sysimages[i] = cfg->sysimages[i].name;
	if (proto_job_plan(req->body ? req->body : "", req->len, req->account,
			   sysimages, cfg->nsysimages, &lim, &store, &plan,
			   &err))
		return job_error(req, proto_error_status(err.kind), 0, "%s",
				 err.msg);
	if (!zvmd_jobs_can_start(srv, plan->ninst) &&
	    srv->queue_depth >= cfg->queue_length) {
		size_t n = plan->ninst;

		proto_plan_free(plan);
		return job_error(req, 503, cfg->retry_after,
				 "no free slot: %u of %u instance slots in "
				 "use, %u jobs queued (queue_length %u); job "
				 "needs %zu", srv->slots_used, cfg->pool_size,
				 srv->queue_depth, cfg->queue_length, n);
	}
	if (zvmd_job_create(srv, plan, req->id, on_job_done, req,
			    &req->job, &err))
		return job_error(req, proto_error_status(err.kind), 0, "%s",
				 err.msg);
	return job_launch(req);
}


static enum MHD_Result serve_metrics(struct request *req)
{
	struct zvmd_server *srv = req->srv;
	enum MHD_Result rc;
	char *text;

	zvmd_image_cache_stats(&srv->images, &srv->metrics.image_cache_bytes,
			       &srv->metrics.image_evictions);
	text = zvmd_metrics_render(&srv->metrics, srv->queue_depth,
				   srv->running_jobs, srv->slots_used,
				   srv->cfg.pool_size, srv->draining);

	if (!text)
		return MHD_NO;
	rc = zvmd_reply(req->conn, 200, "text/plain; version=0.0.4", text, 0);
	free(text);
	return rc;
}

/* The job request's headers, checked before its body arrives. */
static enum MHD_Result job_headers(struct request *req, const char *method,
				   const char *url)
{
	struct MHD_Connection *conn = req->conn;
	const char *exec = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						       "X-Zerovm-Execute");
	const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *stream = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							 "X-Zerovm-Stream");
	const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (!exec || strcmp(method, "POST"))
		return job_error(req, 501, 0, "%s %s: zvmd only runs jobs: "
				 "POST with X-Zerovm-Execute: 1.0", method,
				 url);
	/* ZeroCloud's engine rewrote a bare "1.0" to "v1/1.0". */
	if (strcmp(exec, "1.0") && strcmp(exec, "v1/1.0"))
		return job_error(req, 400, 0, "X-Zerovm-Execute: '%s' is not "
				 "a supported version (1.0)", exec);
	if (parse_account(url, req->account, sizeof(req->account)))
		return job_error(req, 400, 0, "%s: expected /v1/<account>"
				 "[/<container>[/<object>]]", url);
	if (!ctype || strncasecmp(ctype, "application/json", 16))
		return job_error(req, 400, 0, "Content-Type: '%s': a job is "
				 "application/json", ctype ? ctype : "");
	req->stream = stream && !strcmp(stream, "1");
	/* Refuse an announced oversized body before reading it. */
	if (clen && strtoull(clen, NULL, 10) > req->srv->cfg.max_job_size)
		return job_error(req, 413, 0, "job description is %s bytes, "
				 "more than max_job_size (%zu)", clen,
				 req->srv->cfg.max_job_size);
	return MHD_YES;
}

static void body_append(struct request *req, const char *data, size_t n)
{
	size_t max = req->is_task ? ZVMD_TASK_MAX : req->srv->cfg.max_job_size;

	req->received += n;
	if (req->too_large || req->len + n > max) {
		req->too_large = true;
		return;
	}
	if (req->len + n + 1 > req->cap) {
		size_t cap = req->len + n + 1 > 2 * req->cap ?
			     req->len + n + 1 : 2 * req->cap;
		char *b = realloc(req->body, cap);

		if (!b) {
			req->too_large = true;
			return;
		}
		req->body = b;
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, n);
	req->len += n;
	req->body[req->len] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct zvmd_server *srv = cls;
	struct request *req = *con_cls;

	(void)version;
	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		req->srv = srv;
		req->conn = conn;
		clock_gettime(CLOCK_MONOTONIC, &req->t0);
		*con_cls = req;
		req->is_task = srv->cfg.role == ZVMD_ROLE_CLUSTER &&
			       !strcmp(url, "/internal/v1/task") &&
			       !strcmp(method, "POST");
		if (strncmp(url, "/v1/", 4) && strcmp(url, "/v1"))
			return MHD_YES;
		req->id = ++srv->next_job_id;
		return job_headers(req, method, url);
	}
	if (*upload_data_size) {
		body_append(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->job)
		return zvmd_job_done(req->job) && !req->stream ?
		       job_reply(req) : MHD_YES;
	if (req->is_task && req->too_large)
		return zvmd_reply(conn, 413, "text/plain", "task larger than "
				  "ZVMD_TASK_MAX\n", 0);
	if (req->is_task)
		return zvmd_task_handle(srv, conn, url, req->body ? req->body :
					"", req->len, &req->task);
	if (req->coord)
		return req->planned ? coord_job_launch(req) : MHD_YES;
	if (!strncmp(url, "/v1/", 4) || !strcmp(url, "/v1"))
		return job_start(req);
	if (!strcmp(url, "/healthcheck") && !strcmp(method, "GET"))
		return srv->draining ?
		       zvmd_reply(conn, 503, "text/plain", "DRAINING\n", 0) :
		       zvmd_reply(conn, 200, "text/plain", "OK\n", 0);
	if (!strcmp(url, "/metrics") && !strcmp(method, "GET"))
		return serve_metrics(req);
	return zvmd_reply(conn, 404, "text/plain", "not found: zvmd serves "
			  "/v1/<account> (jobs), /healthcheck and /metrics\n", 0);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!req)
		return;
	*con_cls = NULL;
	/* A streamed job whose client left before the end: 499, as nginx. */
	if (req->job && !req->logged)
		request_log(req, 499);
	if (req->coord)
		zvmd_coord_release(req->coord);
	if (req->job)
		zvmd_job_release(req->job);
	zvmd_task_release(req->task);
	free(req->body);
	free(req);
}

/* ---------------------------------------------------------- signals */

static void server_stop(struct zvmd_server *srv)
{
	uv_handle_t *hs[] = {
		(uv_handle_t *)&srv->mhd_poll, (uv_handle_t *)&srv->mhd_timer,
		(uv_handle_t *)&srv->sig_term, (uv_handle_t *)&srv->sig_int,
		(uv_handle_t *)&srv->sig_hup, (uv_handle_t *)&srv->grace_timer,
	};

	if (srv->stopping)
		return;
	srv->stopping = true;
	log_line("msg=stopped");
	zvmd_http_close(srv->http);
	zvmd_edge_close(srv);
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
		if (!uv_is_closing(hs[i]))
			uv_close(hs[i], NULL);
}

void zvmd_server_job_gone(struct zvmd_server *srv)
{
	if (srv->draining && srv->live_jobs == 0)
		server_stop(srv);
}

/* Killed instances are reaped within moments; answers that still have
 * not gone out this long after the kill (a client that reads nothing)
 * do not hold the exit. */
#define DRAIN_FORCE_MS 10000

static void on_drain_force(uv_timer_t *t)
{
	struct zvmd_server *srv = t->data;

	zvmd_log(ZVMD_LOG_WARNING, "msg=\"drain forced\" live_jobs=%u",
		 srv->live_jobs);
	server_stop(srv);
}

static void on_grace(uv_timer_t *t)
{
	struct zvmd_server *srv = t->data;

	zvmd_log(ZVMD_LOG_WARNING, "msg=\"drain grace over\" killing=%u",
		 srv->running_jobs);
	/* Cancelling a running job only kills its instances: it stays on
	 * the list until they have been reaped. */
	for (struct zvmd_job *j = srv->running; j; j = zvmd_job_next(j))
		zvmd_job_cancel(j, "daemon shutting down");
	uv_timer_start(&srv->grace_timer, on_drain_force, DRAIN_FORCE_MS, 0);
}

static void on_term(uv_signal_t *h, int signum)
{
	struct zvmd_server *srv = h->data;

	if (srv->draining)
		return;
	srv->draining = true;
	sandbox_prewarm_drop();
	sd_notify(0, "STOPPING=1");
	log_line("msg=draining signal=%d running_jobs=%u queued=%u "
		 "grace_s=%u", signum, srv->running_jobs, srv->queue_depth,
		 srv->cfg.drain_grace);
	while (srv->queue_head)
		zvmd_job_cancel(srv->queue_head, "zvmd is shutting down");
	uv_timer_start(&srv->grace_timer, on_grace,
		       (uint64_t)srv->cfg.drain_grace * 1000, 0);
	zvmd_server_job_gone(srv);
}

/* Re-read the file, re-apply the flags; limits take effect for the next
 * jobs. listen, root and spool need a restart. */
static int config_build(struct zvmd_config *cfg, const char *path,
			const char *const *ov, size_t nov,
			struct zvmd_error *err)
{
	zvmd_config_default(cfg);
	if (path && zvmd_config_load(cfg, path, err))
		return -1;
	for (size_t i = 0; i < nov; i++) {
		const char *eq = strchr(ov[i], '=');
		char key[64];

		if (!eq || (size_t)(eq - ov[i]) >= sizeof(key)) {
			snprintf(err->msg, sizeof(err->msg), "bad override '%s'",
				 ov[i]);
			return -1;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - ov[i]), ov[i]);
		if (zvmd_config_set(cfg, key, eq + 1, err))
			return -1;
	}
	return zvmd_config_check(cfg, err);
}

static void on_hup(uv_signal_t *h, int signum)
{
	struct zvmd_server *srv = h->data;
	struct zvmd_config cfg;
	struct zvmd_error err;

	(void)signum;
	sd_notify(0, "RELOADING=1");
	if (config_build(&cfg, srv->config_path, srv->overrides,
			 srv->noverrides, &err)) {
		zvmd_log(ZVMD_LOG_ERROR, "msg=\"reload failed, keeping the old "
			 "configuration\" error=\"%s\"", err.msg);
		sd_notify(0, "READY=1");
		return;
	}
	if (strcmp(cfg.listen, srv->cfg.listen) ||
	    strcmp(cfg.root, srv->cfg.root) ||
	    strcmp(cfg.spool, srv->cfg.spool) ||
	    cfg.client_timeout != srv->cfg.client_timeout)
		log_line("msg=\"listen, root, spool and client_timeout change "
			 "on restart only\"");
	cfg.client_timeout = srv->cfg.client_timeout;
	memcpy(cfg.listen, srv->cfg.listen, sizeof(cfg.listen));
	memcpy(cfg.root, srv->cfg.root, sizeof(cfg.root));
	memcpy(cfg.spool, srv->cfg.spool, sizeof(cfg.spool));
	srv->cfg = cfg;
	if (!cfg.prewarm)
		sandbox_prewarm_drop();
	zvmd_log_set_level(zvmd_log_level_parse(cfg.log_level));
	sd_notify(0, "READY=1");
	log_line("msg=reloaded pool_size=%u queue_length=%u", cfg.pool_size,
		 cfg.queue_length);
	zvmd_jobs_schedule(srv);
}

/* ------------------------------------------------------------- run */

static int write_port_file(const char *path, unsigned port,
			   struct zvmd_error *err)
{
	char tmp[PATH_MAX + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) ||
	    rename(tmp, path)) {
		snprintf(err->msg, sizeof(err->msg), "port file %.400s: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* MHD's own decoding, except that a %00 does not cut the path short (the
 * handler sees a C string: /v1/acct%00x would read as /v1/acct): it
 * becomes a control byte, which parse_account() refuses. */
static size_t unescape_uri(void *cls, struct MHD_Connection *c, char *uri)
{
	size_t n = MHD_http_unescape(uri);

	(void)cls;
	(void)c;
	for (size_t i = 0; i < n; i++)
		if (uri[i] == '\0')
			uri[i] = 0x7f;
	return n;
}

/*
 * How many client connections to accept at once. Every connection costs an
 * fd and a running job costs several more (pipes, inputs, spool files), so
 * a fixed cap above the fd limit would turn a connection flood into EMFILE
 * for jobs already running. The soft fd limit is raised to the hard one
 * first (systemd's default soft limit is 1024); connections get a quarter.
 */
static unsigned connection_cap(void)
{
	struct rlimit rl;
	rlim_t cap;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 256;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	cap = rl.rlim_cur / 4;
	if (cap > 4000)
		cap = 4000;
	return cap < 8 ? 8 : (unsigned)cap;
}

/* MHD's messages (a client that vanished, a refused request) as log lines
 * at level warning, so that log_level applies to them too. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[400];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (char *c = msg; *c; c++)
		if (*c == '"' || (unsigned char)*c < 0x20)
			*c = *c == '"' ? '\'' : ' ';
	zvmd_log(ZVMD_LOG_WARNING, "msg=\"http\" error=\"%s\"", msg);
}

static int server_listen(struct zvmd_server *srv, bool listen,
			 struct zvmd_error *err)
{
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	unsigned max_conns = connection_cap();
	char msg[256];

	if (zvmd_listen_parse(srv->cfg.listen, &sa, msg, sizeof(msg))) {
		snprintf(err->msg, sizeof(err->msg), "listen: %s", msg);
		return -1;
	}
	srv->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
		(listen ? 0 : MHD_USE_NO_LISTEN_SOCKET),
		ntohs(sa.sin_port), NULL, NULL, on_request, srv,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
		MHD_OPTION_CONNECTION_LIMIT, max_conns,
		/* A client that sends nothing for this long (slowloris, a
		 * half-sent request, an idle keep-alive) loses its connection;
		 * a running job's connection is suspended and never times out. */
		MHD_OPTION_CONNECTION_TIMEOUT, srv->cfg.client_timeout,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape_uri, NULL,
		MHD_OPTION_END);
	if (!srv->mhd) {
		snprintf(err->msg, sizeof(err->msg), "cannot listen on %s "
			 "(in use? bad address?)", srv->cfg.listen);
		return -1;
	}
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	log_line("msg=listening addr=%s port=%u root=%s max_connections=%u",
		 srv->cfg.listen, info ? info->port : 0, srv->cfg.root,
		 max_conns);
	if (listen && srv->cfg.port_file[0] &&
	    write_port_file(srv->cfg.port_file, info ? info->port : 0, err))
		return -1;
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	uv_poll_init(srv->loop, &srv->mhd_poll, info->epoll_fd);
	srv->mhd_poll.data = srv;
	uv_poll_start(&srv->mhd_poll, UV_READABLE, on_mhd_poll);
	return 0;
}

static void signals_start(struct zvmd_server *srv)
{
	uv_signal_init(srv->loop, &srv->sig_term);
	uv_signal_init(srv->loop, &srv->sig_int);
	uv_signal_init(srv->loop, &srv->sig_hup);
	srv->sig_term.data = srv->sig_int.data = srv->sig_hup.data = srv;
	uv_signal_start(&srv->sig_term, on_term, SIGTERM);
	uv_signal_start(&srv->sig_int, on_term, SIGINT);
	uv_signal_start(&srv->sig_hup, on_hup, SIGHUP);
	uv_timer_init(srv->loop, &srv->grace_timer);
	srv->grace_timer.data = srv;
}

/* Cluster mode's worker side: the replay cache, the edge listener. */
static int worker_start(struct zvmd_server *srv, struct zvmd_error *err)
{
	srv->auth = zvmd_auth_new(&srv->cluster->secret, 0);
	if (!srv->auth) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -1;
	}
	return zvmd_edge_listen(srv, srv->cluster->node_ip, err);
}

/* The uv work queue runs what would block the loop: a coordinator's
 * planning (blocking HTTP to the proxy) and image work (extraction, cache
 * trimming). None of it waits for other queued work, so a busy queue only
 * delays; size it to plan as many jobs as can run at once, plus a few.
 * (Sandboxes have a supervisor thread each, job.c.) libuv reads the size
 * once, at the first work request. */
static void threadpool_size(const struct zvmd_config *cfg)
{
	char n[16];
	unsigned v = cfg->pool_size + 4;

	snprintf(n, sizeof(n), "%u", v > 1024 ? 1024 : v);
	setenv("UV_THREADPOOL_SIZE", n, 0);
}

/* One malloc arena for the whole process. glibc gives threads arenas of
 * their own (up to 8 per core) so that threads allocating in parallel do
 * not contend; zvmd's threads (the loop, the work queue, the sandboxes'
 * supervisors) mostly wait in system calls, and each extra arena only
 * keeps the holes its share of the work left behind. In a 3-minute
 * cluster soak (tests/bench/RESULTS.md, "Soak") 15 arenas ended 1.5 MB
 * higher and still creeping (+5 to +6 %, one arena: +1 to +4 %). The
 * small-block caches stay per thread. */
static void malloc_one_arena(void)
{
	mallopt(M_ARENA_MAX, 1);
}

static void server_free(struct zvmd_server *srv)
{
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd);
	zvmd_auth_free(srv->auth);
	if (srv->store)
		srv->store->ops->free(srv->store);
	if (srv->spoolfd >= 0)
		close(srv->spoolfd);
	zvmd_cluster_free(srv->cluster);
	zvmd_image_cache_close(&srv->images);
	free(srv);
}

/* Everything but the loop and the signals: the store, the spool, the
 * outgoing client, cluster mode's rings, replay cache and edge listener,
 * and MHD (listening or not). */
int zvmd_server_open(const struct zvmd_config *cfg, uv_loop_t *loop,
		     bool listen, struct zvmd_server **out,
		     struct zvmd_error *err)
{
	struct zvmd_server *srv = calloc(1, sizeof(*srv));
	struct proto_error perr;

	if (!srv) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -1;
	}
	srv->cfg = *cfg;
	srv->spoolfd = -1;
	srv->loop = loop;
	if (zvmd_image_cache_init(&srv->images)) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		free(srv);
		return -1;
	}
	if (zvmd_store_local_open(cfg->root, &srv->store, &perr)) {
		snprintf(err->msg, sizeof(err->msg), "%s", perr.msg);
		goto fail;
	}
	srv->spoolfd = open(cfg->spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (srv->spoolfd < 0) {
		snprintf(err->msg, sizeof(err->msg), "spool %.400s: %s",
			 cfg->spool, strerror(errno));
		goto fail;
	}
	if (zvmd_http_create(loop, &srv->http, &perr)) {
		snprintf(err->msg, sizeof(err->msg), "%s", perr.msg);
		goto fail;
	}
	if (cfg->role == ZVMD_ROLE_CLUSTER &&
	    zvmd_cluster_load(cfg, &srv->cluster, err)) {
		zvmd_http_close(srv->http);
		uv_run(loop, UV_RUN_DEFAULT);
		goto fail;
	}
	if (cfg->role == ZVMD_ROLE_CLUSTER && worker_start(srv, err)) {
		zvmd_http_close(srv->http);
		uv_run(loop, UV_RUN_DEFAULT);
		goto fail;
	}
	uv_timer_init(loop, &srv->mhd_timer);
	srv->mhd_timer.data = srv;
	if (server_listen(srv, listen, err)) {
		uv_close((uv_handle_t *)&srv->mhd_timer, NULL);
		zvmd_http_close(srv->http);
		uv_run(loop, UV_RUN_DEFAULT);
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	server_free(srv);
	return -1;
}

int zvmd_run(const struct zvmd_config *cfg, const char *config_path,
	     const char *const *overrides, size_t noverrides,
	     struct zvmd_error *err)
{
	struct zvmd_server *srv;
	uv_loop_t loop;

	signal(SIGPIPE, SIG_IGN);
	zvmd_log_set_level(zvmd_log_level_parse(cfg->log_level));
	malloc_one_arena();
	threadpool_size(cfg);
	if (uv_loop_init(&loop)) {
		snprintf(err->msg, sizeof(err->msg), "uv_loop_init failed");
		return -1;
	}
	if (zvmd_server_open(cfg, &loop, true, &srv, err)) {
		uv_loop_close(&loop);
		return -1;
	}
	srv->config_path = config_path;
	srv->overrides = overrides;
	srv->noverrides = noverrides;
	signals_start(srv);
	sd_notify(0, "READY=1");
	zvmd_server_kick(srv);
	uv_run(&loop, UV_RUN_DEFAULT);
	sandbox_prewarm_drop();
	server_free(srv);
	uv_loop_close(&loop);
	return 0;
}
