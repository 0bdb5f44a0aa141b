/* cluster.c — what a cluster-mode zvmd reads at start: swift.conf and the
 * object rings (swift_dir), the cluster secret, this node's IP.
 *
 * --check-config loads exactly what the daemon loads, through this file,
 * so a configuration that passes the check starts. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int zvmd_secret_load(const char *path, struct zvmd_secret *out, char *msg,
		     size_t cap)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	memset(out, 0, sizeof(*out));
	if (fd < 0) {
		snprintf(msg, cap, "'%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(msg, cap, "'%s' is not a regular file", path);
		goto fail;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		snprintf(msg, cap, "'%s' is accessible to every user (mode "
			 "%04o): chmod o-rw it", path,
			 (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	n = read(fd, out->key, sizeof(out->key));
	if (n < 0) {
		snprintf(msg, cap, "'%s': %s", path, strerror(errno));
		goto fail;
	}
	if ((size_t)n == sizeof(out->key) && st.st_size > n) {
		snprintf(msg, cap, "'%s' is larger than %d bytes", path,
			 ZVMD_SECRET_MAX);
		goto fail;
	}
	while (n > 0 && (out->key[n - 1] == '\n' || out->key[n - 1] == '\r'))
		n--;
	if (n < ZVMD_SECRET_MIN) {
		snprintf(msg, cap, "'%s' holds %zd bytes; a cluster secret "
			 "needs at least %d (e.g. openssl rand -hex 32)", path,
			 n, ZVMD_SECRET_MIN);
		goto fail;
	}
	out->len = (size_t)n;
	close(fd);
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	close(fd);
	return -1;
}

/* node_ip, or the listen address when it names one host. */
static int node_ip(const struct zvmd_config *cfg, char *out, size_t cap,
		   struct zvmd_error *err)
{
	struct sockaddr_in sa;
	char msg[256];

	if (cfg->node_ip[0]) {
		snprintf(out, cap, "%s", cfg->node_ip);
		return 0;
	}
	if (zvmd_listen_parse(cfg->listen, &sa, msg, sizeof(msg)))
		return zvmd_config_error(cfg, err, "listen", "%s", msg);
	if (sa.sin_addr.s_addr == htonl(INADDR_ANY))
		return zvmd_config_error(cfg, err, "node_ip", "must be set "
					 "when listen is on every address "
					 "(%s)", cfg->listen);
	inet_ntop(AF_INET, &sa.sin_addr, out, (socklen_t)cap);
	return 0;
}

static int load_rings(const struct zvmd_config *cfg, struct zvmd_cluster *cl,
		      struct zvmd_error *err)
{
	cl->rings = calloc(cl->conf.npolicies, sizeof(*cl->rings));
	if (!cl->rings)
		return zvmd_config_error(cfg, err, "swift_dir", "out of memory");
	for (size_t i = 0; i < cl->conf.npolicies; i++) {
		int idx = cl->conf.policies[i].index;
		char path[PATH_MAX + 32];
		swift_error se;

		if (idx)
			snprintf(path, sizeof(path), "%s/object-%d.ring.gz",
				 cfg->swift_dir, idx);
		else
			snprintf(path, sizeof(path), "%s/object.ring.gz",
				 cfg->swift_dir);
		if (swift_ring_load(path, &cl->rings[i], &se))
			return zvmd_config_error(cfg, err, "swift_dir",
						 "storage policy %d (%s): %s",
						 idx, cl->conf.policies[i].name,
						 se.msg);
	}
	return 0;
}

int zvmd_cluster_load(const struct zvmd_config *cfg,
		      struct zvmd_cluster **out, struct zvmd_error *err)
{
	struct zvmd_cluster *cl = calloc(1, sizeof(*cl));
	char path[PATH_MAX + 16], msg[600];
	swift_error se;

	*out = NULL;
	if (!cl)
		return zvmd_config_error(cfg, err, "swift_dir", "out of memory");
	if (node_ip(cfg, cl->node_ip, sizeof(cl->node_ip), err))
		goto fail;
	snprintf(path, sizeof(path), "%s/swift.conf", cfg->swift_dir);
	if (swift_conf_load(path, &cl->conf, &se)) {
		zvmd_config_error(cfg, err, "swift_dir", "%s", se.msg);
		goto fail;
	}
	if (load_rings(cfg, cl, err))
		goto fail;
	if (zvmd_secret_load(cfg->secret_file, &cl->secret, msg,
			     sizeof(msg))) {
		zvmd_config_error(cfg, err, "secret_file", "%s", msg);
		goto fail;
	}
	*out = cl;
	return 0;
fail:
	zvmd_cluster_free(cl);
	return -1;
}

void zvmd_cluster_free(struct zvmd_cluster *cl)
{
	if (!cl)
		return;
	for (size_t i = 0; cl->rings && i < cl->conf.npolicies; i++)
		swift_ring_free(cl->rings[i]);
	free(cl->rings);
	swift_conf_free(&cl->conf);
	memset(&cl->secret, 0, sizeof(cl->secret));
	free(cl);
}

const struct swift_ring *zvmd_cluster_ring(const struct zvmd_cluster *cl,
					   int policy_index)
{
	for (size_t i = 0; i < cl->conf.npolicies; i++)
		if (cl->conf.policies[i].index == policy_index)
			return cl->rings[i];
	return NULL;
}
