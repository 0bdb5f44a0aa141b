/*
 * detprobe — prints everything a program can learn that could differ
 * between two runs: clocks, randomness, ids, the kernel's name, where its
 * memory is, its environment. tests/sandbox/determinism.sh runs it twice.
 *
 *   detprobe           print the probe lines
 *   detprobe sleep S   print CLOCK_MONOTONIC, nanosleep S seconds, print it
 *   detprobe tsc       execute rdtsc (deterministic mode: SIGSEGV)
 *   detprobe raise S   raise(S), then print "survived" (S = 0: abort())
 *   detprobe mem C     fill 1 MiB of heap with the character C, print "ok"
 *                      (two runs differ in memory only)
 *   detprobe edge      bad arguments, absolute and huge sleeps, CPU times
 *                      (deterministic mode only: with the vDSO a bad
 *                      pointer would crash the program)
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void hex(const char *name, const unsigned char *p, size_t n)
{
	printf("%s ", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static void clocks(void)
{
	static const struct { clockid_t id; const char *name; } ids[] = {
		{CLOCK_REALTIME, "realtime"}, {CLOCK_MONOTONIC, "monotonic"},
		{CLOCK_PROCESS_CPUTIME_ID, "process"},
		{CLOCK_THREAD_CPUTIME_ID, "thread"},
		{CLOCK_MONOTONIC_RAW, "monotonic_raw"},
		{CLOCK_REALTIME_COARSE, "realtime_coarse"},
		{CLOCK_MONOTONIC_COARSE, "monotonic_coarse"},
		{CLOCK_BOOTTIME, "boottime"}, {CLOCK_TAI, "tai"},
	};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct timespec ts = {0, 0}, res = {0, 0};
		int r = clock_gettime(ids[i].id, &ts);

		clock_getres(ids[i].id, &res);
		printf("clock %s %d %lld.%09ld res %lld.%09ld\n", ids[i].name, r,
		       (long long)ts.tv_sec, ts.tv_nsec, (long long)res.tv_sec,
		       res.tv_nsec);
	}
	struct timeval tv;
	gettimeofday(&tv, NULL);
	printf("gettimeofday %lld.%06ld\n", (long long)tv.tv_sec, (long)tv.tv_usec);
	printf("time %lld\n", (long long)time(NULL));
}

static void randomness(void)
{
	unsigned char buf[32];
	const unsigned char *at = (const unsigned char *)getauxval(AT_RANDOM);
	int fd;

	if (at)
		hex("at_random", at, 16);
	for (int i = 0; i < 3; i++) {
		memset(buf, 0, sizeof(buf));
		printf("getrandom %zd ", getrandom(buf, sizeof(buf), 0));
		hex("", buf, sizeof(buf));
	}
	printf("urandom access %d\n", access("/dev/urandom", R_OK));
	fd = open("/dev/urandom", O_RDONLY);
	memset(buf, 0, sizeof(buf));
	printf("urandom fd %s read %zd ", fd >= 0 ? "ok" : "failed",
	       fd >= 0 ? read(fd, buf, sizeof(buf)) : -1);
	hex("", buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	printf("vdso %s\n", getauxval(AT_SYSINFO_EHDR) ? "present" : "absent");
}

static void identity(void)
{
	struct utsname u;
	uint64_t h = 1469598103934665603ULL; /* FNV-1a of the environment */

	if (uname(&u) == 0)
		printf("uname %s|%s|%s|%s|%s\n", u.sysname, u.nodename, u.release,
		       u.version, u.machine);
	for (char **e = environ; *e; e++)
		for (const char *c = *e; ; c++) {
			h = (h ^ (unsigned char)*c) * 1099511628211ULL;
			if (!*c)
				break;
		}
	printf("env %016llx\n", (unsigned long long)h);
	printf("pid %d ppid %d tid %d pgrp %d\n", (int)getpid(), (int)getppid(),
	       (int)syscall(SYS_gettid), (int)getpgrp());
}

static void addresses(void)
{
	int local = 0;
	void *heap = malloc(100), *big = malloc(1 << 20);
	void *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	printf("stack %p heap %p bigheap %p mmap %p brk %p\n", (void *)&local,
	       heap, big, map, sbrk(0));
}

static int sleep_probe(const char *secs)
{
	struct timespec a, b, req = {atol(secs), 0};

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (nanosleep(&req, NULL) != 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("slept %lld\n", (long long)(b.tv_sec - a.tv_sec));
	return 0;
}

static void edge(void)
{
	struct timespec ts = {0, -1}, t0, t1;
	struct tms tm;
	struct rusage ru;
	long r;

	r = syscall(SYS_clock_gettime, CLOCK_REALTIME, (void *)8);
	printf("gettime_badptr %ld %d\n", r, r ? errno : 0);
	r = syscall(SYS_clock_gettime, 12345, &t0);
	printf("gettime_badid %ld %d\n", r, r ? errno : 0);
	r = syscall(SYS_getrandom, (void *)8, 16, 0);
	printf("getrandom_badptr %ld %d\n", r, r ? errno : 0);
	r = syscall(SYS_getrandom, &t0, sizeof(t0), 0x100);
	printf("getrandom_badflags %ld %d\n", r, r ? errno : 0);
	r = syscall(SYS_nanosleep, &ts, NULL);
	printf("sleep_badns %ld %d\n", r, r ? errno : 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ts = (struct timespec){t0.tv_sec + 5, t0.tv_nsec};
	r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sleep_abs %ld %lld\n", r, (long long)(t1.tv_sec - t0.tv_sec));
	ts = (struct timespec){LLONG_MAX, 0};
	r = nanosleep(&ts, NULL);
	clock_gettime(CLOCK_REALTIME, &t0);
	clock_gettime(CLOCK_REALTIME, &t1);
	printf("sleep_huge %ld positive %d stopped %d\n", r, t0.tv_sec > 0,
	       t0.tv_sec == t1.tv_sec && t0.tv_nsec == t1.tv_nsec);
	r = (long)times(&tm);
	printf("times %d\n", r == (long)tm.tms_utime && tm.tms_stime == 0);
	r = getrusage(RUSAGE_SELF, &ru);
	printf("getrusage %ld %d\n", r, ru.ru_stime.tv_sec == 0 && ru.ru_maxrss == 0);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "edge") == 0) {
		edge();
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "sleep") == 0)
		return sleep_probe(argv[2]);
	if (argc == 3 && strcmp(argv[1], "raise") == 0) {
		if (atoi(argv[2]) == 0)
			abort();
		raise(atoi(argv[2]));
		printf("survived\n");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "mem") == 0) {
		char *p = malloc(1 << 20);

		memset(p, argv[2][0], 1 << 20);
		printf("ok\n");
		return p[12345] == 0;
	}
	if (argc == 2 && strcmp(argv[1], "tsc") == 0) {
		uint32_t lo, hi;

		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		printf("tsc %llu\n", ((unsigned long long)hi << 32) | lo);
		return 0;
	}
	clocks();
	randomness();
	identity();
	addresses();
	return 0;
}
