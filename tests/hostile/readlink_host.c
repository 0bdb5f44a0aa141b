/* readlink(2), readlinkat(2): /proc links would reveal host paths (the
 * path of each channel's host file, the supervisor's executable). */
#include "hostile.h"

int main(int argc, char **argv)
{
	static const char *const links[] = {
		"/proc/self/exe", "/proc/self/cwd", "/proc/self/root",
		"/proc/self/fd/0", "/proc/self/fd/1", "/proc/1/exe",
		"/proc/1/cwd", "/proc/thread-self", "/proc/self/ns/mnt", NULL,
	};
	char buf[PATH_MAX];

	hostile_init(argc, argv);
	for (size_t i = 0; links[i]; i++) {
		long n;

		say("link %s\n", links[i]);
		n = MUST_FAIL(syscall(SYS_readlink, links[i], buf, sizeof(buf) - 1));
		if (n >= 0)
			say("  -> %.*s\n", (int)n, buf);
		n = MUST_FAIL(syscall(SYS_readlinkat, AT_FDCWD, links[i], buf,
				      sizeof(buf) - 1));
		if (n >= 0)
			say("  -> %.*s\n", (int)n, buf);
	}
	return hostile_done();
}
