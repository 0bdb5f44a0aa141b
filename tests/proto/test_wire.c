/* Unit tests of the cluster wire protocol: plan and task JSON, edges,
 * frames and signatures (proto/wire.c, frame.c, sign.c, edges.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_store.h"
#include "proto.h"

#define J(...) #__VA_ARGS__

static const char *const objects[] = {
	"acct/bin/", "acct/bin/wc", "acct/in/a.txt", "acct/in/b.txt",
	"acct/books/moby.txt", "acct/books/alice.txt", "acct/books/x.txt",
};
static struct mock_store store_data = { objects, 7, 0 };
static const struct proto_store store = { mock_list, &store_data };
static const char *const sysimages[] = { "python", "lua" };

static struct proto_plan *plan_of(const char *job)
{
	struct proto_plan *p = NULL;
	struct proto_error err = { 0 };

	cr_assert_eq(proto_job_plan(job, strlen(job), "acct", sysimages, 2,
				    NULL, &store, &p, &err), 0, "%s", err.msg);
	return p;
}

static const char *const jobs[] = {
	J([{"name": "hello", "exec": {"path": "swift://~/bin/wc"},
	    "devices": [{"name": "stdout"}]}]),
	J([{"name": "map", "exec": {"path": "swift://~/bin/wc",
				   "args": "--map -n 'a b' \\xff\\x01"},
	    "connect": ["reduce"],
	    "devices": [{"name": "stdin", "path": "swift://~/books/*.txt"}]},
	   {"name": "reduce", "count": 2, "exec": {"path": "swift://~/bin/wc"},
	    "devices": [{"name": "stdout", "path": "swift://~/out/c-*.txt",
			 "content_type": "text/plain"}]}]),
	J([{"name": "a", "attach": "input", "replicate": 2, "location": "r1",
	    "exec": {"path": "file://python:bin/python", "name": "py",
		     "deterministic": false, "memory_etag": true,
		     "env": {"A": "1", "B": "x=y \"q\" \u00e9"}},
	    "devices": [{"name": "stdin"}, {"name": "stdout"},
			{"name": "stderr", "content_type": "text/plain"},
			{"name": "input", "path": "swift://./in/a.txt",
			 "mode": "file", "min_size": 3},
			{"name": "output", "path": "swift://~/out/r.bin",
			 "meta": {"Color": "blue", "Size": "\u00e9"}},
			{"name": "image", "path": "file://lua:lib/l.tar"},
			{"name": "python"}]}]),
	J([{"name": "s", "count": 3, "exec": {"path": "swift://~/bin/wc"},
	    "connect": ["s", "t"]},
	   {"name": "t", "exec": {"path": "swift://~/bin/wc"}},
	   {"name": "gen", "exec": {"path": "file://bin/gen"},
	    "devices": [{"name": "stdout", "path": "zvm://sink:err"},
			{"name": "stderr", "path": "zvm://sink:/dev/stdin"}]},
	   {"name": "sink", "exec": {"path": "swift://~/bin/wc"}}]),
};

static void chan_eq(const struct proto_channel *a, const struct proto_channel *b)
{
	cr_expect_str_eq(a->device, b->device);
	cr_expect_str_eq(a->alias, b->alias);
	cr_expect_eq(a->kind, b->kind);
	cr_expect_eq(a->dir, b->dir);
	cr_expect_eq(a->type, b->type);
	cr_expect_eq(!a->path, !b->path);
	if (a->path)
		cr_expect_str_eq(a->path, b->path);
	cr_expect_eq(a->peer, b->peer);
	cr_expect_eq(a->peer_chan, b->peer_chan);
	cr_expect_eq(!a->content_type, !b->content_type);
	if (a->content_type)
		cr_expect_str_eq(a->content_type, b->content_type);
	cr_assert_eq(a->nmeta, b->nmeta);
	for (size_t m = 0; m < a->nmeta; m++) {
		cr_expect_str_eq(a->meta[m].key, b->meta[m].key);
		cr_expect_str_eq(a->meta[m].value, b->meta[m].value);
	}
	cr_expect_eq(!a->mode, !b->mode);
	if (a->mode)
		cr_expect_str_eq(a->mode, b->mode);
	cr_expect_eq(a->min_size, b->min_size);
	cr_expect_eq(a->gets, b->gets);
	cr_expect_eq(a->get_size, b->get_size);
	cr_expect_eq(a->puts, b->puts);
	cr_expect_eq(a->put_size, b->put_size);
}

static void plan_eq(const struct proto_plan *a, const struct proto_plan *b)
{
	cr_expect_str_eq(a->account, b->account);
	cr_assert_eq(a->ngroups, b->ngroups);
	for (size_t g = 0; g < a->ngroups; g++)
		cr_expect_str_eq(a->groups[g], b->groups[g]);
	cr_assert_eq(a->ninst, b->ninst);
	for (size_t i = 0; i < a->ninst; i++) {
		const struct proto_instance *x = &a->inst[i], *y = &b->inst[i];

		cr_expect_str_eq(x->name, y->name);
		cr_expect_eq(x->group, y->group);
		cr_expect_eq(x->exec_kind, y->exec_kind);
		cr_expect_str_eq(x->exec_path, y->exec_path);
		cr_assert_eq(x->argc, y->argc);
		for (size_t k = 0; k < x->argc; k++)
			cr_expect_str_eq(x->argv[k], y->argv[k]);
		cr_expect_null(y->argv[y->argc]);
		cr_assert_eq(x->nenv, y->nenv);
		for (size_t k = 0; k < x->nenv; k++)
			cr_expect_str_eq(x->env[k], y->env[k]);
		cr_expect_null(y->env[y->nenv]);
		cr_expect_eq(x->placement, y->placement);
		cr_expect_eq(x->replicate, y->replicate);
		cr_expect_eq(x->deterministic, y->deterministic);
		cr_expect_eq(x->memory_etag, y->memory_etag);
		cr_expect_eq(!x->location, !y->location);
		if (x->location)
			cr_expect_str_eq(x->location, y->location);
		cr_assert_eq(x->nchannels, y->nchannels);
		for (size_t k = 0; k < x->nchannels; k++)
			chan_eq(&x->channels[k], &y->channels[k]);
	}
}

Test(wire, plan_round_trip)
{
	for (size_t j = 0; j < sizeof(jobs) / sizeof(jobs[0]); j++) {
		struct proto_plan *p = plan_of(jobs[j]), *q = NULL;
		struct proto_error err = { 0 };
		char *s = proto_plan_to_json(p), *t;

		cr_assert_not_null(s);
		cr_assert_eq(proto_plan_from_json(s, strlen(s), NULL, &q, &err),
			     0, "job %zu: %s\n%s", j, err.msg, s);
		plan_eq(p, q);
		t = proto_plan_to_json(q);
		cr_expect_str_eq(s, t);
		free(s);
		free(t);
		proto_plan_free(p);
		proto_plan_free(q);
	}
}

Test(wire, argv_bytes_survive)
{
	struct proto_plan *p = plan_of(jobs[1]), *q = NULL;
	struct proto_error err = { 0 };
	char *s = proto_plan_to_json(p);

	cr_assert(strstr(s, "{\"hex\":\"ff01\"}"), "%s", s);
	/* A connect pipe travels with defaults only: /dev/in/map-1, dir 1,
	 * limits of a readable channel (plan_eq checks they come back). */
	cr_assert(strstr(s, "{\"kind\":\"pipe_in\",\"peer\":0,"
			 "\"peer_chan\":3}"), "%s", s);
	cr_assert_eq(proto_plan_from_json(s, strlen(s), NULL, &q, &err), 0,
		     "%s", err.msg);
	cr_expect_str_eq(q->inst[0].argv[q->inst[0].argc - 1], "\xff\x01");
	free(s);
	proto_plan_free(p);
	proto_plan_free(q);
}

