/* job.h — the parsed job (groups and devices) shared by job_parse.c and
 * job_plan.c. Internal to proto/. All memory lives in the plan's arena. */
#ifndef ZEROVM_PROTO_JOB_H
#define ZEROVM_PROTO_JOB_H

#include "internal.h"

enum dev_id {
	DEV_STDIN, DEV_STDOUT, DEV_STDERR,
	DEV_INPUT, DEV_OUTPUT, DEV_SCRIPT, DEV_IMAGE, DEV_DEBUG,
	DEV_SYSIMAGE,
};

enum path_kind { PATH_NONE, PATH_SWIFT, PATH_FILE, PATH_ZVM };

struct jpath {
	enum path_kind kind;
	const char *url;       /* as the user wrote it */
	const char *account;   /* swift: `~` and `.` already replaced */
	const char *container;
	const char *object;    /* NULL: the path names a container */
	bool wild;             /* `*` in container or object */
	const char *image;     /* file://image:path; NULL for file://path */
	const char *file;
	const char *node;      /* zvm://node:device */
	const char *device;    /* always "/dev/..." */
};

struct jdev {
	const char *name;
	enum dev_id id;
	int dir;
	enum proto_access type;
	struct jpath path;
	const char *content_type;
	struct proto_meta *meta;
	size_t nmeta;
	const char *mode;
	uint64_t min_size;
	size_t zvm_group;      /* PATH_ZVM: target group */
	size_t slot;           /* channel index in each instance */
};

/* One object (or container) a wildcard matched, and what each `*` took. */
struct jmatch {
	const char *path;      /* "acct/cont/obj" or "acct/cont" */
	const char **caps;
	size_t ncaps;
};

/* A zvm:// device of another group that writes into this group. */
struct jzvm_in {
	size_t group, dev;
	const char *alias;     /* "/dev/..." in this group */
	size_t slot;
};

struct jgroup {
	const char *name;
	enum proto_exec_kind exec_kind;
	const char *exec_path;
	char **argv;
	size_t argc;
	char **env;
	size_t nenv;
	struct jdev *devs;
	size_t ndev;
	const char *list;      /* "devices" or the old name "file_list" */
	int64_t count;
	const char **connect_names;
	size_t *connect;
	size_t nconnect;
	int replicate;
	bool deterministic;
	bool memory_etag;
	const char *attach;    /* NULL or "default": first readable object */
	const char *location;
	long wild_dev;         /* device with a wildcard readable path, or -1 */
	struct jmatch *matches;
	size_t nmatches;
	struct jzvm_in *zin;
	size_t nzin;
	size_t ninst, first;   /* instances [first, first + ninst) */
	bool numbered;         /* names are name-1..name-N */
	size_t nslots;         /* std + declared + zvm-in channels */
	long placement;
};

struct jctx {
	struct proto_arena *a;
	struct proto_error *err;
	const char *account;
	const char *const *sysimages;
	size_t nsysimages;
	struct proto_limits lim;
	const struct proto_store *store;
	struct jgroup *g;
	size_t ng;
	char where[192];       /* "group \"map\": devices[1]" */
	struct pbuf scratch;   /* reused while building output paths */
};

/* Error with the current `where` prefix; returns -1. */
int jerr(struct jctx *c, enum proto_error_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int joom(struct jctx *c);

/* JSON text -> c->g / c->ng, every local rule checked. */
int job_parse(struct jctx *c, const char *json, size_t len);
/* Parse a device or exec path; sets c->err with the `where` prefix. */
int job_path(struct jctx *c, const char *url, struct jpath *p);
/* Check one swift container or object name; NULL if fine, else why. */
const char *job_name_problem(const char *s, bool object, bool wild);
/* Expand, connect and lay out the groups into a plan. */
int job_build(struct jctx *c, struct proto_plan *plan);

#endif
