/*
 * job_plan.c — parsed groups into an execution plan: expand wildcards
 * through the store's listing callback, name the instances, wire
 * `connect` and zvm:// pipes, lay out every instance's channels.
 *
 * Memory is linear in instances x channels: the fan-in of a reducer is
 * one channel per source, and every string an instance shares with its
 * group (argv, env, unchanged paths, pipe aliases) is stored once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

void proto_limits_default(struct proto_limits *l)
{
	l->max_job_size = 65536;
	l->max_groups = 256;
	l->max_instances = 10000;
	l->max_devices = 64;
	l->max_channels = 1000000;
}

static void where_group(struct jctx *c, const struct jgroup *g)
{
	snprintf(c->where, sizeof(c->where), "group \"%s\"", g->name);
}

static void where_dev(struct jctx *c, const struct jgroup *g, size_t di)
{
	snprintf(c->where, sizeof(c->where), "group \"%s\": %s[%zu]",
		 g->name, g->list, di);
}

static long group_find(const struct jctx *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->ng; i++)
		if (strcmp(c->g[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* ------------------------------------------------------------ graph */

static int resolve_names(struct jctx *c)
{
	size_t i, k;

	for (i = 0; i < c->ng; i++) {
		struct jgroup *g = &c->g[i];

		where_group(c, g);
		for (k = 0; k < g->nconnect; k++) {
			long t = group_find(c, g->connect_names[k]);

			if (t < 0)
				return jerr(c, PROTO_EBADJOB,
					    "connect[%zu]: no group named "
					    "\"%.64s\"", k, g->connect_names[k]);
			g->connect[k] = (size_t)t;
		}
		for (k = 0; k < g->ndev; k++) {
			struct jdev *d = &g->devs[k];
			long t;

			if (d->path.kind != PATH_ZVM)
				continue;
			where_dev(c, g, k);
			t = group_find(c, d->path.node);
			if (t < 0)
				return jerr(c, PROTO_EBADJOB,
					    "path \"%.128s\": no group named "
					    "\"%.64s\"", d->path.url,
					    d->path.node);
			if ((size_t)t == i)
				return jerr(c, PROTO_EBADJOB,
					    "path \"%.128s\": a group cannot "
					    "pipe into itself", d->path.url);
			d->zvm_group = (size_t)t;
		}
	}
	c->where[0] = '\0';
	return 0;
}

/* Does group s send to group t (other than itself)? */
static bool sends_to(const struct jgroup *s, size_t self, size_t t)
{
	size_t k;

	if (t == self)
		return false;
	for (k = 0; k < s->nconnect; k++)
		if (s->connect[k] == t)
			return true;
	for (k = 0; k < s->ndev; k++)
		if (s->devs[k].path.kind == PATH_ZVM && s->devs[k].zvm_group == t)
			return true;
	return false;
}

/*
 * A cycle between different groups could deadlock (each side blocked
 * writing to the other), so it is refused. A group connected to itself
 * is the one cycle allowed: it is the all-to-all exchange pattern.
 */
static int find_cycle(struct jctx *c, size_t v, unsigned char *state,
		      size_t *stack, size_t depth)
{
	size_t t;

	state[v] = 1;
	stack[depth] = v;
	for (t = 0; t < c->ng; t++) {
		if (!sends_to(&c->g[v], v, t))
			continue;
		if (state[t] == 1) {
			char path[160] = "";
			size_t k = depth + 1, n = 0;

			while (k-- > 0 && stack[k] != t)
				;
			for (; k <= depth && n < sizeof(path); k++)
				n += (size_t)snprintf(path + n, sizeof(path) - n,
						      "\"%s\" -> ",
						      c->g[stack[k]].name);
			return jerr(c, PROTO_EBADJOB,
				    "connect: groups %s\"%s\" form a cycle, "
				    "which could deadlock; only a group "
				    "connected to itself may loop", path,
				    c->g[t].name);
		}
		if (state[t] == 0 &&
		    find_cycle(c, t, state, stack, depth + 1) < 0)
			return -1;
	}
	state[v] = 2;
	return 0;
}

