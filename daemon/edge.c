/* edge.c — instance streams between cluster workers.
 *
 * An edge is a pipe of the plan whose writer and reader run on different
 * nodes. The writer's worker connects a TCP socket to the reader's node
 * (its edge_port) and sends one signed line, the hello of CLUSTER.md:
 *
 *     ZVMEDGE/1 <job> <writer inst> <writer chan> <expires> <nonce> <hmac>
 *
 * The reader's worker checks it and answers "OK\n" (or "ERR <why>\n" and
 * closes). From then on the socket is a plain byte stream: each side hands
 * its end to its sandbox as the channel fd, so data flows from program to
 * program with TCP's backpressure and no relay.
 *
 * A hello may arrive before the reader's task does (tasks are dispatched
 * at once): it is parked until the task claims it or job_timeout passes.
 * Sockets are raw fds watched with uv_poll, so that they can be handed to
 * a sandbox (blocking again) without a libuv stream owning them. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* A socket in its hello phase, either direction. */
struct conn {
	struct zvmd_edge_srv *es;
	struct zvmd_edges *edges;   /* outgoing: the task's edges */
	size_t slot;                /* outgoing: index in edges->v */
	int fd;
	uv_poll_t poll;
	bool poll_open;
	char line[PROTO_EDGE_HELLO_MAX + 2];
	size_t len, sent;
	struct conn *next;          /* incoming: es->hellos */
};

/* An edge socket that said hello before its task arrived. */
struct parked {
	char job[65];
	size_t writer, wchan;
	int fd;
	uint64_t deadline;          /* uv_now */
	struct parked *next;
};

struct zvmd_edge_srv {
	struct zvmd_server *srv;
	int fd;
	uv_poll_t poll;
	uv_timer_t sweep;
	const struct zvmd_secret *secret;
	struct conn *hellos;
	struct parked *parked;
	struct zvmd_edges *waiting;  /* tasks expecting incoming edges */
	int closing;                 /* handles not closed yet */
};

/* One edge with another node, seen from this worker. */
struct edge {
	struct proto_edge e;
	bool out;                   /* we write; the reader is elsewhere */
	int fd;                     /* the socket once it said OK */
	struct conn *c;             /* outgoing, while connecting */
};

struct zvmd_edges {
	struct zvmd_edge_srv *es;
	const struct proto_task *task;
	struct edge *v;
	size_t n, nin_left, nout_left;
	void (*settled)(void *arg);
	void *arg;
	bool done;
	char why[600];
	uv_timer_t timer;
	bool timer_open;
	struct zvmd_edges *next;    /* es->waiting */
};

static void conn_closed(uv_handle_t *h)
{
	free(h->data);
}

/* Stop watching c; its fd is kept (or closed with keep_fd false). */
static void conn_end(struct conn *c, bool keep_fd)
{
	if (!keep_fd && c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->poll_open) {
		c->poll_open = false;
		uv_close((uv_handle_t *)&c->poll, conn_closed);
		return;
	}
	free(c);
}

/* Blocking again, for the sandbox: it reads and writes the fd itself. */
static int make_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* ------------------------------------------------------ task's edges */

static void edges_settle(struct zvmd_edges *es_)
{
	if (es_->done)
		return;
	if (es_->why[0] || (es_->nin_left == 0 && es_->nout_left == 0)) {
		es_->done = true;
		if (es_->timer_open)
			uv_timer_stop(&es_->timer);
		es_->settled(es_->arg);
	}
}

