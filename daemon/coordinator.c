/* coordinator.c — a cluster job on the node the proxy handed it to.
 *
 *   1. planning (cluster_prep.c) on the uv work queue: listings, HEADs,
 *      write probes and placement block on HTTP; the signed task body
 *      for every node is built there too (JSON of a big plan is CPU);
 *   2. back on the loop, a remote job (job.c) stands for the instances:
 *      it owns the response (X-Nexe-* headers, body in instance order,
 *      streaming) exactly as for a local job;
 *   3. dispatch: POST /internal/v1/task to every node with instances;
 *      each answer is a stream of frames fed to the remote job: output,
 *      report, then done. A node that cannot be reached, answers an
 *      error, or whose stream stops before `done` fails the job's
 *      unreported instances with a message naming the worker, and the
 *      other nodes' tasks are cancelled (closing their connections
 *      stops their instances). A node that cannot be reached or is busy
 *      (503) gets its instances sent once to another replica's node;
 *      a busy one without such a node fails the job with 503.
 *
 * The user's token is sent to workers in task bodies only, never logged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define TASK_PATH "/internal/v1/task"
/* A task is signed for this long: it is sent right after signing. */
#define TASK_EXPIRES_S 120
#define WORKER_CONNECT_MS 2000
/* Most of a worker's non-200 answer kept for the message. */
#define ERRTEXT_MAX 400

/* A task for one worker, signed. */
struct signed_task {
	char addr[80];                    /* the worker's "ip:port" */
	char *body;                       /* JSON */
	size_t len;
	char expires[64], nonce[96], sig[96]; /* "X-Zvm-...: value" */
};

struct coord_node {
	struct zvmd_coord *co;
	struct signed_task task;
	/* Where its instances go if the worker cannot be reached (body NULL:
	 * nowhere), tried once. */
	struct signed_task alt;
	struct zvmd_http_request *req;    /* NULL once done or cancelled */
	unsigned reported;                /* report frames received */
	bool failed;                      /* it sent an error frame */
	struct proto_frame_parser *parser;
	bool sink_failed;                 /* the error is ours, not the worker's */
	long status;
	char errtext[ERRTEXT_MAX + 1];
	size_t errlen;
};

struct zvmd_coord {
	struct zvmd_server *srv;
	uv_work_t work;
	struct zvmd_prep prep;
	uint64_t id;
	size_t ninst;
	char jobid[65];
	struct coord_node *nodes;         /* parallel to prep.place.nodes */
	size_t nnodes;
	struct zvmd_job *job;
	zvmd_job_done_cb done;
	zvmd_coord_ready_cb ready;
	void *arg;
	bool working, released;
};

/* ------------------------------------------------------- work thread */

static int prep_fail(struct zvmd_prep *p, const char *what,
		     const struct proto_error *err)
{
	p->status = 500;
	snprintf(p->msg, sizeof(p->msg), "%s: %s", what, err ? err->msg :
		 "out of memory");
	return -1;
}

/* Serialize and sign a task for the worker at addr. */
static int task_sign(struct zvmd_coord *co, struct proto_task *task,
		     const char *addr, struct signed_task *out)
{
	const struct zvmd_secret *secret = &co->srv->cluster->secret;
	struct proto_error err = { 0 };
	int64_t expires = (int64_t)time(NULL) + TASK_EXPIRES_S;
	char nonce[PROTO_NONCE_HEX + 1], sig[PROTO_SIG_HEX + 1];

	snprintf(out->addr, sizeof(out->addr), "%s", addr);
	out->body = proto_task_to_json(task, &err);
	if (!out->body)
		return prep_fail(&co->prep, "task", &err);
	out->len = strlen(out->body);
	if (proto_nonce_new(nonce) ||
	    proto_sign_request(secret->key, secret->len, "POST", TASK_PATH,
			       expires, nonce, out->body, out->len, sig))
		return prep_fail(&co->prep, "signing the task", NULL);
	snprintf(out->expires, sizeof(out->expires), "X-Zvm-Expires: %lld",
		 (long long)expires);
	snprintf(out->nonce, sizeof(out->nonce), "X-Zvm-Nonce: %s", nonce);
	snprintf(out->sig, sizeof(out->sig), "X-Zvm-Signature: %s", sig);
	return 0;
}

