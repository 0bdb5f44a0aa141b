/* config.c — zvmd.conf: defaults, INI parsing (inih), checks.
 *
 * Keys live in section [zvmd], or [cluster] for cluster mode;
 * [sysimages] maps image names to tar archives;
 * conf/zvmd.conf documents each one. Size values accept a K/M/G suffix
 * (powers of 1024). Key names are unique over both sections, so that
 * `--set KEY=VALUE` needs no section. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "zvmd.h"

void zvmd_config_default(struct zvmd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->listen, sizeof(cfg->listen), "127.0.0.1:8090");
	snprintf(cfg->root, sizeof(cfg->root), "/var/lib/zvmd/store");
	snprintf(cfg->spool, sizeof(cfg->spool), "/var/spool/zvmd");
	/* The values of ZeroCloud's zerovm_* options where one exists. */
	cfg->max_job_size = 65536;               /* zerovm_maxconfig */
	cfg->max_instances = 100;
	cfg->pool_size = 10;                     /* WaitPool(10, ...) */
	cfg->queue_length = 64;
	cfg->retry_after = 1;
	cfg->instance_memory = 4ULL << 30;       /* zerovm_maxnexemem */
	cfg->instance_timeout = 5;               /* zerovm_timeout */
	cfg->max_output = 1ULL << 30;            /* zerovm_maxoutput */
	cfg->job_timeout = 60;
	cfg->drain_grace = 30;
	cfg->client_timeout = 60;
	snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
	cfg->image_max_size = 2ULL << 30;
	cfg->image_cache_size = 10ULL << 30;
	cfg->tmp_size = 64ULL << 20;
	cfg->prewarm = true;
	cfg->role = ZVMD_ROLE_LOCAL;
	snprintf(cfg->proxy_url, sizeof(cfg->proxy_url),
		 "http://127.0.0.1:8080");
	snprintf(cfg->swift_dir, sizeof(cfg->swift_dir), "/etc/swift");
	snprintf(cfg->devices, sizeof(cfg->devices), "/srv/node");
	cfg->worker_port = 8090;
	cfg->edge_port = 8091;
	snprintf(cfg->secret_file, sizeof(cfg->secret_file),
		 "/etc/zerovm/cluster.secret");
}

static int zvmd_err(struct zvmd_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int zvmd_err(struct zvmd_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* "64K", "4G", "1048576" -> bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': mul = 1ULL << 10; end++; break;
	case 'm': case 'M': mul = 1ULL << 20; end++; break;
	case 'g': case 'G': mul = 1ULL << 30; end++; break;
	default: break;
	}
	if (*end || (v && mul > UINT64_MAX / v))
		return -1;
	*out = v * mul;
	return 0;
}

static int set_string(char *dst, size_t cap, const char *key,
		      const char *value, struct zvmd_error *err)
{
	if (strlen(value) >= cap)
		return zvmd_err(err, "%s: value longer than %zu bytes", key,
				cap - 1);
	snprintf(dst, cap, "%s", value);
	return 0;
}

/* yes/no, true/false, on/off, 1/0. */
static int set_bool(bool *dst, const char *key, const char *value,
		    struct zvmd_error *err)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(value, yes[i]) || !strcasecmp(value, no[i])) {
			*dst = !strcasecmp(value, yes[i]);
			return 0;
		}
	}
	return zvmd_err(err, "%s: '%s' is not yes or no", key, value);
}

static int set_role(struct zvmd_config *cfg, const char *value,
		    struct zvmd_error *err)
{
	if (!strcmp(value, "local"))
		cfg->role = ZVMD_ROLE_LOCAL;
	else if (!strcmp(value, "cluster"))
		cfg->role = ZVMD_ROLE_CLUSTER;
	else
		return zvmd_err(err, "role: '%s' is not local or cluster",
				value);
	return 0;
}

enum kind { K_STRING, K_SIZE, K_UINT, K_ROLE, K_BOOL };

struct option {
	const char *key;
	enum kind kind;
	size_t offset;
	size_t width; /* string capacity or integer width */
	const char *section;
};

