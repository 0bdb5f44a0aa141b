/*
 * sandbox.h — run one untrusted static x86-64 program that can touch
 * nothing but its declared channels (or, with spec->root_dir, any x86-64
 * program an image carries, which also sees that read-only image and a
 * private /tmp).
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
	/* NULL: the empty root (a static program, channels only). Else an
	 * extracted, read-only directory tree that becomes the program's `/`
	 * (read-only, nosuid, nodev; it must hold /dev and, with tmp_size, /tmp
	 * directories) under the wider "posix" policy (README.md "Images").
	 * prog_fd is still the program: open it with
	 * sandbox_image_open_program(); a dynamically linked program's
	 * interpreter is found inside the image. */
	const char *root_dir;
	uint64_t tmp_size;           /* bytes of a private writable /tmp that
				      * vanishes with the program; 0 = no /tmp
				      * (only with root_dir) */
	/* The "/dev/memory" etag (ZeroVM's manifest `Memory = BYTES, 1`):
	 * when the program exits by itself (exit, exit_group), the supervisor
	 * digests its writable private memory before letting it go
	 * (report.memory_etag). Costs one pass over that memory at exit. */
	bool memory_etag;
	/* After this spawn, keep an isolated child of the same shape (fd
	 * layout, limits, determinism) parked for this thread's next spawn,
	 * which then skips the isolation steps and the seccomp attach: lower
	 * start latency for a caller that spawns again and again, at the price
	 * of one idle child process per spawning thread between spawns
	 * (named SANDBOX_PARKED_NAME until it becomes a program; see
	 * sandbox_prewarm_drop). Ignored with root_dir. */
	bool prewarm;
};

/* The name (comm, as ps shows it) of a parked child, from its birth (its
 * parent thread wears it for the clone) until the program's exec replaces
 * it. */
#define SANDBOX_PARKED_NAME "zvm-parked"


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
	int write_errno;   /* the first errno a write to the channel's file
			    * failed with (ENOSPC: its disk is full), 0 =
			    * none; metered channels only */
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
	/* spec->memory_etag: md5 hex of the program's writable private
	 * memory when it exited; "" when not asked for, or when it did not
	 * exit by itself (a signal, a kill). */
	char memory_etag[33];
	/* Deterministic runs: what this run could not make deterministic,
	 * space-separated ("" = nothing known): "tsc" (rdtsc left working:
	 * a dynamically linked program, whose ld.so reads it), "rdrand"
	 * (the CPU has rdrand/rdseed, which no sandbox can trap).
	 * "" when not deterministic (nothing was promised). */
	char nondeterminism[64];
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

/* End and reap the calling thread's parked child (spec.prewarm), if it has
 * one: for a caller that stops spawning (a daemon draining, prewarm turned
 * off) and wants no idle child left. The thread's exit does the same. */
void sandbox_prewarm_drop(void);

/* Spawn, service, enforce spec->timeout_ms, wait. */
int sandbox_run(const struct sandbox_spec *spec, struct sandbox **out,
		struct sandbox_report *report, struct sandbox_error *err);

/* Open `path` inside the image tree `root_dir` as the program to run
 * (spec->prog_fd): resolved as if root_dir were `/` (openat2
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: `..` and symlinks cannot leave
 * it); it must be a regular file executable by others. *fd is O_CLOEXEC,
 * the caller's. 0, or -1 with err naming the image and the path. */
int sandbox_image_open_program(const char *root_dir, const char *path, int *fd,
			       struct sandbox_error *err);

/* The root_dir of `image`: a directory as it is (its real path), a tar
 * file through sandbox_image_open() in cache_dir (NULL = the CLIs'
 * default: $ZEROVM_IMAGE_CACHE, else $HOME/.cache/zerovm/images).
 * *root_dir is malloc'd, the caller frees it. 0 or -1 with err. */
int sandbox_image_root(const char *image, const char *cache_dir,
		       char **root_dir, struct sandbox_error *err);

/* ------------------------------------------------------------- images */

/*
 * A system or job image: a tar archive (plain or gzip) unpacked once into
 * a content-addressed cache and shared read-only by every sandbox that
 * uses it (README.md "Images").
 *
 * sandbox_image_open() reads the archive at `tar_fd` (with pread: the
 * fd's offset is not used or moved) and sets *root_dir (malloc'd, the
 * caller frees) to `cache_dir/<sha256 of the archive bytes>`, the
 * extracted tree, made on the first call and reused after that. It is
 * safe to call from several threads and processes at once: one of them
 * extracts (into a temporary directory renamed into place), the others
 * wait for it and get the same directory. `cache_dir` is created if
 * missing. `name` (may be NULL) only labels error messages ("image
 * python3: entry 'lib/x': ..."). *extracted (may be NULL) says whether
 * this call did the extraction. A later call for an unchanged file (same
 * device, inode, size, mtime and ctime) does not even re-read it.
 *
 * Hostile archives are refused with an error naming the entry (absolute
 * names, `..`, control characters in names, duplicate non-directory
 * entries, hard links to anything but an earlier regular file of the same
 * archive, more than `max_bytes` of file data or `max_entries` entries);
 * device nodes, FIFOs and sockets are skipped; set-id and sticky bits are
 * dropped; symlinks are kept as they are (they resolve inside the
 * sandbox's root) but extraction never follows one. The tree always has
 * `dev` and `tmp` directories (made empty if the archive has none; an
 * archive where they are anything else is refused): the sandbox mounts
 * its own /dev and /tmp there. Blocks for as long as
 * reading, hashing and unpacking take: call it off any event loop.
 * `limits` may be NULL (the defaults).
 */
struct sandbox_image_limits {
	uint64_t max_bytes;    /* file data after extraction; 0 = 2 GiB */
	uint64_t max_entries;  /* archive entries; 0 = 200000 */
};

int sandbox_image_open(const char *cache_dir, int tar_fd, const char *name,
		       const struct sandbox_image_limits *limits,
		       char **root_dir, bool *extracted,
		       struct sandbox_error *err);

/* Disk space a tree of the cache takes (st_blocks, directories included;
 * a file with several links within the tree counted once). 0, or -1 with
 * err naming the path. */
int sandbox_image_tree_bytes(const char *root_dir, uint64_t *bytes,
			     struct sandbox_error *err);

/*
 * Eviction, in two steps so a caller can do the first under its own lock
 * and the slow second outside it. sandbox_image_evict() takes the tree
 * `root_dir` (cache_dir/<sha256>, as sandbox_image_open gave it) out of
 * the cache at once: under that image's extraction lock it is renamed to
 * a temporary name beside it (`.tmp-<sha256>-evicted...`: a crash's
 * leftover is removed by the image's next extraction), and *trash
 * (malloc'd) says where. A later sandbox_image_open() extracts the image
 * again. 0; 1 when the image is being extracted right now (nothing done);
 * -1 with err. The caller makes sure no sandbox uses the tree: eviction
 * of a running program's root pulls its files away.
 * sandbox_image_trash_remove() then removes that tree and frees `trash`.
 */
int sandbox_image_evict(const char *root_dir, char **trash,
			struct sandbox_error *err);
void sandbox_image_trash_remove(char *trash);

#endif
