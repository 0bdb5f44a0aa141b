/* Reading past the get_size limit of /dev/input (fd 3, argv[4] bytes,
 * then "BEYOND-LIMIT" lines) with the read calls other than read(2):
 * readv, preadv, preadv2, copy_file_range and splice into a pipe, and
 * sendfile to stdout. None may show the bytes past the limit. */
#include <sys/uio.h>

#include "hostile.h"

static long total;
static char buf[8192];

static void seen(const char *what, long n, const char *data)
{
	say("%s -> %ld %s\n", what, n, n < 0 ? errname(errno) : "");
	if (n <= 0)
		return;
	total += n;
	if (data && memmem(data, (size_t)n, "BEYOND", 6))
		escaped("%s showed bytes past the limit", what);
}

int main(int argc, char **argv)
{
	long limit = argc > 4 ? atol(argv[4]) : 100;
	struct iovec iov[4];
	int pipefd[2];

	hostile_init(argc, argv);
	for (int i = 0; i < 4; i++)
		iov[i] = (struct iovec){ buf + i * 1024, 1024 };
	memset(buf, 0, sizeof(buf));
	long n = syscall(SYS_readv, 3, iov, 4);
	seen("readv 4 x 1024", n, NULL);
	if (n > 0 && memmem(buf, 4096, "BEYOND", 6))
		escaped("readv showed bytes past the limit");
	seen("preadv offset 200", syscall(SYS_preadv, 3, iov, 1, 200L, 0), buf);
	seen("preadv2 offset -1", syscall(SYS_preadv2, 3, iov, 1, -1L, 0, 0), buf);
	seen("preadv2 offset 500", syscall(SYS_preadv2, 3, iov, 1, 500L, 0, 0), buf);
	/* Into another channel: the runner checks nothing BEYOND is printed. */
	seen("copy_file_range fd 3 -> stdout",
	     syscall(SYS_copy_file_range, 3, NULL, 1, NULL, 4096, 0), NULL);
	seen("sendfile fd 3 -> stdout", syscall(SYS_sendfile, 1, 3, NULL, 4096),
	     NULL);
	if (syscall(SYS_pipe2, pipefd, 0) == 0) {
		long s = syscall(SYS_splice, 3, NULL, pipefd[1], NULL, 4096, 0);
		seen("splice fd 3 -> pipe", s, NULL);
		if (s > 0 && read(pipefd[0], buf, sizeof(buf)) > 0 &&
		    memmem(buf, sizeof(buf), "BEYOND", 6))
			escaped("splice showed bytes past the limit");
	} else {
		say("pipe2 -> %s\n", errname(errno));
	}
	say("%ld bytes read in all, limit %ld\n", total, limit);
	if (total > limit)
		escaped("read %ld bytes past a %ld-byte limit", total, limit);
	return hostile_done();
}