/* ---------------------------------------------------------------- edges */

static const struct proto_channel *by_alias(const struct proto_instance *in,
					    const char *alias, size_t *k)
{
	for (*k = 0; *k < in->nchannels; (*k)++)
		if (strcmp(in->channels[*k].alias, alias) == 0)
			return &in->channels[*k];
	cr_assert_fail("%s has no %s", in->name, alias);
	return NULL;
}

static size_t inst_of(const struct proto_plan *p, const char *name)
{
	for (size_t i = 0; i < p->ninst; i++)
		if (strcmp(p->inst[i].name, name) == 0)
			return i;
	cr_assert_fail("no instance %s", name);
	return 0;
}

/* The writer end (w, walias) feeds the reader end (r, ralias). */
static void expect_edge(const struct proto_plan *p, const struct proto_edge *e,
			size_t n, const char *w, const char *walias,
			const char *r, const char *ralias)
{
	size_t wi = inst_of(p, w), ri = inst_of(p, r), wk, rk;
	const struct proto_edge *f;

	by_alias(&p->inst[wi], walias, &wk);
	by_alias(&p->inst[ri], ralias, &rk);
	f = proto_edge_find(e, n, wi, wk);
	cr_assert_not_null(f, "no edge from %s %s", w, walias);
	cr_expect_eq(f->reader, ri, "%s %s", w, walias);
	cr_expect_eq(f->rchan, rk, "%s %s goes to channel %zu, not %s (%zu)", w,
		     walias, f->rchan, ralias, rk);
}

