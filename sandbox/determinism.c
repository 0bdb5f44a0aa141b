/*
 * determinism.c — what a deterministic sandbox answers instead of the host
 * (README.md "Determinism"):
 *
 *   clocks      a virtual clock: CLOCK_REALTIME-like clocks read
 *               epoch + t, the others t; t starts at 0 and advances 1 µs
 *               per read; sleeping advances it by the time asked for and
 *               returns at once
 *   random      one stream per sandbox: block i is SHA-256(key || i as
 *               8 little-endian bytes), key = SHA-256(seed); AT_RANDOM takes
 *               its first 16 bytes, then getrandom and reads of
 *               /dev/urandom and /dev/random take the next ones in call order
 *   CPU time    times() and getrusage() report t as user time, nothing else
 *   uname       fixed strings
 *   vDSO        hidden: its auxv entry becomes AT_IGNORE at the exec stop,
 *               so libc makes real (filtered, answered) clock calls
 *
 * The rest (address layout, no TSC) is set up by the spawn child (spawn.c).
 */
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/user.h>
#include <sys/utsname.h>
#include <time.h>

#include "internal.h"

#define TICK_NS 1000ULL            /* what one clock read costs */
#define NS 1000000000ULL
/* The virtual clock stops here (~160 years): epoch + t stays positive in
 * every type the program sees. */
#define VCLOCK_MAX ((uint64_t)INT64_MAX - SANDBOX_EPOCH_MAX_NS)
#define ARGS_MAX (1 << 20)          /* argv + envp pointers we walk */

const int sb_det_calls[] = {
	SYS_clock_gettime, SYS_clock_getres, SYS_gettimeofday, SYS_time,
	SYS_nanosleep, SYS_clock_nanosleep, SYS_getrandom, SYS_uname,
	SYS_times, SYS_getrusage,
};
const size_t sb_det_ncalls = sizeof(sb_det_calls) / sizeof(sb_det_calls[0]);

/* SHA-256, fetched once: EVP_sha256() makes OpenSSL 3 look the
 * implementation up again on every digest (a few µs, several times per
 * deterministic spawn). Process lifetime. */
static EVP_MD *sha256_fetched;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_fetched ? sha256_fetched : EVP_sha256();
}

void sb_det_init(struct sandbox *sb, const struct sandbox_spec *spec)
{
	sb->det = spec->deterministic;
	if (!sb->det)
		return;
	sb->epoch_ns = spec->epoch_ns ? spec->epoch_ns : SANDBOX_EPOCH_NS;
	EVP_Digest(spec->seed ? spec->seed : (const unsigned char *)"",
		   spec->seed ? spec->seed_len : 0, sb->key, NULL, sha256(),
		   NULL);
}

/* ------------------------------------------------------------- random */

void sb_det_random(struct sandbox *sb, unsigned char *out, size_t len)
{
	while (len) {
		unsigned char in[40], block[32];
		uint64_t i = sb->rnd_pos / 32;
		size_t skip = sb->rnd_pos % 32, take = 32 - skip;

		memcpy(in, sb->key, 32);
		for (int b = 0; b < 8; b++)
			in[32 + b] = (unsigned char)(i >> (8 * b));
		EVP_Digest(in, sizeof(in), block, NULL, sha256(), NULL);
		if (take > len)
			take = len;
		memcpy(out, block + skip, take);
		out += take;
		len -= take;
		sb->rnd_pos += take;
	}
}

static long det_getrandom(struct sandbox *sb, uint64_t addr, uint64_t len,
			  uint64_t flags)
{
	unsigned char buf[4096];
	uint64_t done = 0;

	if (flags & ~(uint64_t)(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE))
		return -EINVAL;
	if (len > 33554431) /* the kernel's cap per call */
		len = 33554431;
	while (done < len) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);

		sb_det_random(sb, buf, n);
		if (sb_mem_write(sb, addr + done, buf, n) < 0)
			return done ? (long)done : -EFAULT;
		done += n;
	}
	return (long)done;
}

/* ------------------------------------------------------------- clocks */

static bool clock_realtime(uint64_t id)
{
	return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE ||
	       id == CLOCK_REALTIME_ALARM || id == CLOCK_TAI;
}

static bool clock_known(uint64_t id)
{
	return id <= CLOCK_BOOTTIME_ALARM || id == CLOCK_TAI;
}

/* Clocks only move forward, and stop at VCLOCK_MAX. */
static void clock_advance(struct sandbox *sb, uint64_t ns)
{
	sb->vclock_ns = ns < VCLOCK_MAX - sb->vclock_ns ? sb->vclock_ns + ns
							: VCLOCK_MAX;
}

/* Nanoseconds on clock `id` now (without advancing). */
static uint64_t clock_now(const struct sandbox *sb, uint64_t id)
{
	return sb->vclock_ns + (clock_realtime(id) ? sb->epoch_ns : 0);
}

static int ts_write(struct sandbox *sb, uint64_t addr, uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / NS),
			      .tv_nsec = (long)(ns % NS)};

	return sb_mem_write(sb, addr, &ts, sizeof(ts));
}