static int check_cycles(struct jctx *c)
{
	unsigned char *state = arena_alloc(c->a, c->ng);
	size_t *stack = arena_alloc(c->a, c->ng * sizeof(size_t));
	size_t v;

	if (!state || !stack)
		return joom(c);
	for (v = 0; v < c->ng; v++)
		if (state[v] == 0 && find_cycle(c, v, state, stack, 0) < 0)
			return -1;
	return 0;
}

/* -------------------------------------------------------- wildcards */

struct mvec {
	struct jmatch *v;
	size_t n, cap;
};

static size_t literal_prefix(const char *pat)
{
	return strcspn(pat, "*");
}

static int list(struct jctx *c, const char *account, const char *container,
		const char *prefix, struct proto_names *out)
{
	struct proto_error e = { 0 };

	memset(out, 0, sizeof(*out));
	if (!c->store || !c->store->list)
		return jerr(c, PROTO_EINTERNAL,
			    "no object store to expand wildcards with");
	if (c->store->list(c->store->ctx, account, container, prefix, out,
			   &e) < 0) {
		proto_strv_free(out->v, out->n);
		memset(out, 0, sizeof(*out));
		return jerr(c, e.kind == PROTO_OK ? PROTO_EINTERNAL : e.kind,
			    "listing %s%s%s: %s", account,
			    container ? "/" : "", container ? container : "",
			    e.msg);
	}
	return 0;
}

static int add_match(struct jctx *c, struct mvec *m, const char *acct,
		     const char *cont, const char *obj,
		     const struct glob_cap *caps, size_t ncaps)
{
	struct jmatch *x;
	size_t i;

	if (m->n >= c->lim.max_instances)
		return jerr(c, PROTO_ETOOLARGE,
			    "wildcard matches more than %zu objects, the "
			    "instance limit", c->lim.max_instances);
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		void *v = realloc(m->v, cap * sizeof(*m->v));

		if (!v)
			return joom(c);
		m->v = v;
		m->cap = cap;
	}
	x = &m->v[m->n++];
	x->path = obj ? arena_cat(c->a, acct, "/", cont, "/", obj, NULL)
		      : arena_cat(c->a, acct, "/", cont, NULL);
	x->ncaps = ncaps;
	x->caps = arena_alloc(c->a, ncaps * sizeof(char *) + 1);
	if (!x->path || !x->caps)
		return joom(c);
	for (i = 0; i < ncaps; i++)
		if (!(x->caps[i] = arena_strndup(c->a, caps[i].s, caps[i].n)))
			return joom(c);
	return 0;
}

/* Objects of one container matching the object part of the path. */
static int expand_objects(struct jctx *c, struct mvec *m, const struct jpath *p,
			  const char *cont, const struct glob_cap *ccaps,
			  size_t nccaps)
{
	struct glob_cap caps[2 * GLOB_MAX_STARS];
	struct proto_names names;
	char *prefix;
	size_t i, nc;
	int rc = 0;

	prefix = arena_strndup(c->a, p->object, literal_prefix(p->object));
	if (!prefix)
		return joom(c);
	if (list(c, p->account, cont, prefix, &names) < 0)
		return -1;
	if (nccaps)
		memcpy(caps, ccaps, nccaps * sizeof(*caps));
	for (i = 0; i < names.n && rc == 0; i++) {
		int r = glob_match(p->object, names.v[i], caps + nccaps,
				   GLOB_MAX_STARS, &nc);

		if (r < 0)
			rc = jerr(c, PROTO_EBADJOB, "path \"%.128s\": too "
				  "many '*' (at most %d)", p->url,
				  GLOB_MAX_STARS);
		else if (r > 0)
			rc = add_match(c, m, p->account, cont, names.v[i], caps,
				       nccaps + nc);
	}
	proto_strv_free(names.v, names.n);
	return rc;
}