/* Node k's instances alone on its alternative node: a task of its own
 * (job id "<job>-r"), where every other instance is said to run on k. */
static int alt_build(struct zvmd_coord *co, struct proto_task *task, size_t k)
{
	const struct zvmd_prep *p = &co->prep;
	const struct zvmd_node *alt = &p->alt[k], *dead = &p->place.nodes[k];
	struct proto_node nodes[2] = {
		{ (char *)alt->http, (char *)alt->edge },
		{ (char *)dead->http, (char *)dead->edge },
	};
	size_t *placement = calloc(co->ninst + 1, sizeof(*placement));
	char jobid[80];
	struct proto_task t = *task;
	int rc;

	if (!placement)
		return prep_fail(&co->prep, "dispatch", NULL);
	for (size_t i = 0; i < co->ninst; i++)
		placement[i] = p->place.inst[i] == k ? 0 : 1;
	snprintf(jobid, sizeof(jobid), "%s-r", co->jobid);
	t.job = jobid;
	t.self = 0;
	t.nodes = nodes;
	t.nnodes = 2;
	t.placement = placement;
	rc = task_sign(co, &t, alt->http, &co->nodes[k].alt);
	free(placement);
	return rc;
}

static void on_work(uv_work_t *w)
{
	struct zvmd_coord *co = w->data;
	struct zvmd_prep *p = &co->prep;
	struct proto_task task = {
		.version = PROTO_TASK_VERSION, .job = co->jobid,
		.account = p->account, .objects = NULL,
	};
	struct proto_node *nodes;

	zvmd_prep_run(p);
	if (p->status != 200)
		return;
	co->ninst = p->plan->ninst;
	co->nnodes = p->place.nnodes;
	co->nodes = calloc(co->nnodes, sizeof(*co->nodes));
	nodes = calloc(co->nnodes, sizeof(*nodes));
	if (!co->nodes || !nodes) {
		free(nodes);
		prep_fail(p, "dispatch", NULL);
		return;
	}
	for (size_t k = 0; k < co->nnodes; k++) {
		nodes[k].http = p->place.nodes[k].http;
		nodes[k].edge = p->place.nodes[k].edge;
		co->nodes[k].co = co;
	}
	task.token = p->token;
	task.nodes = nodes;
	task.nnodes = co->nnodes;
	task.placement = p->place.inst;
	task.objects = p->objects;
	task.nobjects = p->nobjects;
	task.plan = p->plan;
	for (size_t k = 0; k < co->nnodes; k++) {
		task.self = k;
		if (task_sign(co, &task, p->place.nodes[k].http,
			      &co->nodes[k].task) ||
		    (p->alt && p->alt[k].ip[0] && alt_build(co, &task, k)))
			break;
	}
	free(nodes);
}

/* -------------------------------------------------------------- loop */

static void coord_free(struct zvmd_coord *co)
{
	struct zvmd_server *srv = co->srv;

	for (size_t k = 0; k < co->nnodes; k++) {
		struct coord_node *n = &co->nodes[k];

		if (n->req)
			zvmd_http_cancel(n->req);
		proto_frame_parser_free(n->parser);
		free(n->task.body);
		free(n->alt.body);
	}
	free(co->nodes);
	zvmd_prep_clear(&co->prep);
	free(co);
	/* A coordinator counts as a live job from its planning until its
	 * request is over: a drain waits for it. */
	srv->live_jobs--;
	srv->coord_jobs--;
	zvmd_server_job_gone(srv);
}