/* zvm:// pipes pair by device, not by order: gen's stdout feeds sink's
 * /dev/err although its stderr feeds sink's stdin, which comes first. */
Test(edges, zvm_pairs_by_device)
{
	struct proto_plan *p = plan_of(jobs[3]);
	struct proto_error err = { 0 };
	struct proto_edge *e;
	size_t n;

	cr_assert_eq(proto_plan_edges(p, &e, &n, &err), 0, "%s", err.msg);
	expect_edge(p, e, n, "gen", "/dev/stdout", "sink", "/dev/err");
	expect_edge(p, e, n, "gen", "/dev/stderr", "sink", "/dev/stdin");
	expect_edge(p, e, n, "s-1", "/dev/out/s-2", "s-2", "/dev/in/s-1");
	expect_edge(p, e, n, "s-3", "/dev/out/t", "t", "/dev/in/s-3");
	/* 3*2 all-to-all + 3 to t + 2 zvm */
	cr_expect_eq(n, 11);
	for (size_t i = 1; i < n; i++)
		cr_expect(e[i - 1].writer < e[i].writer ||
			  (e[i - 1].writer == e[i].writer &&
			   e[i - 1].wchan < e[i].wchan), "edges out of order");
	free(e);
	proto_plan_free(p);
}

/* A writer with a zvm:// pipe and a connect pipe to the same reader, next
 * to another writer's zvm:// pipe that lands between them: each end still
 * meets its own partner. */
Test(edges, zvm_and_connect_to_one_reader)
{
	struct proto_plan *p = plan_of(J(
		[{"name": "h", "exec": {"path": "swift://~/bin/wc"},
		  "devices": [{"name": "stdout", "path": "zvm://j:data"}]},
		 {"name": "i", "exec": {"path": "swift://~/bin/wc"},
		  "connect": ["j"],
		  "devices": [{"name": "stdout", "path": "zvm://j:stdin"}]},
		 {"name": "j", "exec": {"path": "swift://~/bin/wc"}}]));
	struct proto_error err = { 0 };
	struct proto_edge *e;
	size_t n;

	cr_assert_eq(proto_plan_edges(p, &e, &n, &err), 0, "%s", err.msg);
	cr_expect_eq(n, 3);
	expect_edge(p, e, n, "h", "/dev/stdout", "j", "/dev/data");
	expect_edge(p, e, n, "i", "/dev/stdout", "j", "/dev/stdin");
	expect_edge(p, e, n, "i", "/dev/out/j", "j", "/dev/in/i");
	free(e);
	proto_plan_free(p);
}

Test(edges, broken_pairing_is_refused)
{
	struct proto_plan *p = plan_of(jobs[1]);
	struct proto_error err = { 0 };
	size_t k;

	by_alias(&p->inst[0], "/dev/out/reduce-1", &k);
	p->inst[0].channels[k].peer_chan = 0;
	cr_assert_eq(proto_plan_edges(p, NULL, NULL, &err), -1);
	cr_expect(strstr(err.msg, "map-1, /dev/out/reduce-1: writes to "
			 "/dev/stdin of reduce-1, which does not pair back"),
		  "%s", err.msg);
	proto_plan_free(p);
}

/* ------------------------------------------------------- malformed plans */

#define CH_STDIN "{\"device\":\"stdin\",\"alias\":\"/dev/stdin\",\"kind\":\"empty\"," \
	"\"dir\":1,\"type\":0,\"gets\":1,\"get_size\":1,\"puts\":0,\"put_size\":0}"