static int expand(struct jctx *c, struct jgroup *g)
{
	const struct jpath *p = &g->devs[g->wild_dev].path;
	struct mvec m = { 0 };
	struct glob_cap caps[GLOB_MAX_STARS];
	size_t nc, i;
	int rc = 0;

	where_dev(c, g, (size_t)g->wild_dev);
	if (!strchr(p->container, '*')) {
		rc = expand_objects(c, &m, p, p->container, NULL, 0);
	} else {
		struct proto_names conts;
		char *prefix = arena_strndup(c->a, p->container,
					     literal_prefix(p->container));

		if (!prefix)
			return joom(c);
		if (list(c, p->account, NULL, prefix, &conts) < 0)
			return -1;
		for (i = 0; i < conts.n && rc == 0; i++) {
			int r = glob_match(p->container, conts.v[i], caps,
					   GLOB_MAX_STARS, &nc);

			if (r < 0)
				rc = jerr(c, PROTO_EBADJOB, "path \"%.128s\": "
					  "too many '*' (at most %d)", p->url,
					  GLOB_MAX_STARS);
			else if (r > 0 && p->object)
				rc = expand_objects(c, &m, p, conts.v[i], caps,
						    nc);
			else if (r > 0)
				rc = add_match(c, &m, p->account, conts.v[i],
					       NULL, caps, nc);
		}
		proto_strv_free(conts.v, conts.n);
	}
	if (rc == 0 && m.n == 0)
		rc = jerr(c, PROTO_ENOTFOUND, "No objects found in path %.128s",
			  p->url);
	if (rc == 0) {
		g->matches = arena_alloc(c->a, m.n * sizeof(*m.v));
		if (g->matches)
			memcpy(g->matches, m.v, m.n * sizeof(*m.v));
		else
			rc = joom(c);
		g->nmatches = m.n;
	}
	free(m.v);
	return rc;
}

static int count_instances(struct jctx *c, size_t *total)
{
	size_t i;

	*total = 0;
	for (i = 0; i < c->ng; i++) {
		struct jgroup *g = &c->g[i];

		if (g->wild_dev >= 0) {
			if (expand(c, g) < 0)
				return -1;
			g->ninst = g->nmatches;
			g->numbered = true;
		} else {
			g->ninst = (size_t)g->count;
			g->numbered = g->count > 1;
		}
		g->first = *total;
		*total += g->ninst;
		if (*total > c->lim.max_instances) {
			c->where[0] = '\0';
			return jerr(c, PROTO_ETOOLARGE,
				    "job expands to more than %zu instances "
				    "(at group \"%s\")", c->lim.max_instances,
				    g->name);
		}
	}
	c->where[0] = '\0';
	return 0;
}

/* "map-1" as a group name clashes with instance 1 of a numbered "map". */
static int check_name_clash(struct jctx *c)
{
	size_t i;

	for (i = 0; i < c->ng; i++) {
		const char *name = c->g[i].name, *dash = strrchr(name, '-');
		char *prefix;
		long p;
		int64_t k;

		if (!dash || dash[1] == '0' ||
		    !parse_nonneg(dash + 1, strlen(dash + 1), &k))
			continue;
		prefix = arena_strndup(c->a, name, (size_t)(dash - name));
		if (!prefix)
			return joom(c);
		p = group_find(c, prefix);
		if (p >= 0 && c->g[p].numbered && (uint64_t)k <= c->g[p].ninst) {
			where_group(c, &c->g[i]);
			return jerr(c, PROTO_EBADJOB,
				    "name: clashes with instance %lld of group "
				    "\"%s\"", (long long)k, prefix);
		}
	}
	return 0;
}

/* ------------------------------------------------------------ wiring */

