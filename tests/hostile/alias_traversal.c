/* Path tricks on channel aliases: ".." after an alias, doubled slashes,
 * a very long path. The supervisor resolves aliases itself; none of these
 * may open a host file. */
#include "hostile.h"

int main(int argc, char **argv)
{
	static char longpath[PATH_MAX];
	char viaalias[PATH_MAX + 32];
	const char *paths[] = {
		"/dev/stdin/../../etc/passwd", "/dev/../etc/passwd",
		"/dev/input/..", "/dev/input/../../etc/passwd",
		"/dev//..//etc/passwd", "/dev/./../etc/passwd",
		"//etc/passwd", "/dev/in/../../etc/passwd",
		"/dev/stdout/../../proc/self/mem", viaalias, longpath, NULL,
	};

	hostile_init(argc, argv);
	snprintf(viaalias, sizeof(viaalias), "/dev/input/../..%s",
		 hostile_secret);
	strcpy(longpath, "/dev/input");
	while (strlen(longpath) + 16 < sizeof(longpath) - 16)
		strcat(longpath, "/..");
	strcat(longpath, "/etc/passwd");
	for (size_t i = 0; paths[i]; i++) {
		say("path %.60s%s\n", paths[i], strlen(paths[i]) > 60 ? "..." : "");
		MUST_FAIL_FD(syscall(SYS_openat, AT_FDCWD, paths[i], O_RDONLY));
	}
	return hostile_done();
}
