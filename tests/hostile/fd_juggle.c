/* Moving a metered channel onto a direct fd number: /dev/output (fd 3,
 * put_size argv[4]) is metered, stdin/stdout are not. If close+dup, dup2,
 * fcntl(F_DUPFD) or reopening the alias put the output on fd 0 or 1, its
 * writes would go straight to the kernel, past the limit. Every new fd
 * writes 600 bytes twice; the bytes that reached the output in all must
 * stay within the limit (the runner checks the file too). Logs go to fd 2
 * since fd 1 is one of the targets. */
#include "hostile.h"

static long limit, total;

static void pour(const char *how, long fd)
{
	char chunk[600];

	if (fd < 0) {
		say("%s -> %s\n", how, errname(errno));
		return;
	}
	memset(chunk, 'j', sizeof(chunk));
	say("%s -> fd %ld\n", how, fd);
	for (int i = 0; i < 2; i++) {
		ssize_t n = write((int)fd, chunk, sizeof(chunk));
		say("  write 600 -> %zd %s\n", n, n < 0 ? errname(errno) : "");
		if (n > 0)
			total += n;
	}
}

int main(int argc, char **argv)
{
	hostile_log_fd = 2;
	limit = argc > 4 ? atol(argv[4]) : 1000;
	hostile_init(argc, argv);
	close(1);
	pour("close(1); dup(3)", syscall(SYS_dup, 3));
	pour("dup2(3, 0)", syscall(SYS_dup2, 3, 0));
	pour("dup3(3, 1, O_CLOEXEC)", syscall(SYS_dup3, 3, 1, O_CLOEXEC));
	close(0);
	pour("close(0); fcntl(3, F_DUPFD, 0)", syscall(SYS_fcntl, 3, F_DUPFD, 0));
	close(0);
	close(1);
	pour("close(0, 1); open /dev/output",
	     syscall(SYS_openat, AT_FDCWD, "/dev/output", O_WRONLY));
	say("%ld bytes reached /dev/output, limit %ld\n", total, limit);
	if (total > limit)
		escaped("%ld bytes written past a %ld-byte limit", total, limit);
	return hostile_done();
}
