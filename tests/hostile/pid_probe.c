/* Seeing other processes without signalling them: calls that take a pid
 * and answer for any process the program may see — getpgid, getsid,
 * sched_getaffinity, get_robust_list. Every pid 1..65536 but our own is
 * probed; any answer shows the host's (or a sibling sandbox's) processes. */
#include <linux/futex.h>
#include <sched.h>

#include "hostile.h"

struct probe {
	const char *name;
	int seen, first;
};

static void probe(struct probe *p, pid_t pid, long r)
{
	if (r < 0)
		return;
	if (p->seen++ == 0)
		p->first = pid;
}

int main(int argc, char **argv)
{
	struct probe probes[] = {
		{ "getpgid", 0, 0 }, { "getsid", 0, 0 },
		{ "sched_getaffinity", 0, 0 }, { "get_robust_list", 0, 0 },
	};
	pid_t self = getpid();

	hostile_init(argc, argv);
	for (pid_t pid = 1; pid <= 65536; pid++) {
		cpu_set_t set;
		struct robust_list_head *head;
		size_t len;

		if (pid == self)
			continue;
		probe(&probes[0], pid, syscall(SYS_getpgid, pid));
		probe(&probes[1], pid, syscall(SYS_getsid, pid));
		probe(&probes[2], pid, syscall(SYS_sched_getaffinity, pid,
					       sizeof(set), &set));
		probe(&probes[3], pid, syscall(SYS_get_robust_list, pid, &head,
					       &len));
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (probes[i].seen)
			escaped("%s answers for %d other pids (first: %d)",
				probes[i].name, probes[i].seen, probes[i].first);
		else
			say("contained: %s sees no other pid\n", probes[i].name);
	}
	return hostile_done();
}
