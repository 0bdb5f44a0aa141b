/* bench_sandbox.h — what the sandbox benchmarks share. */
#ifndef ZEROVM_BENCH_SANDBOX_H
#define ZEROVM_BENCH_SANDBOX_H

#include <stdlib.h>
#include <time.h>

#include "sandbox.h"

/* stdin from `in` (metered with a get limit or direct), stdout and stderr
 * to `out`, all unlimited otherwise. */
static inline void bench_std_channels(struct sandbox_channel ch[3], int in,
				      int out, int64_t gets)
{
	const int64_t u = SANDBOX_UNBOUNDED;

	ch[0] = (struct sandbox_channel){.alias = "/dev/stdin", .fd = in,
					 .gets = gets, .get_size = u};
	ch[1] = (struct sandbox_channel){.alias = "/dev/stdout", .fd = out,
					 .puts = u, .put_size = u};
	ch[2] = (struct sandbox_channel){.alias = "/dev/stderr", .fd = out,
					 .puts = u, .put_size = u};
}

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sort v and return its median. */
static inline double bench_median(double *v, int n)
{
	qsort(v, n, sizeof(*v), bench_cmp);
	return v[n / 2];
}

#endif
