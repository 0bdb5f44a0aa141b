/* http.c — outgoing HTTP: libcurl's multi socket interface on the uv loop.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one
 * uv_poll per socket) and when to call it back (CURLMOPT_TIMERFUNCTION:
 * one uv_timer); both call curl_multi_socket_action, then finished
 * transfers are collected with curl_multi_info_read — the scheme of curl's
 * docs/examples/multi-uv.c.
 *
 * curl forbids multi calls (add, remove) and unpausing a transfer from
 * inside its own callbacks, and our callers' callbacks run inside curl's.
 * So start, cancel, resume and close only mark the request (or client) and
 * arm the "tick" timer; the tick, which runs outside curl, does the work.
 * That also means on_done never runs inside zvmd_http_start.
 *
 * zvmd_http_fetch, for uv work-queue threads, is the same request setup
 * and header parsing on a blocking curl easy handle. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "internal.h"

/* ------------------------------------------------- shared: responses */

const char *zvmd_http_header(const struct zvmd_http_response *resp,
			     const char *name)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (!strcasecmp(resp->headers[i].name, name))
			return resp->headers[i].value;
	return NULL;
}

static void response_clear(struct zvmd_http_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

static char *strndup_trim(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
		     s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return strndup(s, n);
}

static int response_add(struct zvmd_http_response *r, const char *line,
			size_t n)
{
	const char *colon = memchr(line, ':', n);
	struct zvmd_http_header *hs, h;

	if (!colon || line[0] == ' ' || line[0] == '\t')
		return 0; /* not a header (folded lines are obsolete) */
	if (r->nheaders == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;

		hs = realloc(r->headers, cap * sizeof(*hs));
		if (!hs)
			return -1;
		r->headers = hs;
		r->cap = cap;
	}
	h.name = strndup_trim(line, (size_t)(colon - line));
	h.value = strndup_trim(colon + 1, n - (size_t)(colon + 1 - line));
	if (!h.name || !h.value) {
		free(h.name);
		free(h.value);
		return -1;
	}
	r->headers[r->nheaders++] = h;
	return 0;
}

/* What one header line means for the exchange. */
enum line_kind { LINE_HEADER, LINE_STATUS, LINE_END, LINE_ERROR };

/* Feed one line of curl's header callback. A status line starts a new
 * response (after a 1xx, the real one follows); the empty line ends the
 * headers of a final response. */
static enum line_kind response_line(struct zvmd_http_response *r,
				    const char *line, size_t n)
{
	int status;

	if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
		response_clear(r);
		if (sscanf(line, "HTTP/%*s %d", &status) != 1)
			return LINE_ERROR;
		r->status = status;
		return LINE_STATUS;
	}
	if (n <= 2 && (n == 0 || line[0] == '\r' || line[0] == '\n'))
		return r->status >= 200 ? LINE_END : LINE_STATUS;
	return response_add(r, line, n) ? LINE_ERROR : LINE_HEADER;
}

/* --------------------------------------------- shared: request setup */

/* What both kinds of request hold besides the curl handle. */
struct exchange {
	char method[16];
	char *url;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	char why[256];            /* our own reason (fd I/O), if any */
	int out_errno;            /* a failed write to out_fd */
	/* request body */
	enum zvmd_http_body body_kind;
	char *mem;
	size_t mem_len;
	int body_fd;
	int64_t body_size;
	off_t fd_start;           /* -1: not seekable */
	uint64_t sent;
	/* response */
	struct zvmd_http_response resp;
	bool headers_done;
	uint64_t received;
};

static size_t body_read(char *buf, size_t size, size_t n, void *ud)
{
	struct exchange *x = ud;
	size_t cap = size * n;
	ssize_t got;

	if (x->body_kind == ZVMD_HTTP_BODY_MEM) {
		size_t left = x->mem_len - (size_t)x->sent;

		if (cap > left)
			cap = left;
		memcpy(buf, x->mem + x->sent, cap);
		x->sent += cap;
		return cap;
	}
	if (x->body_size >= 0 && (uint64_t)x->body_size - x->sent < cap)
		cap = (size_t)((uint64_t)x->body_size - x->sent);
	if (cap == 0)
		return 0;
	do
		got = read(x->body_fd, buf, cap);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		snprintf(x->why, sizeof(x->why), "reading the request body "
			 "from fd %d: %s", x->body_fd, strerror(errno));
		return CURL_READFUNC_ABORT;
	}
	if (got == 0 && x->body_size >= 0) {
		snprintf(x->why, sizeof(x->why), "the request body fd %d "
			 "ended after %llu of %lld bytes", x->body_fd,
			 (unsigned long long)x->sent, (long long)x->body_size);
		return CURL_READFUNC_ABORT;
	}
	x->sent += (uint64_t)got;
	return (size_t)got;
}

