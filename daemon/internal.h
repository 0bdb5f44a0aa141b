/* internal.h — what the files of daemon/ share; not a public header. */
#ifndef ZEROVM_DAEMON_INTERNAL_H
#define ZEROVM_DAEMON_INTERNAL_H

#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>
#include <uv.h>

#include "proto.h"
#include "swift.h"
#include "zvmd.h"

/* A bad configuration value: "file:line: key: why" when the file set it,
 * else "key: why". Returns -1. */
int zvmd_config_error(const struct zvmd_config *cfg, struct zvmd_error *err,
		      const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "ADDR:PORT" (or ":PORT", or "PORT") -> IPv4 socket address. */
int zvmd_listen_parse(const char *s, struct sockaddr_in *out, char *msg,
		      size_t cap);

/* --------------------------------------------------------------- log */

/* In zvmd.conf's log_level order: a level logs itself and those above. */
enum zvmd_log_level {
	ZVMD_LOG_ERROR, ZVMD_LOG_WARNING, ZVMD_LOG_INFO, ZVMD_LOG_DEBUG,
};

/* "error", "warning", "info", "debug" -> level, or -1 (daemon/config.c). */
int zvmd_log_level_parse(const char *name);
void zvmd_log_set_level(enum zvmd_log_level level);
/* One logfmt line on stderr: "ts=... level=... " then fmt. */
void zvmd_log(enum zvmd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ----------------------------------------------------------- cluster */

#define ZVMD_SECRET_MIN 32
#define ZVMD_SECRET_MAX 1024

/* The cluster secret shared by every node's zvmd (signed internal
 * requests, edge hellos). */
struct zvmd_secret {
	unsigned char key[ZVMD_SECRET_MAX];
	size_t len;
};

/* Read a secret file: a regular file, not readable or writable by
 * others, ZVMD_SECRET_MIN..ZVMD_SECRET_MAX bytes once trailing
 * newlines are dropped (a hex line from `openssl rand -hex 32` works).
 * On error msg says what is wrong with the file. */
int zvmd_secret_load(const char *path, struct zvmd_secret *out, char *msg,
		     size_t cap);

/* ------------------------------------------------------------- auth */

/* Signed internal requests and edge hellos, checked on the worker
 * (daemon/auth.c): signature, expiry, then a replay cache that keeps
 * every nonce until its signature expires. Loop thread only. */
#define ZVMD_AUTH_NONCES 65536   /* default bound of the replay cache */

enum zvmd_auth_result {
	ZVMD_AUTH_OK,
	ZVMD_AUTH_MISSING,        /* 401: an X-Zvm-* header is absent */
	ZVMD_AUTH_BAD_SIGNATURE,  /* 403: malformed or wrong signature */
	ZVMD_AUTH_EXPIRED,        /* 403: expired, or expires too far ahead */
	ZVMD_AUTH_REPLAYED,       /* 403: nonce seen before its expiry */
	ZVMD_AUTH_FULL,           /* 503: replay cache full; retry later */
};

struct zvmd_auth;

/* Copies the secret; max_nonces 0 = ZVMD_AUTH_NONCES. NULL when memory
 * runs out or the secret is shorter than ZVMD_SECRET_MIN. */
struct zvmd_auth *zvmd_auth_new(const struct zvmd_secret *secret,
				size_t max_nonces);
void zvmd_auth_free(struct zvmd_auth *a);
/* HTTP status of a result: 200, 401, 403 or 503. */
int zvmd_auth_status(enum zvmd_auth_result r);
/* Nonces remembered now (for metrics and tests). */
size_t zvmd_auth_pending(const struct zvmd_auth *a);
/* A request: method, path (as signed: no query), the X-Zvm-Expires,
 * -Nonce, -Signature values (NULL = absent), the body, the time. msg
 * gets a one-line reason for any result but OK. Nothing may run before
 * this says OK. */
enum zvmd_auth_result zvmd_auth_request(struct zvmd_auth *a,
					const char *method, const char *path,
					const char *expires, const char *nonce,
					const char *signature, const void *body,
					size_t len, int64_t now, char *msg,
					size_t cap);
/* An edge hello line (with or without '\n'): parsed into *out, then
 * checked like a request. Answer "OK\n" on ZVMD_AUTH_OK, else
 * "ERR <msg>\n". */
enum zvmd_auth_result zvmd_auth_edge(struct zvmd_auth *a, const char *line,
				     size_t len, int64_t now,
				     struct proto_edge_hello *out, char *msg,
				     size_t cap);

/* What cluster mode reads at start (daemon/cluster.c): swift.conf and
 * the object ring of every storage policy in swift_dir, the secret, and
 * this node's IP. Immutable once loaded: planning threads share it. */
struct zvmd_cluster {
	struct swift_conf conf;
	struct swift_ring **rings;  /* parallel to conf.policies */
	struct zvmd_secret secret;
	char node_ip[64];
};

/* Load what cfg's [cluster] section names; errors name file:line:key. */
int zvmd_cluster_load(const struct zvmd_config *cfg,
		      struct zvmd_cluster **out, struct zvmd_error *err);
void zvmd_cluster_free(struct zvmd_cluster *cl);
/* The object ring of a storage policy, or NULL if there is none. */
const struct swift_ring *zvmd_cluster_ring(const struct zvmd_cluster *cl,
					   int policy_index);

/* Where a cluster job runs (daemon/cluster_place.c): the task fields
 * `nodes` and `placement`. */
struct zvmd_node {
	char ip[64];
	char http[80];   /* "ip:worker_port" */
	char edge[80];   /* "ip:edge_port" */
	unsigned ninst;  /* instances placed on it */
};

struct zvmd_placement {
	size_t *inst;            /* node index of every plan instance */
	struct zvmd_node *nodes; /* the nodes with instances, first use first */
	size_t nnodes;
};

/* Is the zvmd of this node up? (GET /healthcheck in the daemon; a fake
 * in unit tests.) Called at most once per IP and placement. */
typedef bool (*zvmd_alive_fn)(void *ctx, const char *ip);

/*
 * Place every instance of plan. An instance with a placing object
 * (inst->placement >= 0) goes to the first primary of that object, in
 * the ring of storage policy policy[i], whose zvmd is alive; any other
 * instance (or one whose primaries are all down) goes to the live node
 * of the rings with the fewest instances so far (ties: ring device
 * order). Returns 0, or -1 with msg set when no node is alive.
 */
int zvmd_place(const struct zvmd_cluster *cl, unsigned worker_port,
	       unsigned edge_port, const struct proto_plan *plan,
	       const int *policy, zvmd_alive_fn alive, void *ctx,
	       struct zvmd_placement *out, char *msg, size_t cap);
void zvmd_placement_clear(struct zvmd_placement *p);

/*
 * The coordinator's planning phase (daemon/cluster_prep.c), run in a uv
 * work thread: blocking HTTP to the proxy (with the user's token) and to
 * the workers' /healthcheck. The caller fills the inputs; on return
 * status is 200 and the outputs are set, or status is the HTTP answer
 * (400, 403, 404, 413, 422, 500, 502, 503) and msg says why.
 */
struct zvmd_prep {
	/* in */
	struct zvmd_config cfg;           /* a copy: SIGHUP may replace it */
	const struct zvmd_cluster *cl;
	char *json;
	size_t len;
	char account[256];
	char *token;                      /* the user's X-Auth-Token */
	unsigned list_limit;              /* listing page size; 0 = Swift's */
	/* out */
	int status;
	char msg[600];
	struct proto_plan *plan;
	struct zvmd_placement place;
	/* Per node of place: where its instances go if it cannot be
	 * reached at dispatch (ip "" = nowhere: they pipe to other nodes). */
	struct zvmd_node *alt;
	struct proto_object *objects;     /* what HEAD said of every input
					   * object and program */
	size_t nobjects;
};

void zvmd_prep_run(struct zvmd_prep *p);
/* Free the outputs (and json, token); the struct itself is the
 * caller's. */
void zvmd_prep_clear(struct zvmd_prep *p);

/* ------------------------------------------------------------- store */

/* An output being written: a temp file beside the final object, renamed
 * over it by commit, removed by abort. */
struct zvmd_output {
	int dirfd;        /* the object's directory */
	int fd;           /* the temp file, O_WRONLY */
	char *tmpname;    /* in dirfd */
	char *name;       /* final basename in dirfd */
};

struct zvmd_stat {
	uint64_t size;
	char etag[33];        /* md5 hex, "" when unknown */
	char content_type[256];
};

struct zvmd_store;

/* One interface for every object backend (the local store today).
 * Paths are "account/container/object"; errors are proto errors so
 * that their kind becomes the HTTP status. */
struct zvmd_store_ops {
	/* Open an object for reading (a channel source). */
	int (*open_read)(struct zvmd_store *st, const char *path, int *fd,
			 struct proto_error *err);
	/* proto_store's list (container == NULL lists containers). */
	int (*list)(struct zvmd_store *st, const char *account,
		    const char *container, const char *prefix,
		    struct proto_names *out, struct proto_error *err);
	int (*stat)(struct zvmd_store *st, const char *path,
		    struct zvmd_stat *out, struct proto_error *err);
	/* Start writing an object; nothing is visible until commit. */
	int (*create)(struct zvmd_store *st, const char *path,
		      struct zvmd_output **out, struct proto_error *err);
	/* Make the output visible atomically with its metadata; frees it. */
	int (*commit)(struct zvmd_store *st, struct zvmd_output *o,
		      const char *content_type, const struct proto_meta *meta,
		      size_t nmeta, const char *etag, struct proto_error *err);
	/* Remove the temp file; frees it. */
	void (*abort)(struct zvmd_store *st, struct zvmd_output *o);
	void (*free)(struct zvmd_store *st);
};

struct zvmd_store {
	const struct zvmd_store_ops *ops;
};

/* The local store over a directory (daemon/store_local.c). */
int zvmd_store_local_open(const char *root, struct zvmd_store **out,
			  struct proto_error *err);

/* Check one path segment of an account, container or object name. */
bool zvmd_segment_ok(const char *s, size_t len);

/* ----------------------------------------------------------- metrics */

#define ZVMD_LATENCY_BUCKETS 12

struct zvmd_metrics {
	uint64_t jobs[6];            /* by class: 2xx 4xx 500 503 other, total */
	uint64_t instances;          /* instances started */
	uint64_t instance_failures;  /* instances that did not end ok */
	uint64_t bytes_in;           /* bytes read by instances + job bodies */
	uint64_t bytes_out;          /* bytes written by instances */
	uint64_t image_extractions;  /* images unpacked into the cache */
	uint64_t image_evictions;    /* trees evicted (image_cache.c) */
	uint64_t image_cache_bytes;  /* disk use of the trees counted */
	struct zvmd_histogram {
		uint64_t n[ZVMD_LATENCY_BUCKETS + 1]; /* cumulative at render */
		double sum;
		uint64_t count;
	} latency,  /* job: request complete to response ready */
	  spawn;    /* sandbox_spawn of one instance (prewarm shows here) */
};

void zvmd_metrics_job(struct zvmd_metrics *m, int status, double seconds);
void zvmd_metrics_spawn(struct zvmd_metrics *m, double seconds);
/* Prometheus text format (malloc'd). */
char *zvmd_metrics_render(const struct zvmd_metrics *m, unsigned queue_depth,
			  unsigned running_jobs, unsigned slots_used,
			  unsigned pool_size, bool draining);

/* ------------------------------------------------------- http client */

/* Outgoing HTTP (daemon/http.c): libcurl's multi interface driven by the
 * server's uv loop. Nothing blocks the loop. A request is owned by the
 * client from zvmd_http_start until its on_done has returned or it was
 * cancelled; the caller keeps owning the fds it passes. */

struct zvmd_http;
struct zvmd_http_request;

/* Idle connections the client keeps for reuse (CURLMOPT_MAXCONNECTS).
 * libcurl's default grows with the number of requests ever in flight at
 * once (4 per easy handle), so a burst would leave that many sockets
 * open for good; tests/swift/cluster_client.py's fd checks rely on it. */
#define ZVMD_HTTP_MAX_CACHED 4L

struct zvmd_http_header {
	char *name, *value;
};

/* The final (non-1xx) response's status line and headers. */
struct zvmd_http_response {
	long status;
	struct zvmd_http_header *headers;
	size_t nheaders, cap;
};

/* The value of header name (case-insensitive, the first one), or NULL. */
const char *zvmd_http_header(const struct zvmd_http_response *resp,
			     const char *name);

enum zvmd_http_body {
	ZVMD_HTTP_BODY_NONE,
	ZVMD_HTTP_BODY_MEM,   /* body/body_len, copied at start */
	ZVMD_HTTP_BODY_FD,    /* read from body_fd's current offset */
};

/* on_data's answer: the buffer was consumed, or it was NOT and the
 * request pauses; after zvmd_http_resume the same bytes come again. */
enum zvmd_http_flow {
	ZVMD_HTTP_CONSUMED,
	ZVMD_HTTP_PAUSE,
};

struct zvmd_http_result {
	/* NULL: the exchange completed (whatever the status); else a
	 * transport error naming the method, URL and curl's reason. */
	const char *error;
	const struct zvmd_http_response *response; /* status 0: none */
	uint64_t bytes_received; /* body bytes given to on_data / out_fd */
	uint64_t bytes_sent;     /* request body bytes read by curl */
	int out_errno;           /* why writing the body to out_fd failed
				  * (ENOSPC: the spool is full), 0 = it did
				  * not */
};

/* Headers are in (once). Cancelling from here is allowed. */
typedef void (*zvmd_http_response_cb)(struct zvmd_http_request *req,
				      const struct zvmd_http_response *resp,
				      void *arg);
typedef enum zvmd_http_flow (*zvmd_http_data_cb)(
	struct zvmd_http_request *req, const char *buf, size_t len,
	void *arg);
/* Exactly once unless cancelled, never from inside zvmd_http_start;
 * the request is freed when it returns. */
typedef void (*zvmd_http_done_cb)(struct zvmd_http_request *req,
				  const struct zvmd_http_result *res,
				  void *arg);

struct zvmd_http_opts {
	const char *method;              /* NULL: GET */
	const char *url;
	const char *const *headers;      /* "Name: value", NULL-terminated */
	enum zvmd_http_body body_kind;
	const void *body;                /* ZVMD_HTTP_BODY_MEM */
	size_t body_len;
	int body_fd;                     /* ZVMD_HTTP_BODY_FD: a file (reads
					  * must not block) */
	int64_t body_size;               /* FD: bytes to send; -1: until EOF,
					  * sent chunked */
	bool to_fd;                      /* response body -> out_fd, not on_data */
	int out_fd;
	unsigned connect_timeout_ms;     /* 0: curl's default (300 s) */
	unsigned timeout_ms;             /* whole exchange; 0: none */
	unsigned low_speed_bytes;        /* abort below this many bytes/s ... */
	unsigned low_speed_secs;         /* ... for this long (both > 0) */
	zvmd_http_response_cb on_response;
	zvmd_http_data_cb on_data;       /* NULL: the body is discarded */
	zvmd_http_done_cb on_done;
	void *arg;
};

/* One client per server, on its loop. */
int zvmd_http_create(uv_loop_t *loop, struct zvmd_http **out,
		     struct proto_error *err);
/* Stop: every live request gets on_done with an error, then everything
 * is freed once the loop has run (the client frees itself). Safe from
 * any callback. */
void zvmd_http_close(struct zvmd_http *h);
/* Start a request (it runs from the next loop iteration). Fails only on
 * bad options, no memory, or a closing client: then no callback runs. */
int zvmd_http_start(struct zvmd_http *h, const struct zvmd_http_opts *o,
		    struct zvmd_http_request **out, struct proto_error *err);
/* No callback of req runs after this; req is freed. Safe anywhere. */
void zvmd_http_cancel(struct zvmd_http_request *req);
/* Continue a request whose on_data answered ZVMD_HTTP_PAUSE. */
void zvmd_http_resume(struct zvmd_http_request *req);
/* Requests started and not yet done or cancelled. */
size_t zvmd_http_live(const struct zvmd_http *h);

/* A blocking exchange with curl easy, ONLY for uv work-queue threads
 * (never the loop thread). Callbacks, to_fd and FD bodies are not used;
 * the response body is kept in memory, at most max_body bytes (more is
 * an error). */
struct zvmd_http_fetched {
	struct zvmd_http_response resp;
	char *body;        /* NUL-terminated */
	size_t len;
};

int zvmd_http_fetch(const struct zvmd_http_opts *o, size_t max_body,
		    struct zvmd_http_fetched *out, struct proto_error *err);
/* n such exchanges at once (o[0..n)), at most `parallel` connections
 * open, reused from one exchange to the next (a planning phase asks the
 * proxy about every object: one at a time, the round trips add up).
 * Each ends as zvmd_http_fetch would: rc[i] 0 with out[i] (free it), or
 * -1 with err[i]. */
void zvmd_http_fetch_many(const struct zvmd_http_opts *o, size_t n,
			  size_t parallel, size_t max_body,
			  struct zvmd_http_fetched *out, int *rc,
			  struct proto_error *err);
void zvmd_http_fetched_free(struct zvmd_http_fetched *f);

/* ------------------------------------------------------------ server */

struct zvmd_job;

/* The image cache's trees as this zvmd counts them (image_cache.c). */
struct zvmd_image_tree;
struct zvmd_image_cache {
	uv_mutex_t lock;             /* guards every field below */
	struct zvmd_image_tree *v;
	size_t n, cap;
	uint64_t bytes;              /* sum of the trees' disk use */
	uint64_t clock;              /* ticks at every hold: LRU order */
	uint64_t evictions;
	char *scanned;               /* the cache dir whose trees were counted */
};

int zvmd_image_cache_init(struct zvmd_image_cache *c);
void zvmd_image_cache_close(struct zvmd_image_cache *c);
/* A pool thread holds the tree `root` (from sandbox_image_open) for an
 * instance: 0; 1 when it was evicted meanwhile (open it again); -1 with
 * err. The first hold in a cache dir counts the trees already there. */
int zvmd_image_cache_hold(struct zvmd_image_cache *c, const char *root,
			  struct proto_error *err);
/* The instance is gone (any thread; only a moment under the lock). */
void zvmd_image_cache_release(struct zvmd_image_cache *c, const char *root);
/* Evict least recently used trees nobody holds until the trees take at
 * most max_bytes (0 = no bound); logs each. Blocks: a pool thread.
 * Returns how many were evicted. */
unsigned zvmd_image_cache_trim(struct zvmd_image_cache *c, uint64_t max_bytes);
void zvmd_image_cache_stats(struct zvmd_image_cache *c, uint64_t *bytes,
			    uint64_t *evictions);

struct zvmd_server {
	uv_loop_t *loop;
	struct zvmd_config cfg;
	const char *config_path;
	const char *const *overrides;
	size_t noverrides;
	struct MHD_Daemon *mhd;
	uv_poll_t mhd_poll;
	uv_timer_t mhd_timer;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t grace_timer;
	struct zvmd_store *store;
	int spoolfd;
	struct zvmd_http *http;    /* outgoing requests */
	struct zvmd_edge_srv *edge;    /* role = cluster: edge listener */
	struct zvmd_auth *auth;        /* role = cluster: signed requests */
	struct zvmd_metrics metrics;
	struct zvmd_image_cache images;
	struct zvmd_job *queue_head, *queue_tail; /* waiting for slots */
	struct zvmd_job *running;                 /* list of running jobs */
	unsigned queue_depth, running_jobs, slots_used, live_jobs;
	/* Admitted worker tasks still opening inputs and edges: the slots
	 * of those that will start at once, and how many will queue. */
	unsigned reserved_slots, reserved_queue;
	unsigned coord_jobs;          /* jobs this node coordinates now */
	uint64_t next_job_id;
	struct zvmd_cluster *cluster; /* role = cluster: rings, secret */
	bool draining, stopping;
};

/* The server on the caller's loop, without signals (zvmd_run's first
 * half). listen = false starts MHD without a listen socket: the caller
 * hands it connections with MHD_add_connection(srv->mhd, ...) and then
 * zvmd_server_kick() — tests/fuzz/fuzz_http.c does, with a socketpair. */
int zvmd_server_open(const struct zvmd_config *cfg, uv_loop_t *loop,
		     bool listen, struct zvmd_server **out,
		     struct zvmd_error *err);
/* Kick libmicrohttpd from the loop soon (never from inside MHD). */
void zvmd_server_kick(struct zvmd_server *srv);
/* A job finished or left: the server may stop if it is draining. */
void zvmd_server_job_gone(struct zvmd_server *srv);
/* A small plain answer (text copied); retry_after > 0 adds Retry-After. */
enum MHD_Result zvmd_reply(struct MHD_Connection *conn, int status,
			   const char *type, const char *text,
			   unsigned retry_after);

/* ------------------------------------------------------------ images */

/* An instance's image root (images.c). */
struct zvmd_inst_image {
	int tar_fd;              /* the archive; -1 = the instance has no image */
	char label[80];          /* "python3", "/dev/image": for messages */
	const char *prog;        /* program path inside it; NULL = an object */
	/* filled by zvmd_image_resolve */
	char *root_dir;          /* the extracted tree (malloc'd) */
	int prog_fd;             /* the program in it, or -1 */
	bool extracted;          /* this resolve unpacked it */
	bool held;               /* root_dir is held in the server's cache */
	enum proto_error_kind kind;
	char error[256];         /* "" = resolved */
};

const struct zvmd_sysimage *zvmd_sysimage_find(const struct zvmd_config *cfg,
					       const char *name);
/* Open a configured system image's archive read-only. */
int zvmd_sysimage_open(const struct zvmd_config *cfg, const char *name,
		       int *fd, struct proto_error *err);
/* Which archive (if any) becomes the instance's root (fds: its opened
 * channels). Fills tar_fd/label/prog; sets tar_fd = -1 for none. */
int zvmd_image_source(const struct zvmd_config *cfg,
		      const struct proto_instance *pi, const int *fds,
		      struct zvmd_inst_image *im, struct proto_error *err);
/* Extract (once, cached in `cache`) and open the program. Blocks: run it
 * on the uv work queue. Errors land in im->error / im->kind. */
void zvmd_image_resolve(const char *cache, uint64_t max_bytes,
			struct zvmd_inst_image *im);
/* Forget what zvmd_image_resolve found (the tree, the program in it; a
 * held tree must have been released), keep the archive. */
void zvmd_image_clear_root(struct zvmd_inst_image *im);
void zvmd_image_clear(struct zvmd_inst_image *im);

/* ---------------------------------------------------------- listings */

/* s %-escaped for a URL path or query ('/' kept: object names hold it).
 * malloc'd; NULL when memory runs out (listing.c). */
char *zvmd_url_escape(const char *s);
/* One page of a JSON container listing (?format=json) appended to out
 * (*cap: its capacity); *count = entries on the page. -1: not a JSON
 * listing, or no memory (out keeps what was added: the caller frees). */
int zvmd_listing_page_parse(const char *body, size_t len,
			    struct proto_names *out, size_t *cap,
			    size_t *count);

/* A container listing read through the proxy (a cluster worker's
 * `container` channel). */
struct zvmd_listing;

/* On the loop, once, unless cancelled: status 200 with fd = a spool file
 * holding the names one a line, rewound (the callee owns it); else the
 * HTTP status to answer (403, 404, 500, 502), fd -1 and msg naming the
 * container. The listing is freed after it returns. */
typedef void (*zvmd_listing_done_cb)(void *arg, int fd, int status,
				     const char *msg);

/* GET every page of the listing of path ("acct/cont") through the
 * proxy with the user's token. -1 (err set, done never called) when it
 * cannot start. */
int zvmd_listing_start(struct zvmd_server *srv, const char *path,
		       const char *token, zvmd_listing_done_cb done,
		       void *arg, struct zvmd_listing **out,
		       struct proto_error *err);
/* Stop it: done is not called. NULL is fine. */
void zvmd_listing_cancel(struct zvmd_listing *l);

/* -------------------------------------------------------------- jobs */

/* Where a write that failed with ENOSPC (or EDQUOT) went, for messages:
 * "no space left on the spool of node 127.0.0.3 (/srv/spool)", or on
 * one machine "no space left on the spool (/var/spool/zvmd)"; with
 * store = true the local store's root instead of the spool. */
const char *zvmd_no_space(const struct zvmd_server *srv, bool store,
			  char *buf, size_t cap);
/* Is err a full disk (ENOSPC, EDQUOT)? */
bool zvmd_errno_no_space(int err);

/* Called when the job's instances have all ended (or it never ran). */
typedef void (*zvmd_job_done_cb)(struct zvmd_job *job, void *arg);

/* Prepare a planned job: open inputs and the program, create outputs,
 * spool files and pipes. Nothing runs yet. Takes ownership of plan. */
int zvmd_job_create(struct zvmd_server *srv, struct proto_plan *plan,
		    uint64_t id, zvmd_job_done_cb done, void *arg,
		    struct zvmd_job **out, struct proto_error *err);
/* A job whose instances run on workers (the coordinator's view): no
 * sandboxes here, no pool slots; reports and immediate output arrive in
 * frames. It is done when every instance has a report or failed; then
 * zvmd_job_response / zvmd_job_stream_response work as for a local job.
 * Takes ownership of plan. */
int zvmd_job_create_remote(struct zvmd_server *srv, struct proto_plan *plan,
			   uint64_t id, zvmd_job_done_cb done, void *arg,
			   struct zvmd_job **out, struct proto_error *err);
/* Append immediate output of instance inst (spooled like local output).
 * An instance's worker sends its immediate channels one after the other,
 * in channel order, so the body is the local one byte for byte. */
int zvmd_job_remote_output(struct zvmd_job *job, size_t inst,
			   const void *buf, size_t len,
			   struct proto_error *err);
/* Instance f->inst ended on its worker (a decoded "report" frame). It
 * succeeded when its status is "ok" and its retcode 0. Reports for an
 * unknown or already ended instance are ignored. */
void zvmd_job_remote_report(struct zvmd_job *job,
			    const struct proto_frame *f);
/* Every instance without a report yet failed with this reason (worker
 * unreachable, stream cut, error frame). */
void zvmd_job_remote_fail(struct zvmd_job *job, const char *why);
/* As zvmd_job_remote_fail, and the job's answer is status (503 when a
 * worker had no room for its instances: the client may retry). */
void zvmd_job_remote_refuse(struct zvmd_job *job, int status,
			    const char *why);

/* A part job commits an output: PUT the spool file fd (owned by the
 * callee from now on) as the object of channel c of instance inst, then
 * call zvmd_job_put_done. Only outputs of instances that succeeded get
 * here, once all instances run here have ended. */
typedef void (*zvmd_job_put_fn)(struct zvmd_job *job, size_t inst,
				const struct proto_channel *c, int fd,
				const char *etag, void *arg);

/* A cluster worker's share of a plan. */
struct zvmd_job_part {
	const bool *here;  /* per plan instance: runs on this node */
	/* Per instance run here, per channel: an opened source (object
	 * .data, a spooled proxy GET or listing, an edge socket), or -1.
	 * Object and container reads must all be given; outputs to objects
	 * are spooled by the job; pipes within the node are made by it. */
	int **fds;
	int *prog_fds;     /* per instance run here: its program */
	zvmd_job_put_fn put;
	void *put_arg;
};

/* Prepare the instances of plan that run here. The job takes every fd
 * >= 0 of part->fds and part->prog_fds (setting them to -1), also when it
 * fails. Answer with zvmd_job_frames_response. Takes ownership of plan. */
int zvmd_job_create_part(struct zvmd_server *srv, struct proto_plan *plan,
			 uint64_t id, const struct zvmd_job_part *part,
			 zvmd_job_done_cb done, void *arg,
			 struct zvmd_job **out, struct proto_error *err);
/* A put has settled: error NULL, or why the output could not be stored
 * (the instance then fails with it). */
void zvmd_job_put_done(struct zvmd_job *job, size_t inst, const char *error);
/* A part job's answer to its coordinator: queued at once, the frames of
 * CLUSTER.md (output frames as produced, reports, done) as they come. */
struct MHD_Response *zvmd_job_frames_response(struct zvmd_job *job,
					       struct MHD_Connection *conn);
/* -------------------------------------------------- worker (cluster) */

/* The largest task body a worker reads (the whole plan is in it). */
#define ZVMD_TASK_MAX (256u << 20)

struct zvmd_task;

/* POST /internal/v1/task (daemon/worker.c), with its whole body: verify,
 * decode, open the inputs, run the instances placed here, answer frames.
 * Called again after the connection was resumed; *slot is the request's
 * task (NULL the first time). */
enum MHD_Result zvmd_task_handle(struct zvmd_server *srv,
				 struct MHD_Connection *conn, const char *url,
				 const char *body, size_t len,
				 struct zvmd_task **slot);
/* The connection is done with the task (NULL is fine). */
void zvmd_task_release(struct zvmd_task *task);

/* Edges between instances on different nodes (daemon/edge.c). */
struct zvmd_edge_srv;
struct zvmd_edges;

/* Listen for edges on ip:edge_port (srv->edge). */
int zvmd_edge_listen(struct zvmd_server *srv, const char *ip,
		     struct zvmd_error *err);
void zvmd_edge_close(struct zvmd_server *srv);
/* Connect the task's edges written here to their readers' nodes and
 * wait for those read here. *out is NULL when the task has none; else
 * settled(arg) is called once, when all are in or one failed (it may be
 * called before this returns). */
int zvmd_edges_start(struct zvmd_server *srv, const struct proto_task *task,
		     const bool *here, void (*settled)(void *arg), void *arg,
		     struct zvmd_edges **out, struct proto_error *err);
/* All in (true), else false with the reason in err when one failed. */
bool zvmd_edges_ready(const struct zvmd_edges *e, struct proto_error *err);
/* Move the sockets into fds[inst][chan] (writers' and readers' ends). */
void zvmd_edges_take(struct zvmd_edges *e, int **fds);
void zvmd_edges_free(struct zvmd_edges *e);

/* A running edge (see edge.c): the worker holds a duplicate of each edge
 * socket it gave a sandbox. Start before the sandbox is spawned. */
struct zvmd_edge_watch;
/* The longest name given to zvmd_edge_watch_start. */
#define ZVMD_EDGE_WHAT_MAX 400
/* The reader's end was cut (reset, or destroyed here); why names the
 * edge, both addresses and the error. Called at most once. */
typedef void (*zvmd_edge_cut_cb)(void *arg, const char *why);
/* Hold a duplicate of fd: a reader's end is watched (cut is called when
 * it is cut), a writer's end resets when it is closed without
 * zvmd_edge_watch_end(w, true). name: "writer chan -> reader chan". */
int zvmd_edge_watch_start(uv_loop_t *loop, int fd, bool reader,
			  const char *name, zvmd_edge_cut_cb cut, void *arg,
			  struct zvmd_edge_watch **out, struct proto_error *err);
/* Its instance ended (ok: it succeeded): close the duplicate, the
 * writer's end gracefully only when ok. NULL is fine. */
void zvmd_edge_watch_end(struct zvmd_edge_watch *w, bool ok);

/* Would a job of n instances start at once (else it queues)? */
bool zvmd_jobs_can_start(const struct zvmd_server *srv, size_t n);
/* Where a job of n instances, admitted now, would go, counting the
 * reservations of tasks admitted but not yet submitted. */
enum zvmd_admit {
	ZVMD_ADMIT_RUN,      /* slots are free: reserve n slots */
	ZVMD_ADMIT_QUEUE,    /* the queue has room: reserve a place */
	ZVMD_ADMIT_FULL,     /* neither: refuse with 503 */
};
enum zvmd_admit zvmd_jobs_admit(const struct zvmd_server *srv, size_t n);
/* Run now if slots are free, else queue. */
void zvmd_job_submit(struct zvmd_job *job);
/* End early: kill the instances (or leave the queue) with this reason. */
void zvmd_job_cancel(struct zvmd_job *job, const char *why);
/* Start queued jobs while slots are free. */
void zvmd_jobs_schedule(struct zvmd_server *srv);
/* Watch the client socket while the job runs: gone -> cancel. */
void zvmd_job_watch_client(struct zvmd_job *job, int fd);
bool zvmd_job_done(const struct zvmd_job *job);
/* The next job on the server's running list. */
struct zvmd_job *zvmd_job_next(const struct zvmd_job *job);
/* The HTTP status once done: 200, 500, or 503 (cancelled while queued). */
int zvmd_job_status(const struct zvmd_job *job);
/* Build the response (body = immediate outputs, X-Nexe-* headers). */
struct MHD_Response *zvmd_job_response(struct zvmd_job *job);
/* Streaming variant: queued at once, body flows as produced. */
struct MHD_Response *zvmd_job_stream_response(struct zvmd_job *job,
					       struct MHD_Connection *conn);
/* The connection is done with the job; frees it once it has ended. */
void zvmd_job_release(struct zvmd_job *job);
/* One log line's worth of numbers. */
void zvmd_job_totals(const struct zvmd_job *job, size_t *ninst,
		     uint64_t *bytes_in, uint64_t *bytes_out,
		     uint64_t *body_bytes);

/* ------------------------------------------------------ coordinator */

/* A cluster job on its coordinator (daemon/coordinator.c). */
struct zvmd_coord;

/* Planning has ended (on the loop): zvmd_coord_status says how; when
 * it is 200, zvmd_coord_job is the remote job, not submitted yet. */
typedef void (*zvmd_coord_ready_cb)(struct zvmd_coord *co, void *arg);

/* Plan json (taken, malloc'd) for account with the user's token in a
 * work thread; ready runs on the loop when done. done is the remote
 * job's completion callback. -1 when the work cannot be queued. */
int zvmd_coord_start(struct zvmd_server *srv, uint64_t id,
		     const char *account, const char *token, char *json,
		     size_t len, zvmd_job_done_cb done,
		     zvmd_coord_ready_cb ready, void *arg,
		     struct zvmd_coord **out);
/* 200, or the HTTP status of the failure with its message. */
int zvmd_coord_status(const struct zvmd_coord *co, const char **msg);
struct zvmd_job *zvmd_coord_job(const struct zvmd_coord *co);
/* Send every node its task (after the job was submitted). */
void zvmd_coord_dispatch(struct zvmd_coord *co);
/* X-Nexe-Node: the worker ("ip:port") of every instance, comma-joined
 * in plan order (malloc'd; NULL when memory runs out). */
char *zvmd_coord_nodes(const struct zvmd_coord *co);
/* The client's request is over: no callback runs after this; the
 * coordinator is freed (once its planning thread, if any, has ended). */
void zvmd_coord_release(struct zvmd_coord *co);

#endif
