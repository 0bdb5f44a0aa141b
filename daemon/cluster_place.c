/* cluster_place.c — which node runs each instance of a cluster job.
 *
 * Data locality first: an instance that reads a placing object runs on a
 * primary of that object (the first one, in ring replica order, whose
 * zvmd is up), so the worker opens the object's .data file directly.
 * Everything else is spread over the live nodes of the rings, fewest
 * instances first. Liveness is asked lazily and once per node, so a
 * job whose objects sit on healthy primaries costs one probe per node
 * it uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A node of the rings while placing. */
struct cand {
	char ip[64];
	int alive;       /* -1 not asked yet, 0 down, 1 up */
	unsigned load;
	long out;        /* index in the placement's nodes, or -1 */
};

struct placer {
	struct cand *c;
	size_t n, cap;
	zvmd_alive_fn alive;
	void *ctx;
};

static long cand_find(const struct placer *p, const char *ip)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->c[i].ip, ip))
			return (long)i;
	return -1;
}

static int cand_add(struct placer *p, const char *ip)
{
	if (cand_find(p, ip) >= 0)
		return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		struct cand *c = realloc(p->c, cap * sizeof(*c));

		if (!c)
			return -1;
		p->c = c;
		p->cap = cap;
	}
	snprintf(p->c[p->n].ip, sizeof(p->c[p->n].ip), "%s", ip);
	p->c[p->n].alive = -1;
	p->c[p->n].load = 0;
	p->c[p->n].out = -1;
	p->n++;
	return 0;
}

static int dev_by_id(const void *a, const void *b)
{
	const swift_dev *x = *(const swift_dev *const *)a;
	const swift_dev *y = *(const swift_dev *const *)b;

	return (x->id > y->id) - (x->id < y->id);
}

/* Every device of a ring: the primaries and handoffs of any partition
 * cover them all. Added in device id order, so ties in load always
 * break the same way. */
static int ring_nodes(struct placer *p, const swift_ring *ring)
{
	size_t max = 256, n;
	const swift_dev **devs = NULL;

	for (;;) {
		const swift_dev **d = realloc(devs, max * sizeof(*d));

		if (!d) {
			free(devs);
			return -1;
		}
		devs = d;
		n = swift_ring_primaries(ring, 0, devs, max);
		n += swift_ring_handoffs(ring, 0, devs + n, max - n);
		if (n < max)
			break;
		max *= 2;
	}
	qsort(devs, n, sizeof(*devs), dev_by_id);
	for (size_t i = 0; i < n; i++)
		if (cand_add(p, devs[i]->ip)) {
			free(devs);
			return -1;
		}
	free(devs);
	return 0;
}

static bool cand_alive(struct placer *p, size_t i)
{
	if (p->c[i].alive < 0)
		p->c[i].alive = p->alive(p->ctx, p->c[i].ip) ? 1 : 0;
	return p->c[i].alive == 1;
}

/* The live node with the fewest instances, or -1. */
static long least_loaded(struct placer *p)
{
	for (;;) {
		long best = -1;

		for (size_t i = 0; i < p->n; i++)
			if (p->c[i].alive != 0 &&
			    (best < 0 || p->c[i].load < p->c[best].load))
				best = (long)i;
		if (best < 0 || cand_alive(p, (size_t)best))
			return best;
	}
}

/* The first live primary of "acct/cont/obj", or -1. */
static long primary(struct placer *p, const struct zvmd_cluster *cl,
		    int policy, const char *path)
{
	const swift_ring *ring = zvmd_cluster_ring(cl, policy);
	const char *s1 = strchr(path, '/');
	const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	char acct[256], cont[256];
	swift_location loc;
	swift_error se;

	if (!ring || !s2 || s1 - path >= 256 || s2 - s1 > 256)
		return -1;
	snprintf(acct, sizeof(acct), "%.*s", (int)(s1 - path), path);
	snprintf(cont, sizeof(cont), "%.*s", (int)(s2 - s1 - 1), s1 + 1);
	if (swift_ring_locate(ring, &cl->conf, acct, cont, s2 + 1, &loc, &se))
		return -1;
	for (size_t k = 0; k < loc.nprimaries; k++) {
		long i = cand_find(p, loc.primaries[k]->ip);

		if (i >= 0 && cand_alive(p, (size_t)i))
			return i;
	}
	return -1;
}

static void no_live_node(const struct placer *p, unsigned port, char *msg,
			 size_t cap)
{
	size_t used = (size_t)snprintf(msg, cap, "no zvmd worker answers GET "
				       "/healthcheck on port %u of any node "
				       "of the rings:", port);

	for (size_t i = 0; i < p->n && used < cap; i++)
		used += (size_t)snprintf(msg + used, cap - used, " %s",
					 p->c[i].ip);
}

static void assign(struct placer *p, size_t ci, unsigned worker_port,
		  unsigned edge_port, struct zvmd_placement *out, size_t inst)
{
	struct cand *c = &p->c[ci];

	if (c->out < 0) {
		struct zvmd_node *n = &out->nodes[out->nnodes];

		snprintf(n->ip, sizeof(n->ip), "%s", c->ip);
		snprintf(n->http, sizeof(n->http), "%s:%u", c->ip, worker_port);
		snprintf(n->edge, sizeof(n->edge), "%s:%u", c->ip, edge_port);
		n->ninst = 0;
		c->out = (long)out->nnodes++;
	}
	c->load++;
	out->nodes[c->out].ninst++;
	out->inst[inst] = (size_t)c->out;
}

int zvmd_place(const struct zvmd_cluster *cl, unsigned worker_port,
	       unsigned edge_port, const struct proto_plan *plan,
	       const int *policy, zvmd_alive_fn alive, void *ctx,
	       struct zvmd_placement *out, char *msg, size_t cap)
{
	struct placer p = { NULL, 0, 0, alive, ctx };
	int rc = -1;

	memset(out, 0, sizeof(*out));
	for (size_t r = 0; r < cl->conf.npolicies; r++)
		if (ring_nodes(&p, cl->rings[r]))
			goto oom;
	out->inst = calloc(plan->ninst ? plan->ninst : 1, sizeof(*out->inst));
	out->nodes = calloc(p.n ? p.n : 1, sizeof(*out->nodes));
	if (!out->inst || !out->nodes)
		goto oom;
	for (size_t i = 0; i < plan->ninst; i++) {
		const struct proto_instance *in = &plan->inst[i];
		long ci = -1;

		if (in->placement >= 0)
			ci = primary(&p, cl, policy[i],
				     in->channels[in->placement].path);
		if (ci < 0)
			ci = least_loaded(&p);
		if (ci < 0) {
			no_live_node(&p, worker_port, msg, cap);
			goto fail;
		}
		assign(&p, (size_t)ci, worker_port, edge_port, out, i);
	}
	rc = 0;
	goto done;
oom:
	snprintf(msg, cap, "out of memory placing %zu instances", plan->ninst);
fail:
	zvmd_placement_clear(out);
done:
	free(p.c);
	return rc;
}

void zvmd_placement_clear(struct zvmd_placement *p)
{
	free(p->inst);
	free(p->nodes);
	memset(p, 0, sizeof(*p));
}