/* Check zvm:// pipes and give each target its incoming channels. */
static int wire_zvm(struct jctx *c)
{
	size_t i, k, n, nzvm = 0;

	for (i = 0; i < c->ng; i++)
		for (k = 0; k < c->g[i].ndev; k++)
			nzvm += c->g[i].devs[k].path.kind == PATH_ZVM;

	for (i = 0; i < c->ng; i++) {
		struct jgroup *g = &c->g[i];

		for (k = 0; k < g->ndev; k++) {
			struct jdev *d = &g->devs[k];
			struct jgroup *t;

			if (d->path.kind != PATH_ZVM)
				continue;
			t = &c->g[d->zvm_group];
			where_dev(c, g, k);
			if (g->ninst != 1 || t->ninst != 1)
				return jerr(c, PROTO_EBADJOB,
					    "path \"%.128s\": zvm:// pipes join "
					    "single instances; use connect for "
					    "groups of several", d->path.url);
			if (!t->zin) {
				t->zin = arena_alloc(c->a, nzvm *
						     sizeof(*t->zin));
				if (!t->zin)
					return joom(c);
			}
			for (n = 0; n < t->ndev; n++)
				if (strcmp(t->devs[n].name, d->path.device + 5) == 0)
					return jerr(c, PROTO_EBADJOB,
						    "path \"%.128s\": group "
						    "\"%s\" already declares "
						    "device \"%s\"", d->path.url,
						    t->name, t->devs[n].name);
			for (n = 0; n < t->nzin; n++)
				if (strcmp(t->zin[n].alias, d->path.device) == 0)
					return jerr(c, PROTO_EBADJOB,
						    "path \"%.128s\": %s of "
						    "group \"%s\" is fed twice",
						    d->path.url, d->path.device,
						    t->name);
			if (!strcmp(d->path.device, "/dev/stdout") ||
			    !strcmp(d->path.device, "/dev/stderr"))
				return jerr(c, PROTO_EBADJOB,
					    "path \"%.128s\": a pipe can feed "
					    "stdin or a new device, not an "
					    "output", d->path.url);
			t->zin[t->nzin++] = (struct jzvm_in){
				.group = i, .dev = k, .alias = d->path.device
			};
		}
	}
	c->where[0] = '\0';
	return 0;
}

static long std_slot(const char *name)
{
	if (strcmp(name, "stdin") == 0)
		return 0;
	if (strcmp(name, "stdout") == 0)
		return 1;
	if (strcmp(name, "stderr") == 0)
		return 2;
	return -1;
}

/* Channel slots shared by every instance of a group. */
static void layout(struct jgroup *g)
{
	size_t k, next = 3;

	for (k = 0; k < g->ndev; k++) {
		long s = std_slot(g->devs[k].name);

		g->devs[k].slot = s >= 0 ? (size_t)s : next++;
	}
	for (k = 0; k < g->nzin; k++) {
		long s = std_slot(g->zin[k].alias + 5);

		g->zin[k].slot = s >= 0 ? (size_t)s : next++;
	}
	g->nslots = next;
}

/* Pipes out of (and into) one instance of g, self excluded. */
static size_t pipes_out(const struct jctx *c, const struct jgroup *g)
{
	size_t k, n = 0;

	for (k = 0; k < g->nconnect; k++) {
		const struct jgroup *t = &c->g[g->connect[k]];

		n += t->ninst - (t == g ? 1 : 0);
	}
	return n;
}

static size_t pipes_in(const struct jctx *c, size_t gi)
{
	size_t i, k, n = 0;

	for (i = 0; i < c->ng; i++)
		for (k = 0; k < c->g[i].nconnect; k++)
			if (c->g[i].connect[k] == gi)
				n += c->g[i].ninst - (i == gi ? 1 : 0);
	return n;
}

static int check_groups(struct jctx *c)
{
	size_t i, k;

	for (i = 0; i < c->ng; i++) {
		struct jgroup *g = &c->g[i];

		where_group(c, g);
		for (k = 0; k < g->nconnect; k++)
			if (g->connect[k] == i && g->ninst == 1)
				return jerr(c, PROTO_EBADJOB,
					    "connect[%zu]: a single instance "
					    "cannot connect to itself", k);
		for (k = 0; k < g->ndev; k++) {
			const struct jdev *d = &g->devs[k];
			size_t stars;
			const char *s;

			if (d->dir != PROTO_WRITE || d->path.kind != PATH_SWIFT)
				continue;
			where_dev(c, g, k);
			for (stars = 0, s = d->path.url; (s = strchr(s, '*')); s++)
				stars++;
			if (stars == 0 && g->ninst > 1)
				return jerr(c, PROTO_EBADJOB,
					    "path \"%.128s\" is one object for "
					    "%zu instances; use a '*' in it",
					    d->path.url, g->ninst);
			if (stars && g->wild_dev >= 0 &&
			    stars > g->matches[0].ncaps)
				return jerr(c, PROTO_EBADJOB,
					    "path \"%.128s\" has %zu '*' but the "
					    "input wildcard captures %zu",
					    d->path.url, stars,
					    g->matches[0].ncaps);
		}
		layout(g);
	}
	c->where[0] = '\0';
	return 0;
}

