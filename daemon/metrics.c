/* metrics.c — counters and the latency histogram, Prometheus text. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static const double job_le[ZVMD_LATENCY_BUCKETS] = {
	0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30,
};
/* A spawn takes 0.3-1 ms on an idle machine: fine buckets there. */
static const double spawn_le[ZVMD_LATENCY_BUCKETS] = {
	0.0002, 0.0003, 0.0004, 0.0005, 0.0006, 0.0008, 0.001, 0.0015,
	0.002, 0.005, 0.01, 0.1,
};

static void histogram_add(struct zvmd_histogram *h, const double *le,
			  double seconds)
{
	size_t b = 0;

	while (b < ZVMD_LATENCY_BUCKETS && seconds > le[b])
		b++;
	h->n[b]++;
	h->sum += seconds;
	h->count++;
}

static void histogram_render(FILE *f, const char *name, const char *help,
			     const struct zvmd_histogram *h, const double *le)
{
	uint64_t cum = 0;

	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (int b = 0; b < ZVMD_LATENCY_BUCKETS; b++) {
		cum += h->n[b];
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, le[b],
			(unsigned long long)cum);
	}
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n"
		   "%s_count %llu\n", name, (unsigned long long)h->count,
		name, h->sum, name, (unsigned long long)h->count);
}

static int status_class(int status)
{
	if (status >= 200 && status < 300) return 0;
	if (status >= 400 && status < 500) return 1;
	if (status == 500) return 2;
	if (status == 503) return 3;
	return 4;
}

void zvmd_metrics_job(struct zvmd_metrics *m, int status, double seconds)
{
	m->jobs[status_class(status)]++;
	m->jobs[5]++;
	histogram_add(&m->latency, job_le, seconds);
}

void zvmd_metrics_spawn(struct zvmd_metrics *m, double seconds)
{
	histogram_add(&m->spawn, spawn_le, seconds);
}

char *zvmd_metrics_render(const struct zvmd_metrics *m, unsigned queue_depth,
			  unsigned running_jobs, unsigned slots_used,
			  unsigned pool_size, bool draining)
{
	static const char *cls[5] = { "2xx", "4xx", "500", "503", "other" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "# HELP zvmd_jobs_total Job requests answered, by status.\n"
		   "# TYPE zvmd_jobs_total counter\n");
	for (int i = 0; i < 5; i++)
		fprintf(f, "zvmd_jobs_total{status=\"%s\"} %llu\n", cls[i],
			(unsigned long long)m->jobs[i]);
	fprintf(f, "# HELP zvmd_instances_total Sandboxed instances started.\n"
		   "# TYPE zvmd_instances_total counter\n"
		   "zvmd_instances_total %llu\n"
		   "# HELP zvmd_instance_failures_total Instances that did not "
		   "exit 0 (non-zero, signal, timeout, limit, killed).\n"
		   "# TYPE zvmd_instance_failures_total counter\n"
		   "zvmd_instance_failures_total %llu\n"
		   "# HELP zvmd_bytes_in_total Bytes of job bodies and bytes "
		   "instances read.\n"
		   "# TYPE zvmd_bytes_in_total counter\n"
		   "zvmd_bytes_in_total %llu\n"
		   "# HELP zvmd_bytes_out_total Bytes instances wrote.\n"
		   "# TYPE zvmd_bytes_out_total counter\n"
		   "zvmd_bytes_out_total %llu\n",
		(unsigned long long)m->instances,
		(unsigned long long)m->instance_failures,
		(unsigned long long)m->bytes_in,
		(unsigned long long)m->bytes_out);
	fprintf(f, "# HELP zvmd_image_extractions_total Images unpacked into "
		   "the image cache (a cached image is not counted again).\n"
		   "# TYPE zvmd_image_extractions_total counter\n"
		   "zvmd_image_extractions_total %llu\n"
		   "# HELP zvmd_image_evictions_total Unused images removed "
		   "from the image cache past image_cache_size.\n"
		   "# TYPE zvmd_image_evictions_total counter\n"
		   "zvmd_image_evictions_total %llu\n"
		   "# HELP zvmd_image_cache_bytes Disk space of the image "
		   "cache's trees.\n"
		   "# TYPE zvmd_image_cache_bytes gauge\n"
		   "zvmd_image_cache_bytes %llu\n",
		(unsigned long long)m->image_extractions,
		(unsigned long long)m->image_evictions,
		(unsigned long long)m->image_cache_bytes);
	fprintf(f, "# HELP zvmd_queue_depth Jobs waiting for instance slots.\n"
		   "# TYPE zvmd_queue_depth gauge\nzvmd_queue_depth %u\n"
		   "# HELP zvmd_running_jobs Jobs whose instances run.\n"
		   "# TYPE zvmd_running_jobs gauge\nzvmd_running_jobs %u\n"
		   "# HELP zvmd_slots_used Instance slots in use.\n"
		   "# TYPE zvmd_slots_used gauge\nzvmd_slots_used %u\n"
		   "# HELP zvmd_pool_size Configured instance slots.\n"
		   "# TYPE zvmd_pool_size gauge\nzvmd_pool_size %u\n"
		   "# HELP zvmd_draining 1 after SIGTERM.\n"
		   "# TYPE zvmd_draining gauge\nzvmd_draining %d\n",
		queue_depth, running_jobs, slots_used, pool_size, draining);
	histogram_render(f, "zvmd_job_duration_seconds", "Job latency, request "
			 "complete to response ready.", &m->latency, job_le);
	histogram_render(f, "zvmd_spawn_seconds", "Start of one sandboxed "
			 "instance (sandbox_spawn: a parked child taken, or a "
			 "direct spawn).", &m->spawn, spawn_le);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
