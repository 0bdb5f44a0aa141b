/* Unit tests of the job description -> execution plan (mock store). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "mock_store.h"
#include "proto.h"

/* Write JSON without escaping quotes. */
#define J(...) #__VA_ARGS__

static const char *const objects[] = {
	"acct/bin/", "acct/bin/wc", "acct/bin/sort",
	"acct/in/a.txt", "acct/in/b.txt", "acct/in/c.csv",
	"acct/books/moby.txt", "acct/books/alice.txt",
	"acct/logs-2024/jan.log", "acct/logs-2024/feb.log",
	"acct/logs-2025/mar.log", "acct/logs-x/README",
	"acct/empty/",
	"other/shared/data.bin",
};

static struct mock_store store_data = { objects, sizeof(objects) / sizeof(objects[0]), 0 };
static const struct proto_store store = { mock_list, &store_data };
static const char *const sysimages[] = { "python", "lua" };

static struct proto_plan *plan_ok(const char *json)
{
	struct proto_plan *p = NULL;
	struct proto_error err = { 0 };
	int rc = proto_job_plan(json, strlen(json), "acct", sysimages, 2, NULL,
				&store, &p, &err);

	cr_assert_eq(rc, 0, "plan failed: %s\njob: %s", err.msg, json);
	cr_assert_not_null(p);
	return p;
}

static const struct proto_channel *chan(const struct proto_instance *in,
					const char *alias)
{
	for (size_t i = 0; i < in->nchannels; i++)
		if (strcmp(in->channels[i].alias, alias) == 0)
			return &in->channels[i];
	cr_assert_fail("instance %s has no channel %s", in->name, alias);
	return NULL;
}

static void expect_std(const struct proto_instance *in)
{
	cr_assert_geq(in->nchannels, 3);
	cr_expect_str_eq(in->channels[0].alias, "/dev/stdin");
	cr_expect_str_eq(in->channels[1].alias, "/dev/stdout");
	cr_expect_str_eq(in->channels[2].alias, "/dev/stderr");
	cr_expect_str_eq(in->channels[0].device, "stdin");
	cr_expect(in->channels[0].dir & PROTO_READ);
	cr_expect(in->channels[1].dir & PROTO_WRITE);
}

/* ------------------------------------------------------------ valid */

Test(job, minimal)
{
	struct proto_plan *p = plan_ok(J([{"name": "a", "exec": {"path": "swift://~/bin/wc"}}]));
	const struct proto_instance *in = &p->inst[0];

	cr_assert_eq(p->ninst, 1);
	cr_expect_str_eq(p->account, "acct");
	cr_assert_eq(p->ngroups, 1);
	cr_expect_str_eq(p->groups[0], "a");
	cr_expect_str_eq(in->name, "a");
	cr_expect_eq(in->group, 0);
	cr_expect_eq(in->exec_kind, PROTO_EXEC_OBJECT);
	cr_expect_str_eq(in->exec_path, "acct/bin/wc");
	cr_assert_eq(in->argc, 1);
	cr_expect_str_eq(in->argv[0], "a");
	cr_expect_null(in->argv[1]);
	cr_expect_eq(in->nenv, 0);
	cr_assert_eq(in->nchannels, 3);
	expect_std(in);
	/* Undeclared std devices: /dev/null both ways, nothing returned. */
	cr_expect_eq(in->channels[0].kind, PROTO_CHAN_EMPTY);
	cr_expect_eq(in->channels[0].dir, PROTO_READ);
	cr_expect_eq(in->channels[1].kind, PROTO_CHAN_EMPTY);
	cr_expect_eq(in->channels[1].dir, PROTO_WRITE);
	cr_expect_eq(in->channels[2].kind, PROTO_CHAN_EMPTY);
	cr_expect_eq(in->placement, -1);
	cr_expect_eq(in->replicate, 1);
	cr_expect(in->deterministic);
	cr_expect_null(in->location);
	proto_plan_free(p);
}

Test(job, exec_deterministic_switch)
{
	struct proto_plan *p = plan_ok(J([{"name": "a", "exec": {
		"path": "swift://~/bin/wc", "deterministic": false}}]));

	cr_expect_not(p->inst[0].deterministic);
	cr_expect_not(p->inst[0].memory_etag, "memory_etag is off by default");
	proto_plan_free(p);
}

Test(job, exec_memory_etag)
{
	struct proto_plan *p = plan_ok(J([{"name": "a", "count": 2, "exec": {
		"path": "swift://~/bin/wc", "memory_etag": true}},
		{"name": "b", "exec": {"path": "swift://~/bin/wc",
		 "memory_etag": false}}]));

	cr_expect(p->inst[0].memory_etag);
	cr_expect(p->inst[1].memory_etag);
	cr_expect_not(p->inst[2].memory_etag);
	proto_plan_free(p);
}

Test(job, args_name_env)
{
	struct proto_plan *p = plan_ok(J([{"name": "a", "exec": {
		"path": "swift://acct/bin/wc", "name": "wc",
		"args": "-l 'two words' \"x\\\"y\" back\\\\slash",
		"env": {"ZED": "1", "ALPHA": "a=b", "MID": ""}}}]));
	const struct proto_instance *in = &p->inst[0];

	cr_assert_eq(in->argc, 5);
	cr_expect_str_eq(in->argv[0], "wc");
	cr_expect_str_eq(in->argv[1], "-l");
	cr_expect_str_eq(in->argv[2], "two words");
	cr_expect_str_eq(in->argv[3], "x\"y");
	cr_expect_str_eq(in->argv[4], "back\\slash");
	cr_assert_eq(in->nenv, 3);
	cr_expect_str_eq(in->env[0], "ALPHA=a=b");
	cr_expect_str_eq(in->env[1], "MID=");
	cr_expect_str_eq(in->env[2], "ZED=1");
	proto_plan_free(p);
}

Test(job, group_level_args_accepted)
{
	struct proto_plan *p = plan_ok(J([{"name": "a", "args": "x y",
		"exec": {"path": "swift://~/bin/wc"}}]));

	cr_assert_eq(p->inst[0].argc, 3);
	cr_expect_str_eq(p->inst[0].argv[2], "y");
	proto_plan_free(p);
}

Test(job, std_devices_object_and_immediate)
{
	struct proto_plan *p = plan_ok(J([{"name": "a",
		"exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "stdout"}, {"name": "stderr", "content_type": "text/plain"},
			    {"name": "stdin", "path": "swift://~/in/a.txt"}]}]));
	const struct proto_instance *in = &p->inst[0];

	cr_assert_eq(in->nchannels, 3);
	expect_std(in);
	cr_expect_eq(in->channels[0].kind, PROTO_CHAN_OBJECT);
	cr_expect_str_eq(in->channels[0].path, "acct/in/a.txt");
	cr_expect_eq(in->channels[0].dir, PROTO_READ);
	cr_expect_null(in->channels[0].content_type);
	cr_expect_eq(in->channels[1].kind, PROTO_CHAN_IMMEDIATE);
	cr_expect_str_eq(in->channels[1].content_type, "text/html");
	cr_expect_null(in->channels[1].path);
	cr_expect_eq(in->channels[2].kind, PROTO_CHAN_IMMEDIATE);
	cr_expect_str_eq(in->channels[2].content_type, "text/plain");
	cr_expect_eq(in->placement, 0);
	proto_plan_free(p);
}