#define INST(name, extra, chans) "{\"name\":\"" name "\",\"group\":0," \
	"\"exec_kind\":\"object\",\"exec_path\":\"a/b/c\",\"argv\":[\"g\"]," \
	"\"env\":[],\"placement\":-1,\"replicate\":1" extra ",\"channels\":[" \
	chans "]}"
#define PLAN(insts) "{\"account\":\"a\",\"groups\":[\"g\"],\"inst\":[" insts "]}"
#define OUT(peer, pc) "{\"device\":\"out/x\",\"alias\":\"/dev/out/x\"," \
	"\"kind\":\"pipe_out\",\"dir\":2,\"type\":0,\"peer\":" peer \
	",\"peer_chan\":" pc ",\"gets\":0,\"get_size\":0,\"puts\":1,\"put_size\":1}"
#define IN(peer, pc) "{\"device\":\"in/x\",\"alias\":\"/dev/in/x\"," \
	"\"kind\":\"pipe_in\",\"dir\":1,\"type\":0,\"peer\":" peer \
	",\"peer_chan\":" pc ",\"gets\":1,\"get_size\":1,\"puts\":0,\"put_size\":0}"

struct bad_case {
	const char *text;
	const char *msg;
};

static const struct bad_case bad_plans[] = {
	{ "", "plan is not valid JSON: line 1, column 0" },
	{ "[]", "plan: must be an object, not an array" },
	{ "{\"account\":\"a\",\"groups\":[\"g\"]}", "plan.inst: missing" },
	{ "{\"account\":\"a\",\"groups\":[\"g\"],\"inst\":[],\"x\":1}",
	  "plan: unknown field \"x\"" },
	{ "{\"account\":\"\",\"groups\":[\"g\"],\"inst\":[]}",
	  "plan.account: must not be empty" },
	{ "{\"account\":\"a\",\"groups\":[],\"inst\":[]}",
	  "plan.groups: has 0 entries (1.." },
	{ "{\"account\":\"a\",\"groups\":[\"g\"],\"inst\":[]}",
	  "plan.inst: has 0 entries (1..10000 allowed)" },
	{ "{\"account\":\"a\",\"groups\":[1],\"inst\":[]}",
	  "plan.groups[0]: must be a string without NUL, not an integer" },
	{ PLAN("{\"name\":\"g\"}"), "plan.inst[0].group: missing" },
	{ PLAN(INST("g", ",\"group\":1", CH_STDIN)),
	  "plan is not valid JSON" /* a duplicate key */ },
	{ "{\"account\":\"a\",\"groups\":[\"g\"],\"inst\":[{\"name\":\"g\","
	  "\"group\":3}]}", "plan.inst[0].group: 3 is out of range (1 groups)" },
	{ PLAN(INST("g", "", CH_STDIN "," CH_STDIN)) "x",
	  "plan is not valid JSON" },
	{ PLAN(INST("g", ",\"memory_etag\":1", CH_STDIN)),
	  "plan.inst[0].memory_etag: must be true or false, not an integer" },
	{ PLAN(INST("g", ",\"location\":5", CH_STDIN)),
	  "plan.inst[0].location: must be a string without NUL, not an integer" },
	{ PLAN(INST("a\\u0000b", "", CH_STDIN)), "plan is not valid JSON" },
	{ PLAN(INST("g", "", "{\"device\":\"stdin\"}")),
	  "plan.inst[0].channels[0].kind: missing" },
	{ PLAN(INST("g", "", "{\"kind\":\"empty\",\"device\":\"stdin\"}")),
	  "plan.inst[0].channels[0].alias: missing" },
	{ PLAN(INST("g", "", "{\"kind\":\"empty\",\"alias\":\"stdin\",\"dir\":1}")),
	  "plan.inst[0].channels[0].device: missing" },
	{ PLAN(INST("g", "", "{\"kind\":\"empty\",\"alias\":\"/dev/x\"}")),
	  "plan.inst[0].channels[0].dir: missing" },
	{ PLAN(INST("g", "", "{\"kind\":\"pipe_in\",\"dir\":2,\"peer\":1,\"peer_chan\":0}")),
	  "plan.inst[0].channels[0].dir: must be 1 for a pipe_in channel" },
	{ PLAN(INST("g", "", "{\"device\":\"x\",\"alias\":\"/dev/x\",\"kind\":\"tube\"}")),
	  "plan.inst[0].channels[0].kind: must be one of the known names, not a string \"tube\"" },
	{ PLAN(INST("g", "", "{\"device\":\"x\",\"alias\":\"/dev/x\",\"kind\":\"empty\",\"dir\":4}")),
	  "plan.inst[0].channels[0].dir: 4 is out of range (1..3)" },
	{ PLAN(INST("g", "", "{\"device\":\"x\",\"alias\":\"/dev/x\",\"kind\":\"object\",\"dir\":1,\"type\":1}")),
	  "plan.inst[0].channels[0].path: missing (a object channel has one)" },
	{ PLAN(INST("g", "", "{\"device\":\"x\",\"alias\":\"/dev/x\",\"kind\":\"empty\",\"dir\":1,\"type\":0,\"peer\":0}")),
	  "plan.inst[0].channels[0]: only pipe channels have a peer" },
	{ PLAN(INST("g", "", "{\"device\":\"x\",\"alias\":\"/dev/x\",\"kind\":\"empty\",\"dir\":1,\"type\":0,\"mode\":\"fifo\"}")),
	  "plan.inst[0].channels[0].mode: must be file, char, pipe or block, not \"fifo\"" },
	{ PLAN(INST("g", "", "{\"device\":\"x\",\"alias\":\"/dev/x\",\"kind\":\"empty\",\"dir\":1,\"type\":0,\"gets\":4294967297}")),
	  "plan.inst[0].channels[0].gets: 4294967297 is out of range (0..4294967296)" },
	{ PLAN(INST("g", "", "{\"device\":\"x\",\"alias\":\"/dev/x\",\"kind\":\"empty\",\"dir\":1,\"type\":0,\"gets\":1.5}")),
	  "plan.inst[0].channels[0].gets: must be an integer, not a number" },
	{ PLAN(INST("g", "", "{\"device\":\"x\",\"alias\":\"/dev/x\",\"kind\":\"empty\",\"dir\":1,\"type\":0,\"meta\":[[\"\",\"v\"]]}")),
	  "plan.inst[0].channels[0].meta[0]: must be a pair of strings [key, value], key not empty" },
	{ PLAN(INST("g", "", CH_STDIN) "," INST("h", "", OUT("9", "0"))),
	  "plan.inst[1].channels[0].peer: 9 is out of range (2 instances)" },
	{ PLAN(INST("g", "", CH_STDIN) "," INST("h", "", OUT("1", "0"))),
	  "plan.inst[1].channels[0].peer: 1 is the instance itself" },
	{ PLAN(INST("g", "", CH_STDIN) "," INST("h", "", OUT("0", "7"))),
	  "plan.inst[1].channels[0].peer_chan: 7 is out of range (inst[0] has 1 channels)" },
	{ PLAN(INST("g", "", CH_STDIN) "," INST("h", "", OUT("0", "0"))),
	  "plan: h, /dev/out/x: writes to /dev/stdin of g, which does not pair back" },
	{ PLAN(INST("g", "", IN("1", "0")) "," INST("h", "", IN("0", "0"))),
	  "plan: g, /dev/in/x: reads from /dev/in/x of h, which does not pair back" },
	{ PLAN(INST("g", "", OUT("1", "0")) "," INST("h", "", IN("0", "0"))), NULL },
	{ PLAN(INST("g", "", OUT("1", "\"0\"")) "," INST("h", "", IN("0", "0"))),
	  "plan.inst[0].channels[0].peer_chan: must be an integer, not a string" },
	{ PLAN(INST("g", "", "{\"device\":\"x\",\"alias\":\"/dev/x\",\"kind\":\"pipe_in\",\"dir\":1,\"type\":0,\"gets\":1,\"get_size\":1,\"puts\":0,\"put_size\":0}")),
	  "plan.inst[0].channels[0].peer: missing" },
	{ "{\"account\":\"a\",\"groups\":[\"g\"],\"inst\":[{\"name\":\"g\",\"group\":0,"
	  "\"exec_kind\":\"object\",\"exec_path\":\"a/b/c\",\"argv\":[],\"env\":[],"
	  "\"replicate\":1,\"channels\":[]}]}",
	  "plan.inst[0].argv: has 0 entries" },
	{ "{\"account\":\"a\",\"groups\":[\"g\"],\"inst\":[{\"name\":\"g\",\"group\":0,"
	  "\"exec_kind\":\"object\",\"exec_path\":\"a/b/c\",\"argv\":[\"x\"],\"env\":[\"NOEQ\"],"
	  "\"replicate\":1,\"channels\":[]}]}",
	  "plan.inst[0].env[0]: must be KEY=VALUE" },
	{ "{\"account\":\"a\",\"groups\":[\"g\"],\"inst\":[{\"name\":\"g\",\"group\":0,"
	  "\"exec_kind\":\"object\",\"exec_path\":\"a/b/c\",\"argv\":[\"x\"],\"env\":[],"
	  "\"replicate\":1,\"channels\":[],\"placement\":0}]}",
	  "plan.inst[0].placement: 0 is out of range (-1..-1)" },
	{ "{\"account\":\"a\",\"groups\":[\"g\"],\"inst\":[{\"name\":\"g\",\"group\":0,"
	  "\"exec_kind\":\"elf\"}]}",
	  "plan.inst[0].exec_kind: must be one of the known names, not a string \"elf\"" },
	{ "{\"account\":\"a\",\"groups\":[\"g\"],\"inst\":[{\"name\":{\"hex\":\"0\"},\"group\":0}]}",
	  "plan.inst[0].name: must be a string without NUL, not an object" },
	{ "{\"account\":\"a\",\"groups\":[\"g\"],\"inst\":[{\"name\":{\"hex\":\"6100\"},\"group\":0}]}",
	  "plan.inst[0].name: must be a string without NUL, not an object" },
};