#define OPT(k, kind, f, sec) { k, kind, offsetof(struct zvmd_config, f), \
			       sizeof(((struct zvmd_config *)0)->f), sec }
#define OPT_S(k, f) OPT(k, K_STRING, f, "zvmd")
#define OPT_Z(k, f) OPT(k, K_SIZE, f, "zvmd")
#define OPT_U(k, f) OPT(k, K_UINT, f, "zvmd")
#define CLUSTER_S(k, f) OPT(k, K_STRING, f, "cluster")
#define CLUSTER_U(k, f) OPT(k, K_UINT, f, "cluster")

static const struct option options[] = {
	OPT_S("listen", listen),
	OPT_S("root", root),
	OPT_S("spool", spool),
	OPT_S("port_file", port_file),
	OPT_Z("max_job_size", max_job_size),
	OPT_U("max_instances", max_instances),
	OPT_U("pool_size", pool_size),
	OPT_U("queue_length", queue_length),
	OPT_U("retry_after", retry_after),
	OPT_Z("instance_memory", instance_memory),
	OPT_U("instance_timeout", instance_timeout),
	OPT_Z("max_output", max_output),
	OPT_U("job_timeout", job_timeout),
	OPT_U("drain_grace", drain_grace),
	OPT_U("client_timeout", client_timeout),
	OPT_S("log_level", log_level),
	OPT_S("image_cache", image_cache),
	OPT_Z("image_max_size", image_max_size),
	OPT_Z("image_cache_size", image_cache_size),
	OPT_Z("tmp_size", tmp_size),
	OPT("prewarm", K_BOOL, prewarm, "zvmd"),
	OPT("role", K_ROLE, role, "cluster"),
	CLUSTER_S("proxy_url", proxy_url),
	CLUSTER_S("swift_dir", swift_dir),
	CLUSTER_S("devices", devices),
	CLUSTER_S("node_ip", node_ip),
	CLUSTER_U("worker_port", worker_port),
	CLUSTER_U("edge_port", edge_port),
	CLUSTER_S("secret_file", secret_file),
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))
_Static_assert(NOPTIONS <= ZVMD_CONFIG_MAX_OPTIONS,
	       "raise ZVMD_CONFIG_MAX_OPTIONS in zvmd.h");

static int option_index(const char *key)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (!strcmp(options[i].key, key))
			return (int)i;
	return -1;
}

static void store_int(void *p, size_t width, uint64_t v)
{
	if (width == sizeof(uint64_t))
		*(uint64_t *)p = v;
	else
		*(unsigned *)p = (unsigned)v;
}

int zvmd_config_set(struct zvmd_config *cfg, const char *key,
		    const char *value, struct zvmd_error *err)
{
	int i = option_index(key);

	if (i >= 0) {
		const struct option *o = &options[i];
		char *p = (char *)cfg + o->offset;
		uint64_t v;

		/* Not (or no longer) from the file: the loader sets it. */
		cfg->line[i] = 0;
		if (o->kind == K_STRING)
			return set_string(p, o->width, key, value, err);
		if (o->kind == K_ROLE)
			return set_role(cfg, value, err);
		if (o->kind == K_BOOL)
			return set_bool((bool *)p, key, value, err);
		if (parse_size(value, &v) ||
		    (o->kind == K_UINT && v > UINT32_MAX) ||
		    (o->width < sizeof(uint64_t) && v > UINT32_MAX))
			return zvmd_err(err, "%s: '%s' is not a %s", key, value,
					o->kind == K_SIZE ?
					"size (e.g. 65536, 64K, 4G)" :
					"non-negative integer");
		if (o->kind == K_UINT && strpbrk(value, "kKmMgG"))
			return zvmd_err(err, "%s: '%s' takes no unit suffix",
					key, value);
		store_int(p, o->width, v);
		return 0;
	}
	return zvmd_err(err, "unknown option '%s'", key);
}

