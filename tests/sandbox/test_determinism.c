/*
 * Deterministic mode (sandbox/README.md "Determinism"): tests/programs/
 * detprobe prints clocks, randomness, uname, addresses, pids; two runs
 * with the same spec must print the same.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sandbox.h"

#define U SANDBOX_UNBOUNDED

struct probe {
	const char *prog;          /* PROG_* variable */
	const char *arg1, *arg2;
	bool det;
	uint64_t epoch_ns;
	const char *seed;
	uint64_t cpu_seconds;
	bool mem_etag;
	const char *const *envp;   /* NULL: A=1 LANG=C */
	char out[8192];            /* stdout */
	struct sandbox_report rep;
};

static void probe_run(struct probe *p)
{
	const char *path = getenv(p->prog);
	const char *argv[] = {"detprobe", p->arg1, p->arg2, NULL};
	static const char *const std_env[] = {"A=1", "LANG=C", NULL};
	const char *const *envp = p->envp ? p->envp : std_env;
	int out = memfd_create("out", MFD_CLOEXEC);
	int in = memfd_create("in", MFD_CLOEXEC);
	struct sandbox_channel ch[3] = {
		{"/dev/stdin", in, 0, false, false, U, U, 0, 0},
		{"/dev/stdout", out, 0, false, false, 0, 0, U, U},
		{"/dev/stderr", out, 0, false, false, 0, 0, U, U},
	};
	struct sandbox_spec spec = {
		.argv = argv, .envp = envp, .channels = ch, .nchannels = 3,
		.deterministic = p->det, .epoch_ns = p->epoch_ns,
		.seed = (const unsigned char *)p->seed,
		.seed_len = p->seed ? strlen(p->seed) : 0,
		.cpu_seconds = p->cpu_seconds,
		.memory_etag = p->mem_etag,
	};
	struct sandbox_error err;
	struct sandbox *sb;
	ssize_t n;

	cr_assert(path, "%s is not set", p->prog);
	cr_assert(out >= 0 && in >= 0);
	spec.prog_fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(spec.prog_fd >= 0, "%s", path);
	cr_assert_eq(sandbox_run(&spec, &sb, &p->rep, &err), 0, "%s", err.msg);
	n = pread(out, p->out, sizeof(p->out) - 1, 0);
	cr_assert(n >= 0);
	p->out[n] = '\0';
	sandbox_free(sb);
	close(spec.prog_fd);
	close(out);
	close(in);
}

static void assert_twice_same(const char *prog)
{
	struct probe a = {.prog = prog, .det = true};
	struct probe b = {.prog = prog, .det = true};

	probe_run(&a);
	probe_run(&b);
	cr_assert_eq(a.rep.end, SANDBOX_END_EXIT);
	cr_assert_eq(a.rep.exit_code, 0, "%s", a.out);
	cr_assert_str_eq(a.out, b.out);
	cr_assert(strstr(a.out, "clock realtime 0 1388534400.000001000"), "%s", a.out);
	cr_assert(strstr(a.out, "uname Linux|zerovm|6.0.0-zerovm|#1|x86_64"), "%s", a.out);
	/* pid 1 of a pid namespace of its own */
	cr_assert(strstr(a.out, "\npid 1 ppid 0 tid 1 pgrp 1\n"), "%s", a.out);
}

Test(determinism, two_runs_print_the_same)
{
	assert_twice_same("PROG_detprobe");
}

Test(determinism, musl_two_runs_print_the_same)
{
	assert_twice_same("PROG_detprobe_musl");
}

Test(determinism, probe_sees_no_vdso_and_the_seeded_stream)
{
	struct probe a = {.prog = "PROG_detprobe", .det = true};

	probe_run(&a);
	cr_assert(strstr(a.out, "vdso absent"), "%s", a.out);
	cr_assert(strstr(a.out, "urandom fd ok read 32"), "%s", a.out);
	cr_assert(strstr(a.out, "urandom access 0\n"), "%s", a.out);
	cr_assert(strstr(a.out, "getrandom 32"), "%s", a.out);
}

Test(determinism, off_differs_from_on)
{
	struct probe on = {.prog = "PROG_detprobe", .det = true};
	struct probe off = {.prog = "PROG_detprobe"};
	struct probe off2 = {.prog = "PROG_detprobe"};

	probe_run(&on);
	probe_run(&off);
	probe_run(&off2);
	cr_assert_eq(off.rep.exit_code, 0, "%s", off.out);
	cr_assert_str_neq(on.out, off.out);
	/* host randomness and clocks: two plain runs differ too */
	cr_assert_str_neq(off.out, off2.out);
	cr_assert(strstr(off.out, "vdso present"), "%s", off.out);
	cr_assert_null(strstr(off.out, "\npid 1 "), "%s", off.out);
}