static void edges_fail(struct zvmd_edges *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void edges_fail(struct zvmd_edges *e, const char *fmt, ...)
{
	va_list ap;

	if (e->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
	edges_settle(e);
}

static const char *inst_name(const struct zvmd_edges *e, size_t i)
{
	return e->task->plan->inst[i].name;
}

static const char *chan_alias(const struct zvmd_edges *e, size_t i, size_t k)
{
	return e->task->plan->inst[i].channels[k].alias;
}

/* An incoming edge (writer, wchan) for e: 0 taken, -1 not one of its. */
static int edges_claim(struct zvmd_edges *e, size_t writer, size_t wchan,
		       int fd)
{
	for (size_t i = 0; i < e->n; i++) {
		struct edge *d = &e->v[i];

		if (d->out || d->fd >= 0 || d->e.writer != writer ||
		    d->e.wchan != wchan)
			continue;
		d->fd = fd;
		e->nin_left--;
		edges_settle(e);
		return 0;
	}
	return -1;
}

static void on_edges_timeout(uv_timer_t *t)
{
	struct zvmd_edges *e = t->data;

	for (size_t i = 0; i < e->n; i++) {
		const struct edge *d = &e->v[i];

		if (d->fd >= 0)
			continue;
		edges_fail(e, "edge %s %s -> %s %s did not connect within "
			   "job_timeout (%u s)", inst_name(e, d->e.writer),
			   chan_alias(e, d->e.writer, d->e.wchan),
			   inst_name(e, d->e.reader),
			   chan_alias(e, d->e.reader, d->e.rchan),
			   e->es->srv->cfg.job_timeout);
		return;
	}
}

/* ------------------------------------------------------- outgoing */

static void out_failed(struct conn *c, const char *why)
{
	struct zvmd_edges *e = c->edges;
	const struct edge *d = &e->v[c->slot];
	const struct proto_node *node =
		&e->task->nodes[e->task->placement[d->e.reader]];

	e->v[c->slot].c = NULL;
	edges_fail(e, "edge %s %s -> %s on %s: %s", inst_name(e, d->e.writer),
		   chan_alias(e, d->e.writer, d->e.wchan),
		   inst_name(e, d->e.reader), node->edge, why);
	conn_end(c, false);
}

static void on_out_io(uv_poll_t *h, int status, int events)
{
	struct conn *c = h->data;
	struct zvmd_edges *e = c->edges;
	ssize_t n;

	if (status < 0) {
		out_failed(c, uv_strerror(status));
		return;
	}
	if ((events & UV_WRITABLE) && c->sent < c->len) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			out_failed(c, strerror(soerr));
			return;
		}
		n = send(c->fd, c->line + c->sent, c->len - c->sent,
			 MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			out_failed(c, strerror(errno));
			return;
		}
		if (n > 0)
			c->sent += (size_t)n;
		if (c->sent == c->len) {
			c->len = 0;
			uv_poll_start(&c->poll, UV_READABLE, on_out_io);
		}
		return;
	}
	if (!(events & UV_READABLE))
		return;
	n = recv(c->fd, c->line + c->len, sizeof(c->line) - 1 - c->len, 0);
	if (n <= 0) {
		out_failed(c, n == 0 ? "closed before answering the hello" :
			   strerror(errno));
		return;
	}
	c->len += (size_t)n;
	c->line[c->len] = '\0';
	if (!memchr(c->line, '\n', c->len)) {
		if (c->len == sizeof(c->line) - 1)
			out_failed(c, "answer line too long");
		return;
	}
	if (strcmp(c->line, "OK\n")) {
		c->line[strcspn(c->line, "\n")] = '\0';
		out_failed(c, c->line);
		return;
	}
	if (make_blocking(c->fd)) {
		out_failed(c, strerror(errno));
		return;
	}
	e->v[c->slot].fd = c->fd;
	e->v[c->slot].c = NULL;
	e->nout_left--;
	conn_end(c, true);
	edges_settle(e);
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	unsigned port;

	if (sscanf(s, "%63[^:]:%u", host, &port) != 2 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int out_start(struct zvmd_edges *e, size_t slot)
{
	struct edge *d = &e->v[slot];
	const struct proto_node *node =
		&e->task->nodes[e->task->placement[d->e.reader]];
	struct conn *c = calloc(1, sizeof(*c));
	struct sockaddr_in sa;
	char nonce[PROTO_NONCE_HEX + 1];
	int len;

	if (!c)
		return -1;
	c->es = e->es;
	c->edges = e;
	c->slot = slot;
	c->fd = -1;
	if (parse_addr(node->edge, &sa) || proto_nonce_new(nonce)) {
		free(c);
		return -1;
	}
	len = proto_edge_hello_format(e->es->secret->key, e->es->secret->len,
				      e->task->job,
				      d->e.writer, d->e.wchan,
				      (int64_t)time(NULL) + PROTO_EXPIRES_MAX,
				      nonce, c->line, sizeof(c->line));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (len < 0 || c->fd < 0 ||
	    (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	     errno != EINPROGRESS) ||
	    uv_poll_init_socket(e->es->srv->loop, &c->poll, c->fd)) {
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return -1;
	}
	c->len = (size_t)len;
	c->poll.data = c;
	c->poll_open = true;
	d->c = c;
	uv_poll_start(&c->poll, UV_WRITABLE, on_out_io);
	return 0;
}

/* ------------------------------------------------------- incoming */

static void hello_drop(struct conn *c)
{
	struct zvmd_edge_srv *es = c->es;

	for (struct conn **p = &es->hellos; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	conn_end(c, false);
}

static void hello_refuse(struct conn *c, const char *why)
{
	char line[300];
	int n = snprintf(line, sizeof(line), "ERR %s\n", why);

	zvmd_log(ZVMD_LOG_WARNING, "msg=\"edge refused\" why=\"%s\"", why);
	if (send(c->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		zvmd_log(ZVMD_LOG_DEBUG, "msg=\"edge refusal not sent\"");
	hello_drop(c);
}

/* A verified hello: give it to its task, or park it. */
static void hello_accept(struct conn *c, const struct proto_edge_hello *h)
{
	struct zvmd_edge_srv *es = c->es;
	int fd = c->fd;
	struct parked *p;

	if (send(fd, "OK\n", 3, MSG_NOSIGNAL | MSG_DONTWAIT) != 3 ||
	    make_blocking(fd)) {
		hello_drop(c);
		return;
	}
	c->fd = -1;
	hello_drop(c);
	for (struct zvmd_edges *e = es->waiting; e; e = e->next)
		if (!strcmp(e->task->job, h->job) &&
		    !edges_claim(e, h->writer, h->wchan, fd))
			return;
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return;
	}
	snprintf(p->job, sizeof(p->job), "%s", h->job);
	p->writer = h->writer;
	p->wchan = h->wchan;
	p->fd = fd;
	p->deadline = uv_now(es->srv->loop) +
		      (uint64_t)es->srv->cfg.job_timeout * 1000;
	p->next = es->parked;
	es->parked = p;
}

static void on_hello_io(uv_poll_t *h, int status, int events)
{
	struct conn *c = h->data;
	struct proto_edge_hello hello;
	char msg[300], *nl;
	ssize_t n;

	(void)events;
	if (status < 0) {
		hello_drop(c);
		return;
	}
	n = recv(c->fd, c->line + c->len, sizeof(c->line) - 1 - c->len, 0);
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			hello_drop(c);
		return;
	}
	c->len += (size_t)n;
	c->line[c->len] = '\0';
	nl = memchr(c->line, '\n', c->len);
	if (!nl) {
		if (c->len == sizeof(c->line) - 1)
			hello_refuse(c, "hello line too long");
		return;
	}
	if (nl != c->line + c->len - 1) {
		/* The writer sends nothing before our OK. */
		hello_refuse(c, "bytes after the hello");
		return;
	}
	if (zvmd_auth_edge(c->es->srv->auth, c->line, c->len,
			   (int64_t)time(NULL), &hello, msg, sizeof(msg))) {
		hello_refuse(c, msg);
		return;
	}
	hello_accept(c, &hello);
}

static void on_accept(uv_poll_t *h, int status, int events)
{
	struct zvmd_edge_srv *es = h->data;
	struct conn *c;
	int fd;

	(void)status;
	(void)events;
	fd = accept4(es->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c || uv_poll_init_socket(es->srv->loop, &c->poll, fd)) {
		free(c);
		close(fd);
		return;
	}
	c->es = es;
	c->fd = fd;
	c->poll.data = c;
	c->poll_open = true;
	c->next = es->hellos;
	es->hellos = c;
	uv_poll_start(&c->poll, UV_READABLE, on_hello_io);
}

/* Parked edges whose task never came are closed (their writer fails). */
static void on_sweep(uv_timer_t *t)
{
	struct zvmd_edge_srv *es = t->data;
	uint64_t now = uv_now(es->srv->loop);

	for (struct parked **p = &es->parked; *p;) {
		struct parked *x = *p;

		if (x->deadline > now) {
			p = &x->next;
			continue;
		}
		zvmd_log(ZVMD_LOG_WARNING, "msg=\"edge dropped: no task\" "
			 "job=%s writer=%zu chan=%zu", x->job, x->writer,
			 x->wchan);
		close(x->fd);
		*p = x->next;
		free(x);
	}
}

int zvmd_edge_listen(struct zvmd_server *srv, const char *ip,
		     struct zvmd_error *err)
{
	struct zvmd_edge_srv *es = calloc(1, sizeof(*es));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int one = 1;

	if (!es) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -1;
	}
	es->srv = srv;
	es->secret = &srv->cluster->secret;
	sa.sin_port = htons((uint16_t)srv->cfg.edge_port);
	es->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1 || es->fd < 0 ||
	    setsockopt(es->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(es->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(es->fd, 1024)) {
		snprintf(err->msg, sizeof(err->msg), "edge listener on %s:%u: "
			 "%s", ip, srv->cfg.edge_port, strerror(errno));
		if (es->fd >= 0)
			close(es->fd);
		free(es);
		return -1;
	}
	uv_poll_init_socket(srv->loop, &es->poll, es->fd);
	es->poll.data = es;
	uv_poll_start(&es->poll, UV_READABLE, on_accept);
	uv_timer_init(srv->loop, &es->sweep);
	es->sweep.data = es;
	uv_timer_start(&es->sweep, on_sweep, 1000, 1000);
	srv->edge = es;
	zvmd_log(ZVMD_LOG_INFO, "msg=\"edge listener\" addr=%s:%u", ip,
		 srv->cfg.edge_port);
	return 0;
}

/* Both handles close; libuv finishes them in any order. */
static void edge_srv_closed(uv_handle_t *h)
{
	struct zvmd_edge_srv *es = h->data;

	if (--es->closing == 0)
		free(es);
}

void zvmd_edge_close(struct zvmd_server *srv)
{
	struct zvmd_edge_srv *es = srv->edge;

	if (!es)
		return;
	srv->edge = NULL;
	for (struct zvmd_edges *e = es->waiting; e; e = e->next)
		e->es = NULL;
	while (es->hellos)
		hello_drop(es->hellos);
	while (es->parked) {
		struct parked *p = es->parked;

		es->parked = p->next;
		close(p->fd);
		free(p);
	}
	es->closing = 2;
	uv_close((uv_handle_t *)&es->poll, edge_srv_closed);
	close(es->fd);
	uv_close((uv_handle_t *)&es->sweep, edge_srv_closed);
}

/* --------------------------------------------------------- the task */

int zvmd_edges_start(struct zvmd_server *srv, const struct proto_task *task,
		     const bool *here, void (*settled)(void *arg), void *arg,
		     struct zvmd_edges **out, struct proto_error *err)
{
	struct zvmd_edge_srv *es = srv->edge;
	struct proto_edge *all;
	struct zvmd_edges *e;
	size_t n;

	*out = NULL;
	if (proto_plan_edges(task->plan, &all, &n, err))
		return -1;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->v = calloc(n + 1, sizeof(*e->v)))) {
		free(e);
		free(all);
		return proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	}
	e->es = es;
	e->task = task;
	e->settled = settled;
	e->arg = arg;
	for (size_t i = 0; i < n; i++) {
		bool w = here[all[i].writer], r = here[all[i].reader];

		if (w == r)
			continue; /* a pipe here, or none of ours */
		e->v[e->n].e = all[i];
		e->v[e->n].out = w;
		e->v[e->n].fd = -1;
		e->n++;
		if (w)
			e->nout_left++;
		else
			e->nin_left++;
	}
	free(all);
	if (e->n == 0) {
		free(e->v);
		free(e);
		return 0;
	}
	if (!es) {
		zvmd_edges_free(e);
		return proto_error_set(err, PROTO_EINTERNAL, "edges need the "
				       "edge listener (role = cluster)");
	}
	e->next = es->waiting;
	es->waiting = e;
	uv_timer_init(srv->loop, &e->timer);
	e->timer.data = e;
	e->timer_open = true;
	uv_timer_start(&e->timer, on_edges_timeout,
		       (uint64_t)srv->cfg.job_timeout * 1000, 0);
	/* Hellos that came first. */
	for (struct parked **p = &es->parked; *p;) {
		struct parked *x = *p;

		if (strcmp(x->job, task->job) ||
		    edges_claim(e, x->writer, x->wchan, x->fd)) {
			p = &x->next;
			continue;
		}
		*p = x->next;
		free(x);
	}
	for (size_t i = 0; i < e->n; i++)
		if (e->v[i].out && out_start(e, i)) {
			zvmd_edges_free(e);
			return proto_error_set(err, PROTO_EINTERNAL, "edge to "
					       "%s: cannot connect to %s",
					       task->plan->inst[e->v[i].e.reader].name,
					       task->nodes[task->placement[
						       e->v[i].e.reader]].edge);
		}
	*out = e;
	return 0;
}

bool zvmd_edges_ready(const struct zvmd_edges *e, struct proto_error *err)
{
	if (!e)
		return true;
	if (e->why[0]) {
		proto_error_set(err, PROTO_EINTERNAL, "%s", e->why);
		return false;
	}
	return e->done;
}

void zvmd_edges_take(struct zvmd_edges *e, int **fds)
{
	for (size_t i = 0; e && i < e->n; i++) {
		struct edge *d = &e->v[i];

		if (d->fd < 0)
			continue;
		if (d->out)
			fds[d->e.writer][d->e.wchan] = d->fd;
		else
			fds[d->e.reader][d->e.rchan] = d->fd;
		d->fd = -1;
	}
}

static void edges_timer_closed(uv_handle_t *h)
{
	struct zvmd_edges *e = h->data;

	free(e->v);
	free(e);
}

void zvmd_edges_free(struct zvmd_edges *e)
{
	if (!e)
		return;
	if (e->es)
		for (struct zvmd_edges **p = &e->es->waiting; *p;
		     p = &(*p)->next)
			if (*p == e) {
				*p = e->next;
				break;
			}
	for (size_t i = 0; i < e->n; i++) {
		if (e->v[i].c)
			conn_end(e->v[i].c, false);
		if (e->v[i].fd >= 0)
			close(e->v[i].fd);
	}
	if (e->timer_open) {
		uv_close((uv_handle_t *)&e->timer, edges_timer_closed);
		return;
	}
	free(e->v);
	free(e);
}

/* ------------------------------------------------------ a running edge */

/*
 * Once a sandbox holds an edge socket, nothing else reads it, so a cut
 * would go unnoticed: a reader blocked on an empty edge (or one that does
 * not read at all) waits until the job times out, and a writer that died
 * ends its stream with the FIN a finished stream ends with. This worker
 * therefore keeps a duplicate of every edge socket while its instance
 * runs:
 *
 *   reader's end  watched for an error or a hang-up of both directions
 *                 (a reset, or the socket destroyed here): cut() is told,
 *                 and the worker fails the task. A FIN alone is the end
 *                 of the writer's stream: nothing to watch after it.
 *   writer's end  set to reset on its last close (SO_LINGER 0) until its
 *                 writer succeeded: a writer that failed or was killed,
 *                 or a worker that died, resets the edge, and its reader
 *                 sees an error where it would have seen a short stream.
 */
struct zvmd_edge_watch {
	uv_poll_t poll;             /* reader's end */
	bool polling;
	bool reader;
	int fd;                     /* our duplicate */
	zvmd_edge_cut_cb cut;
	void *arg;
	char what[ZVMD_EDGE_WHAT_MAX + 64];
};

static void watch_closed(uv_handle_t *h)
{
	free(h->data);
}

/* "ip:port" of one end of a socket, or "?" (a reset socket has no peer
 * any more). */
static void sock_addr(int fd, bool peer, char *buf, size_t cap)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	char ip[INET_ADDRSTRLEN];
	int rc = peer ? getpeername(fd, (struct sockaddr *)&a, &len) :
			getsockname(fd, (struct sockaddr *)&a, &len);

	if (rc || a.sin_family != AF_INET ||
	    !inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip))) {
		snprintf(buf, cap, "?");
		return;
	}
	snprintf(buf, cap, "%s:%u", ip, ntohs(a.sin_port));
}

