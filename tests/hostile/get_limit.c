/* Reading past the get_size limit of /dev/input (fd 3; argv[4] bytes).
 * The runner fills the file's first bytes with 'a' up to the limit and
 * the rest with "BEYOND-LIMIT": no route may show those bytes — not
 * read, pread, a reopened alias, mmap, sendfile or splice. */
#include <sys/mman.h>
#include <sys/sendfile.h>

#include "hostile.h"

static long total;

static void seen(const char *what, const char *buf, long n)
{
	if (n <= 0)
		return;
	total += n;
	if (memmem(buf, (size_t)n, "BEYOND", 6))
		escaped("%s showed bytes past the limit", what);
}

static void read_until_error(int fd, const char *what)
{
	char buf[64];

	for (int i = 0; i < 256; i++) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			say("%s stops: %zd %s\n", what, n, n < 0 ? errname(errno) : "EOF");
			return;
		}
		seen(what, buf, n);
	}
}

int main(int argc, char **argv)
{
	long limit = argc > 4 ? atol(argv[4]) : 100;
	char buf[256];

	hostile_init(argc, argv);
	read_until_error(3, "read fd 3");
	seen("pread", buf, pread(3, buf, sizeof(buf), limit + 16));
	long fd = syscall(SYS_open, "/dev/input", O_RDONLY);
	if (fd >= 0)
		read_until_error((int)fd, "reopened /dev/input");
	char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3, 0);
	if (p != MAP_FAILED) {
		escaped("mapping of a metered channel");
		seen("mmap", p, 4096);
	} else {
		say("contained: mmap -> %s\n", errname(errno));
	}
	off_t off = limit + 16;
	long n = sendfile(1, 3, &off, 64);
	say("sendfile -> %ld %s\n", n, n < 0 ? errname(errno) : "");
	if (n > 0)
		escaped("sendfile copied %ld unmetered bytes", n);
	say("read %ld bytes in all, limit %ld\n", total, limit);
	if (total > limit)
		escaped("read %ld bytes past a %ld-byte limit", total, limit);
	return hostile_done();
}