/* The line that starts with `prefix`. */
static char *line(const char *out, const char *prefix)
{
	static char buf[256];
	const char *p = out;

	while (p && strncmp(p, prefix, strlen(prefix)) != 0)
		if ((p = strchr(p, '\n')))
			p++;
	cr_assert(p, "no '%s' in %s", prefix, out);
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(p, "\n"), p);
	return buf;
}

Test(determinism, the_seed_decides_the_random_bytes)
{
	struct probe a = {.prog = "PROG_detprobe", .det = true, .seed = "one"};
	struct probe b = {.prog = "PROG_detprobe", .det = true, .seed = "one"};
	struct probe c = {.prog = "PROG_detprobe", .det = true, .seed = "two"};
	char ra[256], rc[256];

	probe_run(&a);
	probe_run(&b);
	probe_run(&c);
	cr_assert_str_eq(a.out, b.out);
	snprintf(ra, sizeof(ra), "%s", line(a.out, "at_random"));
	snprintf(rc, sizeof(rc), "%s", line(c.out, "at_random"));
	cr_assert_str_neq(ra, rc);
	snprintf(ra, sizeof(ra), "%s", line(a.out, "getrandom"));
	snprintf(rc, sizeof(rc), "%s", line(c.out, "getrandom"));
	cr_assert_str_neq(ra, rc);
}

Test(determinism, the_epoch_is_the_start_of_realtime)
{
	struct probe a = {.prog = "PROG_detprobe", .det = true,
			  .epoch_ns = 1000000000000000000ULL};

	probe_run(&a);
	cr_assert_str_eq(line(a.out, "clock realtime "),
			 "clock realtime 0 1000000000.000001000 res 0.000001000");
	cr_assert_str_eq(line(a.out, "clock monotonic "),
			 "clock monotonic 0 0.000002000 res 0.000001000");
	cr_assert_str_eq(line(a.out, "time "), "time 1000000000");
}

/* The virtual clock advances by the sleep; no wall time is asserted. */
Test(determinism, sleeping_advances_the_virtual_clock)
{
	struct probe a = {.prog = "PROG_detprobe", .arg1 = "sleep", .arg2 = "10",
			  .det = true};

	probe_run(&a);
	cr_assert_eq(a.rep.exit_code, 0, "%s", a.out);
	cr_assert_str_eq(a.out, "slept 10\n");
}

Test(determinism, rdtsc_faults)
{
	struct probe on = {.prog = "PROG_detprobe", .arg1 = "tsc", .det = true};
	struct probe off = {.prog = "PROG_detprobe", .arg1 = "tsc"};

	probe_run(&on);
	cr_assert_eq(on.rep.end, SANDBOX_END_SIGNAL);
	cr_assert_eq(on.rep.signal, 11);
	probe_run(&off);
	cr_assert_eq(off.rep.end, SANDBOX_END_EXIT);
	cr_assert(strncmp(off.out, "tsc ", 4) == 0, "%s", off.out);
}

Test(determinism, static_pie_runs)
{
	struct probe a = {.prog = "PROG_hello_pie", .det = true};
	struct probe b = {.prog = "PROG_hello_pie", .det = true};

	probe_run(&a);
	probe_run(&b);
	cr_assert_eq(a.rep.exit_code, 0);
	cr_assert_str_eq(a.out, "hello, world\n");
	cr_assert_str_eq(a.out, b.out);
}

/* Bad pointers, ids and flags get the kernel's errors; an absolute sleep
 * lands on its time; a sleep of LLONG_MAX seconds stops the clock at its
 * end instead of wrapping; CPU times are the virtual clock's. */
Test(determinism, edge_cases_answer_like_the_kernel)
{
	struct probe a = {.prog = "PROG_detprobe", .arg1 = "edge", .det = true};

	probe_run(&a);
	cr_assert_eq(a.rep.exit_code, 0, "%s", a.out);
	cr_assert_str_eq(a.out, "gettime_badptr -1 14\n"
				"gettime_badid -1 22\n"
				"getrandom_badptr -1 14\n"
				"getrandom_badflags -1 22\n"
				"sleep_badns -1 22\n"
				"sleep_abs 0 5\n"
				"sleep_huge 0 positive 1 stopped 1\n"
				"times 1\n"
				"getrusage 0 1\n");
}

Test(determinism, an_epoch_past_2100_is_refused)
{
	const char *argv[] = {"detprobe", NULL};
	struct sandbox_spec spec = {.prog_fd = 0, .argv = argv,
				    .deterministic = true,
				    .epoch_ns = SANDBOX_EPOCH_MAX_NS + 1};
	struct sandbox_error err;
	struct sandbox *sb;

	cr_assert_eq(sandbox_spawn(&spec, &sb, &err), -1);
	cr_assert(strstr(err.msg, "epoch_ns"), "%s", err.msg);
	cr_assert_null(sb);
}