Test(wire, malformed_plans)
{
	for (size_t i = 0; i < sizeof(bad_plans) / sizeof(bad_plans[0]); i++) {
		const struct bad_case *c = &bad_plans[i];
		struct proto_plan *p = NULL;
		struct proto_error err = { 0 };
		int rc = proto_plan_from_json(c->text, strlen(c->text), NULL, &p,
					      &err);

		if (!c->msg) { /* the control case: valid */
			cr_expect_eq(rc, 0, "case %zu: %s", i, err.msg);
			proto_plan_free(p);
			continue;
		}
		cr_expect_eq(rc, -1, "case %zu accepted: %s", i, c->text);
		cr_expect_null(p);
		cr_expect(strstr(err.msg, c->msg), "case %zu: got \"%s\", want "
			  "\"%s\"", i, err.msg, c->msg);
		cr_expect(err.kind == PROTO_EBADJOB || err.kind ==
			  PROTO_EUNPARSABLE, "case %zu: kind %d", i, err.kind);
		proto_plan_free(p);
	}
}

Test(wire, plan_limits)
{
	struct proto_plan *p = plan_of(jobs[1]), *q = NULL;
	struct proto_limits lim = { .max_channels = 10 };
	struct proto_error err = { 0 };
	char *s = proto_plan_to_json(p);

	cr_assert_eq(proto_plan_from_json(s, strlen(s), &lim, &q, &err), -1);
	cr_expect(strstr(err.msg, "channels: has"), "%s", err.msg);
	lim = (struct proto_limits){ .max_instances = 2 };
	cr_assert_eq(proto_plan_from_json(s, strlen(s), &lim, &q, &err), -1);
	cr_expect(strstr(err.msg, "plan.inst: has 5 entries (1..2 allowed)"),
		  "%s", err.msg);
	free(s);
	proto_plan_free(p);
}

