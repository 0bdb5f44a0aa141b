/* Random access on sequential channels: stdin and stdout are "sequential
 * get / sequential put" (type 0). Seeking back, positional reads and
 * writes, or calls that take an offset must all fail: a sequential
 * channel may be a stream that cannot be replayed. */
#include <sys/uio.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	char buf[16];
	loff_t zero = 0;
	struct iovec iov = { buf, sizeof(buf) };

	hostile_init(argc, argv);
	say("read stdin -> %zd\n", read(0, buf, 10));
	MUST_FAIL(syscall(SYS_lseek, 0, 0, SEEK_SET));
	MUST_FAIL(syscall(SYS_pread64, 0, buf, 10, 0));
	MUST_FAIL(syscall(SYS_preadv, 0, &iov, 1, 0, 0));
	MUST_FAIL(syscall(SYS_preadv2, 0, &iov, 1, 0, 0, 0));
	MUST_FAIL(syscall(SYS_copy_file_range, 0, &zero, 1, NULL, 10, 0));
	zero = 0;
	MUST_FAIL(syscall(SYS_sendfile, 1, 0, &zero, 10));
	MUST_FAIL(syscall(SYS_lseek, 1, 0, SEEK_SET));
	MUST_FAIL(syscall(SYS_pwrite64, 1, "overwrite", 9, 0));
	MUST_FAIL(syscall(SYS_pwritev2, 1, &iov, 1, 0, 0, 0));
	return hostile_done();
}
