/* Writing more times than the puts limit of /dev/output (fd 3; argv[4]
 * calls): the next write must fail. */
#include "hostile.h"

int main(int argc, char **argv)
{
	long limit = argc > 4 ? atol(argv[4]) : 5;
	long ok = 0;

	hostile_init(argc, argv);
	for (int i = 0; i < 4 * limit + 16; i++) {
		if (write(3, "x", 1) == 1) {
			ok++;
			continue;
		}
		say("contained: write #%d -> %s\n", i + 1, errname(errno));
		break;
	}
	say("%ld writes succeeded, limit %ld\n", ok, limit);
	if (ok > limit)
		escaped("%ld writes past a limit of %ld", ok, limit);
	return hostile_done();
}