/* Stop every node's task still running (their connections close). */
static void cancel_all(struct zvmd_coord *co)
{
	for (size_t k = 0; k < co->nnodes; k++)
		if (co->nodes[k].req) {
			zvmd_http_cancel(co->nodes[k].req);
			co->nodes[k].req = NULL;
		}
}

/* The job ended: stop the tasks still running (a timeout, a failed
 * node); streams whose instances have all reported end by themselves. */
static void on_job_done(struct zvmd_job *job, void *arg)
{
	struct zvmd_coord *co = arg;

	for (size_t k = 0; k < co->nnodes; k++) {
		struct coord_node *n = &co->nodes[k];

		if (n->req && n->reported < co->prep.place.nodes[k].ninst) {
			zvmd_http_cancel(n->req);
			n->req = NULL;
		}
	}
	if (co->done)
		co->done(job, co->arg);
}

static void after_work(uv_work_t *w, int status)
{
	struct zvmd_coord *co = w->data;
	struct zvmd_prep *p = &co->prep;
	struct proto_error err = { 0 };

	co->working = false;
	if (co->released) {
		coord_free(co);
		return;
	}
	if ((status || co->srv->draining) && p->status == 200) {
		p->status = 503;
		snprintf(p->msg, sizeof(p->msg), "zvmd is shutting down: no "
			 "new jobs");
	}
	if (p->status == 200) {
		if (zvmd_job_create_remote(co->srv, p->plan, co->id,
					   on_job_done, co, &co->job, &err)) {
			p->status = proto_error_status(err.kind);
			snprintf(p->msg, sizeof(p->msg), "%s", err.msg);
		}
		p->plan = NULL;
	}
	co->ready(co, co->arg);
}

int zvmd_coord_start(struct zvmd_server *srv, uint64_t id,
		     const char *account, const char *token, char *json,
		     size_t len, zvmd_job_done_cb done,
		     zvmd_coord_ready_cb ready, void *arg,
		     struct zvmd_coord **out)
{
	struct zvmd_coord *co = calloc(1, sizeof(*co));

	*out = NULL;
	if (!co) {
		free(json);
		return -1;
	}
	co->srv = srv;
	co->id = id;
	co->done = done;
	co->ready = ready;
	co->arg = arg;
	co->prep.cfg = srv->cfg;
	co->prep.cl = srv->cluster;
	co->prep.json = json;
	co->prep.len = len;
	co->prep.token = strdup(token);
	snprintf(co->prep.account, sizeof(co->prep.account), "%s", account);
	snprintf(co->jobid, sizeof(co->jobid), "%.15s-%d-%llu",
		 srv->cluster->node_ip, (int)getpid(), (unsigned long long)id);
	co->work.data = co;
	srv->live_jobs++;
	srv->coord_jobs++;
	if (!co->prep.token ||
	    uv_queue_work(srv->loop, &co->work, on_work, after_work)) {
		coord_free(co);
		return -1;
	}
	co->working = true;
	*out = co;
	return 0;
}

int zvmd_coord_status(const struct zvmd_coord *co, const char **msg)
{
	*msg = co->prep.msg;
	return co->prep.status;
}

struct zvmd_job *zvmd_coord_job(const struct zvmd_coord *co)
{
	return co->job;
}

/* ---------------------------------------------------------- dispatch */

/* Node k failed: its unreported instances (and with them the job) fail
 * with why, the job's answer is status (0: as its instances say); the
 * other nodes' tasks stop. */
static void node_refuse(struct coord_node *n, int status, const char *why)
{
	struct zvmd_coord *co = n->co;

	zvmd_log(ZVMD_LOG_WARNING, "msg=\"worker failed\" job=%s error=\"%s\"",
		 co->jobid, why);
	if (co->job && !zvmd_job_done(co->job)) {
		if (status)
			zvmd_job_remote_refuse(co->job, status, why);
		else
			zvmd_job_remote_fail(co->job, why);
	}
	cancel_all(co);
}