/* ----------------------------------------------------------------- task */

static struct proto_node nodes[] = {
	{ "127.0.0.2:8090", "127.0.0.2:8091" },
	{ "127.0.0.3:8090", "127.0.0.3:8091" },
	{ "[::1]:8090", "[::1]:8091" },
};
static struct proto_object objs[] = {
	{ "acct/books/x.txt", "d41d8cd98f00b204e9800998ecf8427e", 0,
	  "1700000000.12345", 0 },
	{ "acct/bin/wc", "\"0123\"", 123, "1700000000.00001_000000000000000a",
	  2 },
};

static char *task_json(struct proto_plan *p, size_t *placement)
{
	struct proto_task t = {
		.version = 1, .job = "c2-17", .account = "acct",
		.token = "AUTH_tk0123", .self = 1, .nodes = nodes, .nnodes = 3,
		.placement = placement, .objects = objs, .nobjects = 2,
		.plan = p,
	};
	struct proto_error err = { 0 };
	char *s = proto_task_to_json(&t, &err);

	cr_assert_not_null(s, "%s", err.msg);
	return s;
}

Test(wire, task_round_trip)
{
	struct proto_plan *p = plan_of(jobs[1]);
	size_t placement[5] = { 0, 1, 2, 1, 0 };
	char *s = task_json(p, placement), *s2;
	struct proto_task *t = NULL;
	struct proto_error err = { 0 };
	const struct proto_object *o;

	cr_assert_eq(proto_task_from_json(s, strlen(s), NULL, &t, &err), 0,
		     "%s\n%s", err.msg, s);
	cr_expect_eq(t->version, 1);
	cr_expect_str_eq(t->job, "c2-17");
	cr_expect_str_eq(t->token, "AUTH_tk0123");
	cr_expect_eq(t->self, 1);
	cr_assert_eq(t->nnodes, 3);
	cr_expect_str_eq(t->nodes[2].edge, "[::1]:8091");
	for (size_t i = 0; i < 5; i++)
		cr_expect_eq(t->placement[i], placement[i]);
	plan_eq(p, t->plan);
	o = proto_task_object(t, "acct/bin/wc");
	cr_assert_not_null(o);
	cr_expect_str_eq(o->etag, "\"0123\"");
	cr_expect_eq(o->size, 123);
	cr_expect_eq(o->policy, 2);
	cr_expect_str_eq(o->timestamp, "1700000000.00001_000000000000000a");
	cr_expect_not_null(proto_task_object(t, "acct/books/x.txt"));
	cr_expect_null(proto_task_object(t, "acct/books/y.txt"));
	/* Decoded objects are sorted: the re-encoding is the same set. */
	t->objects[0] = objs[0];
	t->objects[1] = objs[1];
	s2 = proto_task_to_json(t, &err);
	cr_expect_str_eq(s, s2);
	free(s);
	free(s2);
	proto_task_free(t);
	proto_plan_free(p);
}

