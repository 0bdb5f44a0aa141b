/* perf_event_open(2): counters on self, on every process of a CPU, and
 * hardware counters (timing side channels, kernel attack surface). */
#include <linux/perf_event.h>

#include "hostile.h"

static void try_perf(const char *what, uint32_t type, uint64_t config,
		     pid_t pid, int cpu)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = type;
	a.config = config;
	say("%s\n", what);
	MUST_FAIL_FD(syscall(SYS_perf_event_open, &a, pid, cpu, -1, 0));
}

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	try_perf("software clock, self", PERF_TYPE_SOFTWARE,
		 PERF_COUNT_SW_CPU_CLOCK, 0, -1);
	try_perf("hardware cycles, self", PERF_TYPE_HARDWARE,
		 PERF_COUNT_HW_CPU_CYCLES, 0, -1);
	try_perf("software clock, all of cpu 0", PERF_TYPE_SOFTWARE,
		 PERF_COUNT_SW_CPU_CLOCK, -1, 0);
	try_perf("tracepoint, pid 1", PERF_TYPE_TRACEPOINT, 1, 1, -1);
	return hostile_done();
}
