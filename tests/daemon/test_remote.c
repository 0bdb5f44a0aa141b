/*
 * Remote and part jobs (daemon/job.c, cluster mode) against a local run of
 * the same plan: a part job with every instance "here" runs the plan and
 * answers frames; the frames, parsed, feed a remote job; its response
 * must be the local job's, header for header and byte for byte.
 *
 * The jobs run real sandboxes over a temp local store. Responses are read
 * the way a client reads them: served by a small libmicrohttpd daemon and
 * fetched with libcurl.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static char root[64], spool[80];
static uv_loop_t loop;
static struct zvmd_server srv;

static void copy_file(const char *from, const char *rel)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "mkdir -p $(dirname %s/%s) && cp %s %s/%s",
		 root, rel, from, root, rel);
	cr_assert(system(cmd) == 0, "%s", cmd);
}

static void put(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	cr_assert(f, "create %s", path);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	struct proto_error err;
	char path[600];

	snprintf(root, sizeof(root), "/tmp/zvmd-remote-XXXXXX");
	cr_assert(mkdtemp(root));
	snprintf(spool, sizeof(spool), "%s-spool", root);
	cr_assert(mkdir(spool, 0700) == 0);
	copy_file(getenv("ZVMD_PROG_UPCASE"), "acct/bin/upcase");
	copy_file(getenv("ZVMD_PROG_EXITCODE"), "acct/bin/exitcode");
	snprintf(path, sizeof(path), "%s/acct/in", root);
	cr_assert(mkdir(path, 0755) == 0);
	put("acct/in/a.txt", "first object\n");
	put("acct/in/b.txt", "second object\n");
	cr_assert(uv_loop_init(&loop) == 0);
	srv.loop = &loop;
	zvmd_config_default(&srv.cfg);
	snprintf(srv.cfg.spool, sizeof(srv.cfg.spool), "%s", spool);
	cr_assert(zvmd_store_local_open(root, &srv.store, &err) == 0, "%s",
		  err.msg);
	srv.spoolfd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert(srv.spoolfd >= 0);
	uv_timer_init(&loop, &srv.mhd_timer);
}

static void teardown(void)
{
	char cmd[256];

	uv_close((uv_handle_t *)&srv.mhd_timer, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	srv.store->ops->free(srv.store);
	close(srv.spoolfd);
	uv_loop_close(&loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", root, spool);
	cr_assert(system(cmd) == 0);
}

TestSuite(remote, .init = setup, .fini = teardown, .timeout = 60);

/* Two upcase instances (a wildcard) and one that exits 3. */
static const char job_json[] =
	"[{\"name\":\"up\",\"exec\":{\"path\":\"swift://~/bin/upcase\"},"
	"\"devices\":[{\"name\":\"stdin\",\"path\":\"swift://~/in/*.txt\"},"
	"{\"name\":\"stdout\"},{\"name\":\"stderr\"}]},"
	"{\"name\":\"x\",\"exec\":{\"path\":\"swift://~/bin/exitcode\","
	"\"args\":\"3 boom\"},\"devices\":[{\"name\":\"stdout\"}]}]";

static int store_list(void *ctx, const char *account, const char *container,
		      const char *prefix, struct proto_names *out,
		      struct proto_error *err)
{
	struct zvmd_store *st = ctx;

	return st->ops->list(st, account, container, prefix, out, err);
}

static struct proto_plan *plan_new(void)
{
	struct proto_store store = { store_list, srv.store };
	struct proto_limits lim;
	struct proto_plan *plan;
	struct proto_error err;

	proto_limits_default(&lim);
	cr_assert(proto_job_plan(job_json, sizeof(job_json) - 1, "acct", NULL,
				 0, &lim, &store, &plan, &err) == 0, "%s",
		  err.msg);
	cr_assert_eq(plan->ninst, 3);
	return plan;
}

static void run_until_done(struct zvmd_job *job)
{
	while (!zvmd_job_done(job))
		uv_run(&loop, UV_RUN_ONCE);
}

