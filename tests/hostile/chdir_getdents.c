/* chdir(2)/fchdir(2) towards the host root, then getdents64(2): the
 * listing must never show host entries (etc, usr, proc, the canary...). */
#include "hostile.h"

static void list_cwd(const char *what)
{
	int dfd = (int)syscall(SYS_open, ".", O_RDONLY | O_DIRECTORY);

	if (dfd < 0) {
		say("  open . after %s -> %s\n", what, errname(errno));
		return;
	}
	list_for_host(what, dfd);
	close(dfd);
}

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	/* The cwd the sandbox gave us, then up as far as ".." goes. */
	list_cwd("initial cwd");
	for (int i = 0; i < 8; i++)
		syscall(SYS_chdir, "..");
	list_cwd("cwd after chdir ..");
	/* Host directories by absolute path: chdir must fail. */
	MUST_FAIL(syscall(SYS_chdir, hostile_canary));
	MUST_FAIL(syscall(SYS_chdir, "/etc"));
	if (!hostile_in_image)
		MUST_FAIL(syscall(SYS_chdir, "/tmp"));
	MUST_FAIL(syscall(SYS_chdir, "/proc/1/root"));
	/* The root of the sandbox is allowed, but must look empty of host. */
	if (syscall(SYS_chdir, "/") == 0)
		list_cwd("cwd /");
	/* fchdir to a channel fd (a host file, not a directory). */
	MUST_FAIL(syscall(SYS_fchdir, 0));
	/* getdents64 on a channel fd. */
	MUST_FAIL(syscall(SYS_getdents64, 0, (char[512]){ 0 }, 512));
	return hostile_done();
}
