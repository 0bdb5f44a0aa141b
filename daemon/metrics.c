/* metrics.c — counters and the latency histogram, Prometheus text. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static const double bucket_le[ZVMD_LATENCY_BUCKETS] = {
	0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30,
};

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
	size_t b = 0;

	m->jobs[status_class(status)]++;
	m->jobs[5]++;
	while (b < ZVMD_LATENCY_BUCKETS && seconds > bucket_le[b])
		b++;
	m->latency[b]++;
	m->latency_sum += seconds;
	m->latency_count++;
}

char *zvmd_metrics_render(const struct zvmd_metrics *m, unsigned queue_depth,
			  unsigned running_jobs, unsigned slots_used,
			  unsigned pool_size, bool draining)
{
	static const char *cls[5] = { "2xx", "4xx", "500", "503", "other" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	uint64_t cum = 0;

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
		   "zvmd_image_extractions_total %llu\n",
		(unsigned long long)m->image_extractions);
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
	fprintf(f, "# HELP zvmd_job_duration_seconds Job latency, request "
		   "complete to response ready.\n"
		   "# TYPE zvmd_job_duration_seconds histogram\n");
	for (int b = 0; b < ZVMD_LATENCY_BUCKETS; b++) {
		cum += m->latency[b];
		fprintf(f, "zvmd_job_duration_seconds_bucket{le=\"%g\"} %llu\n",
			bucket_le[b], (unsigned long long)cum);
	}
	fprintf(f, "zvmd_job_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
		   "zvmd_job_duration_seconds_sum %.6f\n"
		   "zvmd_job_duration_seconds_count %llu\n",
		(unsigned long long)m->latency_count, m->latency_sum,
		(unsigned long long)m->latency_count);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
