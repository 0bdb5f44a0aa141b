/* Hangs the supervisor on the program's behalf: /dev/output (fd 3) is a
 * metered FIFO that nobody drains, so once the pipe is full the
 * supervisor's own write blocks. The wall-clock timeout must still end
 * the run ("session timeout"). */
#include "hostile.h"

int main(int argc, char **argv)
{
	static char buf[1 << 16];

	hostile_init(argc, argv);
	say("filling a FIFO that nobody reads\n");
	for (int i = 0; i < 64; i++)
		if (write(3, buf, sizeof(buf)) < 0) {
			say("write -> %s\n", errname(errno));
			break;
		}
	escaped("the writes returned instead of the run timing out");
	return hostile_done();
}