/* ---------------------------------------------------------- channels */

static void set_limits(struct proto_channel *ch)
{
	bool r = ch->dir & PROTO_READ, w = ch->dir & PROTO_WRITE;

	ch->gets = ch->get_size = r ? PROTO_UNBOUNDED : 0;
	ch->puts = ch->put_size = w ? PROTO_UNBOUNDED : 0;
}

static const char *plain_path(struct jctx *c, const struct jpath *p)
{
	return p->object ? arena_printf(c->a, "%s/%s/%s", p->account,
					p->container, p->object)
			 : arena_printf(c->a, "%s/%s", p->account, p->container);
}

/* Append `pat` with each `*` replaced by the next capture (or `iname`). */
static void substitute(struct pbuf *b, const char *pat,
		       const char *const *caps, size_t *ci, const char *iname)
{
	const char *star;

	while ((star = strchr(pat, '*'))) {
		pbuf_add(b, pat, (size_t)(star - pat));
		pbuf_puts(b, caps ? caps[(*ci)++] : iname);
		pat = star + 1;
	}
	pbuf_puts(b, pat);
}

/*
 * Each `*` of a writable path takes, in order, what the input wildcard
 * captured for this instance, or else the instance name.
 */
static const char *out_path(struct jctx *c, const struct jgroup *g,
			    const struct jdev *d, size_t j, const char *iname)
{
	const struct jpath *p = &d->path;
	const char *const *caps = g->wild_dev >= 0 ? g->matches[j].caps : NULL;
	struct pbuf *b = &c->scratch;
	size_t ci = 0, cont, slash;
	const char *why, *s;

	b->len = 0;
	pbuf_puts(b, p->account);
	pbuf_add(b, "/", 1);
	cont = b->len;
	substitute(b, p->container, caps, &ci, iname);
	slash = b->len;
	pbuf_add(b, "/", 1);
	substitute(b, p->object, caps, &ci, iname);
	if (!b->ok)
		return joom(c), NULL;
	b->s[slash] = '\0';
	why = job_name_problem(b->s + cont, false, false);
	if (!why)
		why = job_name_problem(b->s + slash + 1, true, false);
	if (why) {
		where_dev(c, g, (size_t)(d - g->devs));
		jerr(c, PROTO_EBADJOB, "path \"%.128s\" for instance \"%s\" "
		     "gives container \"%.64s\" and object \"%.64s\": a name %s",
		     p->url, iname, b->s + cont, b->s + slash + 1, why);
		return NULL;
	}
	b->s[slash] = '/';
	s = arena_strndup(c->a, b->s, b->len);
	return s ? s : (joom(c), NULL);
}

static int fill_device(struct jctx *c, const struct jgroup *g, size_t k,
		       size_t j, struct proto_instance *in,
		       const char *const *shared)
{
	const struct jdev *d = &g->devs[k];
	struct proto_channel *ch = &in->channels[d->slot];

	ch->device = (char *)d->name;
	ch->alias = (char *)shared[2 * k];
	ch->dir = d->dir;
	ch->type = d->type;
	ch->content_type = (char *)d->content_type;
	ch->meta = d->meta;
	ch->nmeta = d->nmeta;
	ch->mode = (char *)d->mode;
	ch->min_size = d->min_size;
	switch (d->path.kind) {
	case PATH_NONE:
		ch->kind = d->id == DEV_SYSIMAGE ? PROTO_CHAN_IMAGE :
			   d->dir == PROTO_READ ? PROTO_CHAN_EMPTY :
			   PROTO_CHAN_IMMEDIATE;
		if (d->id == DEV_SYSIMAGE)
			ch->path = (char *)d->name;
		if (ch->kind == PROTO_CHAN_IMMEDIATE && !ch->content_type)
			ch->content_type = "text/html";
		break;
	case PATH_FILE:
		ch->kind = PROTO_CHAN_IMAGE;
		ch->path = (char *)shared[2 * k + 1];
		break;
	case PATH_ZVM:
		ch->kind = PROTO_CHAN_PIPE_OUT;
		ch->peer = c->g[d->zvm_group].first;
		ch->content_type = NULL;
		break;
	case PATH_SWIFT:
		ch->kind = d->path.object ? PROTO_CHAN_OBJECT :
			   PROTO_CHAN_CONTAINER;
		if ((long)k == g->wild_dev) {
			ch->path = (char *)g->matches[j].path;
		} else if (d->dir == PROTO_WRITE && strchr(d->path.url, '*')) {
			ch->path = (char *)out_path(c, g, d, j, in->name);
			if (!ch->path)
				return -1;
		} else {
			ch->path = (char *)shared[2 * k + 1];
		}
		if (d->dir == PROTO_WRITE && !ch->content_type)
			ch->content_type = "application/octet-stream";
		break;
	}
	set_limits(ch);
	return 0;
}