/* curl rewinds the body when it must send it again (a reused connection
 * that the server had closed). */
static int body_seek(void *ud, curl_off_t off, int origin)
{
	struct exchange *x = ud;

	if (origin != SEEK_SET || off < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	if (x->body_kind == ZVMD_HTTP_BODY_MEM) {
		if ((size_t)off > x->mem_len)
			return CURL_SEEKFUNC_FAIL;
		x->sent = (uint64_t)off;
		return CURL_SEEKFUNC_OK;
	}
	if (x->fd_start < 0 ||
	    lseek(x->body_fd, x->fd_start + off, SEEK_SET) < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	x->sent = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

static int exchange_init(struct exchange *x, const struct zvmd_http_opts *o,
			 struct proto_error *err)
{
	const char *method = o->method ? o->method : "GET";

	memset(x, 0, sizeof(*x));
	x->body_fd = -1;
	if (!o->url || strncasecmp(o->url, "http", 4))
		return proto_error_set(err, PROTO_EINTERNAL, "http: URL "
				       "\"%s\" is not http(s)",
				       o->url ? o->url : "(none)");
	if (strlen(method) >= sizeof(x->method) || !method[0] ||
	    strpbrk(method, " \r\n\t"))
		return proto_error_set(err, PROTO_EINTERNAL, "http: bad "
				       "method \"%s\" for %s", method, o->url);
	snprintf(x->method, sizeof(x->method), "%s", method);
	x->url = strdup(o->url);
	if (!x->url)
		goto oom;
	for (const char *const *h = o->headers; h && *h; h++) {
		struct curl_slist *l = curl_slist_append(x->headers, *h);

		if (!l)
			goto oom;
		x->headers = l;
	}
	x->body_kind = o->body_kind;
	if (o->body_kind == ZVMD_HTTP_BODY_MEM) {
		x->mem_len = o->body_len;
		x->mem = malloc(o->body_len ? o->body_len : 1);
		if (!x->mem)
			goto oom;
		if (o->body_len)
			memcpy(x->mem, o->body, o->body_len);
	} else if (o->body_kind == ZVMD_HTTP_BODY_FD) {
		if (o->body_fd < 0)
			return proto_error_set(err, PROTO_EINTERNAL, "http: %s "
					       "%s: no body fd", method,
					       o->url);
		x->body_fd = o->body_fd;
		x->body_size = o->body_size;
		x->fd_start = lseek(o->body_fd, 0, SEEK_CUR);
	}
	return 0;
oom:
	return proto_error_set(err, PROTO_EINTERNAL, "http: out of memory "
			       "for %s %s", method, o->url);
}

static void exchange_clear(struct exchange *x)
{
	free(x->url);
	curl_slist_free_all(x->headers);
	free(x->mem);
	response_clear(&x->resp);
}

/* "PUT http://...: Timeout was reached (Operation timed out after ...)" */
static void exchange_error(struct exchange *x, CURLcode rc, char *out,
			   size_t cap)
{
	const char *detail = x->why[0] ? x->why : x->errbuf;

	if (detail[0])
		snprintf(out, cap, "%s %s: %s (%s)", x->method, x->url,
			 curl_easy_strerror(rc), detail);
	else
		snprintf(out, cap, "%s %s: %s", x->method, x->url,
			 curl_easy_strerror(rc));
}

#define SETOPT(e, opt, val) (curl_easy_setopt((e), (opt), (val)) != CURLE_OK)

static int easy_setup(CURL *e, struct exchange *x,
		      const struct zvmd_http_opts *o, struct proto_error *err)
{
	int bad = 0;
	bool upload = x->body_kind != ZVMD_HTTP_BODY_NONE;

	bad |= SETOPT(e, CURLOPT_URL, x->url);
	bad |= SETOPT(e, CURLOPT_HTTPHEADER, x->headers);
	bad |= SETOPT(e, CURLOPT_ERRORBUFFER, x->errbuf);
	bad |= SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	/* Requests go to our cluster's nodes: never through a proxy named
	 * by the environment, never to another protocol. */
	bad |= SETOPT(e, CURLOPT_PROXY, "");
	bad |= SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (o->connect_timeout_ms)
		bad |= SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS,
			      (long)o->connect_timeout_ms);
	if (o->timeout_ms)
		bad |= SETOPT(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
	if (o->low_speed_bytes && o->low_speed_secs) {
		bad |= SETOPT(e, CURLOPT_LOW_SPEED_LIMIT,
			      (long)o->low_speed_bytes);
		bad |= SETOPT(e, CURLOPT_LOW_SPEED_TIME,
			      (long)o->low_speed_secs);
	}
	if (!strcmp(x->method, "HEAD"))
		bad |= SETOPT(e, CURLOPT_NOBODY, 1L);
	else if (upload || strcmp(x->method, "GET"))
		bad |= SETOPT(e, CURLOPT_CUSTOMREQUEST, x->method);
	if (upload) {
		/* An upload is sent as curl sends a PUT (the method name is
		 * ours): Content-Length when known, else chunked. */
		curl_off_t size = x->body_kind == ZVMD_HTTP_BODY_MEM ?
			(curl_off_t)x->mem_len : (curl_off_t)x->body_size;

		bad |= SETOPT(e, CURLOPT_UPLOAD, 1L);
		bad |= SETOPT(e, CURLOPT_INFILESIZE_LARGE, size);
		bad |= SETOPT(e, CURLOPT_READFUNCTION, body_read);
		bad |= SETOPT(e, CURLOPT_READDATA, x);
		bad |= SETOPT(e, CURLOPT_SEEKFUNCTION, body_seek);
		bad |= SETOPT(e, CURLOPT_SEEKDATA, x);
	}
	if (bad)
		return proto_error_set(err, PROTO_EINTERNAL, "http: %s %s: "
				       "libcurl refused an option", x->method,
				       x->url);
	return 0;
}

/* ------------------------------------------------------ async client */

struct sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct zvmd_http *h;
	struct sock *prev, *next;
};

struct zvmd_http_request {
	struct zvmd_http *h;
	struct zvmd_http_request *prev, *next;
	CURL *easy;
	struct exchange x;
	bool to_fd;
	int out_fd;
	zvmd_http_response_cb on_response;
	zvmd_http_data_cb on_data;
	zvmd_http_done_cb on_done;
	void *arg;
	bool added;        /* in the multi handle */
	bool cancelled;    /* freed at the next tick, silently */
	bool paused;       /* on_data answered PAUSE */
	bool want_resume;
};

struct zvmd_http {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;   /* curl's timeout */
	uv_timer_t tick;    /* deferred work, outside curl's callbacks */
	struct zvmd_http_request *reqs;
	struct sock *socks;
	size_t live;
	unsigned open_handles;
	bool closing;
};

#define LIST_ADD(head, n) do {                           \
		(n)->prev = NULL;                        \
		(n)->next = (head);                      \
		if (head)                                \
			(head)->prev = (n);              \
		(head) = (n);                            \
	} while (0)
#define LIST_DEL(head, n) do {                           \
		if ((n)->prev)                           \
			(n)->prev->next = (n)->next;     \
		else                                     \
			(head) = (n)->next;              \
		if ((n)->next)                           \
			(n)->next->prev = (n)->prev;     \
	} while (0)

