/* A host directory given as a channel (/dev/dir, fd 3: the canary dir).
 * A directory fd is a handle on the host tree: names looked up from it
 * (the canary's secret, "../" up to /etc) must stay out of reach, by path
 * calls with AT_EMPTY_PATH as well as by listing it or changing into it.
 * The sandbox may refuse such a channel outright (then this never runs). */
#include "hostile.h"

int main(int argc, char **argv)
{
	static const char *const names[] = {
		"secret", "..", "../../../../etc/passwd", ".", NULL,
	};
	struct stat st;
	struct statx stx;
	char buf[1024];

	hostile_init(argc, argv);
	for (size_t i = 0; names[i]; i++) {
		say("name %s\n", names[i]);
		MUST_FAIL(syscall(SYS_newfstatat, 3, names[i], &st, AT_EMPTY_PATH));
		MUST_FAIL(syscall(SYS_statx, 3, names[i], AT_EMPTY_PATH,
				  STATX_BASIC_STATS, &stx));
		MUST_FAIL_FD(syscall(SYS_openat, 3, names[i], O_RDONLY));
		MUST_FAIL(syscall(SYS_faccessat2, 3, names[i], F_OK, AT_EMPTY_PATH));
	}
	long n = MUST_FAIL(syscall(SYS_getdents64, 3, buf, sizeof(buf)));
	if (n > 0)
		list_for_host("channel dir", 3);
	MUST_FAIL(syscall(SYS_fchdir, 3));
	return hostile_done();
}
