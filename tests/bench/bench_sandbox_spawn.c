/*
 * bench_sandbox_spawn HELLO [N]: start-to-exit of a static hello, three
 * ways from one long-lived process, interleaved so noise hits all alike:
 *   sandbox     sandbox_spawn + sandbox_wait (library, this process)
 *   fork+exec   posix_spawn of the same binary, waitpid
 *   bwrap       posix_spawn of bwrap --unshare-all ... HELLO
 * Prints median and p90 (microseconds) and the ratios to fork+exec.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_sandbox.h"
#include "sandbox.h"

extern char **environ;

static double run_sandbox(int prog_fd, int devnull)
{
	const char *argv[] = {"hello", NULL};
	struct sandbox_channel ch[3];
	bench_std_channels(ch, devnull, devnull, SANDBOX_UNBOUNDED);
	struct sandbox_spec spec = {.prog_fd = prog_fd, .argv = argv,
				    .channels = ch, .nchannels = 3};
	struct sandbox_report rep;
	struct sandbox_error err;
	struct sandbox *sb;
	double t0 = (bench_now() * 1e6);

	if (sandbox_spawn(&spec, &sb, &err) < 0 || sandbox_wait(sb, &rep) < 0) {
		fprintf(stderr, "bench: sandbox: %s\n", err.msg);
		exit(1);
	}
	double t = (bench_now() * 1e6) - t0;
	if (rep.end != SANDBOX_END_EXIT || rep.exit_code != 0) {
		fprintf(stderr, "bench: sandboxed hello failed: %s\n", rep.message);
		exit(1);
	}
	sandbox_free(sb);
	return t;
}

static double run_plain(char *const argv[], posix_spawn_file_actions_t *fa)
{
	double t0 = (bench_now() * 1e6);
	pid_t pid;
	int status;

	if (posix_spawn(&pid, argv[0], fa, NULL, argv, environ) != 0 ||
	    waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench: %s failed\n", argv[0]);
		exit(1);
	}
	return (bench_now() * 1e6) - t0;
}

static void row(const char *name, double *v, int n, double base)
{
	qsort(v, n, sizeof(*v), bench_cmp);
	double med = v[n / 2], p90 = v[n * 9 / 10];
	printf("| %-10s | %8.0f | %8.0f | %5.2fx |\n", name, med, p90,
	       base > 0 ? med / base : 1.0);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_sandbox_spawn HELLO [N]\n");
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 1000;
	const char *hello = argv[1];
	int prog_fd = open(hello, O_RDONLY | O_CLOEXEC);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	char *plain[] = {(char *)hello, NULL};
	char *bwrap[] = {"/usr/bin/bwrap", "--unshare-all", "--ro-bind",
			 (char *)hello, "/hello", "/hello", NULL};
	bool have_bwrap = access(bwrap[0], X_OK) == 0;
	double *s = calloc(n, sizeof(double)), *p = calloc(n, sizeof(double));
	double *b = calloc(n, sizeof(double));
	posix_spawn_file_actions_t fa;

	if (prog_fd < 0 || devnull < 0) {
		perror(hello);
		return 1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	posix_spawn_file_actions_adddup2(&fa, devnull, 1);
	posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	run_sandbox(prog_fd, devnull); /* namespaces + filter cache warm */
	int nb = have_bwrap ? n / 10 : 0;
	for (int i = 0; i < n; i++) {
		s[i] = run_sandbox(prog_fd, devnull);
		p[i] = run_plain(plain, &fa);
		if (i < nb)
			b[i] = run_plain(bwrap, &fa);
	}
	double base = bench_median(p, n);
	printf("start-to-exit of %s, %d runs (bwrap: %d), microseconds\n\n", hello, n, nb);
	printf("| how        |   median |      p90 | ratio |\n");
	printf("|------------|---------:|---------:|------:|\n");
	row("fork+exec", p, n, base);
	row("sandbox", s, n, base);
	if (nb)
		row("bwrap", b, nb, base);
	return 0;
}
