/* edges.c — the pipes of a plan: which writer channel feeds which reader
 * channel. Every PIPE_OUT/PIPE_IN names its other end (peer, peer_chan),
 * so single-machine pipes and cluster TCP edges pair the same way and a
 * plan received from the network can be checked in one pass. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Does channel k of instance i point at an end that points back? */
static int end_check(const struct proto_plan *plan, size_t i, size_t k,
		     struct proto_error *err)
{
	const struct proto_instance *in = &plan->inst[i];
	const struct proto_channel *c = &in->channels[k], *o;
	const struct proto_instance *peer;
	enum proto_chan_kind want = c->kind == PROTO_CHAN_PIPE_OUT ?
				    PROTO_CHAN_PIPE_IN : PROTO_CHAN_PIPE_OUT;

	if (c->peer >= plan->ninst || c->peer == i)
		return proto_error_set(err, PROTO_EINTERNAL,
				       "plan: %s, %s: pipe peer %zu is not "
				       "another instance (%zu instances)",
				       in->name, c->alias, c->peer, plan->ninst);
	peer = &plan->inst[c->peer];
	if (c->peer_chan >= peer->nchannels)
		return proto_error_set(err, PROTO_EINTERNAL,
				       "plan: %s, %s: the other end is channel "
				       "%zu of %s, which has %zu", in->name,
				       c->alias, c->peer_chan, peer->name,
				       peer->nchannels);
	o = &peer->channels[c->peer_chan];
	if (o->kind != want || o->peer != i || o->peer_chan != k)
		return proto_error_set(err, PROTO_EINTERNAL,
				       "plan: %s, %s: %s %s of %s, which does "
				       "not pair back", in->name, c->alias,
				       want == PROTO_CHAN_PIPE_IN ?
				       "writes to" : "reads from",
				       o->alias, peer->name);
	return 0;
}

int proto_plan_edges(const struct proto_plan *plan, struct proto_edge **out,
		     size_t *n, struct proto_error *err)
{
	struct proto_edge *e = NULL;
	size_t i, k, count = 0, at = 0;

	for (i = 0; i < plan->ninst; i++)
		for (k = 0; k < plan->inst[i].nchannels; k++) {
			const struct proto_channel *c = &plan->inst[i].channels[k];

			if (!chan_is_pipe(c))
				continue;
			if (end_check(plan, i, k, err))
				return -1;
			count += c->kind == PROTO_CHAN_PIPE_OUT;
		}
	if (n)
		*n = count;
	if (!out)
		return 0;
	*out = NULL;
	if (!count)
		return 0;
	e = malloc(count * sizeof(*e));
	if (!e)
		return proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	for (i = 0; i < plan->ninst; i++)
		for (k = 0; k < plan->inst[i].nchannels; k++) {
			const struct proto_channel *c = &plan->inst[i].channels[k];

			if (c->kind == PROTO_CHAN_PIPE_OUT)
				e[at++] = (struct proto_edge){
					i, k, c->peer, c->peer_chan };
		}
	*out = e;
	return 0;
}

const struct proto_edge *proto_edge_find(const struct proto_edge *edges,
					 size_t n, size_t writer, size_t wchan)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct proto_edge *e = &edges[mid];

		if (e->writer == writer && e->wchan == wchan)
			return e;
		if (e->writer < writer ||
		    (e->writer == writer && e->wchan < wchan))
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ------------------------------------------------------------- linking */

/* One unlinked pipe end: its instance, channel and peer. */
struct pend {
	size_t inst, chan, peer;
};

/* Stable counting sort of v by key(v) in [0, nkeys). */
static int sort_by(struct pend *v, struct pend *tmp, size_t n, size_t nkeys,
		   bool by_peer)
{
	size_t *pos = calloc(nkeys + 1, sizeof(*pos));

	if (!pos)
		return -1;
	for (size_t i = 0; i < n; i++)
		pos[(by_peer ? v[i].peer : v[i].inst) + 1]++;
	for (size_t k = 0; k < nkeys; k++)
		pos[k + 1] += pos[k];
	for (size_t i = 0; i < n; i++)
		tmp[pos[by_peer ? v[i].peer : v[i].inst]++] = v[i];
	memcpy(v, tmp, n * sizeof(*v));
	free(pos);
	return 0;
}