static void fill_std(struct proto_instance *in)
{
	static const char *const dev[3] = { "stdin", "stdout", "stderr" };
	static const char *const alias[3] = {
		"/dev/stdin", "/dev/stdout", "/dev/stderr"
	};
	size_t s;

	for (s = 0; s < 3; s++) {
		struct proto_channel *ch = &in->channels[s];

		if (ch->device)
			continue;
		ch->device = (char *)dev[s];
		ch->alias = (char *)alias[s];
		ch->kind = PROTO_CHAN_EMPTY;
		ch->dir = s == 0 ? PROTO_READ : PROTO_WRITE;
		ch->type = PROTO_SGET_SPUT;
		set_limits(ch);
	}
}

static void fill_pipe(struct proto_channel *ch, enum proto_chan_kind kind,
		      const char *alias, size_t peer)
{
	ch->kind = kind;
	ch->alias = (char *)alias;
	ch->device = (char *)alias + 5;
	ch->dir = kind == PROTO_CHAN_PIPE_IN ? PROTO_READ : PROTO_WRITE;
	ch->type = PROTO_SGET_SPUT;
	ch->peer = peer;
	ch->peer_chan = PROTO_UNLINKED;
	set_limits(ch);
}

/* Strings every instance of a group shares: per device its alias and,
 * when the path is the same for all, the path. */
static const char **group_shared(struct jctx *c, const struct jgroup *g)
{
	const char **s = arena_alloc(c->a, (2 * g->ndev + 1) * sizeof(char *));
	size_t k;

	if (!s)
		return joom(c), NULL;
	for (k = 0; k < g->ndev; k++) {
		const struct jdev *d = &g->devs[k];

		s[2 * k] = arena_printf(c->a, "/dev/%s", d->name);
		if (!s[2 * k])
			return joom(c), NULL;
		if (d->path.kind == PATH_SWIFT && !d->path.wild)
			s[2 * k + 1] = plain_path(c, &d->path);
		else if (d->path.kind == PATH_FILE)
			s[2 * k + 1] = arena_printf(c->a, "%s:%s", d->path.image,
						    d->path.file);
		else
			continue;
		if (!s[2 * k + 1])
			return joom(c), NULL;
	}
	return s;
}

static int placement(struct jctx *c, const struct jgroup *g,
		     const struct proto_instance *in, long *out)
{
	size_t k;

	*out = -1;
	if (g->attach) {
		for (k = 0; k < g->ndev; k++)
			if (strcmp(g->devs[k].name, g->attach) == 0)
				break;
		where_group(c, g);
		if (k == g->ndev)
			return jerr(c, PROTO_EBADJOB, "attach: no device "
				    "\"%.64s\" in this group", g->attach);
		if (g->devs[k].path.kind != PATH_SWIFT)
			return jerr(c, PROTO_EBADJOB, "attach: device \"%s\" "
				    "has no swift:// path", g->attach);
		*out = (long)g->devs[k].slot;
		return 0;
	}
	for (k = 0; k < in->nchannels; k++) {
		const struct proto_channel *ch = &in->channels[k];

		if ((ch->dir & PROTO_READ) && (ch->kind == PROTO_CHAN_OBJECT ||
					       ch->kind == PROTO_CHAN_CONTAINER)) {
			*out = (long)k;
			break;
		}
	}
	return 0;
}

