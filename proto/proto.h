/*
 * proto.h — the formats of zerovm, with no I/O of their own.
 *
 *   - errors: a machine-readable kind (maps to an HTTP status) + a message
 *   - the ZeroVM manifest (`Version = 20130611`): parse and write
 *   - the ZeroVM report (the six lines `zerovm` prints): format and parse
 *   - the job description (ZeroCloud "servlet" JSON) -> execution plan
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

#endif
