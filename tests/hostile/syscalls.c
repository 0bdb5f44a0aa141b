/*
 * One system call number (argv[4]) with garbage arguments, four times.
 * The runner calls this once per number from 0 to the end of the table,
 * each in a fresh sandbox: whatever the call does, the program must end
 * contained (exit, signal or timeout) and the host must stay unchanged.
 *
 * Skipped: exit/exit_group (they would merely end the run) and the calls
 * that would merely block (pause, sleeps, waits on garbage timeouts).
 * Signal-sending calls get signal 0 so that, were the policy to let one
 * through, it would only probe and not kill the host's processes.
 */
#include <sys/prctl.h>

#include "hostile.h"

static const int skipped[] = {
	SYS_exit, SYS_exit_group, SYS_pause, SYS_rt_sigsuspend,
	SYS_nanosleep, SYS_clock_nanosleep, SYS_select, SYS_pselect6,
	SYS_poll, SYS_ppoll, SYS_epoll_wait, SYS_epoll_pwait,
	SYS_epoll_pwait2, SYS_futex, SYS_futex_waitv, 455 /* futex_wait */,
	SYS_rt_sigtimedwait, SYS_msgrcv, SYS_semop, SYS_semtimedop,
	SYS_mq_timedreceive, SYS_io_getevents, SYS_io_pgetevents,
};

/* Which argument (0-based) is a signal number, or -1. */
static int signal_arg(long nr)
{
	switch (nr) {
	case SYS_kill: case SYS_tkill: case SYS_rt_sigqueueinfo:
	case SYS_pidfd_send_signal:
		return 1;
	case SYS_tgkill: case SYS_rt_tgsigqueueinfo:
		return 2;
	default:
		return -1;
	}
}

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Readable garbage, with a NUL every few bytes so string arguments end. */
static unsigned char junk[1 << 16];

static void fill_junk(void)
{
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (next() % 24 == 0) ? 0 : (unsigned char)next();
}

static long garbage(void)
{
	switch (next() % 9) {
	case 0: return 0;
	case 1: return -1;
	case 2: return (long)(next() % 4);            /* fds 0..3, flags */
	case 3: return (long)(uintptr_t)(junk + next() % 4096);
	case 4: return (long)(uintptr_t)(junk + sizeof(junk) - 8);
	case 5: return (long)0x7fffffff;
	case 6: return (long)(1UL << (next() % 63));
	case 7: return (long)(next() % 65536);
	default: return (long)next();
	}
}

int main(int argc, char **argv)
{
	long nr = argc > 4 ? atol(argv[4]) : -1;

	hostile_init(argc, argv);
	/* Interlock: never fire garbage from outside a sandbox. */
	if (syscall(SYS_openat, AT_FDCWD, hostile_secret, O_RDONLY) >= 0 ||
	    syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY) >= 0) {
		escaped("host files are readable; not fuzzing outside a sandbox");
		return hostile_done();
	}
	for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++) {
		if (skipped[i] == nr) {
			say("syscall %ld skipped (exits or blocks)\n", nr);
			return hostile_done();
		}
	}
	for (int round = 0; round < 4; round++) {
		long a[6];

		rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(nr * 4 + round + 1);
		fill_junk();
		for (int i = 0; i < 6; i++)
			a[i] = garbage();
		if (signal_arg(nr) >= 0)
			a[signal_arg(nr)] = 0;
		say("syscall %ld round %d (%#lx, %#lx, %#lx, %#lx, %#lx, %#lx)\n",
		    nr, round, a[0], a[1], a[2], a[3], a[4], a[5]);
		long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		say("  -> %ld %s\n", r, r == -1 ? errname(errno) : "");
	}
	return hostile_done();
}