static void node_fail(struct coord_node *n, const char *why)
{
	node_refuse(n, 0, why);
}

/* A worker speaks only for the instances placed on it. */
static int node_owns(const struct coord_node *n, size_t inst,
		     struct proto_error *err)
{
	const struct zvmd_coord *co = n->co;
	size_t k = (size_t)(n - co->nodes);

	if (inst < co->ninst && co->prep.place.inst[inst] == k)
		return 0;
	return proto_error_set(err, PROTO_EINTERNAL, "instance %zu does not "
			       "run on this worker", inst);
}

static int sink_frame(void *arg, const struct proto_frame *f,
		      struct proto_error *err)
{
	struct coord_node *n = arg;

	n->failed |= f->type == PROTO_FRAME_ERROR;
	if (f->type != PROTO_FRAME_REPORT)
		return 0;
	if (node_owns(n, f->inst, err))
		return -1;
	n->reported++;
	zvmd_job_remote_report(n->co->job, f);
	return 0;
}

static int sink_output(void *arg, size_t inst, const char *buf, size_t len,
		       struct proto_error *err)
{
	struct coord_node *n = arg;

	if (node_owns(n, inst, err))
		return -1;
	if (zvmd_job_remote_output(n->co->job, inst, buf, len, err)) {
		n->sink_failed = true;
		return -1;
	}
	return 0;
}

static void on_response(struct zvmd_http_request *req,
			const struct zvmd_http_response *resp, void *arg)
{
	struct coord_node *n = arg;

	(void)req;
	n->status = resp->status;
}

static enum zvmd_http_flow on_data(struct zvmd_http_request *req,
				   const char *buf, size_t len, void *arg)
{
	struct coord_node *n = arg;
	struct proto_error err = { 0 };
	char why[700];
	size_t used;

	if (n->status != 200) {
		size_t room = ERRTEXT_MAX - n->errlen;

		memcpy(n->errtext + n->errlen, buf, len < room ? len : room);
		n->errlen += len < room ? len : room;
		n->errtext[n->errlen] = '\0';
		return ZVMD_HTTP_CONSUMED;
	}
	if (proto_frame_parser_feed(n->parser, buf, len, &used, &err)) {
		if (n->sink_failed)
			snprintf(why, sizeof(why), "coordinator: %s", err.msg);
		else
			snprintf(why, sizeof(why), "worker %s sent a bad "
				 "answer: %s", n->task.addr, err.msg);
		zvmd_http_cancel(req);
		n->req = NULL;
		node_fail(n, why);
	}
	return ZVMD_HTTP_CONSUMED;
}

static int node_send(struct coord_node *n, const struct signed_task *t);

/* The worker did not take the task (unreachable, or busy): send its
 * instances to the alternative node, once. */
static bool node_retry(struct coord_node *n, const char *error)
{
	struct signed_task t;

	if (!n->alt.body)
		return false;
	zvmd_log(ZVMD_LOG_WARNING, "msg=\"worker did not take the task, "
		 "instances re-placed\" job=%s worker=%s instead=%s instances=%u "
		 "error=\"%s\"", n->co->jobid, n->task.addr, n->alt.addr,
		 n->co->prep.alt[n - n->co->nodes].ninst, error);
	t = n->alt;
	n->alt.body = NULL;
	free(n->task.body);
	n->task = t;
	proto_frame_parser_free(n->parser);
	n->parser = NULL;
	return node_send(n, &n->task) == 0;
}

