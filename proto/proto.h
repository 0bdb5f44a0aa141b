/*
 * proto.h — the formats of zerovm, with no I/O of their own.
 *
 *   - errors: a machine-readable kind (maps to an HTTP status) + a message
 *   - the ZeroVM manifest (`Version = 20130611`): parse and write
 *   - the ZeroVM report (the six lines `zerovm` prints): format and parse
 *   - the job description (ZeroCloud "servlet" JSON) -> execution plan
 *   - the cluster wire protocol: plan and task JSON, response frames,
 *     request and edge signatures (daemon/CLUSTER.md)
 *
 * Ownership: every `*_parse`/`*_plan` returns a heap object the caller
 * frees with the matching `*_free`; strings inside belong to that object.
 */
#ifndef ZEROVM_PROTO_H
#define ZEROVM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- errors */

enum proto_error_kind {
	PROTO_OK = 0,
	PROTO_EBADJOB,     /* 400: valid JSON, invalid job */
	PROTO_EFORBIDDEN,  /* 403: the user may not read/write an object */
	PROTO_ENOTFOUND,   /* 404: missing object, container or program */
	PROTO_ETOOLARGE,   /* 413: job larger than the configured limit */
	PROTO_EUNPARSABLE, /* 422: not JSON / not a manifest */
	PROTO_EINTERNAL,   /* 500: out of memory, listing backend failure */
};

struct proto_error {
	enum proto_error_kind kind;
	char msg[512];
};

/* HTTP status for an error kind (200 for PROTO_OK). */
int proto_error_status(enum proto_error_kind kind);

