/*
 * internal.h — what the files of the sandbox library share. Not installed,
 * not for the daemon: sandbox.h is the only public header.
 *
 *   holder.c   the namespace holder process (built once per process)
 *   filter.c   the seccomp allow-list, compiled to BPF (cached by layout)
 *   spawn.c    clone(CLONE_VM | CLONE_VFORK) child: isolate, seccomp, exec;
 *              parked children for spec->prewarm
 *   channel.c  the supervisor's view of channels and of the program's fds
 *   notify.c   sandbox_service(): answers mediated system calls
 *   report.c   kill, wait, report, free, run
 *   determinism.c  virtual clock, seeded random stream, fixed uname, the
 *              auxv patch (only when spec->deterministic)
 *   image_root.c  the program's file system with an image (spec->root_dir)
 *   filter_posix.c  the wider system-call policy of image runs
 */
#ifndef ZEROVM_SANDBOX_INTERNAL_H
#define ZEROVM_SANDBOX_INTERNAL_H

#include <linux/filter.h>
#include <openssl/evp.h>

#include "sandbox.h"

/* Code that runs in the clone(CLONE_VM) children shares the caller's
 * memory and TLS: no sanitizer instrumentation, no libc calls that touch
 * errno or locks, only raw system calls. */
#define SB_CHILD_CODE \
	__attribute__((no_sanitize("address", "undefined"), noinline))

