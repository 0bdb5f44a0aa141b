/*
 * libFuzzer target: job JSON -> plan. The fake store answers every
 * listing with a few names built from the prefix, so wildcards expand and
 * the whole planner (captures, output paths, connect) runs. The plan is
 * walked so that every string it holds is read (ASan sees stale ones).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static int fake_list(void *ctx, const char *account, const char *container,
		     const char *prefix, struct proto_names *out,
		     struct proto_error *err)
{
	static const char *const tails[] = { "a.txt", "b/c.log", "", "x*y" };
	size_t i;

	(void)ctx;
	if (strcmp(account, "missing") == 0)
		return proto_error_set(err, PROTO_ENOTFOUND, "no account");
	out->n = 0;
	out->v = calloc(4, sizeof(char *));
	if (!out->v)
		return proto_error_set(err, PROTO_EINTERNAL, "oom");
	for (i = 0; i < 4; i++) {
		size_t n = strlen(prefix) + strlen(tails[i]) + 1;
		char *s = malloc(n);

		if (!s)
			break;
		snprintf(s, n, "%s%s", prefix, tails[i]);
		/* Containers never have '/' and are never empty. */
		if (!container && (strchr(s, '/') || !*s)) {
			free(s);
			continue;
		}
		out->v[out->n++] = s;
	}
	return 0;
}

static size_t walk(const struct proto_plan *p)
{
	size_t sum = strlen(p->account), i, k;

	for (i = 0; i < p->ngroups; i++)
		sum += strlen(p->groups[i]);
	for (i = 0; i < p->ninst; i++) {
		const struct proto_instance *in = &p->inst[i];

		sum += strlen(in->name) + strlen(in->exec_path);
		for (k = 0; k < in->argc; k++)
			sum += strlen(in->argv[k]);
		for (k = 0; k < in->nenv; k++)
			sum += strlen(in->env[k]);
		for (k = 0; k < in->nchannels; k++) {
			const struct proto_channel *c = &in->channels[k];

			sum += strlen(c->device) + strlen(c->alias);
			if (c->path)
				sum += strlen(c->path);
			if (c->content_type)
				sum += strlen(c->content_type);
			if ((c->kind == PROTO_CHAN_PIPE_IN ||
			     c->kind == PROTO_CHAN_PIPE_OUT) &&
			    c->peer >= p->ninst)
				abort();
		}
		if (in->placement >= (long)in->nchannels)
			abort();
	}
	return sum;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const sysimages[] = { "python", "lua" };
	struct proto_store store = { fake_list, NULL };
	struct proto_limits lim = { .max_instances = 200 };
	struct proto_plan *plan = NULL;
	struct proto_error err = { 0 };

	if (proto_job_plan((const char *)data, size, "acct", sysimages, 2,
			   &lim, &store, &plan, &err) == 0) {
		volatile size_t sink = walk(plan);

		(void)sink;
		proto_plan_free(plan);
	} else if (plan || !err.msg[0] || err.kind == PROTO_OK) {
		abort(); /* every failure must say why */
	}
	return 0;
}