Test(job, pathless_stdin_is_empty)
{
	struct proto_plan *p = plan_ok(J([{"name": "a",
		"exec": {"path": "swift://~/bin/wc"}, "devices": [{"name": "stdin"}, {"name": "input"}]}]));

	cr_expect_eq(p->inst[0].channels[0].kind, PROTO_CHAN_EMPTY);
	cr_expect_eq(chan(&p->inst[0], "/dev/input")->kind, PROTO_CHAN_EMPTY);
	proto_plan_free(p);
}

Test(job, account_forms)
{
	struct proto_plan *p = plan_ok(J([{"name": "a",
		"exec": {"path": "swift://./bin/wc"},
		"devices": [{"name": "stdin", "path": "swift://other/shared/data.bin"},
			    {"name": "input", "path": "swift://~/books"}]}]));
	const struct proto_instance *in = &p->inst[0];

	cr_expect_str_eq(in->exec_path, "acct/bin/wc");
	cr_expect_str_eq(in->channels[0].path, "other/shared/data.bin");
	cr_expect_eq(chan(in, "/dev/input")->kind, PROTO_CHAN_CONTAINER);
	cr_expect_str_eq(chan(in, "/dev/input")->path, "acct/books");
	proto_plan_free(p);
}

Test(job, device_kinds_types_and_limits)
{
	struct proto_plan *p = plan_ok(J([{"name": "a",
		"exec": {"path": "swift://~/bin/wc"},
		"devices": [
			{"name": "input", "path": "swift://~/in/a.txt", "mode": "file", "min_size": 10},
			{"name": "output", "path": "swift://~/out/r.bin",
			 "meta": {"Color": "blue", "k": "v"}},
			{"name": "script", "path": "swift://~/in/b.txt"},
			{"name": "python"},
			{"name": "image", "path": "swift://~/in/c.csv"},
			{"name": "debug", "path": "swift://~/dbg/log", "content_type": "text/plain"}]}]));
	const struct proto_instance *in = &p->inst[0];
	const struct proto_channel *c;

	cr_assert_eq(in->nchannels, 9);
	expect_std(in);
	cr_expect_str_eq(in->channels[3].alias, "/dev/input");
	cr_expect_str_eq(in->channels[4].alias, "/dev/output");
	cr_expect_str_eq(in->channels[5].alias, "/dev/script");
	cr_expect_str_eq(in->channels[6].alias, "/dev/python");
	cr_expect_str_eq(in->channels[7].alias, "/dev/image");
	cr_expect_str_eq(in->channels[8].alias, "/dev/debug");
	c = &in->channels[3];
	cr_expect_eq(c->type, PROTO_RGET_SPUT);
	cr_expect_eq(c->dir, PROTO_READ);
	cr_expect_str_eq(c->mode, "file");
	cr_expect_eq(c->min_size, 10);
	cr_expect_eq(c->gets, PROTO_UNBOUNDED);
	cr_expect_eq(c->get_size, 4294967296LL);
	cr_expect_eq(c->puts, 0);
	cr_expect_eq(c->put_size, 0);
	c = &in->channels[4];
	cr_expect_eq(c->type, PROTO_SGET_RPUT);
	cr_expect_eq(c->dir, PROTO_WRITE);
	cr_expect_eq(c->kind, PROTO_CHAN_OBJECT);
	cr_expect_str_eq(c->path, "acct/out/r.bin");
	cr_expect_str_eq(c->content_type, "application/octet-stream");
	cr_expect_eq(c->gets, 0);
	cr_expect_eq(c->puts, PROTO_UNBOUNDED);
	cr_assert_eq(c->nmeta, 2);
	cr_expect_str_eq(c->meta[0].key, "Color");
	cr_expect_str_eq(c->meta[0].value, "blue");
	cr_expect_eq(in->channels[5].type, PROTO_RGET_SPUT);
	c = &in->channels[6];
	cr_expect_eq(c->kind, PROTO_CHAN_IMAGE);
	cr_expect_str_eq(c->path, "python");
	cr_expect_eq(c->dir, PROTO_READ);
	cr_expect_eq(in->channels[7].kind, PROTO_CHAN_OBJECT);
	cr_expect_eq(in->channels[7].dir, PROTO_READ);
	cr_expect_str_eq(in->channels[8].content_type, "text/plain");
	cr_expect_eq(in->channels[8].dir, PROTO_WRITE);
	/* Default placement: the first readable object. */
	cr_expect_eq(in->placement, 3);
	proto_plan_free(p);
}

Test(job, file_paths)
{
	struct proto_plan *p = plan_ok(J([
		{"name": "a", "exec": {"path": "file://python:bin/python"},
		 "devices": [{"name": "image", "path": "file://lua:lib/lua.tar"}]},
		{"name": "b", "exec": {"path": "file://bin/tool"}}]));

	cr_expect_eq(p->inst[0].exec_kind, PROTO_EXEC_IMAGE);
	cr_expect_str_eq(p->inst[0].exec_path, "python:bin/python");
	cr_expect_eq(chan(&p->inst[0], "/dev/image")->kind, PROTO_CHAN_IMAGE);
	cr_expect_str_eq(chan(&p->inst[0], "/dev/image")->path, "lua:lib/lua.tar");
	cr_expect_eq(p->inst[1].exec_kind, PROTO_EXEC_JOB_IMAGE);
	cr_expect_str_eq(p->inst[1].exec_path, "bin/tool");
	proto_plan_free(p);
}

Test(job, count_names_instances)
{
	struct proto_plan *p = plan_ok(J([
		{"name": "w", "count": 3, "exec": {"path": "swift://~/bin/wc"},
		 "devices": [{"name": "stdout", "path": "swift://~/out/*.res"}, {"name": "stderr"}]},
		{"name": "one", "count": 1, "exec": {"path": "swift://~/bin/wc"}}]));

	cr_assert_eq(p->ninst, 4);
	cr_expect_str_eq(p->inst[0].name, "w-1");
	cr_expect_str_eq(p->inst[1].name, "w-2");
	cr_expect_str_eq(p->inst[2].name, "w-3");
	cr_expect_str_eq(p->inst[3].name, "one");
	cr_expect_str_eq(p->inst[1].channels[1].path, "acct/out/w-2.res");
	cr_expect_eq(p->inst[2].channels[2].kind, PROTO_CHAN_IMMEDIATE);
	cr_expect_eq(p->inst[2].group, 0);
	cr_expect_eq(p->inst[3].group, 1);
	/* Instances share their group's argv. */
	cr_expect_str_eq(p->inst[2].argv[0], "w");
	proto_plan_free(p);
}

