/*
 * bench_sandbox_spawn HELLO [N]: start-to-exit of a static hello, several
 * ways from one long-lived process, interleaved so noise hits all alike
 * (in two passes: plain and prewarmed, then the deterministic rows):
 *   sandbox     sandbox_spawn + sandbox_wait (library, this process)
 *   determin.   the same with spec.deterministic (a pid namespace, the
 *               exec stop, one notification per clock/random/uname call)
 *   mem etag    deterministic with spec.memory_etag (exit_group stops in
 *               the supervisor, which digests the writable memory)
 *   prewarmed   the same with spec.prewarm: each spawn parks the next
 *               child, which isolates itself while the others run (on a
 *               thread of its own: a parked child belongs to the thread
 *               that parked it, and the default spawn would take it)
 *   prew. det.  prewarmed and deterministic (what zvmd runs by default),
 *               on a thread of its own too
 *   fork+exec   posix_spawn of the same binary, waitpid
 *   bwrap       posix_spawn of bwrap --unshare-all ... HELLO
 * Prints median and p90 wall time and the median CPU time (ours plus the
 * children's, user + system) in microseconds, and the ratios to
 * fork+exec. CPU time barely moves when the machine is busy; wall time on
 * a shared 2-core machine does.
 */
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_sandbox.h"
#include "sandbox.h"

extern char **environ;