/*
 * A zvm:// pipe joins a named device of the writer to a named device of
 * the reader: link the two ends by channel index. Order cannot do it (a
 * writer's stderr may feed the reader's stdin and its stdout a later
 * device); connect pipes are linked by order (plan_link_pipes).
 */
static void link_zvm(struct jctx *c, struct proto_plan *plan)
{
	for (size_t t = 0; t < c->ng; t++) {
		const struct jgroup *g = &c->g[t];

		for (size_t k = 0; k < g->nzin; k++) {
			const struct jgroup *wg = &c->g[g->zin[k].group];
			size_t wslot = wg->devs[g->zin[k].dev].slot;
			size_t rslot = g->zin[k].slot;

			plan->inst[g->first].channels[rslot].peer_chan = wslot;
			plan->inst[wg->first].channels[wslot].peer_chan = rslot;
		}
	}
}

static int build_instances(struct jctx *c, struct proto_plan *plan)
{
	const char **in_alias, **out_alias;
	size_t gi, i, j, k, t, s;

	in_alias = arena_alloc(c->a, plan->ninst * sizeof(char *) + 1);
	out_alias = arena_alloc(c->a, plan->ninst * sizeof(char *) + 1);
	if (!in_alias || !out_alias)
		return joom(c);
	for (gi = 0; gi < c->ng; gi++) {
		const struct jgroup *g = &c->g[gi];

		for (j = 0; j < g->ninst; j++) {
			struct proto_instance *in = &plan->inst[g->first + j];

			char num[24];

			snprintf(num, sizeof(num), "%zu", j + 1);
			in->name = g->numbered ?
				   arena_cat(c->a, g->name, "-", num, NULL) :
				   (char *)g->name;
			if (!in->name)
				return joom(c);
			in_alias[g->first + j] =
				arena_cat(c->a, "/dev/in/", in->name, NULL);
			out_alias[g->first + j] =
				arena_cat(c->a, "/dev/out/", in->name, NULL);
			if (!in_alias[g->first + j] || !out_alias[g->first + j])
				return joom(c);
		}
	}
	for (gi = 0; gi < c->ng; gi++) {
		const struct jgroup *g = &c->g[gi];
		size_t nout = pipes_out(c, g), nin = pipes_in(c, gi);
		const char **shared = group_shared(c, g);
		long place = -1;

		if (!shared)
			return -1;
		for (j = 0; j < g->ninst; j++) {
			size_t me = g->first + j;
			struct proto_instance *in = &plan->inst[me];
			struct proto_channel *ch;

			in->group = gi;
			in->exec_kind = g->exec_kind;
			in->exec_path = (char *)g->exec_path;
			in->argv = g->argv;
			in->argc = g->argc;
			in->env = g->env;
			in->nenv = g->nenv;
			in->replicate = g->replicate;
			in->deterministic = g->deterministic;
			in->memory_etag = g->memory_etag;
			in->location = (char *)g->location;
			in->nchannels = g->nslots + nout + nin;
			in->channels = arena_alloc(c->a, in->nchannels *
						   sizeof(*in->channels));
			if (!in->channels)
				return joom(c);
			for (k = 0; k < g->ndev; k++)
				if (fill_device(c, g, k, j, in, shared) < 0)
					return -1;
			for (k = 0; k < g->nzin; k++)
				fill_pipe(&in->channels[g->zin[k].slot],
					  PROTO_CHAN_PIPE_IN, g->zin[k].alias,
					  c->g[g->zin[k].group].first);
			fill_std(in);
			ch = &in->channels[g->nslots];
			for (k = 0; k < g->nconnect; k++) {
				const struct jgroup *tg = &c->g[g->connect[k]];

				for (t = tg->first; t < tg->first + tg->ninst; t++)
					if (t != me)
						fill_pipe(ch++, PROTO_CHAN_PIPE_OUT,
							  out_alias[t], t);
			}
			for (s = 0; s < c->ng; s++)
				for (k = 0; k < c->g[s].nconnect; k++) {
					const struct jgroup *sg = &c->g[s];

					if (sg->connect[k] != gi)
						continue;
					for (i = sg->first;
					     i < sg->first + sg->ninst; i++)
						if (i != me)
							fill_pipe(ch++,
								  PROTO_CHAN_PIPE_IN,
								  in_alias[i], i);
				}
			if (j == 0 && placement(c, g, in, &place) < 0)
				return -1;
			in->placement = place;
		}
	}
	link_zvm(c, plan);
	if (plan_link_pipes(plan, c->err))
		return -1;
	return 0;
}