static void on_tick(uv_timer_t *t);

static void tick_arm(struct zvmd_http *h)
{
	uv_timer_start(&h->tick, on_tick, 0, 0);
}

/* ---- curl's callbacks for one transfer */

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
	struct zvmd_http_request *req = ud;
	size_t len = size * n;

	if (req->cancelled)
		return 0;
	if (req->x.headers_done)
		return len; /* trailers */
	switch (response_line(&req->x.resp, line, len)) {
	case LINE_ERROR:
		snprintf(req->x.why, sizeof(req->x.why), "bad or unstorable "
			 "response header line");
		return 0;
	case LINE_END:
		req->x.headers_done = true;
		if (req->on_response)
			req->on_response(req, &req->x.resp, req->arg);
		return req->cancelled ? 0 : len;
	default:
		return len;
	}
}

static size_t write_all(struct zvmd_http_request *req, const char *buf,
			size_t len)
{
	size_t done = 0;
	ssize_t w;

	while (done < len) {
		w = write(req->out_fd, buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			req->x.out_errno = w < 0 ? errno : EIO;
			snprintf(req->x.why, sizeof(req->x.why), "writing the "
				 "response body to fd %d: %s", req->out_fd,
				 w < 0 ? strerror(errno) : "short write");
			return 0;
		}
		done += (size_t)w;
	}
	return len;
}

