/*
 * zvmd.h — the zerovm daemon as a library: configuration and the server.
 *
 * zvmd serves the ZeroCloud job API over an embedded local object store:
 * one process, one libuv loop driving libmicrohttpd, sandboxed children
 * (pidfds), pipes between instances and timers. `daemon/main.c` is a thin
 * main over this header; daemon/README.md documents every option.
 */
#ifndef ZEROVM_ZVMD_H
#define ZEROVM_ZVMD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZVMD_CONFIG_MAX_OPTIONS 64

/* local: the single-machine daemon over `root`. cluster: one zvmd per
 * Swift storage node, coordinator and worker (CLUSTER.md). */
enum zvmd_role { ZVMD_ROLE_LOCAL, ZVMD_ROLE_CLUSTER };

/* A system image from [sysimages]: jobs name it as a device and in
 * file://<name>:<path> (ZeroCloud's zerovm_sysimage_devices). */
#define ZVMD_MAX_SYSIMAGES 16
struct zvmd_sysimage {
	char name[64];
	char path[PATH_MAX];        /* the tar archive (plain or gzip) */
	unsigned line;              /* where zvmd.conf set it */
};

struct zvmd_config {
	char listen[64];            /* "127.0.0.1:8090"; port 0 = any free port */
	char root[PATH_MAX];        /* local store root */
	char spool[PATH_MAX];       /* spool dir for immediate outputs */
	char port_file[PATH_MAX];   /* write the bound port here ("" = no) */
	size_t max_job_size;        /* bytes of job JSON (413 beyond) */
	size_t max_instances;       /* per job, after wildcard expansion */
	unsigned pool_size;         /* instances running at once */
	unsigned queue_length;      /* jobs waiting for slots (503 beyond) */
	unsigned retry_after;       /* seconds, in 503 responses */
	uint64_t instance_memory;   /* bytes of address space per instance */
	unsigned instance_timeout;  /* seconds of wall clock per instance */
	uint64_t max_output;        /* bytes per writable channel */
	unsigned job_timeout;       /* seconds from start to the last exit */
	unsigned drain_grace;       /* seconds SIGTERM waits for running jobs */
	unsigned client_timeout;    /* seconds an idle or slow client is kept */
	char log_level[16];         /* error, warning, info, debug */
	char image_cache[PATH_MAX]; /* extracted images; "" = <spool>/images */
	uint64_t image_max_size;    /* bytes of files one image may unpack to */
	uint64_t image_cache_size;  /* disk the cache's trees may take before
				     * unused ones are evicted; 0 = no bound */
	uint64_t tmp_size;          /* private /tmp of an instance in an image */
	bool prewarm;               /* keep a parked sandbox for the next spawn */
	struct zvmd_sysimage sysimages[ZVMD_MAX_SYSIMAGES];
	size_t nsysimages;
	/* [cluster] */
	enum zvmd_role role;
	char proxy_url[256];        /* "http://127.0.0.1:8080" */
	char swift_dir[PATH_MAX];   /* rings + swift.conf */
	char devices[PATH_MAX];     /* this node's device dirs */
	char node_ip[64];           /* "" = the listen address */
	unsigned worker_port;       /* every node's zvmd HTTP port */
	unsigned edge_port;         /* every node's zvmd edge port */
	char secret_file[PATH_MAX]; /* cluster secret, >= 32 bytes */
	/* Where each option was set, so that a bad value is reported as
	 * file:line: key (line 0 = default or command line). Indexed like
	 * the option table of config.c. */
	char file[PATH_MAX];
	unsigned line[ZVMD_CONFIG_MAX_OPTIONS];
};

struct zvmd_error {
	char msg[512];
};

/* Defaults (documented in conf/zvmd.conf). */
void zvmd_config_default(struct zvmd_config *cfg);
/* Overlay an INI file on cfg. Unknown keys and bad values are errors
 * that name the file, line and key. */
int zvmd_config_load(struct zvmd_config *cfg, const char *path,
		     struct zvmd_error *err);
/* Overlay one "key=value" as if it came from the file (for flags). */
int zvmd_config_set(struct zvmd_config *cfg, const char *key,
		    const char *value, struct zvmd_error *err);
/* Semantic checks: root and spool exist, listen parses, limits > 0,
 * every system image is a readable regular file.
 * A bad value set by the file is reported as "file:line: key: why". */
int zvmd_config_check(const struct zvmd_config *cfg, struct zvmd_error *err);

/*
 * Run the daemon until SIGTERM/SIGINT has drained it. `config_path`
 * (may be NULL) is re-read on SIGHUP, then `overrides` ("key=value",
 * from the command line) are applied on top again. Returns 0 after a
 * clean drain, -1 with err set if the daemon could not start.
 */
int zvmd_run(const struct zvmd_config *cfg, const char *config_path,
	     const char *const *overrides, size_t noverrides,
	     struct zvmd_error *err);

#endif