/* Refuse a plan too big to hold before allocating it. */
static int check_channels(struct jctx *c)
{
	size_t i, total = 0;

	for (i = 0; i < c->ng; i++) {
		const struct jgroup *g = &c->g[i];
		size_t per = g->nslots + pipes_out(c, g) + pipes_in(c, i);

		if (per && g->ninst > (c->lim.max_channels - total) / per)
			return jerr(c, PROTO_ETOOLARGE,
				    "job needs more than %zu channels (pipes "
				    "between instances included; group \"%s\" "
				    "alone has %zu x %zu)", c->lim.max_channels,
				    g->name, g->ninst, per);
		total += g->ninst * per;
	}
	return 0;
}

int job_build(struct jctx *c, struct proto_plan *plan)
{
	size_t i, total;

	if (resolve_names(c) < 0 || check_cycles(c) < 0 ||
	    count_instances(c, &total) < 0 || check_name_clash(c) < 0 ||
	    wire_zvm(c) < 0 || check_groups(c) < 0 || check_channels(c) < 0)
		return -1;
	plan->ngroups = c->ng;
	plan->groups = arena_alloc(c->a, c->ng * sizeof(char *));
	plan->ninst = total;
	plan->inst = arena_alloc(c->a, total * sizeof(*plan->inst));
	if (!plan->groups || !plan->inst)
		return joom(c);
	for (i = 0; i < c->ng; i++)
		plan->groups[i] = (char *)c->g[i].name;
	return build_instances(c, plan);
}

/* ---------------------------------------------------------- public */

int proto_job_plan(const char *json, size_t len, const char *account,
		   const char *const *sysimages, size_t nsysimages,
		   const struct proto_limits *limits,
		   const struct proto_store *store,
		   struct proto_plan **out, struct proto_error *err)
{
	struct jctx c = { .err = err, .sysimages = sysimages,
			  .nsysimages = sysimages ? nsysimages : 0,
			  .store = store };
	struct proto_limits def;
	struct proto_plan *plan;

	*out = NULL;
	proto_limits_default(&def);
	c.lim = limits ? *limits : def;
	if (!c.lim.max_job_size)
		c.lim.max_job_size = def.max_job_size;
	if (!c.lim.max_groups)
		c.lim.max_groups = def.max_groups;
	if (!c.lim.max_instances)
		c.lim.max_instances = def.max_instances;
	if (!c.lim.max_devices)
		c.lim.max_devices = def.max_devices;
	if (!c.lim.max_channels)
		c.lim.max_channels = def.max_channels;
	if (!account || job_name_problem(account, false, false))
		return proto_error_set(err, PROTO_EBADJOB,
				       "requesting account \"%.64s\" is not a "
				       "valid account name",
				       account ? account : "(null)");
	plan = calloc(1, sizeof(*plan));
	if (!plan || !(plan->arena = c.a = arena_new())) {
		free(plan);
		return proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	}
	c.account = plan->account = arena_strdup(c.a, account);
	if (!c.account) {
		joom(&c);
		goto fail;
	}
	if (json == NULL)
		json = "";
	pbuf_init(&c.scratch);
	if (job_parse(&c, json, len) < 0 || job_build(&c, plan) < 0)
		goto fail;
	free(pbuf_take(&c.scratch));
	*out = plan;
	return 0;
fail:
	free(pbuf_take(&c.scratch));
	proto_plan_free(plan);
	return -1;
}

size_t proto_plan_bytes(const struct proto_plan *plan)
{
	return plan ? arena_bytes(plan->arena) : 0;
}

void proto_plan_free(struct proto_plan *plan)
{
	if (!plan)
		return;
	arena_free(plan->arena);
	free(plan);
}
