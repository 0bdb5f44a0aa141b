/* plan_json ACCOUNT < job.json: print the job's plan as proto_plan_to_json
 * writes it (what a coordinator puts in a task). Jobs without wildcards
 * only: nothing is listed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static int no_list(void *ctx, const char *account, const char *container,
		   const char *prefix, struct proto_names *out,
		   struct proto_error *err)
{
	(void)ctx, (void)prefix, (void)out;
	return proto_error_set(err, PROTO_EBADJOB, "plan_json lists nothing "
			       "(%s/%s)", account, container ? container : "");
}

int main(int argc, char **argv)
{
	static char job[1 << 20];
	struct proto_store store = { no_list, NULL };
	struct proto_limits lim;
	struct proto_plan *plan;
	struct proto_error err;
	size_t len = fread(job, 1, sizeof(job), stdin);
	char *json;

	if (argc != 2) {
		fprintf(stderr, "usage: plan_json ACCOUNT < job.json\n");
		return 2;
	}
	proto_limits_default(&lim);
	if (proto_job_plan(job, len, argv[1], NULL, 0, &lim, &store, &plan,
			   &err)) {
		fprintf(stderr, "plan_json: %s\n", err.msg);
		return 1;
	}
	json = proto_plan_to_json(plan);
	if (!json) {
		fprintf(stderr, "plan_json: out of memory\n");
		return 1;
	}
	puts(json);
	free(json);
	proto_plan_free(plan);
	return 0;
}
