/*
 * bench_python_start — start-to-exit of `python3 -c pass` from the python3
 * image in the sandbox, against the same interpreter run outside it.
 *
 *   bench_python_start IMAGE.tar HOST_PYTHON [RUNS]
 *
 * First the image is unpacked into a fresh cache (once; reported on its
 * own), then RUNS pairs, interleaved so that machine noise hits both:
 *   sandbox: sandbox_image_open (cached) + sandbox_image_open_program +
 *            sandbox_run with the image as root, a 64 MiB /tmp, std
 *            channels on /dev/null — what zvmd does per instance;
 *   host:    posix_spawn + waitpid of HOST_PYTHON -c pass, same empty
 *            environment.
 * Prints medians, the ratio (goal <= 1.5) and the extraction times.
 */
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_sandbox.h"

/* With site (the host's Debian python reads its dist-packages .pth files,
 * the image has none) and without (-S: the same work on both sides). */
static const char *const py_site[] = { "python3", "-c", "pass", NULL };
static const char *const py_nosite[] = { "python3", "-S", "-c", "pass", NULL };
static const char *const no_env[] = { NULL };

static int rm_one(const char *p, const struct stat *sb, int f, struct FTW *w)
{
	(void)sb;
	(void)f;
	(void)w;
	remove(p);
	return 0;
}

static double image_open(const char *cache, int tar, char **root, bool *ex)
{
	struct sandbox_error err;
	double t = bench_now();

	if (sandbox_image_open(cache, tar, "python3", NULL, root, ex, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	return bench_now() - t;
}

static double run_sandbox(const char *cache, int tar, int null,
			  const char *const *py_argv)
{
	struct sandbox_channel ch[3];
	struct sandbox_spec spec = { 0 };
	struct sandbox_report rep;
	struct sandbox_error err;
	struct sandbox *sb = NULL;
	char *root = NULL;
	double t = bench_now();
	int prog;

	image_open(cache, tar, &root, NULL);
	if (sandbox_image_open_program(root, "python3", &prog, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	bench_std_channels(ch, null, null, SANDBOX_UNBOUNDED);
	spec.prog_fd = prog;
	spec.argv = py_argv;
	spec.envp = no_env;
	spec.channels = ch;
	spec.nchannels = 3;
	spec.root_dir = root;
	spec.tmp_size = 64 << 20;
	spec.timeout_ms = 30000;
	if (sandbox_run(&spec, &sb, &rep, &err) || rep.end != SANDBOX_END_EXIT ||
	    rep.exit_code != 0) {
		fprintf(stderr, "sandboxed python3 failed: %s\n",
			sb ? rep.message : err.msg);
		exit(1);
	}
	sandbox_free(sb);
	close(prog);
	free(root);
	return bench_now() - t;
}

static double run_host(const char *python, const char *const *py_argv)
{
	double t = bench_now();
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, python, &fa, NULL, (char *const *)py_argv,
			(char *const *)no_env)) {
		perror(python);
		exit(1);
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "%s -c pass failed\n", python);
		exit(1);
	}
	return bench_now() - t;
}

int main(int argc, char **argv)
{
	char cache[] = "/tmp/zvm-bench-python-XXXXXX";
	int runs = argc > 3 ? atoi(argv[3]) : 200;
	const char *const *variants[2] = { py_site, py_nosite };
	const char *names[2] = { "python3 -c pass", "python3 -S -c pass" };
	double first, cached, *sb, *host, s, h;
	bool ex = false;
	char *root = NULL;
	int tar, null;

	if (argc < 3 || runs < 1) {
		fprintf(stderr, "usage: %s IMAGE.tar HOST_PYTHON [RUNS]\n",
			argv[0]);
		return 2;
	}
	tar = open(argv[1], O_RDONLY | O_CLOEXEC);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (tar < 0 || null < 0 || !mkdtemp(cache)) {
		perror(argv[1]);
		return 1;
	}
	first = image_open(cache, tar, &root, &ex);
	free(root);
	if (!ex) {
		fprintf(stderr, "the first open did not extract\n");
		return 1;
	}
	cached = image_open(cache, tar, &root, &ex);
	free(root);
	sb = calloc((size_t)runs, sizeof(double));
	host = calloc((size_t)runs, sizeof(double));
	printf("%d runs each, interleaved; start-to-exit, goal ratio <= 1.5\n\n",
	       runs);
	printf("| command | sandbox (image) ms | host ms | ratio |\n");
	printf("|---|---|---|---|\n");
	for (int v = 0; v < 2; v++) {
		for (int i = 0; i < 5; i++) { /* warm caches and the holder */
			run_sandbox(cache, tar, null, variants[v]);
			run_host(argv[2], variants[v]);
		}
		for (int i = 0; i < runs; i++) {
			sb[i] = run_sandbox(cache, tar, null, variants[v]);
			host[i] = run_host(argv[2], variants[v]);
		}
		s = bench_median(sb, runs);
		h = bench_median(host, runs);
		printf("| `%s` median | %.3f | %.3f | %.2f |\n", names[v],
		       s * 1e3, h * 1e3, s / h);
		printf("| `%s` p90 | %.3f | %.3f | %.2f |\n", names[v],
		       sb[runs * 9 / 10] * 1e3, host[runs * 9 / 10] * 1e3,
		       sb[runs * 9 / 10] / host[runs * 9 / 10]);
	}
	printf("\nimage: first open (hash + extract) %.1f ms, "
	       "a cached open %.3f ms\n", first * 1e3, cached * 1e3);
	nftw(cache, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(sb);
	free(host);
	close(tar);
	close(null);
	return 0;
}
