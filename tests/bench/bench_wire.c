/*
 * bench_wire — what a cluster task costs to send: the task JSON of a
 * map/reduce plan (N mappers -> 16 reducers) and of an all-to-all group,
 * encoded (coordinator) and decoded + checked (every worker), next to the
 * reference: planning the same job from its JSON (proto_job_plan). CPU
 * time (the machine is shared: wall time would measure the neighbours),
 * best of 3; each size in a fresh child so peak RSS is that size's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

#define RUNS 3

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int run(const char *what, const char *job)
{
	struct proto_limits lim = { .max_instances = 20000 };
	struct proto_node nodes[] = { { "127.0.0.2:8090", "127.0.0.2:8091" } };
	double tp = 1e9, te = 1e9, td = 1e9, t;
	struct proto_error err;
	size_t bytes = 0, chans = 0, ninst = 0;
	struct rusage ru;

	for (int r = 0; r < RUNS; r++) {
		struct proto_plan *plan;
		struct proto_task *dec;
		size_t *place;
		char *s;

		t = cpu_ms();
		if (proto_job_plan(job, strlen(job), "acct", NULL, 0, &lim, NULL,
				   &plan, &err)) {
			fprintf(stderr, "bench_wire: %s\n", err.msg);
			return 1;
		}
		tp = (t = cpu_ms() - t) < tp ? t : tp;
		place = calloc(plan->ninst, sizeof(*place));
		if (!place)
			return 1;
		struct proto_task task = {
			.version = PROTO_TASK_VERSION, .job = "bench-1",
			.account = "acct", .token = "AUTH_tk", .nodes = nodes,
			.nnodes = 1, .placement = place, .plan = plan,
		};
		t = cpu_ms();
		s = proto_task_to_json(&task, &err);
		te = (t = cpu_ms() - t) < te ? t : te;
		if (!s)
			return 1;
		t = cpu_ms();
		if (proto_task_from_json(s, strlen(s), &lim, &dec, &err)) {
			fprintf(stderr, "bench_wire: %s\n", err.msg);
			return 1;
		}
		td = (t = cpu_ms() - t) < td ? t : td;
		bytes = strlen(s);
		ninst = plan->ninst;
		chans = 0;
		for (size_t i = 0; i < plan->ninst; i++)
			chans += plan->inst[i].nchannels;
		proto_task_free(dec);
		free(s);
		free(place);
		proto_plan_free(plan);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("| %s | %zu | %zu | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n",
	       what, ninst, chans, bytes / 1048576.0, tp, te, td, td / tp,
	       ru.ru_maxrss / 1024.0);
	return 0;
}

int main(void)
{
	static const char mapred[] =
		"[{\"name\": \"map\", \"count\": %d, \"exec\": {\"path\": "
		"\"swift://~/bin/wc\", \"args\": \"--map\"}, \"connect\": "
		"[\"reduce\"]}, {\"name\": \"reduce\", \"count\": 16, "
		"\"exec\": {\"path\": \"swift://~/bin/wc\"}}]";
	static const char all[] =
		"[{\"name\": \"x\", \"count\": %d, \"exec\": {\"path\": "
		"\"swift://~/bin/wc\"}, \"connect\": [\"x\"]}]";
	struct { const char *what, *fmt; int n; } cases[] = {
		{ "map/reduce 100 x 16", mapred, 100 },
		{ "map/reduce 2500 x 16", mapred, 2500 },
		{ "map/reduce 9984 x 16", mapred, 9984 },
		{ "all-to-all 100", all, 100 },
		{ "all-to-all 300", all, 300 },
	};
	int fails = 0;

	printf("task JSON: encode (coordinator) and decode + check (worker), "
	       "vs planning the job (reference); CPU ms, best of %d\n\n", RUNS);
	printf("| plan | instances | channels | task MiB | plan ms (ref) | "
	       "encode ms | decode ms | decode/plan | peak RSS MiB |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	fflush(stdout);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char job[512];
		pid_t pid;
		int st;

		snprintf(job, sizeof(job), cases[i].fmt, cases[i].n);
		pid = fork();
		if (pid == 0)
			_exit(run(cases[i].what, job) | fflush(stdout));
		if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			fails++;
	}
	return fails ? 1 : 0;
}
