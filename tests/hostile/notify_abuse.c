/* Attacking the supervisor through the calls it answers itself (paths,
 * fd bookkeeping, metered I/O): unterminated paths at the edge of a page,
 * NULL and kernel pointers, oversized structs and counts, absurd fd
 * numbers, results aimed at read-only memory. /dev/output (fd 3) and
 * /dev/input (fd 4) are metered. Nothing may open a host file or crash or
 * wedge the supervisor: at the end it must still answer an open and a
 * metered write, and the report must be "ok". */
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "hostile.h"

#define KERNEL_PTR ((void *)0xffffffff81000000UL)

static long answered(const char *what, long r)
{
	say("%s -> %ld %s\n", what, r, r < 0 ? errname(errno) : "");
	return r;
}

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	char *two = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static const char ro_buf[512] = "read-only";
	char buf[256];

	hostile_init(argc, argv);
	if (two == MAP_FAILED) {
		escaped("cannot set up: mmap -> %s", errname(errno));
		return hostile_done();
	}
	/* One page of 'A' with no NUL, then an unmapped page. */
	munmap(two + page, page);
	memset(two, 'A', page);
	char *edge = two + page - 11;
	memcpy(edge, "/dev/input", 10); /* ... and no NUL before the hole */
	MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, two, O_RDONLY));
	MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, edge, O_RDONLY));
	MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, NULL, O_RDONLY));
	MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, KERNEL_PTR, O_RDONLY));
	MUST_FAIL_FD(syscall(SYS_open, (char *)-1L, O_RDONLY));
	MUST_FAIL(syscall(SYS_stat, edge, buf));
	MUST_FAIL(syscall(SYS_access, two, F_OK));

	struct open_how how = { .flags = O_RDONLY };
	MUST_FAIL_FD(syscall(SYS_openat2, AT_FDCWD, "/dev/input", NULL, sizeof(how)));
	MUST_FAIL_FD(syscall(SYS_openat2, AT_FDCWD, "/dev/input", &how, 0));
	/* An alias may open even where the kernel would refuse the struct;
	 * what matters is that the supervisor reads no more than it needs. */
	answered("openat2 size 1 GiB",
		 syscall(SYS_openat2, AT_FDCWD, "/dev/input", &how, 1L << 30));
	/* A struct running into the hole after the page. */
	MUST_FAIL_FD(syscall(SYS_openat2, AT_FDCWD, "/dev/input",
			     two + page - 8, sizeof(how)));
	how.flags = (uint64_t)1 << 40; /* unknown flag bits */
	answered("openat2 unknown flags",
		 syscall(SYS_openat2, AT_FDCWD, "/dev/input", &how, sizeof(how)));

	/* Results aimed at memory the program cannot write. */
	MUST_FAIL(syscall(SYS_stat, "/dev/input", KERNEL_PTR));
	MUST_FAIL(syscall(SYS_stat, "/dev/input", (void *)ro_buf));
	MUST_FAIL(syscall(SYS_statx, AT_FDCWD, "/dev/input", 0, STATX_ALL,
			  (void *)ro_buf));
	MUST_FAIL(syscall(SYS_read, 4, (void *)ro_buf, 10));
	MUST_FAIL(syscall(SYS_read, 4, KERNEL_PTR, 10));
	answered("read into the page edge", syscall(SYS_read, 4, two + page - 4, 64));

	/* Metered writes from bad memory and with absurd sizes. */
	MUST_FAIL(syscall(SYS_write, 3, NULL, 10));
	MUST_FAIL(syscall(SYS_write, 3, KERNEL_PTR, 10));
	answered("write SIZE_MAX", syscall(SYS_write, 3, buf, (size_t)-1));
	struct iovec bad[2] = { { NULL, 10 }, { KERNEL_PTR, 10 } };
	MUST_FAIL(syscall(SYS_writev, 3, bad, 2));
	MUST_FAIL(syscall(SYS_writev, 3, bad, 100000));
	MUST_FAIL(syscall(SYS_readv, 4, bad, -1));

	/* fd bookkeeping with absurd numbers. */
	MUST_FAIL(syscall(SYS_close, -1));
	MUST_FAIL(syscall(SYS_close, 1 << 30));
	MUST_FAIL(syscall(SYS_dup2, 3, 1 << 30));
	MUST_FAIL(syscall(SYS_dup2, 1 << 30, 5));
	MUST_FAIL(syscall(SYS_dup3, 3, 3, 0));
	MUST_FAIL(syscall(SYS_dup3, 3, 6, -1));
	MUST_FAIL(syscall(SYS_fcntl, 3, F_DUPFD, 1 << 30));
	MUST_FAIL(syscall(SYS_fcntl, 1 << 30, F_GETFD));
	MUST_FAIL(syscall(SYS_kill, INT_MIN, 0));
	MUST_FAIL(syscall(SYS_tgkill, getpid(), -1, 0));
	MUST_FAIL(syscall(SYS_execveat, AT_FDCWD, NULL, NULL, NULL, 0));
	MUST_FAIL(syscall(SYS_execveat, 4, "", NULL, NULL, AT_EMPTY_PATH));

	/* Exhaust the fd table with alias opens, then give them back. */
	int opened = 0;
	long fd;
	while (opened < 100000 &&
	       (fd = syscall(SYS_openat, AT_FDCWD, "/dev/input", O_RDONLY)) >= 0)
		opened++;
	say("opened /dev/input %d times, then %s\n", opened, errname(errno));
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) < 0)
		escaped("getrlimit(RLIMIT_NOFILE) -> %s", errname(errno));
	for (rlim_t f = 5; f < nofile.rlim_cur; f++)
		syscall(SYS_close, (int)f);

	/* The supervisor must still be there and sane. */
	long again = syscall(SYS_openat, AT_FDCWD, "/dev/input", O_RDONLY);
	if (again < 0)
		escaped("the supervisor stopped answering opens: %s", errname(errno));
	long w = syscall(SYS_write, 3, "still here\n", 11);
	if (w != 11 && !(w < 0 && errno == EDQUOT))
		escaped("the supervisor stopped metering writes: %s", errname(errno));
	return hostile_done();
}
