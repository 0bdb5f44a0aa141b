/* Unit tests of cluster placement (daemon/cluster_place.c) over the ring
 * fixtures of tests/swift/fixtures: three.ring.gz has devices d1..d6 on
 * 127.0.0.2 (d1, d2), .3, .4, .5, .6 with 3 replicas; expected.txt
 * gives the primaries, e.g. AUTH_test/books/a.txt -> .2 .4 .6 and
 * AUTH_test/books/b.txt -> .4 .6 .3. Liveness is a fake. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static struct zvmd_cluster *cl;

static void setup(void)
{
	const char *dir = getenv("SWIFT_FIXTURES");
	char path[1024];
	swift_error se;

	cr_assert(dir, "SWIFT_FIXTURES is not set");
	cl = calloc(1, sizeof(*cl));
	cr_assert(cl);
	snprintf(path, sizeof(path), "%s/swift.conf", dir);
	cr_assert(swift_conf_load(path, &cl->conf, &se) == 0, "%s", se.msg);
	cl->rings = calloc(cl->conf.npolicies, sizeof(*cl->rings));
	cr_assert(cl->rings);
	snprintf(path, sizeof(path), "%s/three.ring.gz", dir);
	for (size_t i = 0; i < cl->conf.npolicies; i++)
		cr_assert(swift_ring_load(path, &cl->rings[i], &se) == 0, "%s",
			  se.msg);
}

static void teardown(void)
{
	zvmd_cluster_free(cl);
}

TestSuite(place, .init = setup, .fini = teardown);

/* Nodes listed in `down` are dead; every question is counted. */
struct fake {
	const char *down[8];
	unsigned calls;
};

static bool fake_alive(void *ctx, const char *ip)
{
	struct fake *f = ctx;

	f->calls++;
	for (int i = 0; i < 8 && f->down[i]; i++)
		if (!strcmp(f->down[i], ip))
			return false;
	return true;
}

/* Groups a (reads books/a.txt), b (reads books/b.txt) and, if nfree,
 * `free` (count nfree, no object). */
static struct proto_plan *plan_of(unsigned nfree)
{
	char json[1024], free_group[256] = "";
	struct proto_plan *plan;
	struct proto_error err;

	if (nfree)
		snprintf(free_group, sizeof(free_group), ",{\"name\":\"free\","
			 "\"exec\":{\"path\":\"swift://~/bin/p\"},\"count\":%u,"
			 "\"devices\":[{\"name\":\"stdout\"}]}", nfree);
	snprintf(json, sizeof(json),
		 "[{\"name\":\"a\",\"exec\":{\"path\":\"swift://~/bin/p\"},"
		 "\"devices\":[{\"name\":\"stdin\",\"path\":"
		 "\"swift://~/books/a.txt\"}]},"
		 "{\"name\":\"b\",\"exec\":{\"path\":\"swift://~/bin/p\"},"
		 "\"devices\":[{\"name\":\"stdin\",\"path\":"
		 "\"swift://~/books/b.txt\"}]}%s]", free_group);
	cr_assert(proto_job_plan(json, strlen(json), "AUTH_test", NULL, 0,
				 NULL, NULL, &plan, &err) == 0, "%s", err.msg);
	cr_assert_eq(plan->ninst, 2 + nfree);
	cr_assert(plan->inst[0].placement >= 0);
	cr_assert(plan->inst[1].placement >= 0);
	for (size_t i = 2; i < plan->ninst; i++)
		cr_assert(plan->inst[i].placement < 0);
	return plan;
}

static void place_ok(const struct proto_plan *plan, const int *policy,
		     struct fake *f, struct zvmd_placement *p)
{
	char msg[256];

	cr_assert(zvmd_place(cl, 8090, 8091, plan, policy, fake_alive, f, p,
			     msg, sizeof(msg)) == 0, "%s", msg);
}

static const char *ip_of(const struct zvmd_placement *p, size_t inst)
{
	return p->nodes[p->inst[inst]].ip;
}