/* printf-style setter; returns -1 so callers can `return proto_error_set(...)`. */
int proto_error_set(struct proto_error *err, enum proto_error_kind kind,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* -------------------------------------------------------------- manifest */

#define PROTO_MANIFEST_VERSION "20130611"

/* ZeroVM channel access types: sequential/random get x sequential/random put */
enum proto_access {
	PROTO_SGET_SPUT = 0,
	PROTO_RGET_SPUT = 1,
	PROTO_SGET_RPUT = 2,
	PROTO_RGET_RPUT = 3,
};

struct proto_manifest_channel {
	char *uri;    /* host side: a path, or whatever the caller resolves */
	char *alias;  /* sandbox side: "/dev/stdin", "/dev/in/map-1" */
	enum proto_access type;
	bool etag;
	int64_t gets, get_size, puts, put_size; /* 0 = direction disabled */
	int line;     /* 1-based line in the manifest text */
};

struct proto_manifest {
	char *version;
	char *program;
	int64_t memory;     /* bytes */
	bool memory_etag;
	int64_t timeout;    /* seconds */
	char *node;         /* optional `Node = ` (ZeroVM node name) */
	char *job;          /* optional `Job = ` (daemon socket in ZeroVM) */
	char *image;        /* optional `Image = ` directory or tar: the
			     * program's root; `Program` is a path in it */
	int64_t image_tmp;  /* optional `ImageTmp = ` bytes of its /tmp; 0 =
			     * the runner's default */
	char **argv;        /* optional `CommandLine = ` split like a shell */
	size_t argc;
	char **env;         /* optional `Environment = k,v,k,v` as "k=v" */
	size_t nenv;
	struct proto_manifest_channel *channels;
	size_t nchannels;
};

/* Parse manifest text. Errors name the line: "line 7: Channel: ...". */
int proto_manifest_parse(const char *text, size_t len,
			 struct proto_manifest **out, struct proto_error *err);
/* Canonical text of a manifest (malloc'd, NUL-terminated). */
char *proto_manifest_format(const struct proto_manifest *m);
void proto_manifest_free(struct proto_manifest *m);

/* ---------------------------------------------------------------- report */

/* The accounting (CDR) line: sys user reads rbytes writes wbytes
 * nreads nrbytes nwrites nwbytes. "n" = network (channels to peers). */
struct proto_accounting {
	double sys, user; /* seconds */
	uint64_t reads, rbytes, writes, wbytes;
	uint64_t nreads, nrbytes, nwrites, nwbytes;
};

struct proto_report {
	int validation;  /* ZeroVM's validation state; 0 = ok */
	/* After the state on the same line, NULL/"" = none: what a
	 * deterministic run could not make deterministic, e.g.
	 * "nondeterministic: tsc rdrand" (sandbox/README.md "Determinism"). */
	char *validation_note;
	int daemon;      /* daemon flag; 0 */
	int retcode;     /* the program's exit code */
	char *etag;      /* etag line, "disabled" when no channel has etag */
	struct proto_accounting acct;
	char *status;    /* "ok", "session timeout", "Signal 9 ...", or error */
};

/* The six report lines, each ending in '\n' (malloc'd). */
char *proto_report_format(const struct proto_report *r);
int proto_report_parse(const char *text, size_t len, struct proto_report *out,
		       struct proto_error *err);
void proto_report_clear(struct proto_report *r);
/* "sys user reads ..." — the X-Nexe-Cdr-Line form (malloc'd). */
char *proto_accounting_format(const struct proto_accounting *a);

/* ------------------------------------------------------------- job plan */

struct proto_limits {
	size_t max_job_size;      /* bytes of JSON; default 65536 */
	size_t max_groups;        /* default 256 */
	size_t max_instances;     /* after expansion; default 10000 (0 = default) */
	size_t max_devices;       /* per group; default 64 */
	size_t max_channels;      /* all instances' channels, pipes included;
				   * default 1000000 (a self-connected group of
				   * N has N*N: this bounds a plan's memory) */
};

/* A listing, produced by the store and owned by the plan code after return. */
struct proto_names {
	char **v;
	size_t n;
};

/*
 * How proto sees the object store. `list` returns, in listing order,
 * the names of containers in `account` (container == NULL) or objects in
 * `account/container`, that begin with `prefix`. A missing container is
 * PROTO_ENOTFOUND; a refused listing is PROTO_EFORBIDDEN. Each name in
 * out->v is malloc'd, as is out->v; proto frees them (also after an
 * error). The prefix is the pattern's text before its first `*`; proto
 * matches the names against the whole pattern itself.
 */
struct proto_store {
	int (*list)(void *ctx, const char *account, const char *container,
		    const char *prefix, struct proto_names *out,
		    struct proto_error *err);
	void *ctx;
};

enum proto_chan_kind {
	PROTO_CHAN_OBJECT,    /* swift://acct/cont/obj (read or write) */
	PROTO_CHAN_CONTAINER, /* swift://acct/cont: read-only listing */
	PROTO_CHAN_IMMEDIATE, /* path-less stdout/stderr: goes to the response */
	PROTO_CHAN_EMPTY,     /* /dev/null: a path-less readable device (reads
			       * give EOF), or an undeclared stdout/stderr
			       * (dir PROTO_WRITE: writes are discarded) */
	PROTO_CHAN_PIPE_IN,   /* /dev/in/<src> or a zvm:// target: from `peer` */
	PROTO_CHAN_PIPE_OUT,  /* /dev/out/<dst> or a zvm:// device: to `peer` */
	PROTO_CHAN_IMAGE,     /* system image or file://image:path (read-only) */
	PROTO_CHAN_NODE,      /* never produced: zvm://node:device paths become
			       * PIPE_OUT/PIPE_IN pairs (kept for switches) */
};

/* "No limit" for gets/get_size/puts/put_size (sandbox.h: 1 << 32). */
#define PROTO_UNBOUNDED ((int64_t)1 << 32)

#define PROTO_READ 1
#define PROTO_WRITE 2

struct proto_meta {
	char *key;   /* without the X-Object-Meta- prefix */
	char *value;
};

struct proto_channel {
	char *device;        /* "stdin", "input", "out/reduce-1", "in/map-2" */
	char *alias;         /* "/dev/stdin", "/dev/out/reduce-1" */
	enum proto_chan_kind kind;
	int dir;             /* PROTO_READ and/or PROTO_WRITE */
	enum proto_access type;
	char *path;          /* "acct/cont/obj" (OBJECT), "acct/cont" (CONTAINER),
			      * "image:path" or image name (IMAGE), "node:device"
			      * (NODE); NULL otherwise */
	size_t peer;         /* instance index for PIPE_IN/PIPE_OUT */
	size_t peer_chan;    /* PIPE_IN/PIPE_OUT: index of the other end in
			      * the peer's channels (proto_plan_edges) */
	char *content_type;  /* NULL = default */
	struct proto_meta *meta;
	size_t nmeta;
	char *mode;          /* "file", "char", "pipe", "block" or NULL */
	uint64_t min_size;
	int64_t gets, get_size, puts, put_size;
};

enum proto_exec_kind {
	PROTO_EXEC_OBJECT,    /* exec.path swift://acct/cont/obj -> "acct/cont/obj" */
	PROTO_EXEC_IMAGE,     /* file://image:path -> "image:path" */
	PROTO_EXEC_JOB_IMAGE, /* file://path inside /dev/image -> "path" */
};

struct proto_instance {
	char *name;          /* "map-3", or the bare group name if single */
	size_t group;        /* index into the job's groups */
	enum proto_exec_kind exec_kind;
	char *exec_path;
	char **argv;         /* argv[0] = exec.name or group name; NULL-ended */
	size_t argc;
	char **env;          /* "KEY=VALUE", sorted by key; NULL-ended */
	size_t nenv;
	struct proto_channel *channels; /* stdin, stdout, stderr, then the rest */
	size_t nchannels;
	long placement;      /* channel index that decides where it runs, or -1 */
	int replicate;
	bool deterministic;   /* exec.deterministic (default true) */
	bool memory_etag;     /* exec.memory_etag (default false): report
			       * ZeroVM's /dev/memory etag */
	char *location;      /* co-location hint or NULL */
};

struct proto_plan {
	char *account;
	char **groups;       /* group names, job order */
	size_t ngroups;
	struct proto_instance *inst;
	size_t ninst;
	struct proto_arena *arena; /* private: owns every string and array
				    * above; instances of a group share their
				    * argv, env and unchanged paths */
};

/* Default limits (see proto_limits). */
void proto_limits_default(struct proto_limits *l);

/*
 * Parse, validate and expand a job. `account` is the requesting account
 * (what `~` and `.` mean). `sysimages` lists configured system-image device
 * names (may be NULL). Errors name group, field and problem.
 */
int proto_job_plan(const char *json, size_t len, const char *account,
		   const char *const *sysimages, size_t nsysimages,
		   const struct proto_limits *limits,
		   const struct proto_store *store,
		   struct proto_plan **out, struct proto_error *err);
void proto_plan_free(struct proto_plan *plan);
/* Bytes of memory a plan holds (its arena), for limits and benchmarks. */
size_t proto_plan_bytes(const struct proto_plan *plan);

/* Split a command line like ZeroCloud (shell-like quoting). */
int proto_args_split(const char *line, char ***argv, size_t *argc,
		     struct proto_error *err);
void proto_strv_free(char **v, size_t n);

/* ------------------------------------------------------------------ wire */
/*
 * The cluster's internal protocol (daemon/CLUSTER.md), in proto/wire.c
 * (JSON, frames), proto/sign.c (signatures) and proto/edges.c (pipes).
 * Decoders are strict: unknown fields, wrong types, out-of-range indexes
 * and NUL bytes in strings are refused with the field's path,
 * `plan.inst[3].channels[2].peer: 9 is out of range (7 instances)`, as
 * PROTO_EBADJOB (or PROTO_EUNPARSABLE when the text is not JSON).
 */

/* One pipe of a plan: writer's PIPE_OUT channel wchan -> reader's PIPE_IN
 * channel rchan. */
struct proto_edge {
	size_t writer, wchan;
	size_t reader, rchan;
};

/*
 * Every pipe of the plan, ordered by writer instance then writer channel
 * (*out malloc'd, may be NULL when *n == 0). Checks that both ends agree
 * (peer, peer_chan, kinds): a plan that does not is PROTO_EINTERNAL with
 * the instance names. out == NULL only checks. Linear in channels.
 */
int proto_plan_edges(const struct proto_plan *plan, struct proto_edge **out,
		     size_t *n, struct proto_error *err);
/* The edge whose writer end is (writer, wchan) in edges sorted as
 * proto_plan_edges returns them, or NULL (binary search). */
const struct proto_edge *proto_edge_find(const struct proto_edge *edges,
					 size_t n, size_t writer, size_t wchan);

/* The whole plan as compact JSON (malloc'd, NUL-terminated), or NULL when
 * memory runs out. */
char *proto_plan_to_json(const struct proto_plan *plan);
/* Decode what proto_plan_to_json wrote (limits: NULL = defaults; bound
 * groups, instances and channels). The plan owns its memory (one arena),
 * free it with proto_plan_free. */
int proto_plan_from_json(const char *json, size_t len,
			 const struct proto_limits *limits,
			 struct proto_plan **out, struct proto_error *err);

#define PROTO_TASK_VERSION 1
#define PROTO_TASK_MAX_NODES 4096
#define PROTO_TASK_MAX_OBJECTS 1000000

/* A node of the cluster: "ip:port" of its zvmd HTTP and edge listeners. */
struct proto_node {
	char *http;
	char *edge;
};

/* What the coordinator saw of an object (HEAD through the proxy). */
struct proto_object {
	char *path;       /* "acct/cont/obj" */
	char *etag;       /* as Swift gave it (md5 hex for plain objects) */
	uint64_t size;
	char *timestamp;  /* X-Timestamp, "1700000000.12345" */
	int policy;       /* storage policy index */
};

/* The body of POST /internal/v1/task. */
struct proto_task {
	int version;                 /* PROTO_TASK_VERSION */
	char *job;                   /* [A-Za-z0-9._:-]{1,64} */
	char *account;               /* == plan->account */
	char *token;                 /* the user's token: never log it */
	size_t self;                 /* the receiving node, < nnodes */
	struct proto_node *nodes;
	size_t nnodes;
	size_t *placement;           /* node of every plan instance (ninst) */
	struct proto_object *objects; /* sorted by path once decoded */
	size_t nobjects;
	struct proto_plan *plan;
	struct proto_arena *arena;   /* private: set by proto_task_from_json;
				      * NULL in a caller-built task */
};

/* JSON of a task the caller filled in (malloc'd), or NULL (out of memory,
 * or a field that proto_task_from_json would refuse: err says which). */
char *proto_task_to_json(const struct proto_task *task,
			 struct proto_error *err);
/* Decode and check a task: placement has plan->ninst entries each <
 * nnodes, self < nnodes, addresses are host:port, account matches the
 * plan... The task owns everything (plan included). */
int proto_task_from_json(const char *json, size_t len,
			 const struct proto_limits *limits,
			 struct proto_task **out, struct proto_error *err);
/* Frees a decoded task (and its plan); NULL is fine. */
void proto_task_free(struct proto_task *task);
/* The object entry for "acct/cont/obj" in a decoded task, or NULL. */
const struct proto_object *proto_task_object(const struct proto_task *task,
					     const char *path);

/* ---- response frames: one JSON line each, `output` followed by len bytes */

enum proto_frame_type {
	PROTO_FRAME_OUTPUT,  /* inst, len; then len raw bytes */
	PROTO_FRAME_REPORT,  /* inst and the report fields */
	PROTO_FRAME_ERROR,   /* message; the stream ends */
	PROTO_FRAME_DONE,    /* the last frame of a complete task */
};

struct proto_frame {
	enum proto_frame_type type;
	size_t inst;
	uint64_t len;
	/* report: X-Nexe-System, -Status, -Retcode, -Etag, -Validation,
	 * -Cdr-Line */
	const char *system;
	const char *status;
	int retcode;
	const char *etag;
	int validation;
	/* After the state in X-Nexe-Validation, NULL/"" = none: what the
	 * instance's deterministic run could not make deterministic
	 * ("nondeterministic: cpuid rdrand"); optional on the wire */
	const char *validation_note;
	const char *cdr;
	/* error */
	const char *message;
};

/* Longest frame line a parser accepts by default (the newline included). */
#define PROTO_FRAME_LINE_MAX (64 * 1024)

/* The frame's JSON line with its '\n' (malloc'd), or NULL (out of memory,
 * or a report/error without its strings). Strings are copied as JSON
 * strings: any byte but NUL survives. */
char *proto_frame_format(const struct proto_frame *f);

/* What the parser hands back as the stream arrives. Each returns 0 to go
 * on, 1 to pause (proto_frame_parser_feed returns after this event, with
 * *used saying how far it got), or -1 to fail (setting err). The frame's
 * strings live until the callback returns. */
struct proto_frame_sink {
	int (*frame)(void *arg, const struct proto_frame *f,
		     struct proto_error *err);
	/* A piece of the current output frame's payload (pieces of one
	 * frame come in order, their lengths sum to its len). */
	int (*output)(void *arg, size_t inst, const char *buf, size_t len,
		      struct proto_error *err);
	void *arg;
};

struct proto_frame_parser;

/* A parser for the stream of a task with ninst plan instances (reports
 * and outputs name inst < ninst; each instance reports at most once).
 * max_line 0 = PROTO_FRAME_LINE_MAX. NULL when memory runs out. */
struct proto_frame_parser *proto_frame_parser_new(size_t ninst,
						  size_t max_line,
						  const struct proto_frame_sink *sink);
/* Feed the next bytes (any split). Returns 0 with *used = len, or 0 with
 * *used < len when a callback paused (feed the rest later), or -1 on
 * garbage: `frame 4 (byte 812): unknown type "bogus"`. After an error the
 * parser refuses everything. Bytes after `done` or `error` are garbage. */
int proto_frame_parser_feed(struct proto_frame_parser *p, const void *buf,
			    size_t len, size_t *used, struct proto_error *err);
/* The stream ended: 0 after `done`; -1 otherwise (cut mid-frame, or no
 * `done`: "stream ended without a done frame"; an `error` frame gives
 * its message here too, so callers have one place to look). */
int proto_frame_parser_end(struct proto_frame_parser *p,
			   struct proto_error *err);
void proto_frame_parser_free(struct proto_frame_parser *p);

/* ---- signatures (HMAC-SHA256 with the cluster secret: key, keylen —
 * daemon/'s struct zvmd_secret holds them; keylen >= PROTO_SECRET_MIN) */

#define PROTO_SECRET_MIN 32
#define PROTO_SECRET_MAX 1024
#define PROTO_NONCE_HEX 32     /* 16 random bytes, lowercase hex */
#define PROTO_SIG_HEX 64       /* HMAC-SHA256, lowercase hex */
#define PROTO_EXPIRES_MAX 300  /* seconds a signature may live */

enum proto_sig_result {
	PROTO_SIG_OK = 0,
	PROTO_SIG_MISSING,    /* a header/field is absent (401) */
	PROTO_SIG_MALFORMED,  /* expires/nonce/signature syntax (403) */
	PROTO_SIG_EXPIRED,    /* expires < now, or > now + PROTO_EXPIRES_MAX */
	PROTO_SIG_BAD,        /* HMAC does not match (403) */
};

/* hex(HMAC-SHA256(secret, METHOD "\n" PATH "\n" EXPIRES "\n" NONCE "\n"
 * hex(SHA256(body)))) into out_hex (PROTO_SIG_HEX + 1 bytes). Returns 0,
 * or -1 when the nonce is not PROTO_NONCE_HEX lowercase hex or the crypto
 * library fails. */
int proto_sign_request(const unsigned char *key, size_t keylen,
		       const char *method, const char *path, int64_t expires,
		       const char *nonce, const void *body, size_t len,
		       char *out_hex);
/* Check the X-Zvm-Expires/-Nonce/-Signature values (NULL = missing) of a
 * request at time now: syntax, expiry window, then the HMAC compared in
 * constant time. err->msg gets a one-line reason. The replay check is
 * the caller's (daemon/auth.c), after PROTO_SIG_OK. */
enum proto_sig_result
proto_verify_request(const unsigned char *key, size_t keylen,
		     const char *method, const char *path, const char *expires,
		     const char *nonce, const char *signature, const void *body,
		     size_t len, int64_t now, struct proto_error *err);
/* A fresh nonce: PROTO_NONCE_HEX hex chars + NUL (OpenSSL's RAND);
 * 0, or -1 when the random generator fails. */
int proto_nonce_new(char *out);

/* The edge hello: "ZVMEDGE/1 <job> <writer inst> <writer chan> <expires>
 * <nonce> <hmac>\n", the hmac over the fields before it joined by
 * single spaces. */
#define PROTO_EDGE_HELLO_MAX 256

struct proto_edge_hello {
	char job[65];
	size_t writer, wchan;
	int64_t expires;
	char nonce[PROTO_NONCE_HEX + 1];
	char hmac[PROTO_SIG_HEX + 1];
};

/* Sign and write the line (with its '\n') into out; returns its length,
 * or -1 (bad job id or nonce, or cap < PROTO_EDGE_HELLO_MAX). */
int proto_edge_hello_format(const unsigned char *key, size_t keylen,
			    const char *job, size_t writer, size_t wchan,
			    int64_t expires, const char *nonce, char *out,
			    size_t cap);
/* Split a received line (with or without its '\n') into its fields,
 * checking syntax only. */
int proto_edge_hello_parse(const char *line, size_t len,
			   struct proto_edge_hello *out,
			   struct proto_error *err);
/* Expiry window and HMAC (constant time) of a parsed hello. */
enum proto_sig_result
proto_edge_hello_verify(const unsigned char *key, size_t keylen,
			const struct proto_edge_hello *h, int64_t now,
			struct proto_error *err);

#endif
