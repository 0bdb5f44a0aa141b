/* The i386 ABI from a 64-bit process (int $0x80): other numbers (5 is
 * open, 2 is fork, 37 kill, 102 socketcall), so a filter that does not
 * check the architecture misreads every call. Any success is an escape.
 * Arguments are 32-bit: strings live in the non-PIE static image. */
#include "hostile.h"

static long int80(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "0"(nr), "b"(a), "c"(b), "d"(c)
			 : "memory");
	return ret;
}

static void must_fail80(const char *what, long ret)
{
	/* int 0x80 returns -errno in eax (32-bit): sign-extend it. */
	int r = (int)ret;

	if (r < 0)
		say("contained: %s -> %s\n", what, errname(-r));
	else
		escaped("%s returned %d", what, r);
}

static char path[] = "/etc/passwd";
static int socketcall_args[3] = { 2 /* AF_INET */, 1 /* STREAM */, 0 };

int main(int argc, char **argv)
{
	hostile_init(argc, argv);
	if ((uintptr_t)path > 0xffffffffu)
		say("note: image above 4 GiB, pointer calls will fault\n");
	must_fail80("i386 getpid (20)", int80(20, 0, 0, 0));
	must_fail80("i386 open /etc/passwd (5)",
		    int80(5, (long)(uintptr_t)path, O_RDONLY, 0));
	must_fail80("i386 socketcall socket (102)",
		    int80(102, 1, (long)(uintptr_t)socketcall_args, 0));
	must_fail80("i386 kill(-1, 0) (37)", int80(37, -1, 0, 0));
	must_fail80("i386 unshare CLONE_NEWUSER (310)",
		    int80(310, 0x10000000, 0, 0));
	must_fail80("i386 fork (2)", int80(2, 0, 0, 0));
	return hostile_done();
}
