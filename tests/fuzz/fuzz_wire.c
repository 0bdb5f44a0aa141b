/*
 * libFuzzer target: what a worker or coordinator reads from the network.
 *   - the bytes as a task (and as a plan): a decoded task re-encodes to
 *     text that decodes to the same encoding (round trip), its pipes
 *     pair up, every index is in range;
 *   - the bytes as a response stream, fed in pieces whose sizes come from
 *     the input itself: every frame and payload byte is in range and the
 *     payload bytes delivered add up to the announced lengths;
 *   - the bytes as an edge hello line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static void check_task(const struct proto_task *t)
{
	struct proto_error err = { 0 };
	struct proto_task *u = NULL;
	struct proto_edge *e = NULL;
	char *s, *s2;
	size_t n;

	if (t->self >= t->nnodes)
		abort();
	for (size_t i = 0; i < t->plan->ninst; i++)
		if (t->placement[i] >= t->nnodes)
			abort();
	if (proto_plan_edges(t->plan, &e, &n, &err))
		abort(); /* the decoder checked the pairing already */
	for (size_t i = 0; i < n; i++)
		if (proto_edge_find(e, n, e[i].writer, e[i].wchan) != &e[i])
			abort();
	free(e);
	s = proto_task_to_json(t, &err);
	if (!s)
		abort();
	if (proto_task_from_json(s, strlen(s), NULL, &u, &err))
		abort(); /* what we write, we read */
	s2 = proto_task_to_json(u, &err);
	if (!s2 || strcmp(s, s2))
		abort();
	free(s);
	free(s2);
	proto_task_free(u);
}

struct count {
	size_t ninst;
	uint64_t announced, delivered;
};

static int on_frame(void *arg, const struct proto_frame *f,
		    struct proto_error *err)
{
	struct count *c = arg;

	(void)err;
	if ((f->type == PROTO_FRAME_OUTPUT || f->type == PROTO_FRAME_REPORT) &&
	    f->inst >= c->ninst)
		abort();
	if (f->type == PROTO_FRAME_OUTPUT)
		c->announced += f->len;
	if (f->type == PROTO_FRAME_REPORT &&
	    (!f->system || !f->status || !f->etag || !f->cdr))
		abort();
	return 0;
}

static int on_output(void *arg, size_t inst, const char *buf, size_t len,
		     struct proto_error *err)
{
	struct count *c = arg;
	volatile char sink = len ? buf[0] ^ buf[len - 1] : 0;

	(void)err;
	(void)sink;
	if (inst >= c->ninst || len == 0)
		abort();
	c->delivered += len;
	return 0;
}

static void check_frames(const unsigned char *data, size_t size)
{
	struct count c = { .ninst = 4 };
	struct proto_frame_sink sink = { on_frame, on_output, &c };
	struct proto_frame_parser *p = proto_frame_parser_new(4, 512, &sink);
	struct proto_error err = { 0 };
	size_t at = 0, used;
	int rc = 0;

	if (!p)
		return;
	while (at < size && rc == 0) {
		size_t piece = (size_t)(data[at] % 37) + 1;

		if (piece > size - at)
			piece = size - at;
		rc = proto_frame_parser_feed(p, data + at, piece, &used, &err);
		if (rc == 0 && used != piece)
			abort(); /* nobody paused */
		at += piece;
	}
	if (rc == 0 && proto_frame_parser_end(p, &err) == 0 &&
	    c.delivered != c.announced)
		abort();
	if (c.delivered > c.announced)
		abort();
	if ((rc || proto_frame_parser_end(p, &err)) && !err.msg[0])
		abort(); /* every failure says why */
	proto_frame_parser_free(p);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const unsigned char key[] = "fuzzing key, 32 bytes or longer!";
	struct proto_limits lim = { .max_instances = 200,
				    .max_channels = 20000 };
	struct proto_error err = { 0 };
	struct proto_task *t = NULL;
	struct proto_plan *plan = NULL;
	struct proto_edge_hello h;

	if (proto_task_from_json((const char *)data, size, &lim, &t, &err) == 0)
		check_task(t);
	else if (t || !err.msg[0])
		abort();
	proto_task_free(t);
	if (proto_plan_from_json((const char *)data, size, &lim, &plan,
				 &err) == 0) {
		char *s = proto_plan_to_json(plan);

		if (!s)
			abort();
		free(s);
	}
	proto_plan_free(plan);
	check_frames(data, size);
	if (proto_edge_hello_parse((const char *)data, size, &h, &err) == 0 &&
	    proto_edge_hello_verify(key, sizeof(key) - 1, &h, 1700000000,
				    &err) == PROTO_SIG_OK)
		abort(); /* nobody forges an hmac by mutation */
	return 0;
}
