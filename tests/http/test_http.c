/* Unit tests of zvmd's HTTP client (daemon/http.c) against a real local
 * server (server.py, started per test) on a real uv loop. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

static pid_t server_pid;
static unsigned port;
static uv_loop_t loop;
static struct zvmd_http *client;

static void setup(void)
{
	const char *script = getenv("HTTP_TEST_SERVER");
	int p[2];
	char buf[32] = "";
	FILE *f;

	cr_assert(script, "HTTP_TEST_SERVER names server.py");
	cr_assert(pipe(p) == 0);
	server_pid = fork();
	cr_assert(server_pid >= 0);
	if (server_pid == 0) {
		/* A test killed by criterion's timeout leaves no server. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl("/usr/bin/python3", "python3", script, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	cr_assert(fgets(buf, sizeof(buf), f), "the test server printed its "
		  "port");
	fclose(f);
	port = (unsigned)atoi(buf);
	cr_assert(port > 0);
	cr_assert(uv_loop_init(&loop) == 0);
	struct proto_error err;
	cr_assert(zvmd_http_create(&loop, &client, &err) == 0, "%s", err.msg);
}

/* Close the client, let its handles close, and check that nothing is
 * left on the loop. */
static void client_close(void)
{
	if (!client)
		return;
	zvmd_http_close(client);
	client = NULL;
	uv_run(&loop, UV_RUN_DEFAULT);
}

static void teardown(void)
{
	client_close();
	cr_assert(uv_loop_close(&loop) == 0, "every handle was closed");
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------------------ helpers */

/* What one request saw. */
struct seen {
	int responses, dones;
	long status;
	char header[128];       /* X-Test-Header's value */
	char body[512];         /* the start of the body, as text */
	uint64_t bytes;         /* bytes checked against the pattern */
	bool pattern_ok;
	char error[1024];
	bool had_error;
	uint64_t received, sent;
	/* backpressure */
	bool pause_every_other;
	unsigned calls, pauses;
	uv_timer_t resume_timer;
	struct zvmd_http_request *req;
	/* cancel after this many bytes (0: never) */
	uint64_t cancel_after;
	bool cancel_on_response;
	bool cancelled;
};

static void on_response(struct zvmd_http_request *req,
			const struct zvmd_http_response *r, void *arg)
{
	struct seen *s = arg;
	const char *h = zvmd_http_header(r, "x-test-header");

	s->responses++;
	s->status = r->status;
	snprintf(s->header, sizeof(s->header), "%s", h ? h : "");
	if (s->cancel_on_response) {
		zvmd_http_cancel(req);
		s->cancelled = true;
	}
}

static void on_resume_timer(uv_timer_t *t)
{
	struct seen *s = t->data;

	zvmd_http_resume(s->req);
}

static enum zvmd_http_flow on_data(struct zvmd_http_request *req,
				   const char *buf, size_t len, void *arg)
{
	struct seen *s = arg;

	s->calls++;
	if (s->pause_every_other && s->calls % 2) {
		s->pauses++;
		s->req = req;
		uv_timer_start(&s->resume_timer, on_resume_timer, 1, 0);
		return ZVMD_HTTP_PAUSE;
	}
	if (s->bytes < sizeof(s->body) - 1) {
		size_t n = sizeof(s->body) - 1 - s->bytes;

		memcpy(s->body + s->bytes, buf, len < n ? len : n);
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] != (s->bytes + i) % 251)
			s->pattern_ok = false;
	s->bytes += len;
	if (s->cancel_after && s->bytes >= s->cancel_after) {
		zvmd_http_cancel(req);
		s->cancelled = true;
	}
	return ZVMD_HTTP_CONSUMED;
}

static void on_done(struct zvmd_http_request *req,
		    const struct zvmd_http_result *res, void *arg)
{
	struct seen *s = arg;

	(void)req;
	s->dones++;
	s->had_error = res->error != NULL;
	snprintf(s->error, sizeof(s->error), "%s",
		 res->error ? res->error : "");
	s->received = res->bytes_received;
	s->sent = res->bytes_sent;
	if (!s->responses)
		s->status = res->response->status;
}

static void seen_init(struct seen *s)
{
	memset(s, 0, sizeof(*s));
	s->pattern_ok = true;
	uv_timer_init(&loop, &s->resume_timer);
	s->resume_timer.data = s;
}

