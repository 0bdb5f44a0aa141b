/*
 * sandbox.h — run one untrusted static x86-64 program that can touch
 * nothing but its declared channels.
 *
 * Life of a sandbox:
 *   sandbox_spawn()        clone + isolate + seccomp + exec, returns a handle
 *   sandbox_pidfd()        poll it: readable when the program has exited
 *   sandbox_notify_fd()    poll it: readable when the program waits in a
 *                          mediated system call (open of a channel alias,
 *                          I/O on a metered channel); call sandbox_service().
 *                          POLLHUP (before the pidfd is ready) means the
 *                          program is exiting: stop polling this fd, or the
 *                          loop spins until the pidfd fires.
 *   sandbox_kill()         end it early (timeout, client gone), with a reason
 *   sandbox_wait()         reap and fill the report
 *   sandbox_free()         release everything
 *
 * sandbox_run() does all of that in one blocking call (for the CLIs).
 *
 * The caller owns the fds it passes in a spec; the sandbox duplicates what
 * it keeps. The program shares each channel's open file description (and
 * so its offset) with the caller; pass blocking fds. Spawn from a thread
 * that outlives the sandbox: the program gets SIGKILL when it exits.
 * Nothing here calls exit() or prints. README.md has the details.
 */
#ifndef ZEROVM_SANDBOX_H
#define ZEROVM_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A limit at or above this value never binds (ZeroVM manifests use
 * 4294967296 for "no limit"); channels whose limits all are unbounded and
 * that need no etag get the kernel's direct I/O, the others are metered. */
#define SANDBOX_UNBOUNDED ((int64_t)1 << 32)

struct sandbox_error {
	char msg[256];
};

enum sandbox_access {
	SANDBOX_SGET_SPUT = 0,
	SANDBOX_RGET_SPUT = 1,
	SANDBOX_SGET_RPUT = 2,
	SANDBOX_RGET_RPUT = 3,
};

struct sandbox_channel {
	const char *alias;      /* "/dev/stdin", "/dev/in/map-1" (absolute) */
	int fd;                 /* caller's fd (file, FIFO, chardev, pipe, socket) */
	enum sandbox_access type;
	bool etag;              /* digest all bytes through it (forces metering) */
	bool network;           /* counts as network I/O in the accounting
				 * (forces metering) */
	int64_t gets, get_size; /* read calls / bytes; 0 = not readable */
	int64_t puts, put_size; /* write calls / bytes; 0 = not writable */
};

struct sandbox_spec {
	int prog_fd;                 /* O_RDONLY fd of the static ELF */
	const char *const *argv;     /* NULL-terminated; argv[0] required */
	const char *const *envp;     /* NULL-terminated; NULL = empty */
	const struct sandbox_channel *channels; /* stdin, stdout, stderr first */
	size_t nchannels;
	uint64_t memory;             /* bytes of address space; 0 = 1 GiB */
	uint64_t cpu_seconds;        /* RLIMIT_CPU; 0 = none */
	uint64_t timeout_ms;         /* wall clock, enforced by sandbox_run();
				      * loop users enforce it with sandbox_kill */
	/* Same program, channel contents, argv and envp => same outputs
	 * (README.md "Determinism" lists what is fixed and what is not).
	 * false in a zero-initialised spec; the CLIs turn it on. */
	bool deterministic;
	uint64_t epoch_ns;           /* virtual CLOCK_REALTIME at start, ns since
				      * 1970; 0 = SANDBOX_EPOCH_NS */
	const unsigned char *seed;   /* of the random stream (getrandom, AT_RANDOM,
				      * /dev/urandom); any length, may be empty */
	size_t seed_len;
	/* After this spawn, keep an isolated child of the same shape (fd
	 * layout, limits, determinism) parked for this thread's next spawn,
	 * which then skips the isolation steps and the seccomp attach: lower
	 * start latency for a caller that spawns again and again, at the price
	 * of one idle child process per spawning thread between spawns. */
	bool prewarm;
};

/* 2014-01-01T00:00:00Z, the default start of the virtual clock; an
 * epoch_ns past 2100-01-01T00:00:00Z is refused. */
#define SANDBOX_EPOCH_NS 1388534400000000000ULL
#define SANDBOX_EPOCH_MAX_NS 4102444800000000000ULL

enum sandbox_end {
	SANDBOX_END_EXIT = 0,    /* the program exited (any code) */
	SANDBOX_END_SIGNAL,      /* killed by a signal it caused */
	SANDBOX_END_TIMEOUT,     /* killed: wall-clock timeout */
	SANDBOX_END_KILLED,      /* killed by the caller (client gone, drain) */
	SANDBOX_END_ERROR,       /* the sandbox itself failed; see message */
};

struct sandbox_channel_stats {
	uint64_t reads, rbytes, writes, wbytes; /* exact for metered channels */
	bool limit_hit;                          /* a call failed on a limit */
	char etag[33];                           /* md5 hex, "" if disabled */
};

struct sandbox_report {
	enum sandbox_end end;
	int exit_code;           /* valid for SANDBOX_END_EXIT */
	int signal;              /* valid for SANDBOX_END_SIGNAL */
	double sys, user;        /* CPU seconds */
	uint64_t reads, rbytes, writes, wbytes;     /* all channels */
	uint64_t nreads, nrbytes, nwrites, nwbytes; /* network channels */
	const struct sandbox_channel_stats *channels; /* spec order; owned by the
						       * sandbox until free */
	size_t nchannels;
	char message[256];       /* "ok", "session timeout", "Signal 11 ...", ... */
};

struct sandbox;

int sandbox_spawn(const struct sandbox_spec *spec, struct sandbox **out,
		  struct sandbox_error *err);
int sandbox_pidfd(const struct sandbox *sb);
int sandbox_notify_fd(const struct sandbox *sb);
/* Answer pending mediated calls. May block on channel I/O: a loop should
 * call it from a worker thread (one at a time per sandbox). 0 or -errno. */
int sandbox_service(struct sandbox *sb);
void sandbox_kill(struct sandbox *sb, enum sandbox_end reason);
/* Serve mediated calls until the program exits, reap it and fill the
 * report. Blocks. Call once. */
int sandbox_wait(struct sandbox *sb, struct sandbox_report *report);
void sandbox_free(struct sandbox *sb);

/* Spawn, service, enforce spec->timeout_ms, wait. */
int sandbox_run(const struct sandbox_spec *spec, struct sandbox **out,
		struct sandbox_report *report, struct sandbox_error *err);

#endif