/* The stream is the documented one: block i = SHA-256(SHA-256(seed) ||
 * i as 8 little-endian bytes); AT_RANDOM is bytes 0-15, getrandom takes
 * the next ones (glibc's start-up takes a few itself before main). */
Test(determinism, the_stream_is_sha256_of_key_and_counter)
{
	struct probe a = {.prog = "PROG_detprobe", .det = true, .seed = "abc"};
	unsigned char key[32], in[40], stream[128];
	char hex[2 * sizeof(stream) + 1];

	EVP_Digest("abc", 3, key, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 4; i++) {
		memcpy(in, key, 32);
		memset(in + 32, 0, 8);
		in[32] = (unsigned char)i;
		EVP_Digest(in, sizeof(in), stream + 32 * i, NULL, EVP_sha256(), NULL);
	}
	for (size_t i = 0; i < sizeof(stream); i++)
		sprintf(hex + 2 * i, "%02x", stream[i]);
	probe_run(&a);
	cr_assert_eq(strncmp(line(a.out, "at_random ") + strlen("at_random "),
			     hex, 32), 0, "%s", a.out);
	cr_assert(strstr(hex + 32, line(a.out, "getrandom ") +
			 strlen("getrandom 32  ")), "%s", a.out);
}

/* The auxv of a program with a long environment lies past the first read
 * of its initial stack (16 KiB): it is found and patched all the same. */
Test(determinism, auxv_past_a_long_environment)
{
	static char vars[4000][8];
	static const char *envp[4001];
	char ra[256];
	struct probe a = {.prog = "PROG_detprobe", .det = true, .seed = "abc",
			  .envp = envp};
	struct probe b = {.prog = "PROG_detprobe", .det = true, .seed = "abc"};

	for (int i = 0; i < 4000; i++) {
		snprintf(vars[i], sizeof(vars[i]), "V%04d=", i);
		envp[i] = vars[i];
	}
	probe_run(&a);
	probe_run(&b);
	cr_assert_eq(a.rep.exit_code, 0, "%s", a.out);
	cr_assert(strstr(a.out, "vdso absent"), "%s", a.out);
	snprintf(ra, sizeof(ra), "%s", line(a.out, "at_random"));
	cr_assert_str_eq(ra, line(b.out, "at_random"));
}

/* pid, ppid, tid: 1 1 0 every deterministic run (a pid namespace per
 * spawn); the host's numbers, different each run, with determinism off. */
Test(determinism, pids_are_fixed_only_when_deterministic)
{
	struct probe on = {.prog = "PROG_detprobe", .det = true};
	struct probe off = {.prog = "PROG_detprobe"};
	struct probe off2 = {.prog = "PROG_detprobe"};
	char a[256];

	probe_run(&on);
	probe_run(&off);
	probe_run(&off2);
	cr_assert_str_eq(line(on.out, "pid "), "pid 1 ppid 0 tid 1 pgrp 1");
	snprintf(a, sizeof(a), "%s", line(off.out, "pid "));
	cr_assert_str_neq(a, "pid 1 ppid 0 tid 1 pgrp 1");
	cr_assert_str_neq(a, line(off2.out, "pid "));
}

/* As pid 1 the program would ignore the default-action signals it sends
 * itself; the supervisor ends it with the report a plain process gets. */
static void assert_raise(const char *sig, bool det, int want)
{
	struct probe p = {.prog = "PROG_detprobe", .arg1 = "raise", .arg2 = sig,
			  .det = det};

	probe_run(&p);
	if (want == 0) {
		cr_assert_eq(p.rep.end, SANDBOX_END_EXIT, "%s", p.rep.message);
		cr_assert_str_eq(p.out, "survived\n");
		return;
	}
	cr_assert_eq(p.rep.end, SANDBOX_END_SIGNAL, "raise %s: %s", sig,
		     p.rep.message);
	cr_assert_eq(p.rep.signal, want, "raise %s: %s", sig, p.rep.message);
	cr_assert_str_eq(p.out, "");
}

Test(determinism, self_signals_end_the_program_as_without_a_pid_namespace)
{
	for (int det = 0; det < 2; det++) {
		assert_raise("15", det, 15); /* SIGTERM */
		assert_raise("0", det, 6);   /* abort(): SIGABRT, not SIGSEGV */
		assert_raise("9", det, 9);   /* SIGKILL */
		assert_raise("10", det, 10); /* SIGUSR1 */
		assert_raise("17", det, 0);  /* SIGCHLD: ignored by default */
	}
}

/* RLIMIT_CPU's SIGXCPU is dropped for a pid 1; the hard limit's SIGKILL
 * a second later is reported as SIGXCPU. */
