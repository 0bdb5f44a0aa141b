/* Host-wide state through sysinfo(2): the host's process count, load,
 * free memory and uptime. Beyond revealing the host, it is a channel
 * between tenants (one modulates its memory or process use, another
 * reads it) and it makes programs nondeterministic. The call must fail
 * or show a sandbox of one process. */
#include <sys/sysinfo.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	struct sysinfo si;

	hostile_init(argc, argv);
	if (syscall(SYS_sysinfo, &si) != 0) {
		say("contained: sysinfo -> %s\n", errname(errno));
		return hostile_done();
	}
	say("sysinfo: uptime %ld s, procs %u, loads %lu %lu %lu, freeram %lu\n",
	    si.uptime, si.procs, si.loads[0], si.loads[1], si.loads[2],
	    si.freeram);
	if (si.procs > 1)
		escaped("sysinfo shows %u processes on the host", si.procs);
	return hostile_done();
}