/* s lives on the test's stack: its timer must be closed before the test
 * returns. */
static void seen_fini(struct seen *s)
{
	uv_close((uv_handle_t *)&s->resume_timer, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static struct zvmd_http_opts opts_for(const char *method, const char *path,
				      struct seen *s)
{
	static char url[256];
	struct zvmd_http_opts o = {
		.method = method, .url = url, .on_response = on_response,
		.on_data = on_data, .on_done = on_done, .arg = s,
	};

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	return o;
}

static struct zvmd_http_request *start(const struct zvmd_http_opts *o)
{
	struct zvmd_http_request *req;
	struct proto_error err;

	cr_assert(zvmd_http_start(client, o, &req, &err) == 0, "%s",
		  err.msg);
	return req;
}

/* Run the loop until no request of the client is live. */
static void run_all(void)
{
	while (zvmd_http_live(client))
		uv_run(&loop, UV_RUN_ONCE);
}

static void run_one(const struct zvmd_http_opts *o)
{
	start(o);
	run_all();
}

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 0x811C9DC5u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x01000193u;
	return h;
}

/* A temp file holding n pattern bytes, at offset 0. */
static int pattern_file(size_t n, uint32_t *hash)
{
	char path[] = "/tmp/zvmd-http-XXXXXX";
	unsigned char *buf = malloc(n ? n : 1);
	int fd = mkstemp(path);

	cr_assert(fd >= 0 && buf);
	unlink(path);
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(i % 251);
	cr_assert(write(fd, buf, n) == (ssize_t)n);
	cr_assert(lseek(fd, 0, SEEK_SET) == 0);
	*hash = fnv1a(buf, n);
	free(buf);
	return fd;
}

static int empty_file(void)
{
	char path[] = "/tmp/zvmd-http-XXXXXX";
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	unlink(path);
	return fd;
}

/* -------------------------------------------------------------- tests */

Test(http, get_streams_the_body_and_headers_case_insensitively)
{
	struct seen s;
	struct zvmd_http_opts o;

	seen_init(&s);
	o = opts_for(NULL, "/bytes/100000", &s);
	run_one(&o);
	cr_assert_eq(s.dones, 1);
	cr_assert_not(s.had_error, "%s", s.error);
	cr_assert_eq(s.responses, 1);
	cr_assert_eq(s.status, 200);
	cr_assert_str_eq(s.header, "Hello World");
	cr_assert_eq(s.bytes, 100000);
	cr_assert_eq(s.received, 100000);
	cr_assert(s.pattern_ok);
	seen_fini(&s);
}

Test(http, get_chunked_response)
{
	struct seen s;
	struct zvmd_http_opts o;

	seen_init(&s);
	o = opts_for("GET", "/bytes/300001?chunked=1", &s);
	run_one(&o);
	cr_assert_not(s.had_error, "%s", s.error);
	cr_assert_eq(s.bytes, 300001);
	cr_assert(s.pattern_ok);
	seen_fini(&s);
}

Test(http, get_into_fd_counts_bytes)
{
	struct seen s;
	struct zvmd_http_opts o;
	int fd = empty_file();
	unsigned char buf[4096];
	ssize_t n;
	size_t total = 0;
	bool ok = true;

	seen_init(&s);
	o = opts_for("GET", "/bytes/700000", &s);
	o.to_fd = true;
	o.out_fd = fd;
	run_one(&o);
	cr_assert_not(s.had_error, "%s", s.error);
	cr_assert_eq(s.calls, 0, "on_data is not used with to_fd");
	cr_assert_eq(s.received, 700000);
	cr_assert(lseek(fd, 0, SEEK_SET) == 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			ok &= buf[i] == (total + (size_t)i) % 251;
		total += (size_t)n;
	}
	cr_assert_eq(total, 700000);
	cr_assert(ok, "the file holds the body");
	close(fd);
	seen_fini(&s);
}

Test(http, put_from_fd_with_length)
{
	struct seen s;
	struct zvmd_http_opts o;
	uint32_t hash;
	int fd = pattern_file(1000003, &hash);
	char want[128];

	seen_init(&s);
	o = opts_for("PUT", "/echo", &s);
	o.body_kind = ZVMD_HTTP_BODY_FD;
	o.body_fd = fd;
	o.body_size = 1000003;
	run_one(&o);
	cr_assert_not(s.had_error, "%s", s.error);
	cr_assert_eq(s.status, 201);
	snprintf(want, sizeof(want), "method=PUT len=1000003 fnv=%08x "
		 "chunked=0\n", hash);
	cr_assert_str_eq(s.body, want);
	cr_assert_eq(s.sent, 1000003);
	close(fd);
	seen_fini(&s);
}

Test(http, put_from_fd_of_unknown_length_is_chunked)
{
	struct seen s;
	struct zvmd_http_opts o;
	uint32_t hash;
	int fd = pattern_file(654321, &hash);
	char want[128];

	seen_init(&s);
	o = opts_for("PUT", "/echo", &s);
	o.body_kind = ZVMD_HTTP_BODY_FD;
	o.body_fd = fd;
	o.body_size = -1;
	run_one(&o);
	cr_assert_not(s.had_error, "%s", s.error);
	snprintf(want, sizeof(want), "method=PUT len=654321 fnv=%08x "
		 "chunked=1\n", hash);
	cr_assert_str_eq(s.body, want);
	close(fd);
	seen_fini(&s);
}

Test(http, post_from_memory_with_headers)
{
	struct seen s, h;
	struct zvmd_http_opts o;
	const char *hdrs[] = { "X-Auth-Token: tk-123", "X-Other: two words",
			       NULL };
	const char body[] = "hello, world";
	char want[128];

	seen_init(&s);
	o = opts_for("POST", "/echo", &s);
	o.headers = hdrs;
	o.body_kind = ZVMD_HTTP_BODY_MEM;
	o.body = body;
	o.body_len = strlen(body);
	run_one(&o);
	cr_assert_not(s.had_error, "%s", s.error);
	snprintf(want, sizeof(want), "method=POST len=12 fnv=%08x chunked=0\n",
		 fnv1a((const unsigned char *)body, 12));
	cr_assert_str_eq(s.body, want);

	seen_init(&h);
	o = opts_for("GET", "/headers", &h);
	o.headers = hdrs;
	run_one(&o);
	cr_assert_str_eq(h.body, "x-auth-token: tk-123\nx-other: two words\n");
	seen_fini(&s);
	seen_fini(&h);
}

Test(http, error_status_is_not_a_transport_error)
{
	struct seen s;
	struct zvmd_http_opts o;

	seen_init(&s);
	o = opts_for("GET", "/status/404", &s);
	run_one(&o);
	cr_assert_not(s.had_error, "%s", s.error);
	cr_assert_eq(s.status, 404);
	cr_assert_str_eq(s.body, "status 404\n");
	seen_fini(&s);
}

Test(http, head_has_headers_and_no_body)
{
	struct seen s;
	struct zvmd_http_opts o;

	seen_init(&s);
	o = opts_for("HEAD", "/bytes/5000", &s);
	run_one(&o);
	cr_assert_not(s.had_error, "%s", s.error);
	cr_assert_eq(s.status, 200);
	cr_assert_str_eq(s.header, "Hello World");
	cr_assert_eq(s.bytes, 0);
	seen_fini(&s);
}

Test(http, pause_and_resume_lose_nothing)
{
	struct seen s;
	struct zvmd_http_opts o;

	seen_init(&s);
	s.pause_every_other = true;
	o = opts_for("GET", "/bytes/3000017", &s);
	run_one(&o);
	cr_assert_not(s.had_error, "%s", s.error);
	cr_assert_gt(s.pauses, 10, "the consumer paused (%u)", s.pauses);
	cr_assert_eq(s.bytes, 3000017);
	cr_assert_eq(s.received, 3000017);
	cr_assert(s.pattern_ok, "every byte once, in order");
	seen_fini(&s);
}

Test(http, cancel_mid_body_stops_callbacks)
{
	struct seen s, after;
	struct zvmd_http_opts o;

	seen_init(&s);
	s.cancel_after = 100000;
	o = opts_for("GET", "/bytes/200000000", &s);
	run_one(&o);
	cr_assert(s.cancelled);
	cr_assert_eq(s.dones, 0, "no on_done after cancel");
	cr_assert_lt(s.bytes, 10000000);
	/* The client still works. */
	seen_init(&after);
	o = opts_for("GET", "/bytes/10", &after);
	run_one(&o);
	cr_assert_not(after.had_error, "%s", after.error);
	cr_assert_eq(after.bytes, 10);
	seen_fini(&s);
	seen_fini(&after);
}

Test(http, cancel_from_on_response)
{
	struct seen s;
	struct zvmd_http_opts o;

	seen_init(&s);
	s.cancel_on_response = true;
	o = opts_for("GET", "/bytes/1000000", &s);
	run_one(&o);
	cr_assert_eq(s.responses, 1);
	cr_assert_eq(s.dones, 0);
	cr_assert_eq(s.calls, 0, "no data after a cancel in on_response");
	seen_fini(&s);
}

static void on_cancel_timer(uv_timer_t *t)
{
	zvmd_http_cancel(t->data);
}

Test(http, cancel_a_stalled_request_from_the_loop)
{
	struct seen s;
	struct zvmd_http_opts o;
	uv_timer_t t;

	seen_init(&s);
	o = opts_for("GET", "/stall", &s);
	uv_timer_init(&loop, &t);
	t.data = start(&o);
	uv_timer_start(&t, on_cancel_timer, 50, 0);
	run_all();
	cr_assert_eq(s.dones, 0);
	uv_close((uv_handle_t *)&t, NULL);
	seen_fini(&s); /* runs the loop once: t is closed too */
}

Test(http, cancel_before_it_ran)
{
	struct seen s;
	struct zvmd_http_opts o;

	seen_init(&s);
	o = opts_for("GET", "/bytes/10", &s);
	zvmd_http_cancel(start(&o));
	cr_assert_eq(zvmd_http_live(client), 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	cr_assert_eq(s.responses + s.dones + (int)s.calls, 0);
	seen_fini(&s);
}

Test(http, refused_names_the_url)
{
	struct seen s;
	struct zvmd_http_opts o;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[128];

	/* A port that was free a moment ago: bound, never listening. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/x",
		 ntohs(sa.sin_port));
	seen_init(&s);
	o = opts_for("GET", "/x", &s);
	o.url = url;
	run_one(&o);
	close(fd);
	cr_assert_eq(s.dones, 1);
	cr_assert(s.had_error);
	cr_assert(strstr(s.error, url), "names the URL: %s", s.error);
	cr_assert(strstr(s.error, "GET "), "names the method: %s", s.error);
	cr_assert(strstr(s.error, "Couldn't connect"), "says why: %s",
		  s.error);
	cr_assert_eq(s.status, 0);
	seen_fini(&s);
}

Test(http, timeout_is_an_error)
{
	struct seen s;
	struct zvmd_http_opts o;

	seen_init(&s);
	o = opts_for("GET", "/stall", &s);
	o.timeout_ms = 300;
	run_one(&o);
	cr_assert(s.had_error);
	cr_assert(strstr(s.error, "Timeout was reached"), "%s", s.error);
	cr_assert(strstr(s.error, "/stall"), "%s", s.error);
	cr_assert_eq(s.status, 200, "headers had come");
	cr_assert_eq(s.bytes, 5);
	seen_fini(&s);
}

Test(http, low_speed_is_an_error)
{
	struct seen s;
	struct zvmd_http_opts o;

	seen_init(&s);
	o = opts_for("GET", "/stall", &s);
	o.low_speed_bytes = 100;
	o.low_speed_secs = 1;
	run_one(&o);
	cr_assert(s.had_error);
	cr_assert(strstr(s.error, "Timeout was reached"), "%s", s.error);
	seen_fini(&s);
}

Test(http, short_body_fd_is_an_error)
{
	struct seen s;
	struct zvmd_http_opts o;
	uint32_t hash;
	int fd = pattern_file(10, &hash);

	seen_init(&s);
	o = opts_for("PUT", "/echo", &s);
	o.body_kind = ZVMD_HTTP_BODY_FD;
	o.body_fd = fd;
	o.body_size = 1000;
	run_one(&o);
	cr_assert(s.had_error);
	cr_assert(strstr(s.error, "ended after 10 of 1000 bytes"), "%s",
		  s.error);
	close(fd);
	seen_fini(&s);
}

Test(http, unwritable_out_fd_is_an_error)
{
	struct seen s;
	struct zvmd_http_opts o;
	int fd = open("/dev/null", O_RDONLY);

	seen_init(&s);
	o = opts_for("GET", "/bytes/1000", &s);
	o.to_fd = true;
	o.out_fd = fd;
	run_one(&o);
	cr_assert(s.had_error);
	cr_assert(strstr(s.error, "writing the response body to fd"), "%s",
		  s.error);
	close(fd);
	seen_fini(&s);
}

Test(http, bad_options_fail_at_start)
{
	struct seen s;
	struct zvmd_http_opts o;
	struct zvmd_http_request *req;
	struct proto_error err;

	seen_init(&s);
	o = opts_for("GET", "/x", &s);
	o.url = "ftp://127.0.0.1/x";
	cr_assert(zvmd_http_start(client, &o, &req, &err) < 0);
	cr_assert(strstr(err.msg, "ftp://127.0.0.1/x"), "%s", err.msg);
	o = opts_for("BAD METHOD", "/x", &s);
	cr_assert(zvmd_http_start(client, &o, &req, &err) < 0);
	cr_assert(strstr(err.msg, "bad method"), "%s", err.msg);
	cr_assert_eq(zvmd_http_live(client), 0);
	seen_fini(&s);
}

#define MANY 50

Test(http, many_concurrent_requests)
{
	static struct seen s[MANY];
	struct zvmd_http_opts o;
	char path[64];

	for (int i = 0; i < MANY; i++) {
		seen_init(&s[i]);
		snprintf(path, sizeof(path), "/bytes/%d%s", 1000 + i * 7919,
			 i % 2 ? "?chunked=1" : "");
		o = opts_for("GET", path, &s[i]);
		start(&o);
	}
	cr_assert_eq(zvmd_http_live(client), MANY);
	run_all();
	for (int i = 0; i < MANY; i++) {
		cr_assert_eq(s[i].dones, 1);
		cr_assert_not(s[i].had_error, "%d: %s", i, s[i].error);
		cr_assert_eq(s[i].bytes, 1000 + (uint64_t)i * 7919);
		cr_assert(s[i].pattern_ok);
		seen_fini(&s[i]);
	}
}

/* on_done may start the next request. */
struct chain {
	int left;
	int done;
};

static void on_chain_done(struct zvmd_http_request *req,
			  const struct zvmd_http_result *res, void *arg)
{
	struct chain *c = arg;
	struct zvmd_http_opts o = opts_for("GET", "/bytes/10", NULL);

	(void)req;
	cr_assert_null(res->error, "%s", res->error);
	c->done++;
	if (--c->left == 0)
		return;
	o.on_response = NULL;
	o.on_data = NULL;
	o.on_done = on_chain_done;
	o.arg = c;
	start(&o);
}

Test(http, start_from_on_done)
{
	struct chain c = { .left = 5 };
	struct zvmd_http_opts o = opts_for("GET", "/bytes/10", NULL);

	o.on_response = NULL;
	o.on_data = NULL;
	o.on_done = on_chain_done;
	o.arg = &c;
	run_one(&o);
	cr_assert_eq(c.done, 5);
}

Test(http, close_ends_live_requests_with_an_error)
{
	struct seen s;
	struct zvmd_http_opts o;

	seen_init(&s);
	o = opts_for("GET", "/stall", &s);
	start(&o);
	while (s.bytes < 5)
		uv_run(&loop, UV_RUN_ONCE);
	seen_fini(&s);
	client_close();
	cr_assert_eq(s.dones, 1);
	cr_assert(strstr(s.error, "closing"), "%s", s.error);
}

/* ---------------------------------------------------- blocking fetch */

Test(http, fetch_gets_status_headers_and_body)
{
	struct zvmd_http_opts o = opts_for("GET", "/bytes/1000", NULL);
	struct zvmd_http_fetched f;
	struct proto_error err;
	bool ok = true;

	cr_assert(zvmd_http_fetch(&o, 4096, &f, &err) == 0, "%s", err.msg);
	cr_assert_eq(f.resp.status, 200);
	cr_assert_str_eq(zvmd_http_header(&f.resp, "X-TEST-HEADER"),
			 "Hello World");
	cr_assert_str_eq(zvmd_http_header(&f.resp, "content-length"), "1000");
	cr_assert_null(zvmd_http_header(&f.resp, "x-absent"));
	cr_assert_eq(f.len, 1000);
	for (size_t i = 0; i < f.len; i++)
		ok &= (unsigned char)f.body[i] == i % 251;
	cr_assert(ok);
	zvmd_http_fetched_free(&f);
}

Test(http, fetch_refuses_a_body_over_the_bound)
{
	struct zvmd_http_opts o = opts_for("GET", "/bytes/100000", NULL);
	struct zvmd_http_fetched f;
	struct proto_error err;

	cr_assert(zvmd_http_fetch(&o, 1000, &f, &err) < 0);
	cr_assert(strstr(err.msg, "larger than 1000 bytes"), "%s", err.msg);
	cr_assert(strstr(err.msg, "/bytes/100000"), "%s", err.msg);
}

Test(http, fetch_put_probe_and_post)
{
	struct zvmd_http_opts o = opts_for("PUT", "/echo", NULL);
	struct zvmd_http_fetched f;
	struct proto_error err;

	/* A PUT without a body sends no Content-Length (a write probe). */
	cr_assert(zvmd_http_fetch(&o, 4096, &f, &err) == 0, "%s", err.msg);
	cr_assert_eq(f.resp.status, 411);
	zvmd_http_fetched_free(&f);
	o = opts_for("POST", "/echo", NULL);
	o.body_kind = ZVMD_HTTP_BODY_MEM;
	o.body = "abc";
	o.body_len = 3;
	cr_assert(zvmd_http_fetch(&o, 4096, &f, &err) == 0, "%s", err.msg);
	cr_assert_eq(f.resp.status, 201);
	cr_assert(!strncmp(f.body, "method=POST len=3 ", 18), "%s", f.body);
	zvmd_http_fetched_free(&f);
}

/* The exchanges of a batch run at once (the server answers /together/4
 * only to 4 requests waiting together) and each ends on its own. */
Test(http, fetch_many_runs_the_batch_at_once)
{
	char url[6][128];
	struct zvmd_http_opts o[6] = { { 0 } };
	struct zvmd_http_fetched f[6];
	struct proto_error err[6];
	int rc[6];

	for (int i = 0; i < 4; i++)
		snprintf(url[i], sizeof(url[i]),
			 "http://127.0.0.1:%u/together/4", port);
	snprintf(url[4], sizeof(url[4]), "http://127.0.0.1:%u/bytes/5000",
		 port);
	snprintf(url[5], sizeof(url[5]), "http://127.0.0.1:1/nothing");
	for (int i = 0; i < 6; i++)
		o[i].url = url[i];
	zvmd_http_fetch_many(o, 6, 4, 4096, f, rc, err);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(rc[i], 0, "%s", err[i].msg);
		cr_assert_eq(f[i].resp.status, 200, "request %d waited alone",
			     i);
		cr_assert_str_eq(f[i].body, "together\n");
		zvmd_http_fetched_free(&f[i]);
	}
	cr_assert_eq(rc[4], -1);
	cr_assert(strstr(err[4].msg, "larger than 4096 bytes"), "%s",
		  err[4].msg);
	cr_assert_eq(rc[5], -1);
	cr_assert(strstr(err[5].msg, "GET http://127.0.0.1:1/nothing: "
			 "Couldn't connect"), "%s", err[5].msg);
}

Test(http, fetch_refused_names_the_url)
{
	struct zvmd_http_opts o = { .url = "http://127.0.0.1:1/nothing" };
	struct zvmd_http_fetched f;
	struct proto_error err;

	cr_assert(zvmd_http_fetch(&o, 4096, &f, &err) < 0);
	cr_assert(strstr(err.msg, "GET http://127.0.0.1:1/nothing: "
			 "Couldn't connect"), "%s", err.msg);
}

/* Open fds of this process. */
static int fds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A burst of requests at once leaves at most ZVMD_HTTP_MAX_CACHED
 * connections open, not one per request (libcurl's default cache keeps
 * 4 per easy handle ever added: a worker once held 5 extra fds after a
 * fault job). */
Test(http, a_burst_leaves_a_bounded_connection_cache)
{
	enum { BURST = 12 };
	struct seen s[BURST];
	struct zvmd_http_opts o;
	int before = fds_open();

	for (int i = 0; i < BURST; i++) {
		seen_init(&s[i]);
		o = opts_for(NULL, "/bytes/1000", &s[i]);
		start(&o);
	}
	run_all();
	for (int i = 0; i < BURST; i++) {
		cr_assert_eq(s[i].status, 200, "%s", s[i].error);
		seen_fini(&s[i]);
	}
	cr_assert_leq(fds_open() - before, ZVMD_HTTP_MAX_CACHED,
		      "%d fds more after %d requests", fds_open() - before,
		      BURST);
}
