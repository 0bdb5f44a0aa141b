/* Hangs the supervisor on the program's behalf: /dev/input (fd 3) is a
 * metered FIFO that never gets data, so the supervisor's own read blocks.
 * The wall-clock timeout must still end the run ("session timeout"). */
#include "hostile.h"

int main(int argc, char **argv)
{
	char buf[64];

	hostile_init(argc, argv);
	say("reading a FIFO that never speaks\n");
	ssize_t n = read(3, buf, sizeof(buf));
	say("read returned %zd %s\n", n, n < 0 ? errname(errno) : "");
	escaped("the read returned instead of the run timing out");
	return hostile_done();
}