static void on_done(struct zvmd_http_request *req,
		    const struct zvmd_http_result *res, void *arg)
{
	struct coord_node *n = arg;
	const char *addr = n->task.addr;
	struct proto_error err = { 0 };
	char why[900];

	(void)req;
	n->req = NULL;
	if (res->error && n->status == 0) {
		if (node_retry(n, res->error))
			return;
		snprintf(why, sizeof(why), "worker %s unreachable: %s", addr,
			 res->error);
	} else if (n->status != 200) {
		while (n->errlen && (n->errtext[n->errlen - 1] == '\n' ||
				     n->errtext[n->errlen - 1] == '\r'))
			n->errtext[--n->errlen] = '\0';
		/* Busy (or draining): another replica's node may have room;
		 * else the client may retry the whole job later. */
		if (n->status == 503 && node_retry(n, n->errtext))
			return;
		snprintf(why, sizeof(why), "worker %s refused the task (%ld): "
			 "%s", addr, n->status, n->errtext);
		/* What the refusal says about the job is the job's answer:
		 * 400 it cannot run there as sent (a system image that node
		 * lacks), 404/409 an input deleted or changed since planning.
		 * Anything else (auth, the worker's own trouble) is a 500. */
		if (n->status == 503 || n->status == 400 ||
		    n->status == 404 || n->status == 409) {
			node_refuse(n, (int)n->status, why);
			return;
		}
	} else if (proto_frame_parser_end(n->parser, &err)) {
		snprintf(why, sizeof(why), n->failed ? "worker %s failed its "
			 "task: %s" : "worker %s stopped mid-job: %s", addr,
			 res->error && !n->failed ? res->error : err.msg);
	} else {
		return;
	}
	node_fail(n, why);
}

/* POST the task; its answer streams into the job. 0, or -1 when the
 * node failed (and with it the job). */
static int node_send(struct coord_node *n, const struct signed_task *t)
{
	struct proto_frame_sink sink = { sink_frame, sink_output, n };
	/* One connection per task, closed with it: a worker then holds a
	 * connection only while it has the task (and a refused task costs
	 * the coordinator no idle socket); a TCP connect is cheap next to
	 * planning. */
	const char *headers[] = { t->expires, t->nonce, t->sig,
				  "Content-Type: application/json",
				  "Connection: close", NULL };
	struct zvmd_http_opts o = { 0 };
	struct proto_error err = { 0 };
	char url[128], why[700];

	n->status = 0;
	n->errlen = 0;
	n->reported = 0;
	n->parser = proto_frame_parser_new(n->co->ninst, 0, &sink);
	if (!n->parser) {
		node_fail(n, "out of memory");
		return -1;
	}
	snprintf(url, sizeof(url), "http://%s" TASK_PATH, t->addr);
	o.method = "POST";
	o.url = url;
	o.headers = headers;
	o.body_kind = ZVMD_HTTP_BODY_MEM;
	o.body = t->body;
	o.body_len = t->len;
	o.connect_timeout_ms = WORKER_CONNECT_MS;
	o.on_response = on_response;
	o.on_data = on_data;
	o.on_done = on_done;
	o.arg = n;
	if (zvmd_http_start(n->co->srv->http, &o, &n->req, &err)) {
		snprintf(why, sizeof(why), "worker %s: %s", t->addr, err.msg);
		node_fail(n, why);
		return -1;
	}
	zvmd_log(ZVMD_LOG_DEBUG, "msg=dispatch job=%s worker=%s", n->co->jobid,
		 t->addr);
	return 0;
}

void zvmd_coord_dispatch(struct zvmd_coord *co)
{
	for (size_t k = 0; k < co->nnodes; k++)
		if (node_send(&co->nodes[k], &co->nodes[k].task))
			return;
}

char *zvmd_coord_nodes(const struct zvmd_coord *co)
{
	size_t cap = 1;
	char *out, *p;

	for (size_t i = 0; i < co->ninst; i++)
		cap += strlen(co->nodes[co->prep.place.inst[i]].task.addr) + 2;
	out = p = malloc(cap);
	if (!out)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < co->ninst; i++)
		p += sprintf(p, "%s%s", i ? ", " : "",
			     co->nodes[co->prep.place.inst[i]].task.addr);
	return out;
}

void zvmd_coord_release(struct zvmd_coord *co)
{
	co->released = true;
	co->done = NULL;
	cancel_all(co);
	if (!co->working)
		coord_free(co);
}