static inline __attribute__((always_inline)) long
sb_raw(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* Uid and gid the program runs as: nobody, no capabilities. */
#define SB_UID 65534
#define SB_GID 65534
/* fds a program may open beyond its channels (RLIMIT_NOFILE slack). */
#define SB_FD_SLACK 64
#define SB_DEFAULT_MEMORY ((uint64_t)1 << 30)

void sb_error(struct sandbox_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ holder.c */

/* pidfd of the process whose mount/ipc/uts/net namespaces every program
 * enters (created on first use; recreated if it died). Not owned. */
int sb_holder_pidfd(struct sandbox_error *err);
#define SB_HOLDER_NS (CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET)

/* ------------------------------------------------------------ filter.c */

/*
 * How the filter treats the read/write family on each fd number below the
 * layout's length (higher numbers are always mediated): 'n' = mediated
 * (the supervisor does the I/O), or SB_FD_DIRECT + a mask of what the
 * kernel may do directly — exactly what the channel's declaration allows,
 * so a caller's O_RDWR fd cannot be read through a write-only channel.
 */
#define SB_FD_NOTIFY 'n'
#define SB_FD_DIRECT 'A'
enum sb_fdbits {
	SB_FD_READ = 1,   /* read, readv */
	SB_FD_WRITE = 2,  /* write, writev */
	SB_FD_PREAD = 4,  /* pread64, preadv, preadv2 (and lseek) */
	SB_FD_PWRITE = 8, /* pwrite64, pwritev, pwritev2 (and lseek) */
	SB_FD_OWN = 16,   /* the program's own file: close needs no supervisor */
};

/* Image runs: the numbers of the program's own files (image, /tmp,
 * /dev/null): the kernel does every I/O call on them directly. */
#define SB_FD_IMAGE (SB_FD_DIRECT + 31)
#define SB_IMAGE_FILES 1024

/* BPF for a layout (a string of fd classes, one per fd). `posix`: the
 * wider policy of image runs (filter_posix.c). `exit_notify`: exit and
 * exit_group go to the supervisor (the memory etag). The result is malloc'd
 * (filter->filter too); free with sb_filter_free. */
int sb_filter_get(const char *layout, bool det, bool posix, bool exit_notify,
		  struct sock_fprog *out, struct sandbox_error *err);
void sb_filter_free(struct sock_fprog *f);
/* How many filters this process has compiled (cache misses): a test
 * checks that alternating shapes stay cached. */
unsigned long sb_filter_builds(void);

/* ----------------------------------------------------------- channel.c */

struct sb_chan {
	char *alias;
	int fd;             /* our dup: same open file description */
	enum sandbox_access type;
	bool readable, writable;
	bool metered;       /* limits or etag: every call goes through us */
	bool network;
	int64_t gets, get_size, puts, put_size;
	EVP_MD_CTX *md;     /* etag digest, NULL if disabled */
};

/* An entry of the program's fd table as the supervisor tracks it. */
#define SB_FDT_FREE (-1)
#define SB_FDT_CHANNELS (-2) /* the synthesized /dev/channels */
/* fd n (the ELF) and n + 1 (the spawn socket): the filter lets execveat
 * and sendmsg through on exactly these numbers, so after exec they stay
 * closed for good — nothing is ever placed there. */
#define SB_FDT_RESERVED (-3)
#define SB_FDT_RANDOM (-4)   /* /dev/urandom in deterministic mode */

struct sandbox {
	pid_t pid;
	int pidfd;
	int notify_fd;
	struct sb_chan *ch;
	size_t nch;
	size_t *by_alias;        /* channel indexes sorted by alias */
	struct sandbox_channel_stats *stats;
	char *layout;       /* fd class per fd number of the filter */
	size_t nlayout;
	int *fdt;           /* fd -> channel index or SB_FDT_* */
	size_t nfdt;        /* = RLIMIT_NOFILE of the program */
	int channels_memfd; /* /dev/channels content, -1 until first open */
	bool image;         /* runs in an image root: the posix policy; fds the
			     * table calls free may hold the program's files */
	struct sb_dircache *dircache; /* image_root.c: the sorted listing being
				       * read, NULL if none */
	uint64_t base[4];   /* syscr rchar syscw wchar of the exec itself */
	uint64_t deadline;  /* monotonic ms; 0 = none (sandbox_run only) */
	bool killed;
	enum sandbox_end kill_reason;
	bool waited;
	char *iobuf;        /* transfer buffer for mediated I/O (mapped) */
	size_t niobuf;
	/* determinism.c; all zero when off */
	bool det;
	uint64_t epoch_ns;  /* virtual CLOCK_REALTIME at start */
	uint64_t vclock_ns; /* virtual time elapsed since start */
	unsigned char key[32]; /* SHA-256 of the seed */
	uint64_t rnd_pos;   /* bytes of the random stream handed out */
	int self_signal;    /* the fatal signal it sent itself (as pid 1 it
			     * would be dropped: notify.c on_kill), 0 = none */
	uint64_t cpu_seconds; /* spec->cpu_seconds (report.c) */
	bool tsc_readable;  /* deterministic, yet rdtsc was left working */
	bool cpu_pinned;    /* deterministic and on one CPU (memory etag) */
	char mem_etag[33];  /* memory.c: md5 hex at exit, "" = none (yet) */
};

int sb_chans_init(struct sandbox *sb, const struct sandbox_spec *spec,
		  struct sandbox_error *err);
void sb_chans_free(struct sandbox *sb);
/* The channel at an alias path, or -1. */
long sb_chan_find(const struct sandbox *sb, const char *path);
/* Lowest free fd >= min where a channel (or SB_FDT_CHANNELS) may live
 * without the filter letting its I/O bypass the supervisor; -1 if none. */
int sb_fdt_place(const struct sandbox *sb, int entry, int min);
/* May `entry` live at fd? (dup2 onto a direct-class number) */
bool sb_fdt_allowed(const struct sandbox *sb, int entry, int fd);
/* An fd for /dev/channels, a fresh open file description. */
int sb_channels_open(struct sandbox *sb);

/* -------------------------------------------------------- image_root.c */

/* Detached mounts the child attaches (sb_image_enter), -1 = none. */
struct sb_image {
	int root_fd;   /* clone of root_dir: read-only, nosuid, nodev */
	int dev_fd;    /* clone of the /dev tree */
	int tmp_fd;    /* a fresh tmpfs of spec->tmp_size bytes */
};

int sb_image_prepare(const struct sandbox_spec *spec, struct sb_image *im,
		     struct sandbox_error *err);
void sb_image_release(struct sb_image *im);
/* In the child, in the holder's namespaces: a mount namespace of its own
 * with the image as root. 0 or -errno; *step indexes sb_image_step_names. */
long sb_image_enter(const struct sb_image *im, int *step);
extern const char *const sb_image_step_names[];
/* Deterministic image runs: getdents64(fd, buf, count) of the program,
 * sorted by name. Bytes written or -errno. */
long sb_image_getdents(struct sandbox *sb, int fd, uint64_t buf, uint64_t count);
void sb_image_dircache_free(struct sandbox *sb);

/* ------------------------------------------------------ filter_posix.c */

/* The rules the posix policy adds (or changes) for a filter whose
 * program may have fds below nfds. 0 or -errno (libseccomp). */
int sb_filter_posix_rules(void *scmp_ctx, size_t nfds, bool det);

/* ------------------------------------------------------------ notify.c */

/* The program's memory (it is stopped in the call being answered). */
ssize_t sb_mem_read(const struct sandbox *sb, void *buf, size_t len,
		    uint64_t addr);
int sb_mem_write(const struct sandbox *sb, uint64_t addr, const void *buf,
		 size_t len);
/* Unmap the transfer buffer (sandbox_free). */
void sb_iobuf_free(struct sandbox *sb);

/* ------------------------------------------------------- determinism.c */

/* The calls the filter sends to the supervisor in deterministic mode
 * instead of letting them through (clocks, sleeps, getrandom, uname). */
extern const int sb_det_calls[];
extern const size_t sb_det_ncalls;
void sb_det_init(struct sandbox *sb, const struct sandbox_spec *spec);
/* Answer one of sb_det_calls: the result or -errno. */
long sb_det_answer(struct sandbox *sb, int nr, const __u64 args[6]);
/* Replace what a channel's stat says about the host (`entry`: its fd
 * table entry, a channel index or SB_FDT_*). */
struct stat;
struct statx;
void sb_det_stat(const struct sandbox *sb, int entry, struct stat *st);
void sb_det_statx(const struct sandbox *sb, int entry, struct statx *stx);
/* The next `len` bytes of the random stream. */
void sb_det_random(struct sandbox *sb, unsigned char *out, size_t len);
/* At the program's exec stop (it is ptrace-stopped, nothing of it has
 * run): hide the vDSO and fill AT_RANDOM from the stream. 0 or -errno. */
int sb_det_patch_auxv(struct sandbox *sb);

/* ------------------------------------------------------------ memory.c */

/* The program is stopped in exit or exit_group: digest its writable
 * private memory into sb->mem_etag. 0 or -errno. */
int sb_memory_digest(struct sandbox *sb);

/* ------------------------------------------------------------ report.c */

int sb_proc_io(pid_t pid, uint64_t io[4]);
uint64_t sb_now_ms(void);
/* Milliseconds to sb->deadline for poll() (-1 = none); at the deadline
 * the program is killed with SANDBOX_END_TIMEOUT and 0 is returned. */
int sb_deadline_wait(struct sandbox *sb);

#endif