Test(determinism, cpu_limit_reports_sigxcpu, .timeout = 30)
{
	struct probe p = {.prog = "PROG_sbtest", .arg1 = "spin", .det = true,
			  .cpu_seconds = 1};

	probe_run(&p);
	cr_assert_eq(p.rep.end, SANDBOX_END_SIGNAL, "%s", p.rep.message);
	cr_assert_eq(p.rep.signal, SIGXCPU, "%s", p.rep.message);
}

/* The /dev/memory etag: two deterministic runs of the whole probe (clocks,
 * random stream, stat of its channels by stdio...) leave the same memory. */
static void assert_same_memory(const char *prog)
{
	struct probe a = {.prog = prog, .det = true, .mem_etag = true};
	struct probe b = {.prog = prog, .det = true, .mem_etag = true};

	probe_run(&a);
	probe_run(&b);
	cr_assert_eq(a.rep.end, SANDBOX_END_EXIT, "%s", a.rep.message);
	cr_assert_eq(strlen(a.rep.memory_etag), 32, "'%s'", a.rep.memory_etag);
	cr_assert_str_eq(a.rep.memory_etag, b.rep.memory_etag);
	cr_assert_str_eq(a.out, b.out);
}

Test(memory_etag, two_runs_leave_the_same_memory)
{
	assert_same_memory("PROG_detprobe");
}

Test(memory_etag, musl_two_runs_leave_the_same_memory)
{
	assert_same_memory("PROG_detprobe_musl");
}

/* Same output, 1 MiB of heap filled differently: only the memory etag
 * tells the runs apart. */
Test(memory_etag, a_difference_in_memory_only_shows)
{
	struct probe a = {.prog = "PROG_detprobe", .arg1 = "mem", .arg2 = "a",
			  .det = true, .mem_etag = true};
	struct probe a2 = {.prog = "PROG_detprobe", .arg1 = "mem", .arg2 = "a",
			   .det = true, .mem_etag = true};
	struct probe b = {.prog = "PROG_detprobe", .arg1 = "mem", .arg2 = "b",
			  .det = true, .mem_etag = true};

	probe_run(&a);
	probe_run(&a2);
	probe_run(&b);
	cr_assert_str_eq(a.out, "ok\n");
	cr_assert_str_eq(b.out, a.out);
	cr_assert_str_eq(a.rep.memory_etag, a2.rep.memory_etag);
	cr_assert_str_neq(a.rep.memory_etag, b.rep.memory_etag);
}

/* cpuid's initial APIC ID says which CPU a program started on (glibc keeps
 * it in memory) and cannot be trapped here: a memory-etag run is kept on
 * one CPU, so the CPU it ran on cannot change its etag; other
 * deterministic runs name cpuid on the validation line when they may run
 * on more than one CPU. */
Test(memory_etag, cpuid_pinned_or_named)
{
	struct probe pinned = {.prog = "PROG_detprobe", .arg1 = "mem",
			       .arg2 = "a", .det = true, .mem_etag = true};
	struct probe free_ = {.prog = "PROG_detprobe", .arg1 = "mem",
			      .arg2 = "a", .det = true};
	cpu_set_t all;

	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	probe_run(&pinned);
	probe_run(&free_);
	cr_assert_null(strstr(pinned.rep.nondeterminism, "cpuid"), "'%s'",
		       pinned.rep.nondeterminism);
	cr_assert_eq(strstr(free_.rep.nondeterminism, "cpuid") != NULL,
		     CPU_COUNT(&all) > 1, "'%s'", free_.rep.nondeterminism);
	for (int i = 0; i < 8; i++) {
		struct probe again = pinned;

		probe_run(&again);
		cr_assert_str_eq(again.rep.memory_etag, pinned.rep.memory_etag,
				 "run %d", i);
	}
}

/* Without determinism the layout is random: the etag is computed, and
 * differs. Not asked for, or no exit of its own: no etag. */
Test(memory_etag, off_differs_and_absent_when_not_asked_or_killed)
{
	struct probe off = {.prog = "PROG_detprobe", .arg1 = "mem", .arg2 = "a",
			    .mem_etag = true};
	struct probe off2 = off;
	struct probe none = {.prog = "PROG_detprobe", .det = true};
	struct probe sig = {.prog = "PROG_detprobe", .arg1 = "raise", .arg2 = "15",
			    .det = true, .mem_etag = true};

	probe_run(&off);
	probe_run(&off2);
	cr_assert_eq(strlen(off.rep.memory_etag), 32);
	cr_assert_str_neq(off.rep.memory_etag, off2.rep.memory_etag);
	probe_run(&none);
	cr_assert_str_eq(none.rep.memory_etag, "");
	probe_run(&sig);
	cr_assert_eq(sig.rep.signal, 15);
	cr_assert_str_eq(sig.rep.memory_etag, "");
}