struct load_ctx {
	struct zvmd_config *cfg;
	struct zvmd_error *err;
	const char *path;
	FILE *f;
	unsigned lineno; /* of the line inih handed to on_ini */
	int failed;
};

/* inih's reader: fgets that counts lines, since the handler is not told
 * which line it is called for. */
static char *read_line(char *buf, int cap, void *stream)
{
	struct load_ctx *c = stream;
	char *r = fgets(buf, cap, c->f);

	if (r)
		c->lineno++;
	return r;
}

/* Device names a system image cannot take (proto's built-in devices). */
static bool device_reserved(const char *name)
{
	static const char *const builtin[] = {
		"stdin", "stdout", "stderr", "input", "output", "image",
		"script", "debug",
	};

	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (!strcmp(name, builtin[i]))
			return true;
	return false;
}

/* [sysimages] NAME = /path/to/image.tar */
static int sysimage_add(struct load_ctx *c, const char *name,
			const char *value)
{
	struct zvmd_config *cfg = c->cfg;
	struct zvmd_sysimage *im;

	if (!*name || strlen(name) >= sizeof(im->name) ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") != strlen(name) || name[0] == '.')
		return zvmd_err(c->err, "[sysimages] %.80s: an image name is "
				"1-63 letters, digits, '.', '_' or '-' (not "
				"starting with '.')", name);
	if (device_reserved(name))
		return zvmd_err(c->err, "[sysimages] %s: is a built-in device "
				"name", name);
	for (size_t i = 0; i < cfg->nsysimages; i++)
		if (!strcmp(cfg->sysimages[i].name, name))
			return zvmd_err(c->err, "[sysimages] %s: set twice "
					"(first at line %u)", name,
					cfg->sysimages[i].line);
	if (cfg->nsysimages == ZVMD_MAX_SYSIMAGES)
		return zvmd_err(c->err, "[sysimages] %s: more than %d images",
				name, ZVMD_MAX_SYSIMAGES);
	if (!*value || strlen(value) >= sizeof(im->path))
		return zvmd_err(c->err, "[sysimages] %s: needs the path of a "
				"tar archive", name);
	im = &cfg->sysimages[cfg->nsysimages++];
	snprintf(im->name, sizeof(im->name), "%s", name);
	snprintf(im->path, sizeof(im->path), "%s", value);
	im->line = c->lineno;
	return 0;
}

/* Returning 0 makes inih report this line's number. */
static int on_ini(void *user, const char *section, const char *name,
		  const char *value)
{
	struct load_ctx *c = user;
	int i;

	if (c->failed)
		return 1;
	if (!strcmp(section, "sysimages")) {
		if (sysimage_add(c, name, value) == 0)
			return 1;
		c->failed = 1;
		return 0;
	}
	if (strcmp(section, "zvmd") && strcmp(section, "cluster")) {
		zvmd_err(c->err, "section [%s] is unknown (use [zvmd], "
			 "[cluster] or [sysimages])", section);
		c->failed = 1;
		return 0;
	}
	i = option_index(name);
	if (i >= 0 && strcmp(options[i].section, section)) {
		zvmd_err(c->err, "%s: belongs in section [%s], not [%s]", name,
			 options[i].section, section);
		c->failed = 1;
		return 0;
	}
	if (i >= 0 && c->cfg->line[i] && !strcmp(c->cfg->file, c->path)) {
		zvmd_err(c->err, "%s: set twice (first at line %u)", name,
			 c->cfg->line[i]);
		c->failed = 1;
		return 0;
	}
	if (zvmd_config_set(c->cfg, name, value, c->err)) {
		c->failed = 1;
		return 0;
	}
	c->cfg->line[i] = c->lineno;
	return 1;
}

int zvmd_config_load(struct zvmd_config *cfg, const char *path,
		     struct zvmd_error *err)
{
	struct load_ctx c = { cfg, err, path, fopen(path, "r"), 0, 0 };
	int rc;

	if (!c.f)
		return zvmd_err(err, "%s: %s", path, strerror(errno));
	if (strlen(path) >= sizeof(cfg->file)) {
		fclose(c.f);
		return zvmd_err(err, "%.100s...: path too long", path);
	}
	if (strcmp(cfg->file, path))
		memset(cfg->line, 0, sizeof(cfg->line));
	cfg->nsysimages = 0; /* the file's [sysimages] replace any before */
	snprintf(cfg->file, sizeof(cfg->file), "%s", path);
	rc = ini_parse_stream(read_line, &c, on_ini, &c);
	fclose(c.f);
	if (c.failed) {
		struct zvmd_error e = *err;

		return zvmd_err(err, "%s:%d: %s", path, rc, e.msg);
	}
	if (rc)
		return zvmd_err(err, "%s:%d: not an INI line", path, rc);
	return 0;
}

int zvmd_listen_parse(const char *s, struct sockaddr_in *out, char *msg,
		      size_t cap)
{
	const char *colon = strrchr(s, ':');
	char addr[64] = "127.0.0.1";
	const char *port = colon ? colon + 1 : s;
	char *end;
	long p;

	if (colon && colon != s)
		snprintf(addr, sizeof(addr), "%.*s", (int)(colon - s), s);
	errno = 0;
	p = strtol(port, &end, 10);
	if (!*port || *end || errno || p < 0 || p > 65535) {
		snprintf(msg, cap, "'%s': port must be 0..65535 (ADDR:PORT)", s);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)p);
	if (inet_pton(AF_INET, addr, &out->sin_addr) != 1) {
		snprintf(msg, cap, "'%s': '%s' is not an IPv4 address", s, addr);
		return -1;
	}
	return 0;
}

