/*
 * bench_sandbox_read READER [FILE] [RUNS]: read a 1 GiB file through the
 * stdin channel (READER = sbtest, "readall 0": 64 KiB reads) three ways,
 * interleaved, and print median seconds and throughput:
 *   plain      posix_spawn of the same binary, stdin = the file
 *   direct     sandbox, stdin a direct channel (the kernel does the reads)
 *   metered    sandbox, stdin with a get limit (every read goes through
 *              the supervisor: process_vm_writev of each chunk)
 * FILE (default /tmp/zerovm-bench-1g) is created once if missing.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_sandbox.h"
#include "sandbox.h"

#define GIB (1LL << 30)

extern char **environ;

static void file_make(const char *path)
{
	struct stat st;
	static char buf[1 << 20];
	int fd;

	if (stat(path, &st) == 0 && st.st_size == GIB)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	for (int i = 0; i < 1024; i++)
		if (write(fd, buf, sizeof(buf)) != sizeof(buf)) {
			perror("write");
			exit(1);
		}
	close(fd);
}

static double run_plain(const char *reader, int in, int devnull)
{
	char *argv[] = {(char *)reader, "readall", "0", NULL};
	posix_spawn_file_actions_t fa;
	double t0 = bench_now();
	pid_t pid;
	int status;

	lseek(in, 0, SEEK_SET);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, devnull, 1);
	if (posix_spawn(&pid, reader, &fa, NULL, argv, environ) != 0 ||
	    waitpid(pid, &status, 0) < 0 || status != 0) {
		fprintf(stderr, "bench: plain reader failed\n");
		exit(1);
	}
	posix_spawn_file_actions_destroy(&fa);
	return bench_now() - t0;
}

static double run_sandbox(int prog_fd, int in, int devnull, bool metered)
{
	const char *argv[] = {"sbtest", "readall", "0", NULL};
	struct sandbox_channel ch[3];
	bench_std_channels(ch, in, devnull, metered ? GIB : SANDBOX_UNBOUNDED);
	struct sandbox_spec spec = {.prog_fd = prog_fd, .argv = argv,
				    .channels = ch, .nchannels = 3};
	struct sandbox_report rep;
	struct sandbox_error err;
	struct sandbox *sb;
	double t0;

	lseek(in, 0, SEEK_SET);
	t0 = bench_now();
	if (sandbox_run(&spec, &sb, &rep, &err) < 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		exit(1);
	}
	double t = bench_now() - t0;
	if (rep.end != SANDBOX_END_EXIT || rep.exit_code != 0 ||
	    rep.rbytes != (uint64_t)GIB) {
		fprintf(stderr, "bench: sandboxed reader: %s, %llu bytes\n",
			rep.message, (unsigned long long)rep.rbytes);
		exit(1);
	}
	sandbox_free(sb);
	return t;
}

static void row(const char *name, double *v, int n, double base)
{
	qsort(v, n, sizeof(*v), bench_cmp);
	printf("| %-8s | %7.3f | %7.0f | %5.2fx |\n", name, v[n / 2],
	       1024 / v[n / 2], base / v[n / 2]);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_sandbox_read READER [FILE] [RUNS]\n");
		return 2;
	}
	const char *path = argc > 2 ? argv[2] : "/tmp/zerovm-bench-1g";
	int runs = argc > 3 ? atoi(argv[3]) : 5;
	double p[runs], d[runs], m[runs];

	file_make(path);
	int in = open(path, O_RDONLY | O_CLOEXEC);
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int prog_fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (in < 0 || devnull < 0 || prog_fd < 0) {
		perror("open");
		return 1;
	}
	run_plain(argv[1], in, devnull); /* page cache warm */
	for (int i = 0; i < runs; i++) {
		p[i] = run_plain(argv[1], in, devnull);
		d[i] = run_sandbox(prog_fd, in, devnull, false);
		m[i] = run_sandbox(prog_fd, in, devnull, true);
	}
	double base = bench_median(p, runs);
	printf("reading 1 GiB (%s) through stdin, 64 KiB reads, median of %d\n\n",
	       path, runs);
	printf("| how      | seconds |   MiB/s | speed |\n");
	printf("|----------|--------:|--------:|------:|\n");
	row("plain", p, runs, base);
	row("direct", d, runs, base);
	row("metered", m, runs, base);
	return 0;
}