static double run_sandbox(int prog_fd, int devnull, bool prewarm, bool det,
			  bool mem_etag)
{
	const char *argv[] = {"hello", NULL};
	struct sandbox_channel ch[3];
	bench_std_channels(ch, devnull, devnull, SANDBOX_UNBOUNDED);
	struct sandbox_spec spec = {.prog_fd = prog_fd, .argv = argv,
				    .channels = ch, .nchannels = 3,
				    .prewarm = prewarm, .deterministic = det,
				    .memory_etag = mem_etag};
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

/* The prewarmed spawns, one at a time on a thread of their own. */
struct prewarmed {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int prog_fd, devnull;
	bool det;               /* deterministic spawns */
	bool asked, done;
	double wall;
};

static void *prewarmed_main(void *p)
{
	struct prewarmed *pw = p;

	pthread_mutex_lock(&pw->lock);
	for (;;) {
		while (!pw->asked)
			pthread_cond_wait(&pw->cond, &pw->lock);
		pw->asked = false;
		pthread_mutex_unlock(&pw->lock);
		double t = run_sandbox(pw->prog_fd, pw->devnull, true, pw->det,
				       false);
		pthread_mutex_lock(&pw->lock);
		pw->wall = t;
		pw->done = true;
		pthread_cond_broadcast(&pw->cond);
	}
	return NULL;
}

static double prewarmed_run(struct prewarmed *pw)
{
	pthread_mutex_lock(&pw->lock);
	pw->asked = true;
	pw->done = false;
	pthread_cond_broadcast(&pw->cond);
	while (!pw->done)
		pthread_cond_wait(&pw->cond, &pw->lock);
	pthread_mutex_unlock(&pw->lock);
	return pw->wall;
}

/* CPU microseconds used so far by us and our reaped children. */
static double cpu_us(void)
{
	struct rusage self, kids;
	double t = 0;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	const struct timeval *tv[4] = {&self.ru_utime, &self.ru_stime,
				       &kids.ru_utime, &kids.ru_stime};
	for (int i = 0; i < 4; i++)
		t += tv[i]->tv_sec * 1e6 + tv[i]->tv_usec;
	return t;
}

struct series {
	double *wall, *cpu;
};

static void row(const char *name, struct series *v, int n,
		const struct series *base)
{
	double cpu = bench_median(v->cpu, n);
	double med = bench_median(v->wall, n), p90 = v->wall[n * 9 / 10];
	printf("| %-10s | %8.0f | %8.0f | %5.2fx | %8.0f | %5.2fx |\n", name,
	       med, p90, med / base->wall[0], cpu, cpu / base->cpu[0]);
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
	struct series s = {calloc(n, sizeof(double)), calloc(n, sizeof(double))};
	struct series p = {calloc(n, sizeof(double)), calloc(n, sizeof(double))};
	struct series b = {calloc(n, sizeof(double)), calloc(n, sizeof(double))};
	struct series w = {calloc(n, sizeof(double)), calloc(n, sizeof(double))};
	struct series d = {calloc(n, sizeof(double)), calloc(n, sizeof(double))};
	struct series m = {calloc(n, sizeof(double)), calloc(n, sizeof(double))};
	struct series wd = {calloc(n, sizeof(double)), calloc(n, sizeof(double))};
	posix_spawn_file_actions_t fa;

	if (prog_fd < 0 || devnull < 0) {
		perror(hello);
		return 1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	posix_spawn_file_actions_adddup2(&fa, devnull, 1);
	posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	run_sandbox(prog_fd, devnull, false, false, false); /* namespaces + filter cache warm */
	/* Static: the threads still wait on them while the process exits. */
	static struct prewarmed pw = {.lock = PTHREAD_MUTEX_INITIALIZER,
				      .cond = PTHREAD_COND_INITIALIZER};
	static struct prewarmed pwd = {.lock = PTHREAD_MUTEX_INITIALIZER,
				       .cond = PTHREAD_COND_INITIALIZER,
				       .det = true};
	struct prewarmed *pws[2] = {&pw, &pwd};
	for (int i = 0; i < 2; i++) {
		pthread_t t;

		pws[i]->prog_fd = prog_fd;
		pws[i]->devnull = devnull;
		if (pthread_create(&t, NULL, prewarmed_main, pws[i]) != 0) {
			fprintf(stderr, "bench: pthread_create failed\n");
			return 1;
		}
		prewarmed_run(pws[i]); /* its first child is parked */
	}
	usleep(2000);
	int nb = have_bwrap ? n / 10 : 0;
	/* Every row in one pass, under the same noise. (Deterministic rows
	 * once slowed the prewarmed ones 2.5x here: the filter cache held one
	 * shape, so each spawn of another shape compiled its filter again.) */
	for (int i = 0; i < n; i++) {
		double c0 = cpu_us();
		s.wall[i] = run_sandbox(prog_fd, devnull, false, false, false);
		double c1 = cpu_us();
		p.wall[i] = run_plain(plain, &fa);
		double c2 = cpu_us();
		d.wall[i] = run_sandbox(prog_fd, devnull, false, true, false);
		double c3 = cpu_us();
		m.wall[i] = run_sandbox(prog_fd, devnull, false, true, true);
		double c4 = cpu_us();
		w.wall[i] = prewarmed_run(&pw);
		double c5 = cpu_us();
		/* Its next child parks now; let it get ready (in a daemon: the
		 * time between two jobs) rather than compete with the next
		 * timed runs for the two CPUs. */
		usleep(2000);
		double c6 = cpu_us();
		wd.wall[i] = prewarmed_run(&pwd);
		double c7 = cpu_us();
		usleep(2000);
		s.cpu[i] = c1 - c0;
		p.cpu[i] = c2 - c1;
		d.cpu[i] = c3 - c2;
		m.cpu[i] = c4 - c3;
		w.cpu[i] = c5 - c4;
		wd.cpu[i] = c7 - c6;
		if (i < nb) {
			double c8 = cpu_us();
			b.wall[i] = run_plain(bwrap, &fa);
			b.cpu[i] = cpu_us() - c8;
		}
	}
	/* The base's medians first: row() compares against them. */
	struct series base = {(double[]){bench_median(p.wall, n)},
			      (double[]){bench_median(p.cpu, n)}};
	printf("start-to-exit of %s, %d runs (bwrap: %d), microseconds\n\n",
	       hello, n, nb);
	printf("| how        | wall p50 | wall p90 | ratio |  CPU p50 | ratio |\n");
	printf("|------------|---------:|---------:|------:|---------:|------:|\n");
	row("fork+exec", &p, n, &base);
	row("sandbox", &s, n, &base);
	row("prewarmed", &w, n, &base);
	row("determin.", &d, n, &base);
	row("prew. det.", &wd, n, &base);
	row("mem etag", &m, n, &base);
	if (nb)
		row("bwrap", &b, nb, &base);
	return 0;
}