/* ------------------------------------------- serving a response */

struct fetched {
	char *headers, *body;
	size_t hlen, blen;
};

typedef struct MHD_Response *(*make_fn)(struct MHD_Connection *conn,
					void *arg);

struct serve {
	make_fn make;
	void *arg;
	int status;
};

static enum MHD_Result on_req(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *data,
			      size_t *size, void **con_cls)
{
	struct serve *s = cls;
	struct MHD_Response *r;
	enum MHD_Result rc;

	(void)url, (void)method, (void)version, (void)data, (void)size;
	if (!*con_cls) {
		*con_cls = s;
		return MHD_YES;
	}
	r = s->make(conn, s->arg);
	cr_assert(r);
	rc = MHD_queue_response(conn, (unsigned)s->status, r);
	MHD_destroy_response(r);
	return rc;
}

static size_t on_bytes(char *p, size_t size, size_t n, void *arg)
{
	FILE *f = arg;

	return fwrite(p, size, n, f);
}

/* Serve one response (made in the handler) and fetch it with curl. */
static void fetch(make_fn make, void *arg, int status, struct fetched *out)
{
	struct serve s = { make, arg, status };
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	FILE *hf = open_memstream(&out->headers, &out->hlen);
	FILE *bf = open_memstream(&out->body, &out->blen);
	char url[64];
	CURL *c = curl_easy_init();
	long code = 0;

	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
			     MHD_USE_ERROR_LOG, 0, NULL, NULL, on_req, &s,
			     MHD_OPTION_END);
	cr_assert(d && c && hf && bf);
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", info->port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_bytes);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, hf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_bytes);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, bf);
	cr_assert(curl_easy_perform(c) == CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	cr_assert_eq(code, status);
	curl_easy_cleanup(c);
	MHD_stop_daemon(d);
	fclose(hf);
	fclose(bf);
}

static void fetched_free(struct fetched *f)
{
	free(f->headers);
	free(f->body);
}

/* The value of header name in f (malloc'd), or NULL. */
static char *header(const struct fetched *f, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = f->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");

		if (!eol)
			break;
		if (!strncasecmp(p, name, n) && p[n] == ':')
			return strndup(p + n + 2, (size_t)(eol - p - n - 2));
		p = eol + 2;
	}
	return NULL;
}

static struct MHD_Response *make_job(struct MHD_Connection *conn, void *arg)
{
	(void)conn;
	return zvmd_job_response(arg);
}

static struct MHD_Response *make_frames(struct MHD_Connection *conn,
					void *arg)
{
	return zvmd_job_frames_response(arg, conn);
}

/* ------------------------------------------------------ the jobs */

static void local_run(struct fetched *out)
{
	struct zvmd_job *job;
	struct proto_error err;

	cr_assert(zvmd_job_create(&srv, plan_new(), 1, NULL, NULL, &job,
				  &err) == 0, "%s", err.msg);
	zvmd_job_submit(job);
	run_until_done(job);
	cr_assert_eq(zvmd_job_status(job), 500);
	fetch(make_job, job, 500, out);
	zvmd_job_release(job);
	uv_run(&loop, UV_RUN_NOWAIT);
}

/* The part job's sources, opened as a worker would (here: the store). */
static void part_sources(struct proto_plan *plan, bool *here, int **fds,
			 int *prog_fds)
{
	struct proto_error err;

	for (size_t i = 0; i < plan->ninst; i++) {
		const struct proto_instance *pi = &plan->inst[i];

		here[i] = true;
		fds[i] = malloc(pi->nchannels * sizeof(int));
		cr_assert(srv.store->ops->open_read(srv.store, pi->exec_path,
						    &prog_fds[i], &err) == 0);
		for (size_t k = 0; k < pi->nchannels; k++) {
			fds[i][k] = -1;
			if (pi->channels[k].kind == PROTO_CHAN_OBJECT)
				cr_assert(srv.store->ops->open_read(srv.store,
					pi->channels[k].path, &fds[i][k],
					&err) == 0, "%s", err.msg);
		}
	}
}