static size_t on_write(char *buf, size_t size, size_t n, void *ud)
{
	struct zvmd_http_request *req = ud;
	size_t len = size * n;

	if (req->cancelled)
		return 0;
	if (req->to_fd) {
		if (write_all(req, buf, len) != len)
			return 0;
	} else if (req->on_data) {
		enum zvmd_http_flow f = req->on_data(req, buf, len, req->arg);

		if (req->cancelled)
			return 0;
		if (f == ZVMD_HTTP_PAUSE) {
			req->paused = true;
			return CURL_WRITEFUNC_PAUSE;
		}
	}
	req->x.received += len;
	return len;
}

/* ---- requests */

static void request_destroy(struct zvmd_http_request *req)
{
	LIST_DEL(req->h->reqs, req);
	if (req->added)
		curl_multi_remove_handle(req->h->multi, req->easy);
	curl_easy_cleanup(req->easy);
	exchange_clear(&req->x);
	free(req);
}

/* The end of a request: on_done unless it was cancelled, then free. */
static void request_finish(struct zvmd_http_request *req, CURLcode rc,
			   const char *why)
{
	struct zvmd_http_result res = { 0 };
	char msg[1024];

	if (req->added) {
		curl_multi_remove_handle(req->h->multi, req->easy);
		req->added = false;
	}
	if (!req->cancelled) {
		if (why) {
			snprintf(msg, sizeof(msg), "%s %s: %s", req->x.method,
				 req->x.url, why);
			res.error = msg;
		} else if (rc != CURLE_OK) {
			exchange_error(&req->x, rc, msg, sizeof(msg));
			res.error = msg;
		}
		res.response = &req->x.resp;
		res.bytes_received = req->x.received;
		res.bytes_sent = req->x.sent;
		res.out_errno = req->x.out_errno;
		req->cancelled = true; /* no callback after this one */
		req->h->live--;
		req->on_done(req, &res, req->arg);
	}
	request_destroy(req);
}

static void check_multi_info(struct zvmd_http *h)
{
	struct zvmd_http_request *req;
	CURLMsg *msg;
	CURLcode rc;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &req);
		request_finish(req, rc, NULL);
	}
}

/* ---- sockets and the timer, as in curl's multi-uv example */

static void on_sock_closed(uv_handle_t *hd)
{
	free(hd->data);
}

static void sock_close(struct sock *sk)
{
	LIST_DEL(sk->h->socks, sk);
	uv_close((uv_handle_t *)&sk->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct sock *sk = p->data;
	struct zvmd_http *h = sk->h;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(h->multi, sk->fd, flags, &running);
	check_multi_info(h);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud,
		     void *sockp)
{
	struct zvmd_http *h = ud;
	struct sock *sk = sockp;
	int events = 0;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (sk) {
			sock_close(sk);
			curl_multi_assign(h->multi, fd, NULL);
		}
		return 0;
	}
	if (!sk) {
		sk = calloc(1, sizeof(*sk));
		if (!sk)
			return -1;
		if (uv_poll_init_socket(h->loop, &sk->poll, fd)) {
			free(sk);
			return -1;
		}
		sk->fd = fd;
		sk->h = h;
		sk->poll.data = sk;
		LIST_ADD(h->socks, sk);
		curl_multi_assign(h->multi, fd, sk);
	}
	if (what != CURL_POLL_OUT)
		events |= UV_READABLE;
	if (what != CURL_POLL_IN)
		events |= UV_WRITABLE;
	uv_poll_start(&sk->poll, events, on_poll);
	return 0;
}

static void on_timer(uv_timer_t *t)
{
	struct zvmd_http *h = t->data;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi_info(h);
}