Test(place, first_primary_then_least_loaded)
{
	struct proto_plan *plan = plan_of(4);
	int policy[6] = { 0 };
	struct fake f = { .calls = 0 };
	struct zvmd_placement p;

	place_ok(plan, policy, &f, &p);
	cr_expect_str_eq(ip_of(&p, 0), "127.0.0.2");
	cr_expect_str_eq(ip_of(&p, 1), "127.0.0.4");
	/* .2 and .4 hold one each: the empty nodes first, in device id
	 * order, then .2 again (the first of the least loaded). */
	cr_expect_str_eq(ip_of(&p, 2), "127.0.0.3");
	cr_expect_str_eq(ip_of(&p, 3), "127.0.0.5");
	cr_expect_str_eq(ip_of(&p, 4), "127.0.0.6");
	cr_expect_str_eq(ip_of(&p, 5), "127.0.0.2");
	cr_expect_eq(p.nnodes, 5);
	cr_expect_str_eq(p.nodes[0].http, "127.0.0.2:8090");
	cr_expect_str_eq(p.nodes[0].edge, "127.0.0.2:8091");
	cr_expect_eq(p.nodes[0].ninst, 2);
	/* Each node was asked once at most. */
	cr_expect_eq(f.calls, 5);
	zvmd_placement_clear(&p);
	proto_plan_free(plan);
}

Test(place, dead_primary_is_skipped_for_the_next_replica)
{
	struct proto_plan *plan = plan_of(1);
	int policy[3] = { 0 };
	struct fake f = { .down = { "127.0.0.2", "127.0.0.4" } };
	struct zvmd_placement p;

	place_ok(plan, policy, &f, &p);
	/* a.txt: .2 .4 .6 -> .6; b.txt: .4 .6 .3 -> .6. */
	cr_expect_str_eq(ip_of(&p, 0), "127.0.0.6");
	cr_expect_str_eq(ip_of(&p, 1), "127.0.0.6");
	/* The least loaded live node: .3 (.2 is down). */
	cr_expect_str_eq(ip_of(&p, 2), "127.0.0.3");
	for (size_t i = 0; i < p.nnodes; i++) {
		cr_expect_str_neq(p.nodes[i].ip, "127.0.0.2");
		cr_expect_str_neq(p.nodes[i].ip, "127.0.0.4");
	}
	zvmd_placement_clear(&p);
	proto_plan_free(plan);
}

Test(place, all_primaries_down_goes_to_a_live_node)
{
	struct proto_plan *plan = plan_of(0);
	int policy[2] = { 0 };
	struct fake f = { .down = { "127.0.0.2", "127.0.0.4", "127.0.0.6" } };
	struct zvmd_placement p;

	place_ok(plan, policy, &f, &p);
	cr_expect_str_eq(ip_of(&p, 0), "127.0.0.3");
	/* b.txt's third primary, .3, is alive. */
	cr_expect_str_eq(ip_of(&p, 1), "127.0.0.3");
	zvmd_placement_clear(&p);
	proto_plan_free(plan);
}

Test(place, unknown_policy_places_by_load)
{
	struct proto_plan *plan = plan_of(0);
	int policy[2] = { 9, 9 };
	struct fake f = { .calls = 0 };
	struct zvmd_placement p;

	place_ok(plan, policy, &f, &p);
	cr_expect_str_eq(ip_of(&p, 0), "127.0.0.2");
	cr_expect_str_eq(ip_of(&p, 1), "127.0.0.3");
	zvmd_placement_clear(&p);
	proto_plan_free(plan);
}

Test(place, no_live_node_is_an_error_naming_the_nodes)
{
	struct proto_plan *plan = plan_of(2);
	int policy[4] = { 0 };
	struct fake f = { .down = { "127.0.0.2", "127.0.0.3", "127.0.0.4",
			    "127.0.0.5", "127.0.0.6" } };
	struct zvmd_placement p;
	char msg[256];

	cr_assert(zvmd_place(cl, 8090, 8091, plan, policy, fake_alive, &f, &p,
			     msg, sizeof(msg)) == -1);
	cr_expect(strstr(msg, "no zvmd worker answers GET /healthcheck on "
			 "port 8090"), "%s", msg);
	cr_expect(strstr(msg, "127.0.0.6"), "%s", msg);
	cr_expect_eq(p.inst, NULL);
	cr_expect_eq(f.calls, 5);
	proto_plan_free(plan);
}