/* Each case replaces the first `from` of a valid task with `to`. */
struct task_case {
	const char *from, *to, *msg;
};

static const struct task_case bad_tasks[] = {
	{ "{\"version\":1", "{\"version\":2", "task.version: 2 is not supported (this zvmd speaks 1)" },
	{ "{\"version\":1", "{\"version\":\"1\"", "task.version: must be an integer, not a string" },
	{ "{\"version\":1,", "{\"extra\":0,\"version\":1,", "task: unknown field \"extra\"" },
	{ "\"job\":\"c2-17\"", "\"job\":\"c2 17\"", "task.job: must be 1..64 of [A-Za-z0-9._:-]" },
	{ "\"job\":\"c2-17\"", "\"job\":\"\"", "task.job: must not be empty" },
	{ "\"account\":\"acct\"", "\"account\":\"other\"", "task.account: \"other\" is not the plan's account \"acct\"" },
	{ "\"token\":\"AUTH_tk0123\"", "\"token\":\"AUTH\\r\\nX: y\"", "task.token: must be 1..4096 visible ASCII characters" },
	{ "\"token\":\"AUTH_tk0123\",", "", "task.token: missing" },
	{ "\"self\":1", "\"self\":3", "task.self: 3 is out of range (3 nodes)" },
	{ "\"self\":1", "\"self\":-1", "task.self: -1 is out of range" },
	{ "\"nodes\":[", "\"nodes\":[{\"http\":\"h\",\"edge\":\"127.0.0.1:1\"},", "task.nodes[0]: http and edge must be host:port" },
	{ "\"nodes\":[", "\"nodes\":[{\"http\":\"127.0.0.1:0\",\"edge\":\"127.0.0.1:1\"},", "task.nodes[0]: http and edge must be host:port" },
	{ "\"nodes\":[", "\"nodes\":[{\"http\":\"127.0.0.1:1\",\"edge\":\"127.0.0.1:70000\"},", "task.nodes[0]: http and edge must be host:port" },
	{ "\"nodes\":[", "\"nodes\":[{\"http\":\"127.0.0.1:1\"},", "task.nodes[0].edge: missing" },
	{ "\"nodes\":[", "\"nodes\":[{\"http\":\"a:1\",\"edge\":\"a:2\",\"tcp\":1},", "task.nodes[0]: unknown field \"tcp\"" },
	{ "\"placement\":[0,1,2,1,0]", "\"placement\":[0,1,2,1]", "task.placement: has 4 entries for 5 plan instances" },
	{ "\"placement\":[0,1,2,1,0]", "\"placement\":[0,1,3,1,0]", "task.placement[2]: must be a node index < 3" },
	{ "\"placement\":[0,1,2,1,0]", "\"placement\":[0,1,2,1,\"0\"]", "task.placement[4]: must be a node index < 3" },
	{ "\"placement\":[0,1,2,1,0]", "\"placement\":{}", "task.placement: must be an array, not an object" },
	{ "\"etag\":\"d41d8cd98f00b204e9800998ecf8427e\"", "\"etag\":\"\"", "task.objects[\"acct/books/x.txt\"].etag: must not be empty" },
	{ "\"etag\":\"d41d8cd98f00b204e9800998ecf8427e\"", "\"etag\":\"a b\"", "task.objects[\"acct/books/x.txt\"].etag: must be 1..128 visible ASCII characters" },
	{ "\"size\":123", "\"size\":-1", "task.objects[\"acct/bin/wc\"].size: -1 is out of range" },
	{ "\"timestamp\":\"1700000000.12345\"", "\"timestamp\":\"yesterday\"", "task.objects[\"acct/books/x.txt\"].timestamp: must be a Swift timestamp" },
	{ "\"policy\":2", "\"policy\":2,\"replicas\":3", "task.objects[\"acct/bin/wc\"]: unknown field \"replicas\"" },
	{ "\"acct/bin/wc\":", "\"acct/bin\":", "task.objects: \"acct/bin\" is not an acct/cont/obj path" },
	{ "\"objects\":{", "\"objects\":{\"acct/bin/wc\":{},", "task is not valid JSON" /* duplicate key */ },
	{ "\"plan\":{", "\"plan\":{\"x\":1,", "task.plan: unknown field \"x\"" },
	{ "\"peer\":3", "\"peer\":7", "task.plan.inst[0].channels[3].peer: 7 is out of range (5 instances)" },
	{ "\"inst\":[{", "\"inst\":[7,{", "task.plan.inst[0]: must be an object, not an integer" },
	{ "{\"version\":1", "[{\"version\":1", "task is not valid JSON" },
};