static int on_curl_timer(CURLM *m, long ms, void *ud)
{
	struct zvmd_http *h = ud;

	(void)m;
	if (ms < 0)
		uv_timer_stop(&h->timer);
	else
		uv_timer_start(&h->timer, on_timer, (uint64_t)ms, 0);
	return 0;
}

/* ---- the deferred work */

static void on_handle_closed(uv_handle_t *hd)
{
	struct zvmd_http *h = hd->data;

	if (--h->open_handles == 0)
		free(h);
}

static void client_teardown(struct zvmd_http *h)
{
	while (h->reqs)
		request_finish(h->reqs, CURLE_OK,
			       "the HTTP client is closing (zvmd is stopping)");
	curl_multi_cleanup(h->multi);
	/* curl normally removes its sockets itself; whatever is left is
	 * ours to close. */
	while (h->socks)
		sock_close(h->socks);
	uv_close((uv_handle_t *)&h->timer, on_handle_closed);
	uv_close((uv_handle_t *)&h->tick, on_handle_closed);
}

static void on_tick(uv_timer_t *t)
{
	struct zvmd_http *h = t->data;
	struct zvmd_http_request *req, *next;
	CURLMcode mc;
	char why[128];

	if (h->closing) {
		client_teardown(h);
		return;
	}
	for (req = h->reqs; req; req = next) {
		next = req->next;
		if (req->cancelled) {
			request_destroy(req);
		} else if (!req->added) {
			mc = curl_multi_add_handle(h->multi, req->easy);
			if (mc != CURLM_OK) {
				snprintf(why, sizeof(why), "cannot start: %s",
					 curl_multi_strerror(mc));
				request_finish(req, CURLE_OK, why);
				continue;
			}
			req->added = true;
		} else if (req->want_resume) {
			req->want_resume = false;
			if (req->paused) {
				req->paused = false;
				curl_easy_pause(req->easy, CURLPAUSE_CONT);
			}
		}
	}
}

/* ---- the API */

int zvmd_http_create(uv_loop_t *loop, struct zvmd_http **out,
		     struct proto_error *err)
{
	struct zvmd_http *h;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return proto_error_set(err, PROTO_EINTERNAL,
				       "http: curl_global_init failed");
	h = calloc(1, sizeof(*h));
	if (!h)
		return proto_error_set(err, PROTO_EINTERNAL,
				       "http: out of memory");
	h->multi = curl_multi_init();
	if (!h->multi) {
		free(h);
		return proto_error_set(err, PROTO_EINTERNAL,
				       "http: curl_multi_init failed");
	}
	h->loop = loop;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, ZVMD_HTTP_MAX_CACHED);
	uv_timer_init(loop, &h->timer);
	uv_timer_init(loop, &h->tick);
	h->timer.data = h->tick.data = h;
	h->open_handles = 2;
	*out = h;
	return 0;
}

void zvmd_http_close(struct zvmd_http *h)
{
	if (h->closing)
		return;
	h->closing = true;
	tick_arm(h);
}

size_t zvmd_http_live(const struct zvmd_http *h)
{
	return h->live;
}

int zvmd_http_start(struct zvmd_http *h, const struct zvmd_http_opts *o,
		    struct zvmd_http_request **out, struct proto_error *err)
{
	struct zvmd_http_request *req;

	if (h->closing)
		return proto_error_set(err, PROTO_EINTERNAL, "http: %s: the "
				       "client is closing (zvmd is stopping)",
				       o->url ? o->url : "(no URL)");
	if (!o->on_done)
		return proto_error_set(err, PROTO_EINTERNAL, "http: %s: no "
				       "on_done callback",
				       o->url ? o->url : "(no URL)");
	req = calloc(1, sizeof(*req));
	if (!req)
		return proto_error_set(err, PROTO_EINTERNAL,
				       "http: out of memory");
	if (exchange_init(&req->x, o, err)) {
		exchange_clear(&req->x);
		free(req);
		return -1;
	}
	req->easy = curl_easy_init();
	if (!req->easy || easy_setup(req->easy, &req->x, o, err) ||
	    SETOPT(req->easy, CURLOPT_PRIVATE, req) ||
	    SETOPT(req->easy, CURLOPT_HEADERFUNCTION, on_header) ||
	    SETOPT(req->easy, CURLOPT_HEADERDATA, req) ||
	    SETOPT(req->easy, CURLOPT_WRITEFUNCTION, on_write) ||
	    SETOPT(req->easy, CURLOPT_WRITEDATA, req)) {
		if (req->easy)
			curl_easy_cleanup(req->easy);
		exchange_clear(&req->x);
		free(req);
		return proto_error_set(err, PROTO_EINTERNAL, "http: %s: "
				       "cannot set up a curl handle", o->url);
	}
	req->h = h;
	req->to_fd = o->to_fd;
	req->out_fd = o->out_fd;
	req->on_response = o->on_response;
	req->on_data = o->on_data;
	req->on_done = o->on_done;
	req->arg = o->arg;
	LIST_ADD(h->reqs, req);
	h->live++;
	tick_arm(h);
	*out = req;
	return 0;
}