/* Collect the ends of one kind whose peer_chan is still PROTO_UNLINKED,
 * ordered by (writer, reader) and then channel order. */
static int collect(const struct proto_plan *plan, enum proto_chan_kind kind,
		   struct pend **out, size_t *n)
{
	size_t i, k, count = 0;
	struct pend *v, *tmp;

	for (i = 0; i < plan->ninst; i++)
		for (k = 0; k < plan->inst[i].nchannels; k++) {
			const struct proto_channel *c = &plan->inst[i].channels[k];

			count += c->kind == kind && c->peer_chan == PROTO_UNLINKED;
		}
	v = malloc((count ? count : 1) * sizeof(*v));
	tmp = malloc((count ? count : 1) * sizeof(*tmp));
	if (!v || !tmp) {
		free(v);
		free(tmp);
		return -1;
	}
	*n = 0;
	for (i = 0; i < plan->ninst; i++)
		for (k = 0; k < plan->inst[i].nchannels; k++) {
			const struct proto_channel *c = &plan->inst[i].channels[k];

			if (c->kind == kind && c->peer_chan == PROTO_UNLINKED)
				v[(*n)++] = (struct pend){ i, k, c->peer };
		}
	/* Writers come in (writer, chan) order; readers in (reader, chan)
	 * order: sort readers by writer (their peer) first, then both by
	 * reader, stably, so equal (writer, reader) runs keep channel order. */
	if ((kind == PROTO_CHAN_PIPE_IN &&
	     sort_by(v, tmp, *n, plan->ninst, true)) ||
	    sort_by(v, tmp, *n, plan->ninst, kind == PROTO_CHAN_PIPE_OUT)) {
		free(v);
		free(tmp);
		return -1;
	}
	free(tmp);
	*out = v;
	return 0;
}

int plan_link_pipes(struct proto_plan *plan, struct proto_error *err)
{
	struct pend *w = NULL, *r = NULL;
	size_t nw = 0, nr = 0, a = 0, b = 0;
	int rc = 0;

	for (size_t i = 0; i < plan->ninst; i++)
		for (size_t k = 0; k < plan->inst[i].nchannels; k++)
			if (chan_is_pipe(&plan->inst[i].channels[k]) &&
			    plan->inst[i].channels[k].peer >= plan->ninst)
				return proto_error_set(err, PROTO_EINTERNAL,
						       "plan: %s has a pipe to "
						       "instance %zu of %zu",
						       plan->inst[i].name,
						       plan->inst[i].channels[k].peer,
						       plan->ninst);
	if (collect(plan, PROTO_CHAN_PIPE_OUT, &w, &nw) ||
	    collect(plan, PROTO_CHAN_PIPE_IN, &r, &nr)) {
		free(w);
		return proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	}
	/* w: (writer=inst, reader=peer); r: (writer=peer, reader=inst), both
	 * sorted by reader then writer: the k-th pipe from a writer to a
	 * reader meets the k-th one the reader expects from that writer. */
	while (a < nw && b < nr && w[a].peer == r[b].inst &&
	       w[a].inst == r[b].peer) {
		plan->inst[w[a].inst].channels[w[a].chan].peer_chan = r[b].chan;
		plan->inst[r[b].inst].channels[r[b].chan].peer_chan = w[a].chan;
		a++;
		b++;
	}
	if (a < nw && (b == nr || w[a].peer < r[b].inst ||
		       (w[a].peer == r[b].inst && w[a].inst < r[b].peer)))
		rc = proto_error_set(err, PROTO_EINTERNAL,
				     "plan: %s writes to %s, which has no reader",
				     plan->inst[w[a].inst].name,
				     plan->inst[w[a].peer].name);
	else if (b < nr)
		rc = proto_error_set(err, PROTO_EINTERNAL,
				     "plan: %s reads from a pipe %s does not "
				     "write", plan->inst[r[b].inst].name,
				     plan->inst[r[b].peer].name);
	free(w);
	free(r);
	return rc;
}