static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
	char *r;

	cr_assert_not_null(at, "\"%s\" is not in the task", from);
	r = malloc(n);
	snprintf(r, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return r;
}

Test(wire, malformed_tasks)
{
	struct proto_plan *p = plan_of(jobs[1]);
	size_t placement[5] = { 0, 1, 2, 1, 0 };
	char *good = task_json(p, placement);

	for (size_t i = 0; i < sizeof(bad_tasks) / sizeof(bad_tasks[0]); i++) {
		const struct task_case *c = &bad_tasks[i];
		char *s = replace(good, c->from, c->to);
		struct proto_task *t = NULL;
		struct proto_error err = { 0 };

		cr_expect_eq(proto_task_from_json(s, strlen(s), NULL, &t, &err),
			     -1, "case %zu accepted", i);
		cr_expect_null(t);
		cr_expect(strstr(err.msg, c->msg), "case %zu: got \"%s\", want "
			  "\"%s\"", i, err.msg, c->msg);
		proto_task_free(t);
		free(s);
	}
	free(good);
	proto_plan_free(p);
}

Test(wire, task_encoder_refuses_what_decoder_would)
{
	struct proto_plan *p = plan_of(jobs[0]);
	size_t placement[1] = { 5 };
	struct proto_task t = {
		.version = 1, .job = "j", .account = "acct", .token = "t",
		.self = 0, .nodes = nodes, .nnodes = 3, .placement = placement,
		.plan = p,
	};
	struct proto_error err = { 0 };

	cr_expect_null(proto_task_to_json(&t, &err));
	cr_expect_str_eq(err.msg, "task.placement[0]: 5 is out of range (3 nodes)");
	placement[0] = 0;
	t.token = "has space";
	cr_expect_null(proto_task_to_json(&t, &err));
	cr_expect(strstr(err.msg, "task.token"), "%s", err.msg);
	proto_plan_free(p);
}