Test(job, object_wildcard_in_listing_order)
{
	struct proto_plan *p = plan_ok(J([{"name": "m",
		"exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "stdin", "path": "swift://~/in/*.txt"},
			    {"name": "stdout", "path": "swift://~/out/*.log"}]}]));

	cr_assert_eq(p->ninst, 2);
	cr_expect_str_eq(p->inst[0].name, "m-1");
	cr_expect_str_eq(p->inst[0].channels[0].path, "acct/in/a.txt");
	cr_expect_str_eq(p->inst[0].channels[1].path, "acct/out/a.log");
	cr_expect_str_eq(p->inst[1].name, "m-2");
	cr_expect_str_eq(p->inst[1].channels[0].path, "acct/in/b.txt");
	cr_expect_str_eq(p->inst[1].channels[1].path, "acct/out/b.log");
	cr_expect_eq(p->inst[1].placement, 0);
	proto_plan_free(p);
}

Test(job, wildcard_matching_one_object_is_numbered)
{
	struct proto_plan *p = plan_ok(J([{"name": "m",
		"exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "stdin", "path": "swift://~/in/*.csv"}]}]));

	cr_assert_eq(p->ninst, 1);
	cr_expect_str_eq(p->inst[0].name, "m-1");
	proto_plan_free(p);
}

Test(job, wildcard_star_alone_matches_all)
{
	struct proto_plan *p = plan_ok(J([{"name": "m", "count": 7,
		"exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "input", "path": "swift://~/in/*"}]}]));

	/* The wildcard decides the instance count (count is ignored, as in
	 * ZeroCloud). */
	cr_assert_eq(p->ninst, 3);
	cr_expect_str_eq(p->inst[2].channels[3].path, "acct/in/c.csv");
	cr_expect_eq(p->inst[2].placement, 3);
	proto_plan_free(p);
}

Test(job, container_wildcard_gives_containers)
{
	struct proto_plan *p = plan_ok(J([{"name": "c",
		"exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "input", "path": "swift://~/logs-*"}]}]));

	cr_assert_eq(p->ninst, 3);
	cr_expect_eq(chan(&p->inst[0], "/dev/input")->kind, PROTO_CHAN_CONTAINER);
	cr_expect_str_eq(chan(&p->inst[0], "/dev/input")->path, "acct/logs-2024");
	cr_expect_str_eq(chan(&p->inst[1], "/dev/input")->path, "acct/logs-2025");
	cr_expect_str_eq(chan(&p->inst[2], "/dev/input")->path, "acct/logs-x");
	proto_plan_free(p);
}

Test(job, combined_wildcards_and_captures)
{
	struct proto_plan *p = plan_ok(J([{"name": "c",
		"exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "stdin", "path": "swift://~/logs-20*/*.log"},
			    {"name": "output", "path": "swift://~/sum/*-*.txt"}]}]));

	cr_assert_eq(p->ninst, 3);
	cr_expect_str_eq(p->inst[0].channels[0].path, "acct/logs-2024/jan.log");
	cr_expect_str_eq(chan(&p->inst[0], "/dev/output")->path, "acct/sum/24-jan.txt");
	cr_expect_str_eq(p->inst[1].channels[0].path, "acct/logs-2024/feb.log");
	cr_expect_str_eq(chan(&p->inst[2], "/dev/output")->path, "acct/sum/25-mar.txt");
	proto_plan_free(p);
}

Test(job, output_uses_fewer_captures_and_container_star)
{
	struct proto_plan *p = plan_ok(J([{"name": "c",
		"exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "stdin", "path": "swift://~/logs-*/*.log"},
			    {"name": "stdout", "path": "swift://~/out-*/all"}]}]));

	cr_expect_str_eq(p->inst[0].channels[1].path, "acct/out-2024/all");
	cr_expect_str_eq(p->inst[2].channels[1].path, "acct/out-2025/all");
	proto_plan_free(p);
}

Test(job, greedy_captures_like_zerocloud)
{
	/* "a.b.c.txt" against "*.*": the first star is greedy. */
	static const char *const objs[] = { "acct/x/a.b.c" };
	struct mock_store ms = { objs, 1, 0 };
	struct proto_store st = { mock_list, &ms };
	const char *job = J([{"name": "g", "exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "stdin", "path": "swift://~/x/*.*"},
			    {"name": "stdout", "path": "swift://~/y/*/*"}]}]);
	struct proto_plan *p = NULL;
	struct proto_error err = { 0 };

	cr_assert_eq(proto_job_plan(job, strlen(job), "acct", NULL, 0, NULL, &st,
				    &p, &err), 0, "%s", err.msg);
	cr_expect_str_eq(p->inst[0].channels[1].path, "acct/y/a.b/c");
	proto_plan_free(p);
}

Test(job, wordcount_map_reduce)
{
	struct proto_plan *p = plan_ok(J([
		{"name": "map", "exec": {"path": "swift://~/bin/wc", "args": "--map"},
		 "connect": ["reduce"],
		 "devices": [{"name": "stdin", "path": "swift://~/books/*.txt"}]},
		{"name": "reduce", "count": 2, "exec": {"path": "swift://~/bin/wc", "args": "--reduce"},
		 "devices": [{"name": "stdout", "path": "swift://~/out/count-*.txt"}]}]));
	const struct proto_instance *m1, *m2, *r1, *r2;

	cr_assert_eq(p->ninst, 4);
	m1 = &p->inst[0]; m2 = &p->inst[1]; r1 = &p->inst[2]; r2 = &p->inst[3];
	cr_expect_str_eq(m1->name, "map-1");
	cr_expect_str_eq(m2->name, "map-2");
	cr_expect_str_eq(r1->name, "reduce-1");
	cr_expect_str_eq(r2->name, "reduce-2");
	cr_expect_str_eq(m1->channels[0].path, "acct/books/moby.txt");
	cr_expect_str_eq(m2->channels[0].path, "acct/books/alice.txt");
	cr_assert_eq(m1->nchannels, 5);
	cr_expect_str_eq(m1->channels[3].alias, "/dev/out/reduce-1");
	cr_expect_str_eq(m1->channels[3].device, "out/reduce-1");
	cr_expect_eq(m1->channels[3].kind, PROTO_CHAN_PIPE_OUT);
	cr_expect_eq(m1->channels[3].peer, 2);
	cr_expect_eq(m1->channels[3].dir, PROTO_WRITE);
	cr_expect_str_eq(m1->channels[4].alias, "/dev/out/reduce-2");
	cr_expect_eq(m1->channels[4].peer, 3);
	cr_assert_eq(r2->nchannels, 5);
	cr_expect_str_eq(r2->channels[3].alias, "/dev/in/map-1");
	cr_expect_eq(r2->channels[3].kind, PROTO_CHAN_PIPE_IN);
	cr_expect_eq(r2->channels[3].peer, 0);
	cr_expect_eq(r2->channels[3].dir, PROTO_READ);
	cr_expect_eq(r2->channels[3].gets, PROTO_UNBOUNDED);
	cr_expect_str_eq(r2->channels[4].alias, "/dev/in/map-2");
	cr_expect_eq(r2->channels[4].peer, 1);
	cr_expect_str_eq(r1->channels[1].path, "acct/out/count-reduce-1.txt");
	cr_expect_str_eq(r2->channels[1].path, "acct/out/count-reduce-2.txt");
	cr_expect_eq(r1->channels[0].kind, PROTO_CHAN_EMPTY);
	cr_expect_eq(m1->placement, 0);
	cr_expect_eq(r1->placement, -1);
	cr_expect_str_eq(r1->argv[1], "--reduce");
	proto_plan_free(p);
}

Test(job, fan_in_to_single_instance)
{
	struct proto_plan *p = plan_ok(J([
		{"name": "m", "count": 3, "exec": {"path": "swift://~/bin/wc"}, "connect": ["r"]},
		{"name": "r", "exec": {"path": "swift://~/bin/wc"}}]));

	cr_assert_eq(p->ninst, 4);
	cr_assert_eq(p->inst[0].nchannels, 4);
	cr_expect_str_eq(p->inst[0].channels[3].alias, "/dev/out/r");
	cr_expect_eq(p->inst[0].channels[3].peer, 3);
	cr_assert_eq(p->inst[3].nchannels, 6);
	cr_expect_str_eq(p->inst[3].channels[3].alias, "/dev/in/m-1");
	cr_expect_str_eq(p->inst[3].channels[5].alias, "/dev/in/m-3");
	cr_expect_eq(p->inst[3].channels[5].peer, 2);
	proto_plan_free(p);
}

Test(job, fan_out_from_single_instance)
{
	struct proto_plan *p = plan_ok(J([
		{"name": "src", "exec": {"path": "swift://~/bin/wc"}, "connect": ["w"]},
		{"name": "w", "count": 2, "exec": {"path": "swift://~/bin/wc"}}]));

	cr_assert_eq(p->inst[0].nchannels, 5);
	cr_expect_str_eq(p->inst[0].channels[3].alias, "/dev/out/w-1");
	cr_expect_str_eq(p->inst[0].channels[4].alias, "/dev/out/w-2");
	cr_expect_str_eq(p->inst[2].channels[3].alias, "/dev/in/src");
	proto_plan_free(p);
}

Test(job, group_connected_to_itself_skips_self)
{
	struct proto_plan *p = plan_ok(J([
		{"name": "s", "count": 3, "exec": {"path": "swift://~/bin/sort"}, "connect": ["s"]}]));
	const struct proto_instance *s2 = &p->inst[1];

	cr_assert_eq(s2->nchannels, 7);
	cr_expect_str_eq(s2->channels[3].alias, "/dev/out/s-1");
	cr_expect_str_eq(s2->channels[4].alias, "/dev/out/s-3");
	cr_expect_str_eq(s2->channels[5].alias, "/dev/in/s-1");
	cr_expect_str_eq(s2->channels[6].alias, "/dev/in/s-3");
	cr_expect_eq(s2->channels[6].peer, 2);
	proto_plan_free(p);
}

Test(job, chain_and_connect_order)
{
	struct proto_plan *p = plan_ok(J([
		{"name": "a", "exec": {"path": "swift://~/bin/wc"}, "connect": ["c", "b"]},
		{"name": "b", "exec": {"path": "swift://~/bin/wc"}, "connect": ["c"]},
		{"name": "c", "exec": {"path": "swift://~/bin/wc"}}]));

	cr_expect_str_eq(p->inst[0].channels[3].alias, "/dev/out/c");
	cr_expect_str_eq(p->inst[0].channels[4].alias, "/dev/out/b");
	cr_expect_str_eq(p->inst[2].channels[3].alias, "/dev/in/a");
	cr_expect_str_eq(p->inst[2].channels[4].alias, "/dev/in/b");
	proto_plan_free(p);
}

Test(job, file_list_with_device_key)
{
	struct proto_plan *p = plan_ok(J([{"name": "sort",
		"exec": {"path": "swift://~/bin/sort"},
		"file_list": [{"device": "stdin", "path": "swift://~/in/a.txt"},
			      {"device": "stdout", "path": "swift://~/out/sorted"}]}]));

	cr_expect_str_eq(p->inst[0].channels[0].path, "acct/in/a.txt");
	cr_expect_str_eq(p->inst[0].channels[1].path, "acct/out/sorted");
	proto_plan_free(p);
}

Test(job, attach_replicate_location)
{
	struct proto_plan *p = plan_ok(J([{"name": "a", "replicate": 0,
		"attach": "output", "location": "rack-2",
		"exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "stdin", "path": "swift://~/in/a.txt"},
			    {"name": "output", "path": "swift://~/out/x"}]}]));

	cr_expect_eq(p->inst[0].placement, 3);
	cr_expect_eq(p->inst[0].replicate, 0);
	cr_expect_str_eq(p->inst[0].location, "rack-2");
	proto_plan_free(p);
}

Test(job, attach_default_is_first_readable_object)
{
	struct proto_plan *p = plan_ok(J([{"name": "a", "attach": "default",
		"exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "output", "path": "swift://~/out/x"},
			    {"name": "script", "path": "swift://~/in/b.txt"},
			    {"name": "input", "path": "swift://~/in/a.txt"}]}]));

	cr_expect_eq(p->inst[0].placement, 4);
	cr_expect_str_eq(p->inst[0].channels[4].alias, "/dev/script");
	proto_plan_free(p);
}

Test(job, zvm_pipe_between_single_instances)
{
	struct proto_plan *p = plan_ok(J([
		{"name": "gen", "exec": {"path": "swift://~/bin/wc"},
		 "devices": [{"name": "stdout", "path": "zvm://sink:/dev/stdin"},
			     {"name": "stderr", "path": "zvm://sink:errors"}]},
		{"name": "sink", "exec": {"path": "swift://~/bin/wc"}}]));
	const struct proto_instance *g = &p->inst[0], *s = &p->inst[1];

	cr_expect_eq(g->channels[1].kind, PROTO_CHAN_PIPE_OUT);
	cr_expect_eq(g->channels[1].peer, 1);
	cr_expect_str_eq(g->channels[1].alias, "/dev/stdout");
	cr_expect_eq(g->channels[2].kind, PROTO_CHAN_PIPE_OUT);
	cr_assert_eq(s->nchannels, 4);
	cr_expect_eq(s->channels[0].kind, PROTO_CHAN_PIPE_IN);
	cr_expect_str_eq(s->channels[0].alias, "/dev/stdin");
	cr_expect_eq(s->channels[0].peer, 0);
	cr_expect_str_eq(s->channels[3].alias, "/dev/errors");
	cr_expect_str_eq(s->channels[3].device, "errors");
	cr_expect_eq(s->channels[3].kind, PROTO_CHAN_PIPE_IN);
	cr_expect_eq(s->channels[1].kind, PROTO_CHAN_EMPTY);
	proto_plan_free(p);
}

Test(job, custom_limits_and_deterministic)
{
	struct proto_limits lim = { 0 };
	const char *job = J([{"name": "m", "exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "stdin", "path": "swift://~/in/*.txt"}]}]);
	struct proto_plan *a = NULL, *b = NULL;
	struct proto_error err = { 0 };

	lim.max_instances = 2;
	cr_assert_eq(proto_job_plan(job, strlen(job), "acct", NULL, 0, &lim,
				    &store, &a, &err), 0, "%s", err.msg);
	cr_assert_eq(proto_job_plan(job, strlen(job), "acct", NULL, 0, &lim,
				    &store, &b, &err), 0, "%s", err.msg);
	cr_assert_eq(a->ninst, b->ninst);
	for (size_t i = 0; i < a->ninst; i++) {
		cr_expect_str_eq(a->inst[i].name, b->inst[i].name);
		cr_expect_str_eq(a->inst[i].channels[0].path,
				 b->inst[i].channels[0].path);
	}
	proto_plan_free(a);
	proto_plan_free(b);
	lim.max_instances = 1;
	cr_expect_eq(proto_job_plan(job, strlen(job), "acct", NULL, 0, &lim,
				    &store, &a, &err), -1);
	cr_expect_eq(err.kind, PROTO_ETOOLARGE);
}

Test(job, limits_defaults)
{
	struct proto_limits l;

	proto_limits_default(&l);
	cr_expect_eq(l.max_job_size, 65536);
	cr_expect_eq(l.max_instances, 10000);
	cr_expect_eq(l.max_groups, 256);
	cr_expect_eq(l.max_devices, 64);
	cr_expect_eq(l.max_channels, 1000000);
}

Test(job, channel_limit_bounds_all_to_all)
{
	const char *job = J([{"name": "s", "count": 5000,
		"exec": {"path": "swift://~/bin/sort"}, "connect": ["s"]}]);
	struct proto_plan *p = NULL;
	struct proto_error err = { 0 };

	cr_assert_eq(proto_job_plan(job, strlen(job), "acct", NULL, 0, NULL,
				    &store, &p, &err), -1);
	cr_expect_eq(err.kind, PROTO_ETOOLARGE);
	cr_expect_str_eq(err.msg, "job needs more than 1000000 channels (pipes "
			 "between instances included; group \"s\" alone has "
			 "5000 x 10001)");
}

/* ------------------------------------------------------------ errors */

struct bad_job {
	const char *json;
	enum proto_error_kind kind;
	const char *msg;
};

#define EXEC "\"exec\": {\"path\": \"swift://~/bin/wc\"}"
#define G(name, rest) "{\"name\": \"" name "\", " EXEC rest "}"
#define DEV(d) ", \"devices\": [" d "]"

static struct bad_job bad_jobs[] = {
	{ "[{", PROTO_EUNPARSABLE, "job is not valid JSON: line 1, column 2: "
	  "string or '}' expected near end of file" },
	{ "", PROTO_EUNPARSABLE, "job is not valid JSON: line 1, column 0: "
	  "'[' or '{' expected near end of file" },
	{ "{\"name\": \"a\"}", PROTO_EBADJOB,
	  "job must be a non-empty JSON array of groups, got an object" },
	{ "[]", PROTO_EBADJOB,
	  "job must be a non-empty JSON array of groups, got an empty array" },
	{ "[{\"name\": \"a\", \"name\": \"b\"}]", PROTO_EUNPARSABLE,
	  "job is not valid JSON: line 1, column 21: duplicate object key "
	  "near '\"name\"'" },
	{ "[1]", PROTO_EBADJOB, "group [0]: must be an object, got an integer" },
	{ "[{" EXEC "}]", PROTO_EBADJOB, "group [0]: name: missing" },
	{ "[{\"name\": 5}]", PROTO_EBADJOB,
	  "group [0]: name: must be a string, got an integer" },
	{ "[" G("my job", "") "]", PROTO_EBADJOB,
	  "group [0]: name: \"my job\" must be 1..64 letters, digits, '_', "
	  "'-' or '.', not starting with '.' or '-'" },
	{ "[" G("-x", "") "]", PROTO_EBADJOB,
	  "group [0]: name: \"-x\" must be 1..64 letters, digits, '_', "
	  "'-' or '.', not starting with '.' or '-'" },
	{ "[" G("a", "") "," G("a", "") "]", PROTO_EBADJOB,
	  "group [1]: name: \"a\" is also the name of group [0]" },
	{ "[" G("a", ", \"colour\": 1") "]", PROTO_EBADJOB,
	  "group \"a\": unknown field \"colour\"" },
	{ "[{\"name\": \"a\"}]", PROTO_EBADJOB,
	  "group \"a\": exec: missing (the program to run: {\"path\": "
	  "\"swift://...\"})" },
	{ "[{\"name\": \"a\", \"exec\": \"swift://~/bin/wc\"}]", PROTO_EBADJOB,
	  "group \"a\": exec: must be an object, got a string" },
	{ "[{\"name\": \"a\", \"exec\": {\"args\": \"x\"}}]", PROTO_EBADJOB,
	  "group \"a\": exec: path: missing" },
	{ "[{\"name\": \"a\", \"exec\": {\"path\": \"swift://~/bin/wc\", "
	  "\"argv\": []}}]", PROTO_EBADJOB,
	  "group \"a\": exec: unknown field \"argv\"" },
	{ "[{\"name\": \"a\", \"exec\": {\"path\": \"zvm://b:x\"}}]",
	  PROTO_EBADJOB, "group \"a\": exec: path \"zvm://b:x\": the program "
	  "must be one swift:// object (no wildcards) or a file:// path" },
	{ "[{\"name\": \"a\", \"exec\": {\"path\": \"swift://~/bin\"}}]",
	  PROTO_EBADJOB, "group \"a\": exec: path \"swift://~/bin\": the "
	  "program must be one swift:// object (no wildcards) or a file:// "
	  "path" },
	{ "[{\"name\": \"a\", \"exec\": {\"path\": \"swift://~/bin/*\"}}]",
	  PROTO_EBADJOB, "group \"a\": exec: path \"swift://~/bin/*\": the "
	  "program must be one swift:// object (no wildcards) or a file:// "
	  "path" },
	{ "[{\"name\": \"a\", \"exec\": {\"path\": \"http://x/y\"}}]",
	  PROTO_EBADJOB, "group \"a\": exec: path \"http://x/y\": expected "
	  "swift://, file:// or zvm://" },
	{ "[{\"name\": \"a\", \"exec\": {\"path\": \"swift://~/bin/wc\", "
	  "\"env\": {\"A\": 1}}}]", PROTO_EBADJOB,
	  "group \"a\": exec: env: \"A\" must be a string, got an integer" },
	{ "[{\"name\": \"a\", \"exec\": {\"path\": \"swift://~/bin/wc\", "
	  "\"env\": [\"A\"]}}]", PROTO_EBADJOB,
	  "group \"a\": exec: env: must be an object of strings, got an array" },
	{ "[{\"name\": \"a\", \"exec\": {\"path\": \"swift://~/bin/wc\", "
	  "\"args\": \"'open\"}}]", PROTO_EBADJOB,
	  "group \"a\": exec: args: unterminated single quote" },
	{ "[{\"name\": \"a\", \"args\": \"x\", \"exec\": {\"path\": "
	  "\"swift://~/bin/wc\", \"args\": \"y\"}}]", PROTO_EBADJOB,
	  "group \"a\": args: given both in the group and in exec; keep "
	  "exec.args" },
	{ "[{\"name\": \"a\", \"exec\": {\"path\": \"file://nope:bin/x\"}}]",
	  PROTO_EBADJOB, "group \"a\": exec: path \"file://nope:bin/x\": no "
	  "system image named \"nope\"" },
	{ "[" G("a", ", \"devices\": {}") "]", PROTO_EBADJOB,
	  "group \"a\": devices: must be an array, got an object" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"size\": 1}")) "]",
	  PROTO_EBADJOB, "group \"a\": devices[0]: unknown field \"size\"" },
	{ "[" G("a", DEV("{\"path\": \"swift://~/in/a.txt\"}")) "]",
	  PROTO_EBADJOB, "group \"a\": devices[0]: name: missing (the device, "
	  "like \"stdin\" or \"output\")" },
	{ "[" G("a", DEV("{\"name\": \"tape\"}")) "]", PROTO_EBADJOB,
	  "group \"a\": devices[0]: unknown device \"tape\" (known: stdin, "
	  "stdout, stderr, input, output, script, image, debug and system "
	  "images)" },
	{ "[" G("a", DEV("{\"name\": \"stdout\"}, {\"name\": \"stdout\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[1]: device \"stdout\" is "
	  "already declared in devices[0]" },
	{ "[" G("a", DEV("{\"name\": \"stdout\", \"device\": \"stdout\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[0]: give \"name\" or "
	  "\"device\", not both" },
	{ "[" G("a", ", \"devices\": [], \"file_list\": []") "]",
	  PROTO_EBADJOB, "group \"a\": give \"devices\" or its old name "
	  "\"file_list\", not both" },
	{ "[" G("a", DEV("{\"name\": \"stdout\"}, {\"name\": \"stdin\", "
			 "\"path\": \"file://python:x\"}")) "]", PROTO_EBADJOB,
	  "group \"a\": devices[1]: readable device must be a swift:// "
	  "object" },
	{ "[" G("a", DEV("{\"name\": \"output\"}")) "]", PROTO_EBADJOB,
	  "group \"a\": devices[0]: device \"output\" needs a path (only "
	  "stdout and stderr can be an immediate response)" },
	{ "[" G("a", DEV("{\"name\": \"output\", \"path\": \"swift://~/out\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[0]: path \"swift://~/out\": "
	  "a container path is read-only; a writable device needs an object" },
	{ "[" G("a", ", \"count\": 2" DEV("{\"name\": \"stdout\", \"path\": "
					  "\"swift://~/out/x\"}")) "]",
	  PROTO_EBADJOB, "group \"a\": devices[0]: path \"swift://~/out/x\" is "
	  "one object for 2 instances; use a '*' in it" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"path\": \"swift://*/in/x\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[0]: path \"swift://*/in/x\": "
	  "account must not contain '*' here" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"path\": "
			 "\"swift://~/in/../secret\"}")) "]", PROTO_EBADJOB,
	  "group \"a\": devices[0]: path \"swift://~/in/../secret\": object has "
	  "a '.' or '..' segment" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"path\": \"swift://~/in/\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[0]: path \"swift://~/in/\": "
	  "object is empty" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"path\": \"swift://~/in/a//b\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[0]: path "
	  "\"swift://~/in/a//b\": object has an empty path segment" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"path\": \"swift:///in/a\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[0]: path \"swift:///in/a\": "
	  "expected swift://account/container[/object]" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"path\": \"swift://~/..\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[0]: path \"swift://~/..\": "
	  "container has a '.' or '..' segment" },
	{ "[" G("a", ", \"count\": 0") "]", PROTO_EBADJOB,
	  "group \"a\": count: must be a positive integer" },
	{ "[" G("a", ", \"count\": \"2\"") "]", PROTO_EBADJOB,
	  "group \"a\": count: must be a positive integer" },
	{ "[" G("a", ", \"count\": 2.0") "]", PROTO_EBADJOB,
	  "group \"a\": count: must be a positive integer" },
	{ "[" G("a", ", \"count\": 20000") "]", PROTO_ETOOLARGE,
	  "group \"a\": count: 20000 instances, the limit is 10000" },
	{ "[{\"name\": \"a\", \"exec\": {\"path\": \"swift://~/bin/x\", "
	  "\"deterministic\": 1}}]", PROTO_EBADJOB, "group \"a\": exec: "
	  "deterministic: must be true or false, got an integer" },
	{ "[{\"name\": \"a\", \"exec\": {\"path\": \"swift://~/bin/x\", "
	  "\"memory_etag\": \"yes\"}}]", PROTO_EBADJOB, "group \"a\": exec: "
	  "memory_etag: must be true or false, got a string" },
	{ "[" G("a", ", \"replicate\": 4") "]", PROTO_EBADJOB,
	  "group \"a\": replicate: must be an integer 0..3" },
	{ "[" G("a", ", \"connect\": [\"b\"]") "]", PROTO_EBADJOB,
	  "group \"a\": connect[0]: no group named \"b\"" },
	{ "[" G("a", ", \"connect\": \"b\"") "]", PROTO_EBADJOB,
	  "group \"a\": connect: must be an array of group names, got a string" },
	{ "[" G("a", ", \"connect\": [\"a\", \"a\"]") "]", PROTO_EBADJOB,
	  "group \"a\": connect[1]: \"a\" is listed twice" },
	{ "[" G("a", ", \"connect\": [\"a\"]") "]", PROTO_EBADJOB,
	  "group \"a\": connect[0]: a single instance cannot connect to itself" },
	{ "[" G("a", ", \"connect\": [\"b\"]") "," G("b", ", \"connect\": [\"c\"]")
	  "," G("c", ", \"connect\": [\"a\"]") "]", PROTO_EBADJOB,
	  "connect: groups \"a\" -> \"b\" -> \"c\" -> \"a\" form a cycle, which "
	  "could deadlock; only a group connected to itself may loop" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"path\": \"swift://~/in/*.zip\"}"))
	  "]", PROTO_ENOTFOUND, "group \"a\": devices[0]: No objects found in "
	  "path swift://~/in/*.zip" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"path\": \"swift://~/nope/*\"}"))
	  "]", PROTO_ENOTFOUND, "group \"a\": devices[0]: listing acct/nope: "
	  "container nope not found" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"mode\": \"tape\"}")) "]",
	  PROTO_EBADJOB, "group \"a\": devices[0]: mode: must be file, char, "
	  "pipe or block, got \"tape\"" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"min_size\": -1}")) "]",
	  PROTO_EBADJOB, "group \"a\": devices[0]: min_size: must be a "
	  "non-negative integer" },
	{ "[" G("a", DEV("{\"name\": \"stdout\", \"meta\": {\"k\": 1}}")) "]",
	  PROTO_EBADJOB, "group \"a\": devices[0]: meta: \"k\" must be a "
	  "string, got an integer" },
	{ "[" G("a", DEV("{\"name\": \"stdout\", \"content_type\": 3}")) "]",
	  PROTO_EBADJOB, "group \"a\": devices[0]: content_type: must be a "
	  "string, got an integer" },
	{ "[" G("a", ", \"attach\": \"input\"") "]", PROTO_EBADJOB,
	  "group \"a\": attach: no device \"input\" in this group" },
	{ "[" G("a", ", \"attach\": \"stdout\"" DEV("{\"name\": \"stdout\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": attach: device \"stdout\" has no "
	  "swift:// path" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"path\": \"swift://~/in/*\"},"
			 "{\"name\": \"input\", \"path\": \"swift://~/books/*\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[1]: only one readable "
	  "device may have a wildcard (devices[0] has one)" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"path\": \"swift://~/in/*.txt\"},"
			 "{\"name\": \"stdout\", \"path\": \"swift://~/o/*/*\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[1]: path "
	  "\"swift://~/o/*/*\" has 2 '*' but the input wildcard captures 1" },
	{ "[" G("map", ", \"count\": 2") "," G("map-2", "") "]", PROTO_EBADJOB,
	  "group \"map-2\": name: clashes with instance 2 of group \"map\"" },
	{ "[" G("a", DEV("{\"name\": \"stdout\", \"path\": \"zvm://b:stdin\"}"))
	  "," G("b", ", \"count\": 2") "]", PROTO_EBADJOB,
	  "group \"a\": devices[0]: path \"zvm://b:stdin\": zvm:// pipes join "
	  "single instances; use connect for groups of several" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"path\": \"zvm://b:x\"}"))
	  "," G("b", "") "]", PROTO_EBADJOB,
	  "group \"a\": devices[0]: zvm:// path on readable device \"stdin\": "
	  "give the zvm:// path to the writing device instead" },
	{ "[" G("a", DEV("{\"name\": \"stdout\", \"path\": \"zvm://b:stdin\"}"))
	  "," G("b", DEV("{\"name\": \"stdout\", \"path\": \"zvm://a:stdin\"}"))
	  "]", PROTO_EBADJOB, "connect: groups \"a\" -> \"b\" -> \"a\" form a "
	  "cycle, which could deadlock; only a group connected to itself may "
	  "loop" },
	{ "[" G("a", DEV("{\"name\": \"python\", \"path\": \"swift://~/x/y\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[0]: system image device "
	  "\"python\" takes no path" },
	{ "[" G("a", DEV("{\"name\": \"image\"}")) "]", PROTO_EBADJOB,
	  "group \"a\": devices[0]: device \"image\" needs a path" },
	{ "[" G("a", DEV("{\"name\": \"image\", \"path\": \"file://x.tar\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[0]: image: a file:// path "
	  "must name a system image (file://<image>:<path>)" },
	{ "[{\"name\": \"a\", \"exec\": {\"path\": \"swift://~/bin/wc\", "
	  "\"name\": \"\"}}]", PROTO_EBADJOB, "group \"a\": exec: name: is empty" },
	{ "[{\"name\": \"a\", \"exec\": {\"path\": \"file://bin/../x\"}}]",
	  PROTO_EBADJOB, "group \"a\": exec: path \"file://bin/../x\": expected "
	  "file://[image:]path with a relative path and no '.', '..' or empty "
	  "segments" },
	{ "[" G("a", ", \"location\": 7") "]", PROTO_EBADJOB,
	  "group \"a\": location: must be a string, got an integer" },
	{ "[" G("a", ", \"attach\": [\"x\"]") "]", PROTO_EBADJOB,
	  "group \"a\": attach: must be a string, got an array" },
	{ "[" G("a", DEV("{\"name\": \"stdout\", \"meta\": {\"a b\": \"v\"}}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[0]: meta: name \"a b\" must "
	  "be 1..128 characters without ':', blanks or control characters" },
	{ "[" G("a", DEV("{\"name\": \"stdout\", \"meta\": []}")) "]",
	  PROTO_EBADJOB, "group \"a\": devices[0]: meta: must be an object, got "
	  "an array" },
	{ "[" G("a", DEV("{\"name\": \"debug\"}")) "]", PROTO_EBADJOB,
	  "group \"a\": devices[0]: device \"debug\" needs a path" },
	{ "[" G("a", ", \"file_list\": [{\"device\": \"stdin\", \"path\": "
		 "\"swift://~/in/*.zip\"}]") "]", PROTO_ENOTFOUND,
	  "group \"a\": file_list[0]: No objects found in path swift://~/in/*.zip" },
	{ "[" G("a", DEV("{\"name\": \"stdout\", \"path\": \"zvm://z:stdin\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[0]: path \"zvm://z:stdin\": "
	  "no group named \"z\"" },
	{ "[" G("a", DEV("{\"name\": \"stdout\", \"path\": \"zvm://b:stdin\"}"))
	  "," G("b", DEV("{\"name\": \"stdin\"}")) "]", PROTO_EBADJOB,
	  "group \"a\": devices[0]: path \"zvm://b:stdin\": group \"b\" already "
	  "declares device \"stdin\"" },
	{ "[" G("a", DEV("{\"name\": \"stdout\", \"path\": \"zvm://c:x\"}"))
	  "," G("b", DEV("{\"name\": \"stdout\", \"path\": \"zvm://c:x\"}"))
	  "," G("c", "") "]", PROTO_EBADJOB, "group \"b\": devices[0]: path "
	  "\"zvm://c:x\": /dev/x of group \"c\" is fed twice" },
	{ "[" G("a", DEV("{\"name\": \"stdout\", \"path\": \"zvm://b:stderr\"}"))
	  "," G("b", "") "]", PROTO_EBADJOB, "group \"a\": devices[0]: path "
	  "\"zvm://b:stderr\": a pipe can feed stdin or a new device, not an "
	  "output" },
	{ "[" G("a", DEV("{\"name\": \"stdout\", \"path\": \"zvm://a:x\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[0]: path \"zvm://a:x\": a "
	  "group cannot pipe into itself" },
	{ "[" G("a", DEV("{\"name\": \"stdout\", \"path\": \"zvm://b:in/x\"}"))
	  "," G("b", "") "]", PROTO_EBADJOB, "group \"a\": devices[0]: path "
	  "\"zvm://b:in/x\": device must be a name under /dev/ outside /dev/in/ "
	  "and /dev/out/" },
	{ "[" G("a", DEV("{\"name\": \"stdin\", \"path\": \"swift://~/in/a\\u0001\"}"))
	  "]", PROTO_EBADJOB, "group \"a\": devices[0]: path: must not contain "
	  "control characters" },
};

#define NBAD (sizeof(bad_jobs) / sizeof(bad_jobs[0]))

ParameterizedTestParameters(job, bad)
{
	static size_t idx[NBAD];

	for (size_t i = 0; i < NBAD; i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, NBAD);
}

ParameterizedTest(size_t *i, job, bad)
{
	const struct bad_job *b = &bad_jobs[*i];
	struct proto_plan *p = (void *)1;
	struct proto_error err = { 0 };
	int rc = proto_job_plan(b->json, strlen(b->json), "acct", sysimages, 2,
				NULL, &store, &p, &err);

	cr_assert_eq(rc, -1, "accepted: %s", b->json);
	cr_expect_null(p);
	cr_expect_str_eq(err.msg, b->msg, "job: %s", b->json);
	cr_expect_eq(err.kind, b->kind, "kind %d for %s", err.kind, b->json);
}

Test(job, too_large_is_413)
{
	struct proto_limits lim = { .max_job_size = 16 };
	const char *job = J([{"name": "a", "exec": {"path": "swift://~/bin/wc"}}]);
	struct proto_plan *p = NULL;
	struct proto_error err = { 0 };

	cr_assert_eq(proto_job_plan(job, strlen(job), "acct", NULL, 0, &lim,
				    &store, &p, &err), -1);
	cr_expect_eq(err.kind, PROTO_ETOOLARGE);
	cr_expect_eq(proto_error_status(err.kind), 413);
	cr_expect_str_eq(err.msg, "job is 53 bytes, the limit is 16");
}

Test(job, group_and_device_limits)
{
	struct proto_limits lim = { .max_groups = 1, .max_devices = 1 };
	const char *two = J([{"name": "a", "exec": {"path": "swift://~/bin/wc"}},
			     {"name": "b", "exec": {"path": "swift://~/bin/wc"}}]);
	const char *devs = J([{"name": "a", "exec": {"path": "swift://~/bin/wc"},
			       "devices": [{"name": "stdin"}, {"name": "stdout"}]}]);
	struct proto_plan *p = NULL;
	struct proto_error err = { 0 };

	cr_assert_eq(proto_job_plan(two, strlen(two), "acct", NULL, 0, &lim,
				    &store, &p, &err), -1);
	cr_expect_str_eq(err.msg, "job has 2 groups, the limit is 1");
	cr_assert_eq(proto_job_plan(devs, strlen(devs), "acct", NULL, 0, &lim,
				    &store, &p, &err), -1);
	cr_expect_str_eq(err.msg, "group \"a\": devices: 2 devices, the limit is 1");
	cr_expect_eq(err.kind, PROTO_ETOOLARGE);
}

Test(job, wildcard_without_store_is_internal_error)
{
	const char *job = J([{"name": "a", "exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "stdin", "path": "swift://~/in/*"}]}]);
	struct proto_plan *p = NULL;
	struct proto_error err = { 0 };

	cr_assert_eq(proto_job_plan(job, strlen(job), "acct", NULL, 0, NULL,
				    NULL, &p, &err), -1);
	cr_expect_eq(err.kind, PROTO_EINTERNAL);
	cr_expect_str_eq(err.msg, "group \"a\": devices[0]: no object store to "
			 "expand wildcards with");
}

Test(job, bad_requesting_account)
{
	const char *job = J([{"name": "a", "exec": {"path": "swift://~/bin/wc"}}]);
	struct proto_plan *p = NULL;
	struct proto_error err = { 0 };

	cr_expect_eq(proto_job_plan(job, strlen(job), "a/b", NULL, 0, NULL,
				    &store, &p, &err), -1);
	cr_expect_eq(err.kind, PROTO_EBADJOB);
}

Test(job, listing_called_once_per_container)
{
	const char *job = J([{"name": "m", "exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "stdin", "path": "swift://~/logs-*/*.log"}]}]);
	struct proto_plan *p = NULL;
	struct proto_error err = { 0 };

	store_data.calls = 0;
	cr_assert_eq(proto_job_plan(job, strlen(job), "acct", NULL, 0, NULL,
				    &store, &p, &err), 0, "%s", err.msg);
	/* One account listing, one per matched container (3). */
	cr_expect_eq(store_data.calls, 4);
	proto_plan_free(p);
}

Test(job, output_star_in_container_takes_instance_name)
{
	struct proto_plan *p = plan_ok(J([{"name": "w", "count": 2,
		"exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "output", "path": "swift://~/out-*/x"}]}]));

	cr_expect_str_eq(chan(&p->inst[1], "/dev/output")->path, "acct/out-w-2/x");
	proto_plan_free(p);
}

Test(job, single_instance_output_star_takes_bare_name)
{
	struct proto_plan *p = plan_ok(J([{"name": "solo",
		"exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "stdout", "path": "swift://~/out/*.res"}]}]));

	cr_expect_str_eq(p->inst[0].name, "solo");
	cr_expect_str_eq(p->inst[0].channels[1].path, "acct/out/solo.res");
	proto_plan_free(p);
}

Test(job, capture_that_makes_a_bad_container_is_refused)
{
	static const char *const objs[] = { "acct/x/d/e" };
	struct mock_store ms = { objs, 1, 0 };
	struct proto_store st = { mock_list, &ms };
	const char *job = J([{"name": "g", "exec": {"path": "swift://~/bin/wc"},
		"devices": [{"name": "stdin", "path": "swift://~/x/*"},
			    {"name": "stdout", "path": "swift://~/*/o"}]}]);
	struct proto_plan *p = NULL;
	struct proto_error err = { 0 };

	cr_assert_eq(proto_job_plan(job, strlen(job), "acct", NULL, 0, NULL, &st,
				    &p, &err), -1);
	cr_expect_eq(err.kind, PROTO_EBADJOB);
	cr_expect_str_eq(err.msg, "group \"g\": devices[1]: path \"swift://~/*/o\" "
			 "for instance \"g-1\" gives container \"d/e\" and object "
			 "\"o\": a name must not contain '/'");
}

Test(job, argv_and_env_are_null_terminated)
{
	struct proto_plan *p = plan_ok(J([{"name": "a", "exec": {
		"path": "swift://~/bin/wc", "args": "x", "env": {"K": "v"}}}]));

	cr_expect_null(p->inst[0].argv[p->inst[0].argc]);
	cr_expect_null(p->inst[0].env[p->inst[0].nenv]);
	proto_plan_free(p);
	p = plan_ok(J([{"name": "a", "exec": {"path": "swift://~/bin/wc"}}]));
	cr_assert_not_null(p->inst[0].env);
	cr_expect_null(p->inst[0].env[0]);
	proto_plan_free(p);
}