int zvmd_config_error(const struct zvmd_config *cfg, struct zvmd_error *err,
		      const char *key, const char *fmt, ...)
{
	int i = option_index(key);
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (i >= 0 && cfg->line[i])
		return zvmd_err(err, "%.300s:%u: %s: %s", cfg->file,
				cfg->line[i], key, why);
	return zvmd_err(err, "%s: %s", key, why);
}

static int check_dir(const struct zvmd_config *cfg, const char *key,
		     const char *path, struct zvmd_error *err)
{
	struct stat st;

	if (stat(path, &st))
		return zvmd_config_error(cfg, err, key, "'%.200s': %s",
					 path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return zvmd_config_error(cfg, err, key,
					 "'%.200s' is not a directory", path);
	return 0;
}

static int check_port(const struct zvmd_config *cfg, const char *key,
		      unsigned port, struct zvmd_error *err)
{
	if (port == 0 || port > 65535)
		return zvmd_config_error(cfg, err, key, "%u is not a port "
					 "(1..65535)", port);
	return 0;
}

/* "http://HOST:PORT" with nothing after it but an optional "/". */
static int check_proxy_url(const struct zvmd_config *cfg,
			   struct zvmd_error *err)
{
	const char *u = cfg->proxy_url, *host, *end;

	if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
		return zvmd_config_error(cfg, err, "proxy_url", "'%s' is not "
					 "http://HOST[:PORT]", u);
	host = strstr(u, "://") + 3;
	end = host + strcspn(host, "/?#");
	if (end == host || (*end && strcmp(end, "/")))
		return zvmd_config_error(cfg, err, "proxy_url", "'%s' is not "
					 "http://HOST[:PORT] (no path)", u);
	return 0;
}

/* The [cluster] keys, then what they point at: the rings and swift.conf
 * in swift_dir and the secret (zvmd_cluster_load, as the daemon does). */
static int check_cluster(const struct zvmd_config *cfg,
			 struct zvmd_error *err)
{
	struct zvmd_cluster *cl;
	struct in_addr a;

	if (check_proxy_url(cfg, err) ||
	    check_dir(cfg, "swift_dir", cfg->swift_dir, err) ||
	    check_dir(cfg, "devices", cfg->devices, err) ||
	    check_port(cfg, "worker_port", cfg->worker_port, err) ||
	    check_port(cfg, "edge_port", cfg->edge_port, err))
		return -1;
	if (cfg->worker_port == cfg->edge_port)
		return zvmd_config_error(cfg, err, "edge_port", "%u is also "
					 "worker_port", cfg->edge_port);
	if (cfg->node_ip[0] && inet_pton(AF_INET, cfg->node_ip, &a) != 1)
		return zvmd_config_error(cfg, err, "node_ip", "'%s' is not an "
					 "IPv4 address", cfg->node_ip);
	if (zvmd_cluster_load(cfg, &cl, err))
		return -1;
	zvmd_cluster_free(cl);
	return 0;
}

int zvmd_log_level_parse(const char *name)
{
	static const char *const names[] = { "error", "warning", "info",
					      "debug" };

	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

/* Each system image must be a readable regular file (its content is
 * checked when a job first uses it: extraction is too slow for here). */
static int check_sysimages(const struct zvmd_config *cfg,
			   struct zvmd_error *err)
{
	for (size_t i = 0; i < cfg->nsysimages; i++) {
		const struct zvmd_sysimage *im = &cfg->sysimages[i];
		int fd = open(im->path, O_RDONLY | O_CLOEXEC);
		struct stat st;
		const char *why = NULL;

		if (fd < 0)
			why = strerror(errno);
		else if (fstat(fd, &st) || !S_ISREG(st.st_mode))
			why = "not a regular file (a tar archive)";
		if (fd >= 0)
			close(fd);
		if (why)
			return zvmd_err(err, "%.300s:%u: [sysimages] %s: "
					"'%.200s': %s", cfg->file, im->line,
					im->name, im->path, why);
	}
	return 0;
}

int zvmd_config_check(const struct zvmd_config *cfg, struct zvmd_error *err)
{
	/* Limits where 0 would mean "nothing may run". */
	static const struct { const char *key; size_t off, width; } positive[] = {
#define POS(f) { #f, offsetof(struct zvmd_config, f), \
		 sizeof(((struct zvmd_config *)0)->f) }
		POS(max_job_size), POS(max_instances), POS(pool_size),
		POS(instance_timeout), POS(instance_memory), POS(max_output),
		POS(job_timeout), POS(retry_after), POS(client_timeout),
#undef POS
	};
	struct sockaddr_in sa;
	char msg[256];

	if (zvmd_listen_parse(cfg->listen, &sa, msg, sizeof(msg)))
		return zvmd_config_error(cfg, err, "listen", "%s", msg);
	if (check_dir(cfg, "root", cfg->root, err) ||
	    check_dir(cfg, "spool", cfg->spool, err))
		return -1;
	for (size_t i = 0; i < sizeof(positive) / sizeof(positive[0]); i++) {
		const char *p = (const char *)cfg + positive[i].off;
		uint64_t v = positive[i].width == sizeof(uint64_t) ?
			     *(const uint64_t *)p : *(const unsigned *)p;

		if (!v)
			return zvmd_config_error(cfg, err, positive[i].key,
						 "must be greater than 0");
	}
	if (cfg->pool_size > 1020)
		return zvmd_config_error(cfg, err, "pool_size", "%u is more "
					 "than 1020 (one supervisor thread per "
					 "sandbox)", cfg->pool_size);
	if (cfg->max_instances > 1020)
		return zvmd_config_error(cfg, err, "max_instances", "%zu is "
					 "more than 1020 (one supervisor thread "
					 "per sandbox)", cfg->max_instances);
	if (cfg->image_cache[0] && access(cfg->image_cache, F_OK) == 0 &&
	    check_dir(cfg, "image_cache", cfg->image_cache, err))
		return -1;
	if (check_sysimages(cfg, err))
		return -1;
	if (zvmd_log_level_parse(cfg->log_level) < 0)
		return zvmd_config_error(cfg, err, "log_level", "'%s' is not "
					 "one of error, warning, info, debug",
					 cfg->log_level);
	if (cfg->role == ZVMD_ROLE_CLUSTER)
		return check_cluster(cfg, err);
	return 0;
}
