/*
 * bench_plan — parse + plan a map/reduce job: a wildcard over N objects
 * (N mappers) connected to 16 reducers, for N = 2500, 5000, 10000.
 * Prints time (best of several runs) and memory per size, each size in a
 * fresh child process so peak RSS belongs to that size alone. Memory
 * should grow linearly with instances x channels: the fan-in is N
 * channels per reducer, never N x 16 per something.
 *
 * Goal: <= 50 ms for 10 000 instances.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

#define REDUCERS 16
#define RUNS 7
#define GOAL_MS 50.0

static size_t nobjects;

/* Like a Swift listing: N names in order, returned as malloc'd strings. */
static int bench_list(void *ctx, const char *account, const char *container,
		      const char *prefix, struct proto_names *out,
		      struct proto_error *err)
{
	size_t i;

	(void)ctx; (void)account; (void)container; (void)prefix;
	out->v = malloc(nobjects * sizeof(char *));
	if (!out->v)
		return proto_error_set(err, PROTO_EINTERNAL, "oom");
	for (i = 0; i < nobjects; i++) {
		out->v[i] = malloc(32);
		if (!out->v[i])
			return proto_error_set(err, PROTO_EINTERNAL, "oom");
		snprintf(out->v[i], 32, "part-%06zu.txt", i);
		out->n = i + 1;
	}
	return 0;
}

static const char job[] =
	"[{\"name\": \"map\", \"exec\": {\"path\": \"swift://~/bin/wc\", "
	"\"args\": \"--map\"}, \"connect\": [\"reduce\"], \"devices\": ["
	"{\"name\": \"stdin\", \"path\": \"swift://~/books/*.txt\"}, "
	"{\"name\": \"stderr\", \"path\": \"swift://~/logs/*.err\"}]},"
	"{\"name\": \"reduce\", \"count\": 16, \"exec\": {\"path\": "
	"\"swift://~/bin/wc\", \"args\": \"--reduce\"}, \"devices\": ["
	"{\"name\": \"stdout\", \"path\": \"swift://~/out/*.txt\"}]}]";

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One size, in this (child) process: prints a table row. */
static int run_size(size_t n)
{
	struct proto_store store = { bench_list, NULL };
	struct proto_limits lim = { .max_instances = 20000 };
	struct proto_plan *plan = NULL;
	struct proto_error err;
	double best = 1e9, first = 0;
	size_t live = 0, chans = 0, i;
	struct rusage ru;

	nobjects = n;
	/* Keep freed memory in the process, as a long-running daemon's heap
	 * does: run 1 pays first-touch page faults (cold), later runs reuse
	 * the pages (warm). */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	for (int r = 0; r < RUNS; r++) {
		double t0;

		t0 = now_ms();
		if (proto_job_plan(job, sizeof(job) - 1, "acct", NULL, 0, &lim,
				   &store, &plan, &err) < 0) {
			fprintf(stderr, "bench_plan: %s\n", err.msg);
			return 1;
		}
		t0 = now_ms() - t0;
		if (r == 0)
			first = t0;
		else if (t0 < best)
			best = t0;
		live = proto_plan_bytes(plan);
		chans = 0;
		for (i = 0; i < plan->ninst; i++)
			chans += plan->inst[i].nchannels;
		if (plan->ninst != n + REDUCERS)
			return 1;
		proto_plan_free(plan);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("| %6zu | %6zu | %8zu | %7.2f | %7.2f | %5.1f | %4.2f | %7.2f | %6.1f | %6.1f |\n",
	       n, n + REDUCERS, chans, first, best, GOAL_MS, best / GOAL_MS,
	       live / 1048576.0, (double)live / chans, ru.ru_maxrss / 1024.0);
	return 0;
}

int main(int argc, char **argv)
{
	size_t sizes[] = { 2500, 5000, 10000 };
	int fails = 0;

	(void)argc; (void)argv;
	printf("parse + plan: N mappers (a wildcard over N objects) -> %d "
	       "reducers; cold = first run in a fresh process, warm = best of "
	       "%d more\n\n", REDUCERS, RUNS - 1);
	printf("| objects | instances | channels | cold ms | warm ms | goal ms "
	       "| warm/goal | plan MiB | B/channel | peak RSS MiB |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	fflush(stdout);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		pid_t pid = fork();
		int st;

		if (pid == 0)
			_exit(run_size(sizes[i]) | fflush(stdout));
		if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			fails++;
	}
	return fails ? 1 : 0;
}