/* "writer ip:port -> reader ip:port" of an edge socket. */
static void edge_addrs(int fd, bool reader, char *buf, size_t cap)
{
	char here[32], there[32];  /* "255.255.255.255:65535" fits */

	sock_addr(fd, false, here, sizeof(here));
	sock_addr(fd, true, there, sizeof(there));
	snprintf(buf, cap, "%s -> %s", reader ? there : here,
		 reader ? here : there);
}

static void cut_reason(int fd, short revents, char *buf, size_t cap)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if ((revents & POLLERR) &&
	    !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) && soerr) {
		snprintf(buf, cap, "%s", strerror(soerr));
		return;
	}
	snprintf(buf, cap, "connection reset");
}

static void on_watch(uv_poll_t *h, int status, int events)
{
	struct zvmd_edge_watch *w = h->data;
	struct pollfd p = { .fd = w->fd, .events = POLLRDHUP };
	char reason[128], why[sizeof(w->what) + sizeof(reason) + 32];

	(void)status;
	(void)events;
	/* libuv folds POLLHUP into UV_DISCONNECT: ask the socket itself. */
	if (poll(&p, 1, 0) < 0 || !(p.revents & (POLLERR | POLLHUP))) {
		if (p.revents & POLLRDHUP)
			uv_poll_stop(h); /* the writer finished its stream */
		return;
	}
	uv_poll_stop(h);
	cut_reason(w->fd, p.revents, reason, sizeof(reason));
	snprintf(why, sizeof(why), "edge %s was cut: %s", w->what, reason);
	w->cut(w->arg, why);
}