static long ts_read(struct sandbox *sb, uint64_t addr, uint64_t *ns)
{
	struct timespec ts;

	if (sb_mem_read(sb, &ts, sizeof(ts), addr) != sizeof(ts))
		return -EFAULT;
	if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= (long)NS)
		return -EINVAL;
	*ns = (uint64_t)ts.tv_sec >= VCLOCK_MAX / NS
		      ? VCLOCK_MAX
		      : (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
	return 0;
}

static long det_gettime(struct sandbox *sb, uint64_t id, uint64_t addr)
{
	if (!clock_known(id))
		return -EINVAL;
	clock_advance(sb, TICK_NS);
	return ts_write(sb, addr, clock_now(sb, id));
}

static long det_getres(struct sandbox *sb, uint64_t id, uint64_t addr)
{
	if (!clock_known(id))
		return -EINVAL;
	return addr ? ts_write(sb, addr, TICK_NS) : 0;
}

static long det_gettimeofday(struct sandbox *sb, uint64_t tv, uint64_t tz)
{
	struct timezone utc = {0, 0};
	uint64_t ns;

	clock_advance(sb, TICK_NS);
	ns = clock_now(sb, CLOCK_REALTIME);
	if (tv) {
		struct timeval v = {.tv_sec = (time_t)(ns / NS),
				    .tv_usec = (suseconds_t)(ns % NS / 1000)};
		if (sb_mem_write(sb, tv, &v, sizeof(v)) < 0)
			return -EFAULT;
	}
	if (tz && sb_mem_write(sb, tz, &utc, sizeof(utc)) < 0)
		return -EFAULT;
	return 0;
}

static long det_time(struct sandbox *sb, uint64_t addr)
{
	time_t t;

	clock_advance(sb, TICK_NS);
	t = (time_t)(clock_now(sb, CLOCK_REALTIME) / NS);
	if (addr && sb_mem_write(sb, addr, &t, sizeof(t)) < 0)
		return -EFAULT;
	return (long)t;
}

/* Sleeping moves the clock to the wake-up time and returns at once. */
static long det_sleep(struct sandbox *sb, uint64_t id, uint64_t flags,
		      uint64_t req)
{
	uint64_t ns, now;
	long rc;

	if (!clock_known(id))
		return -EINVAL;
	rc = ts_read(sb, req, &ns);
	if (rc < 0)
		return rc;
	now = clock_now(sb, id);
	clock_advance(sb, !(flags & TIMER_ABSTIME) ? ns : ns > now ? ns - now : 0);
	return 0;
}

/* ----------------------------------------------------------- CPU time */

static long det_times(struct sandbox *sb, uint64_t addr)
{
	struct tms t = {.tms_utime = (clock_t)(sb->vclock_ns / (NS / 100))};

	if (addr && sb_mem_write(sb, addr, &t, sizeof(t)) < 0)
		return -EFAULT;
	return (long)t.tms_utime;
}

static long det_getrusage(struct sandbox *sb, uint64_t who, uint64_t addr)
{
	struct rusage ru;

	if ((int)who != RUSAGE_SELF && (int)who != RUSAGE_CHILDREN &&
	    (int)who != RUSAGE_THREAD)
		return -EINVAL;
	memset(&ru, 0, sizeof(ru));
	if ((int)who != RUSAGE_CHILDREN) {
		ru.ru_utime.tv_sec = (time_t)(sb->vclock_ns / NS);
		ru.ru_utime.tv_usec = (suseconds_t)(sb->vclock_ns % NS / 1000);
	}
	return sb_mem_write(sb, addr, &ru, sizeof(ru));
}

/* --------------------------------------------------------------- stat */

/* A channel's stat shows its type, mode, size and device number (of a
 * character device); what depends on the host — device, inode, links,
 * owner, times, allocation — is fixed: device 0, inode = channel index + 1
 * (then /dev/channels, /dev/urandom), one link, root's, every time = the
 * epoch, blocks = size / 512 rounded up, block size 4096. */
static uint64_t det_ino(const struct sandbox *sb, int entry)
{
	return (uint64_t)(entry >= 0 ? entry : (int)sb->nch - entry) + 1;
}

void sb_det_stat(const struct sandbox *sb, int entry, struct stat *st)
{
	struct timespec t = {.tv_sec = (time_t)(sb->epoch_ns / NS),
			     .tv_nsec = (long)(sb->epoch_ns % NS)};

	st->st_dev = 0;
	st->st_ino = det_ino(sb, entry);
	st->st_nlink = 1;
	st->st_uid = st->st_gid = 0;
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_atim = st->st_mtim = st->st_ctim = t;
}

