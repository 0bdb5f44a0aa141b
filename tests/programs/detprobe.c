/*
 * detprobe — prints everything a program can learn that could differ
 * between two runs: clocks, randomness, ids, the kernel's name, where its
 * memory is, its environment. tests/sandbox/determinism.sh runs it twice.
 *
 *   detprobe           print the probe lines
 *   detprobe sleep S   print CLOCK_MONOTONIC, nanosleep S seconds, print it
 *   detprobe tsc       execute rdtsc (deterministic mode: SIGSEGV)
 */
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
	printf("pid %d ppid %d\n", (int)getpid(), (int)getppid());
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

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "sleep") == 0)
		return sleep_probe(argv[2]);
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