int zvmd_edge_watch_start(uv_loop_t *loop, int fd, bool reader,
			  const char *name, zvmd_edge_cut_cb cut, void *arg,
			  struct zvmd_edge_watch **out, struct proto_error *err)
{
	struct zvmd_edge_watch *w = calloc(1, sizeof(*w));
	struct linger abortive = { .l_onoff = 1, .l_linger = 0 };
	char addrs[128];

	*out = NULL;
	if (!w)
		return proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	w->reader = reader;
	w->cut = cut;
	w->arg = arg;
	edge_addrs(fd, reader, addrs, sizeof(addrs));
	snprintf(w->what, sizeof(w->what), "%s (%s)", name, addrs);
	w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (w->fd < 0 ||
	    (!reader && setsockopt(w->fd, SOL_SOCKET, SO_LINGER, &abortive,
				   sizeof(abortive)))) {
		proto_error_set(err, PROTO_EINTERNAL, "edge %s: %s", w->what,
				strerror(errno));
		if (w->fd >= 0)
			close(w->fd);
		free(w);
		return -1;
	}
	if (reader) {
		/* uv_poll_init makes the socket non-blocking; the sandbox
		 * (not spawned yet) needs it blocking, and the poll only
		 * waits for events, it never reads. */
		if (uv_poll_init_socket(loop, &w->poll, w->fd) ||
		    make_blocking(w->fd)) {
			close(w->fd);
			free(w);
			return proto_error_set(err, PROTO_EINTERNAL, "edge %s: "
					       "cannot watch it", name);
		}
		w->poll.data = w;
		w->polling = true;
		uv_poll_start(&w->poll, UV_DISCONNECT, on_watch);
	}
	*out = w;
	return 0;
}

void zvmd_edge_watch_end(struct zvmd_edge_watch *w, bool ok)
{
	struct linger graceful = { .l_onoff = 0 };

	if (!w)
		return;
	if (!w->reader && ok &&
	    setsockopt(w->fd, SOL_SOCKET, SO_LINGER, &graceful,
		       sizeof(graceful)))
		zvmd_log(ZVMD_LOG_WARNING, "msg=\"edge not ended cleanly\" "
			 "edge=\"%s\" error=\"%s\"", w->what, strerror(errno));
	if (!w->polling) {
		close(w->fd);
		free(w);
		return;
	}
	/* uv_close unregisters the fd before it is closed. */
	uv_close((uv_handle_t *)&w->poll, watch_closed);
	close(w->fd);
}
