/* Writing past the put_size limit of /dev/output (fd 3; limit argv[4]
 * bytes): a write must fail before the limit is crossed, and reopening
 * the alias must not reset the count. The runner checks the file size. */
#include "hostile.h"

static long write_until_error(int fd, const char *what)
{
	char chunk[256];
	long total = 0;

	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 64; i++) {
		ssize_t n = write(fd, chunk, sizeof(chunk));
		if (n < 0) {
			say("contained: %s write after %ld bytes -> %s\n", what,
			    total, errname(errno));
			return total;
		}
		total += n;
	}
	escaped("%s: 64 writes of 256 bytes all succeeded (%ld bytes)", what,
		total);
	return total;
}

int main(int argc, char **argv)
{
	long limit = argc > 4 ? atol(argv[4]) : 1000;

	hostile_init(argc, argv);
	long total = write_until_error(3, "fd 3");
	long fd = syscall(SYS_open, "/dev/output", O_WRONLY);
	if (fd >= 0)
		total += write_until_error((int)fd, "reopened /dev/output");
	else
		say("reopen /dev/output -> %s\n", errname(errno));
	say("wrote %ld bytes in all, limit %ld\n", total, limit);
	if (total > limit)
		escaped("wrote %ld bytes past a %ld-byte limit", total, limit);
	return hostile_done();
}
