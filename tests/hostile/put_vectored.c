/* Writing past the put_size limit of /dev/output (fd 3, argv[4] bytes)
 * with the write calls other than write(2): writev, pwritev2, sendfile,
 * copy_file_range, splice and vmsplice from a pipe. stdin holds 64 KiB to
 * copy from. The bytes accepted in all must stay within the limit. */
#include <sys/sendfile.h>
#include <sys/uio.h>

#include "hostile.h"

static long total;

/* Log a call; `output` says whether its bytes went to /dev/output. */
static void count(const char *what, long n, int output)
{
	say("%s -> %ld %s\n", what, n, n < 0 ? errname(errno) : "");
	if (n > 0 && output)
		total += n;
}

int main(int argc, char **argv)
{
	long limit = argc > 4 ? atol(argv[4]) : 1000;
	static char buf[4096];
	struct iovec iov[4];
	int pipefd[2];

	hostile_init(argc, argv);
	memset(buf, 'v', sizeof(buf));
	for (int i = 0; i < 4; i++)
		iov[i] = (struct iovec){ buf, 400 };
	count("writev 4 x 400", syscall(SYS_writev, 3, iov, 4), 1);
	count("writev again", syscall(SYS_writev, 3, iov, 4), 1);
	count("pwritev2 offset -1", syscall(SYS_pwritev2, 3, iov, 4, -1L, 0, 0), 1);
	count("pwritev offset 0", syscall(SYS_pwritev, 3, iov, 4, 0L, 0), 1);
	count("sendfile stdin -> fd 3", syscall(SYS_sendfile, 3, 0, NULL, 4096), 1);
	count("copy_file_range stdin -> fd 3",
	      syscall(SYS_copy_file_range, 0, NULL, 3, NULL, 4096, 0), 1);
	if (syscall(SYS_pipe2, pipefd, 0) == 0) {
		count("write pipe", write(pipefd[1], buf, sizeof(buf)), 0);
		count("splice pipe -> fd 3",
		      syscall(SYS_splice, pipefd[0], NULL, 3, NULL, 4096, 0), 1);
		struct iovec v = { buf, sizeof(buf) };
		count("vmsplice", syscall(SYS_vmsplice, pipefd[1], &v, 1, 0), 0);
		count("tee pipe -> fd 3", syscall(SYS_tee, pipefd[0], 3, 4096, 0), 1);
	} else {
		say("pipe2 -> %s\n", errname(errno));
	}
	say("%ld bytes accepted by /dev/output, limit %ld\n", total, limit);
	if (total > limit)
		escaped("%ld bytes written past a %ld-byte limit", total, limit);
	return hostile_done();
}