void zvmd_http_cancel(struct zvmd_http_request *req)
{
	if (req->cancelled)
		return;
	req->cancelled = true;
	req->h->live--;
	tick_arm(req->h);
}

void zvmd_http_resume(struct zvmd_http_request *req)
{
	if (req->cancelled)
		return;
	req->want_resume = true;
	tick_arm(req->h);
}

/* --------------------------------------------------- blocking fetch */

struct fetch {
	struct exchange x;
	char *body;
	size_t len, cap, max;
};

static size_t fetch_header(char *line, size_t size, size_t n, void *ud)
{
	struct fetch *f = ud;
	size_t len = size * n;

	if (f->x.headers_done)
		return len;
	switch (response_line(&f->x.resp, line, len)) {
	case LINE_ERROR:
		snprintf(f->x.why, sizeof(f->x.why), "bad or unstorable "
			 "response header line");
		return 0;
	case LINE_END:
		f->x.headers_done = true;
		return len;
	default:
		return len;
	}
}

static size_t fetch_write(char *buf, size_t size, size_t n, void *ud)
{
	struct fetch *f = ud;
	size_t len = size * n;
	char *p;

	if (len > f->max - f->len) {
		snprintf(f->x.why, sizeof(f->x.why), "the response body is "
			 "larger than %zu bytes", f->max);
		return 0;
	}
	if (f->len + len + 1 > f->cap) {
		size_t cap = f->cap ? f->cap : 4096;

		while (cap < f->len + len + 1)
			cap *= 2;
		p = realloc(f->body, cap);
		if (!p) {
			snprintf(f->x.why, sizeof(f->x.why), "out of memory");
			return 0;
		}
		f->body = p;
		f->cap = cap;
	}
	memcpy(f->body + f->len, buf, len);
	f->len += len;
	f->body[f->len] = '\0';
	f->x.received += len;
	return len;
}

/* One exchange of a batch: its curl handle, set up; NULL with err set
 * when it cannot even start. */
static CURL *fetch_easy(struct fetch *f, const struct zvmd_http_opts *o,
			struct proto_error *err)
{
	CURL *e;

	if (o->body_kind == ZVMD_HTTP_BODY_FD || o->to_fd) {
		proto_error_set(err, PROTO_EINTERNAL, "http: fetch %s: fds "
				"are for async requests only",
				o->url ? o->url : "(no URL)");
		return NULL;
	}
	if (exchange_init(&f->x, o, err))
		return NULL;
	e = curl_easy_init();
	if (!e) {
		proto_error_set(err, PROTO_EINTERNAL, "http: %s: "
				"curl_easy_init failed", o->url);
		return NULL;
	}
	if (easy_setup(e, &f->x, o, err) ||
	    SETOPT(e, CURLOPT_HEADERFUNCTION, fetch_header) ||
	    SETOPT(e, CURLOPT_HEADERDATA, f) ||
	    SETOPT(e, CURLOPT_WRITEFUNCTION, fetch_write) ||
	    SETOPT(e, CURLOPT_WRITEDATA, f) ||
	    SETOPT(e, CURLOPT_PRIVATE, f)) {
		proto_error_set(err, PROTO_EINTERNAL, "http: %s: cannot set "
				"up a curl handle", o->url);
		curl_easy_cleanup(e);
		return NULL;
	}
	return e;
}