static void part_run(struct fetched *frames, struct fetched *resp)
{
	struct proto_plan *plan = plan_new();
	size_t n = plan->ninst;
	bool here[3];
	int *fds[3], prog_fds[3];
	struct zvmd_job_part part = { here, fds, prog_fds, NULL, NULL };
	struct zvmd_job *job;
	struct proto_error err;

	part_sources(plan, here, fds, prog_fds);
	cr_assert(zvmd_job_create_part(&srv, plan, 2, &part, NULL, NULL,
				       &job, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(prog_fds[i], -1, "the job took the program fd");
		free(fds[i]);
	}
	zvmd_job_submit(job);
	run_until_done(job);
	fetch(make_frames, job, 200, frames);
	fetch(make_job, job, 500, resp);
	zvmd_job_release(job);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static int on_frame(void *arg, const struct proto_frame *f,
		    struct proto_error *err)
{
	(void)err;
	if (f->type == PROTO_FRAME_REPORT)
		zvmd_job_remote_report(arg, f);
	return 0;
}

static int on_output(void *arg, size_t inst, const char *buf, size_t len,
		     struct proto_error *err)
{
	return zvmd_job_remote_output(arg, inst, buf, len, err);
}

static void remote_run(const struct fetched *frames, struct fetched *out)
{
	struct zvmd_job *job;
	struct proto_error err;
	struct proto_frame_sink sink = { on_frame, on_output, NULL };
	struct proto_frame_parser *p;
	size_t used;

	cr_assert(zvmd_job_create_remote(&srv, plan_new(), 3, NULL, NULL,
					 &job, &err) == 0, "%s", err.msg);
	zvmd_job_submit(job);
	cr_assert_eq(srv.slots_used, 0, "a remote job takes no slot");
	sink.arg = job;
	p = proto_frame_parser_new(3, 0, &sink);
	cr_assert(p);
	cr_assert(proto_frame_parser_feed(p, frames->body, frames->blen, &used,
					  &err) == 0, "%s", err.msg);
	cr_assert_eq(used, frames->blen);
	cr_assert(proto_frame_parser_end(p, &err) == 0, "%s", err.msg);
	proto_frame_parser_free(p);
	cr_assert(zvmd_job_done(job));
	fetch(make_job, job, 500, out);
	zvmd_job_release(job);
	uv_run(&loop, UV_RUN_NOWAIT);
}

/* "total, t1, acct1, t2, acct2..." without the timings. */
static void cdr_counts(const char *cdr, char *out, size_t cap)
{
	size_t field = 0, o = 0;

	for (const char *p = cdr; *p && o + 1 < cap; p++) {
		if (*p == ',' && (p[1] == ' ')) {
			field++;
			out[o++] = '|';
			continue;
		}
		/* Keep the counts (fields 2, 4...), drop times and CPU. */
		if (field % 2 == 0 && field > 0)
			out[o++] = *p;
	}
	out[o] = '\0';
}

Test(remote, frames_make_the_local_response)
{
	static const char *const names[] = {
		"X-Nexe-System", "X-Nexe-Status", "X-Nexe-Retcode",
		"X-Nexe-Etag", "X-Nexe-Validation", "Content-Type",
	};
	struct fetched local = { 0 }, frames = { 0 }, part = { 0 },
		       remote = { 0 };
	char *a, *b, ca[512], cb[512];

	local_run(&local);
	part_run(&frames, &part);
	remote_run(&frames, &remote);
	cr_assert_eq(remote.blen, local.blen);
	cr_assert(!memcmp(remote.body, local.body, local.blen), "%.*s",
		  (int)remote.blen, remote.body);
	cr_assert(strstr(local.body, "FIRST OBJECT\nSECOND OBJECT\nboom\n"),
		  "%s", local.body);
	for (size_t h = 0; h < sizeof(names) / sizeof(names[0]); h++) {
		a = header(&local, names[h]);
		b = header(&remote, names[h]);
		cr_assert(a && b, "%s", names[h]);
		cr_assert_str_eq(a, b, "%s", names[h]);
		free(a);
		free(b);
	}
	a = header(&remote, "X-Nexe-Status");
	cr_assert_str_eq(a, "ok,ok,ok");
	free(a);
	a = header(&remote, "X-Nexe-Retcode");
	cr_assert_str_eq(a, "0,0,3");
	free(a);
	/* The CDR of each instance is the worker's, as it measured it. */
	a = header(&part, "X-Nexe-Cdr-Line");
	b = header(&remote, "X-Nexe-Cdr-Line");
	cr_assert(a && b);
	cr_assert_str_eq(strchr(a, ','), strchr(b, ','));
	free(a);
	free(b);
	a = header(&local, "X-Nexe-Cdr-Line");
	b = header(&remote, "X-Nexe-Cdr-Line");
	cdr_counts(a, ca, sizeof(ca));
	cdr_counts(b, cb, sizeof(cb));
	cr_assert_str_eq(ca, cb);
	free(a);
	free(b);
	fetched_free(&local);
	fetched_free(&frames);
	fetched_free(&part);
	fetched_free(&remote);
}

Test(remote, fail_ends_the_instances_without_a_report)
{
	struct zvmd_job *job;
	struct proto_error err;
	struct proto_frame f = { .type = PROTO_FRAME_REPORT, .inst = 1,
				 .system = "up-2", .status = "ok",
				 .etag = "disabled", .cdr = "0.010, 1 2 3 4 5 6 "
				 "7 8 9 10" };
	struct fetched out = { 0 };
	char *v;

	cr_assert(zvmd_job_create_remote(&srv, plan_new(), 4, NULL, NULL,
					 &job, &err) == 0, "%s", err.msg);
	zvmd_job_submit(job);
	cr_assert(zvmd_job_remote_output(job, 1, "part\n", 5, &err) == 0);
	cr_assert(zvmd_job_remote_output(job, 2, "x", 1, &err) == 0);
	cr_assert(zvmd_job_remote_output(job, 9, "x", 1, &err) == -1);
	zvmd_job_remote_report(job, &f);
	cr_assert(zvmd_job_remote_output(job, 1, "late", 4, &err) == -1,
		  "output after the report");
	cr_assert(strstr(err.msg, "up-2"), "%s", err.msg);
	cr_assert(!zvmd_job_done(job));
	zvmd_job_remote_fail(job, "worker 127.0.0.3:8090 stopped mid-job");
	cr_assert(zvmd_job_done(job));
	cr_assert_eq(zvmd_job_status(job), 500);
	fetch(make_job, job, 500, &out);
	v = header(&out, "X-Nexe-Status");
	cr_assert_str_eq(v, "worker 127.0.0.3:8090 stopped mid-job,ok,"
			 "worker 127.0.0.3:8090 stopped mid-job");
	free(v);
	v = header(&out, "X-Nexe-Retcode");
	cr_assert_str_eq(v, "-1,0,-1");
	free(v);
	cr_assert_eq(out.blen, 6);
	cr_assert(!memcmp(out.body, "part\nx", 6));
	fetched_free(&out);
	zvmd_job_release(job);
	uv_run(&loop, UV_RUN_NOWAIT);
}

Test(remote, cancel_fails_every_instance)
{
	struct zvmd_job *job;
	struct proto_error err;

	cr_assert(zvmd_job_create_remote(&srv, plan_new(), 5, NULL, NULL,
					 &job, &err) == 0, "%s", err.msg);
	zvmd_job_submit(job);
	zvmd_job_cancel(job, "client disconnected");
	run_until_done(job);
	cr_assert_eq(zvmd_job_status(job), 500);
	zvmd_job_release(job);
	uv_run(&loop, UV_RUN_NOWAIT);
}