void sb_det_statx(const struct sandbox *sb, int entry, struct statx *stx)
{
	struct statx_timestamp t = {.tv_sec = (int64_t)(sb->epoch_ns / NS),
				    .tv_nsec = (uint32_t)(sb->epoch_ns % NS)};

	stx->stx_dev_major = stx->stx_dev_minor = 0;
	stx->stx_ino = det_ino(sb, entry);
	stx->stx_nlink = 1;
	stx->stx_uid = stx->stx_gid = 0;
	stx->stx_blksize = 4096;
	stx->stx_blocks = (stx->stx_size + 511) / 512;
	stx->stx_atime = stx->stx_btime = stx->stx_ctime = stx->stx_mtime = t;
	stx->stx_mnt_id = 0;
}

/* -------------------------------------------------------------- uname */

static long det_uname(struct sandbox *sb, uint64_t addr)
{
	struct utsname u;

	memset(&u, 0, sizeof(u));
	strcpy(u.sysname, "Linux");
	strcpy(u.nodename, "zerovm");
	strcpy(u.release, "6.0.0-zerovm");
	strcpy(u.version, "#1");
	strcpy(u.machine, "x86_64");
	strcpy(u.domainname, "(none)");
	return sb_mem_write(sb, addr, &u, sizeof(u));
}

long sb_det_answer(struct sandbox *sb, int nr, const __u64 a[6])
{
	switch (nr) {
	case SYS_clock_gettime: return det_gettime(sb, a[0], a[1]);
	case SYS_clock_getres: return det_getres(sb, a[0], a[1]);
	case SYS_gettimeofday: return det_gettimeofday(sb, a[0], a[1]);
	case SYS_time: return det_time(sb, a[0]);
	case SYS_nanosleep: return det_sleep(sb, CLOCK_MONOTONIC, 0, a[0]);
	case SYS_clock_nanosleep: return det_sleep(sb, a[0], a[1], a[2]);
	case SYS_getrandom: return det_getrandom(sb, a[0], a[1], a[2]);
	case SYS_uname: return det_uname(sb, a[0]);
	case SYS_times: return det_times(sb, a[0]);
	case SYS_getrusage: return det_getrusage(sb, a[0], a[1]);
	default: return -ENOSYS;
	}
}

/* --------------------------------------------------------------- auxv */

/*
 * The initial stack of a program stopped right after exec, from its rsp up:
 * argc, argv, NULL, envp, NULL, the auxv (to AT_NULL), then the 16
 * AT_RANDOM bytes and the strings. It is read in one call (and patched
 * back in one): each remote read or write costs a page pin, and this is on
 * the path of every deterministic spawn. A larger read only for a very
 * long argv or envp.
 */
#define STACK_READ (16 * 1024)
#define STACK_READ_MAX (32 * 1024 * 1024)

/* Hide the vDSO and seed AT_RANDOM in `w` (the first `nw` words of the
 * stack at `sp`), then write the changed range back. -EAGAIN when the
 * auxv does not end within w. */
static int auxv_patch(struct sandbox *sb, uint64_t sp, uint64_t *w, size_t nw)
{
	uint64_t rnd = 0, to;
	size_t i, aux;

	if (w[0] > ARGS_MAX)
		return -EFAULT;
	for (i = w[0] + 2; i < nw && w[i]; i++) /* envp */
		if (i - w[0] > ARGS_MAX)
			return -EFAULT;
	aux = i + 1;
	for (i = aux; i + 1 < nw && w[i] != AT_NULL; i += 2) {
		if (w[i] == AT_SYSINFO_EHDR) {
			w[i] = AT_IGNORE;
			w[i + 1] = 0;
		} else if (w[i] == AT_RANDOM) {
			rnd = w[i + 1];
		}
	}
	if (i + 1 >= nw)
		return -EAGAIN;
	to = sp + (i + 2) * 8;
	if (rnd) {
		unsigned char r[16];

		sb_det_random(sb, r, sizeof(r));
		/* Just above the auxv (the kernel puts it there): one write. */
		if (rnd >= to && rnd + sizeof(r) <= sp + nw * 8) {
			memcpy((char *)w + (rnd - sp), r, sizeof(r));
			to = rnd + sizeof(r);
		} else if (sb_mem_write(sb, rnd, r, sizeof(r)) < 0) {
			return -EFAULT;
		}
	}
	return sb_mem_write(sb, sp + aux * 8, w + aux, to - (sp + aux * 8));
}

int sb_det_patch_auxv(struct sandbox *sb)
{
	struct user_regs_struct regs;
	uint64_t *w = NULL;
	int rc = -EAGAIN;

	if (ptrace(PTRACE_GETREGS, sb->pid, NULL, &regs) < 0)
		return -errno;
	for (size_t cap = STACK_READ; rc == -EAGAIN; cap *= 4) {
		ssize_t got;

		free(w);
		if (cap > STACK_READ_MAX || !(w = malloc(cap)))
			return cap > STACK_READ_MAX ? -E2BIG : -ENOMEM;
		got = sb_mem_read(sb, w, cap, regs.rsp);
		if (got < 8) {
			rc = -EFAULT;
			break;
		}
		rc = auxv_patch(sb, regs.rsp, w, (size_t)got / 8);
		/* The stack ended within the read: there is no more. */
		if (rc == -EAGAIN && (size_t)got < cap)
			rc = -EFAULT;
	}
	free(w);
	return rc;
}