/* An exchange of a batch ended with rc: its result into out, or err. */
static int fetch_finish(struct fetch *f, CURLcode rc,
			struct zvmd_http_fetched *out, struct proto_error *err)
{
	char msg[1024];

	if (rc != CURLE_OK) {
		exchange_error(&f->x, rc, msg, sizeof(msg));
		return proto_error_set(err, PROTO_EINTERNAL, "%s", msg);
	}
	out->resp = f->x.resp;
	memset(&f->x.resp, 0, sizeof(f->x.resp));
	out->body = f->body ? f->body : strdup("");
	f->body = NULL;
	out->len = f->len;
	if (!out->body) {
		zvmd_http_fetched_free(out);
		return proto_error_set(err, PROTO_EINTERNAL, "http: out of "
				       "memory");
	}
	return 0;
}

/* Drive m until every transfer of the batch f[] ended; rc[i], out[i]
 * and err[i] get each one's result. */
static int fetch_run(CURLM *m, struct fetch *f, struct zvmd_http_fetched *out,
		     int *rc, struct proto_error *err)
{
	int running = 1;

	while (running) {
		CURLMsg *msg;
		int left;

		if (curl_multi_perform(m, &running) != CURLM_OK)
			return -1;
		while ((msg = curl_multi_info_read(m, &left))) {
			struct fetch *one;
			size_t i;

			if (msg->msg != CURLMSG_DONE ||
			    curl_easy_getinfo(msg->easy_handle,
					      CURLINFO_PRIVATE,
					      (char **)&one) != CURLE_OK)
				continue;
			i = (size_t)(one - f);
			rc[i] = fetch_finish(one, msg->data.result, &out[i],
					     &err[i]);
		}
		if (running && curl_multi_poll(m, NULL, 0, 1000, NULL) !=
		    CURLM_OK)
			return -1;
	}
	return 0;
}

void zvmd_http_fetch_many(const struct zvmd_http_opts *o, size_t n,
			  size_t parallel, size_t max_body,
			  struct zvmd_http_fetched *out, int *rc,
			  struct proto_error *err)
{
	struct fetch *f = calloc(n + 1, sizeof(*f));
	CURL **easy = calloc(n + 1, sizeof(*easy));
	CURLM *m = curl_multi_init();
	bool added = false;

	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		rc[i] = -1;
		proto_error_set(&err[i], PROTO_EINTERNAL, "http: out of memory "
				"for a batch of %zu requests", n);
	}
	if (!f || !easy || !m)
		goto out;
	/* Connections are kept and reused within the batch; at most
	 * `parallel` at once, the other transfers wait in curl's queue. */
	if (curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS,
			      (long)(parallel ? parallel : 1)) != CURLM_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		f[i].max = max_body;
		easy[i] = fetch_easy(&f[i], &o[i], &err[i]);
		if (!easy[i])
			continue;
		if (curl_multi_add_handle(m, easy[i]) != CURLM_OK) {
			proto_error_set(&err[i], PROTO_EINTERNAL, "http: %s: "
					"curl_multi_add_handle failed",
					o[i].url);
			curl_easy_cleanup(easy[i]);
			easy[i] = NULL;
			continue;
		}
		added = true;
	}
	if (added && fetch_run(m, f, out, rc, err))
		for (size_t i = 0; i < n; i++)
			if (easy[i] && rc[i])
				proto_error_set(&err[i], PROTO_EINTERNAL,
						"http: %s: the curl multi "
						"handle failed", o[i].url);
out:
	for (size_t i = 0; easy && i < n; i++) {
		if (!easy[i])
			continue;
		curl_multi_remove_handle(m, easy[i]);
		curl_easy_cleanup(easy[i]);
	}
	for (size_t i = 0; f && i < n; i++) {
		exchange_clear(&f[i].x);
		free(f[i].body);
	}
	if (m)
		curl_multi_cleanup(m);
	free(easy);
	free(f);
}

int zvmd_http_fetch(const struct zvmd_http_opts *o, size_t max_body,
		    struct zvmd_http_fetched *out, struct proto_error *err)
{
	int rc;

	zvmd_http_fetch_many(o, 1, 1, max_body, out, &rc, err);
	return rc;
}

void zvmd_http_fetched_free(struct zvmd_http_fetched *f)
{
	response_clear(&f->resp);
	free(f->body);
	f->body = NULL;
	f->len = 0;
}
