/*
 * notify.c — the supervisor: answers the system calls the filter sends
 * to user space (SECCOMP_RET_USER_NOTIF).
 *
 *   kill family     only at itself
 *   open family     a channel alias or /dev/channels: a dup of our open
 *                   file description, installed with SECCOMP_IOCTL_NOTIF_ADDFD;
 *                   a direction the channel does not allow: EACCES;
 *                   anything else: ENOENT
 *   stat family     an alias: the channel's stat; anything else: ENOENT
 *                   (with AT_EMPTY_PATH the filter lets them through:
 *                   fstat, or a lookup in the empty root)
 *   close, dup*     kept in our copy of the program's fd table
 *   read/write/...  on mediated fds: we do the I/O on our dup of the same
 *                   open file description, count it, digest it, and answer
 *                   EDQUOT past a limit
 *   deterministic   clocks, sleeps, CPU times, getrandom, uname
 *                   (determinism.c);
 *                   /dev/urandom and /dev/random read the seeded stream
 *
 * Reading the program's memory is race-free: it has one thread, blocked in
 * the call we are answering, and no memory shared with anyone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define IO_CHUNK (1 << 20)
#define IOV_MAX_SB 1024

/* What a handler decided. */
struct answer {
	bool done;      /* nothing to answer: the call is gone */
	bool cont;      /* SECCOMP_USER_NOTIF_FLAG_CONTINUE */
	long val;
	int error;      /* positive errno, 0 = success */
};

static struct answer ans_err(int e) { return (struct answer){.error = e}; }
static struct answer ans_val(long v) { return (struct answer){.val = v}; }
static struct answer ans_cont(void) { return (struct answer){.cont = true}; }

static int fdt_get(const struct sandbox *sb, uint64_t arg);

/* ------------------------------------------------------ program memory */

ssize_t sb_mem_read(const struct sandbox *sb, void *buf, size_t len,
			uint64_t addr)
{
	struct iovec l = {buf, len}, r = {(void *)addr, len};

	return process_vm_readv(sb->pid, &l, 1, &r, 1, 0);
}

int sb_mem_write(const struct sandbox *sb, uint64_t addr,
		     const void *buf, size_t len)
{
	struct iovec l = {(void *)buf, len}, r = {(void *)addr, len};

	return process_vm_writev(sb->pid, &l, 1, &r, 1, 0) == (ssize_t)len
		       ? 0 : -EFAULT;
}

/* A NUL-terminated path, read page by page (a string may end just before
 * an unmapped page). 0, -EFAULT or -ENAMETOOLONG. */
static int mem_path(const struct sandbox *sb, uint64_t addr, char *out)
{
	size_t got = 0;

	while (got < PATH_MAX) {
		size_t page = 4096 - ((addr + got) & 4095);
		size_t want = page < PATH_MAX - got ? page : PATH_MAX - got;
		ssize_t r = sb_mem_read(sb, out + got, want, addr + got);

		if (r <= 0)
			return -EFAULT;
		char *nul = memchr(out + got, '\0', r);
		if (nul)
			return 0;
		got += r;
	}
	return -ENAMETOOLONG;
}

/* Lexically normalise an absolute path in place: "//", ".", "..". */
static void path_normalise(char *p)
{
	char *out = p, *in = p;

	while (*in) {
		while (*in == '/')
			in++;
		char *seg = in;
		while (*in && *in != '/')
			in++;
		size_t len = in - seg;
		if (len == 0 || (len == 1 && seg[0] == '.'))
			continue;
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			while (out > p && *--out != '/')
				;
			continue;
		}
		*out++ = '/';
		memmove(out, seg, len);
		out += len;
	}
	if (out == p)
		*out++ = '/';
	*out = '\0';
}

/* With an image: the directory a relative path starts from — the
 * program's cwd or one of its own directory fds — as the kernel names it.
 * Only to recognise channel aliases: the kernel resolves every other path
 * itself. */
static int image_dir(const struct sandbox *sb, int dirfd, char *out)
{
	char link[64];
	ssize_t r;

	if (dirfd == AT_FDCWD)
		snprintf(link, sizeof(link), "/proc/%d/cwd", sb->pid);
	else
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", sb->pid, dirfd);
	r = readlink(link, out, PATH_MAX - 1);
	if (r <= 0 || out[0] != '/')
		return -ENOENT;
	out[r] = '\0';
	return 0;
}

/* Resolve (dirfd, path) of the program to an absolute normalised path.
 * 0 or -errno. Channels are not directories, so a real dirfd never
 * leads anywhere; without an image there is no other directory than /. */
static int path_resolve(const struct sandbox *sb, int dirfd, uint64_t addr,
			char *out)
{
	char raw[PATH_MAX];
	int rc = mem_path(sb, addr, raw);

	if (rc < 0)
		return rc;
	if (raw[0] == '\0')
		return -ENOENT;
	if (raw[0] != '/' && sb->image) {
		char dir[PATH_MAX];

		if (dirfd != AT_FDCWD && dirfd < 0)
			return -EBADF;
		if (dirfd >= 0 && fdt_get(sb, dirfd) != SB_FDT_FREE)
			return -ENOTDIR;
		if ((rc = image_dir(sb, dirfd, dir)) < 0)
			return rc;
		if (snprintf(out, PATH_MAX, "%s/%s", dir, raw) >= PATH_MAX)
			return -ENAMETOOLONG;
	} else if (raw[0] != '/') {
		if (dirfd != AT_FDCWD)
			return -ENOTDIR;
		if (snprintf(out, PATH_MAX, "/%s", raw) >= PATH_MAX)
			return -ENAMETOOLONG;
	} else {
		memcpy(out, raw, PATH_MAX);
	}
	path_normalise(out);
	return 0;
}

/* ------------------------------------------------------------ fd table */

static int fdt_get(const struct sandbox *sb, uint64_t arg)
{
	int fd = (int)arg;

	if (fd < 0 || (size_t)fd >= sb->nfdt || sb->fdt[fd] == SB_FDT_RESERVED)
		return SB_FDT_FREE;
	return sb->fdt[fd];
}

/*
 * Install `src` as fd `target` of the program; the call is then answered
 * with that number (respond()).
 *
 * Two steps, not one ADDFD with SECCOMP_ADDFD_FLAG_SEND: that marks the
 * call answered (with 0) before the program has taken the fd, and a
 * signal that interrupts our wait for it withdraws the fd, yet the
 * program's open() returns 0, an fd it already has, and the restarted
 * ioctl fails EINPROGRESS. Such signals do come: while zvmd's spawning
 * thread waits for a child's exec with every signal blocked (spawn.c), the
 * kernel hands the SIGCHLD of any child that exits meanwhile to another
 * thread — a service thread, often. A plain ADDFD that is interrupted
 * only did not happen yet, and is simply made again.
 */
static struct answer fd_install(struct sandbox *sb, uint64_t id, int src,
				int target, int entry, bool cloexec)
{
	struct seccomp_notif_addfd add = {
		.id = id,
		.flags = SECCOMP_ADDFD_FLAG_SETFD,
		.srcfd = src,
		.newfd = target,
		.newfd_flags = cloexec ? O_CLOEXEC : 0,
	};
	int r;

	do
		r = ioctl(sb->notify_fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == ENOENT ? (struct answer){.done = true}
				       : ans_err(errno);
	sb->fdt[target] = entry;
	return ans_val(target);
}

static int entry_src(struct sandbox *sb, int entry, int prog_fd, bool *owned)
{
	*owned = false;
	if (entry >= 0)
		return sb->ch[entry].fd;
	/* /dev/channels: each open has its own offset, take the program's. */
	*owned = true;
	return syscall(SYS_pidfd_getfd, sb->pidfd, prog_fd, 0);
}

/* Image runs: duplicating one of the program's own files is the
 * kernel's business, but a dup2 over a channel's number ends that
 * channel there — and only if the source really exists (else the kernel
 * fails and the channel stays). */
static struct answer own_dup(struct sandbox *sb, uint64_t oldarg, int target,
			     bool exact)
{
	int got = (int)syscall(SYS_pidfd_getfd, sb->pidfd, (int)oldarg, 0);

	if (got < 0)
		return ans_err(EBADF);
	close(got);
	if (exact && target >= 0 && (size_t)target < sb->nfdt)
		sb->fdt[target] = SB_FDT_FREE;
	return ans_cont();
}

static struct answer fd_dup(struct sandbox *sb, uint64_t id, uint64_t oldarg,
			    int target, bool exact, bool cloexec)
{
	int entry = fdt_get(sb, oldarg);
	bool owned;
	int src;

	if (entry == SB_FDT_FREE && sb->image)
		return own_dup(sb, oldarg, target, exact);
	if (entry == SB_FDT_FREE)
		return ans_err(EBADF);
	if (exact) {
		if (target < 0 || (size_t)target >= sb->nfdt)
			return ans_err(EBADF);
		/* A metered channel on a number the filter lets through. */
		if (!sb_fdt_allowed(sb, entry, target))
			return ans_err(EPERM);
	} else {
		target = sb_fdt_place(sb, entry, target);
		if (target < 0)
			return ans_err(EMFILE);
	}
	src = entry_src(sb, entry, (int)oldarg, &owned);
	if (src < 0)
		return ans_err(EBADF);
	struct answer a = fd_install(sb, id, src, target, entry, cloexec);
	if (owned)
		close(src);
	return a;
}

/* ---------------------------------------------------------------- open */

/* The random devices exist only in deterministic mode (the seeded stream). */
static bool is_random_dev(const struct sandbox *sb, const char *path)
{
	return sb->det && (strcmp(path, "/dev/urandom") == 0 ||
			   strcmp(path, "/dev/random") == 0);
}

/* What the program holds for a random device: a placeholder (a character
 * device like the real one); its fd number is mediated, so every read of
 * it comes to us (random_io). */
static int random_dev_open(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static struct answer do_open(struct sandbox *sb, uint64_t id, int dirfd,
			     uint64_t path_addr, uint64_t flags)
{
	char path[PATH_MAX];
	int rc = path_resolve(sb, dirfd, path_addr, path), acc, entry, src;

	/* With an image, what is not an alias is the kernel's to resolve,
	 * in the program's root, with its rights; it opens the program's
	 * own files at numbers our table leaves to it. */
	if (rc < 0)
		return sb->image ? ans_cont() : ans_err(-rc);
	acc = flags & O_ACCMODE;
	if (strcmp(path, "/dev/channels") == 0) {
		if (acc != O_RDONLY)
			return ans_err(EACCES);
		entry = SB_FDT_CHANNELS;
	} else if (is_random_dev(sb, path)) {
		if (acc != O_RDONLY)
			return ans_err(EACCES);
		entry = SB_FDT_RANDOM;
	} else {
		long c = sb_chan_find(sb, path);

		if (c < 0)
			return sb->image ? ans_cont() : ans_err(ENOENT);
		entry = (int)c;
		if ((flags & O_DIRECTORY))
			return ans_err(ENOTDIR);
		if ((acc != O_WRONLY && !sb->ch[c].readable) ||
		    (acc != O_RDONLY && !sb->ch[c].writable) || acc == 3)
			return ans_err(EACCES);
	}
	int target = sb_fdt_place(sb, entry, 0);
	if (target < 0)
		return ans_err(EMFILE);
	src = entry >= 0		? sb->ch[entry].fd
	      : entry == SB_FDT_RANDOM ? random_dev_open()
					: sb_channels_open(sb);
	if (src < 0)
		return ans_err(ENOMEM);
	struct answer a = fd_install(sb, id, src, target, entry,
				     flags & O_CLOEXEC);
	if (entry < 0)
		close(src);
	return a;
}

static struct answer on_openat2(struct sandbox *sb, const struct seccomp_notif *n)
{
	struct open_how how = {0};
	size_t size = n->data.args[3];

	if (size < sizeof(uint64_t))
		return ans_err(EINVAL);
	if (sb_mem_read(sb, &how, sizeof(how.flags), n->data.args[2]) !=
	    sizeof(how.flags))
		return ans_err(EFAULT);
	return do_open(sb, n->id, (int)n->data.args[0], n->data.args[1],
		       how.flags);
}

/* ---------------------------------------------------------------- stat */

static int stat_target(struct sandbox *sb, int dirfd, uint64_t path_addr,
		       int *fd, bool *owned, int *entry)
{
	char path[PATH_MAX];
	int rc = path_resolve(sb, dirfd, path_addr, path);

	*owned = false;
	if (rc < 0)
		return rc;
	if (strcmp(path, "/dev/channels") == 0 || is_random_dev(sb, path)) {
		*entry = is_random_dev(sb, path) ? SB_FDT_RANDOM : SB_FDT_CHANNELS;
		*fd = *entry == SB_FDT_RANDOM ? random_dev_open()
					      : sb_channels_open(sb);
		*owned = true;
		return *fd < 0 ? -ENOMEM : 0;
	}
	long c = sb_chan_find(sb, path);
	if (c < 0)
		return -ENOENT;
	*fd = sb->ch[c].fd;
	*entry = (int)c;
	return 0;
}

/* Not an alias: with an image the kernel answers (in the program's root),
 * without one there is nothing else. */
static struct answer not_alias(const struct sandbox *sb, int rc)
{
	return sb->image ? ans_cont() : ans_err(-rc);
}

/* stat or statx (`mask`) of our fd for table entry `entry` into the
 * program's buffer; deterministic: without the host's inode, times... */
static struct answer stat_answer(struct sandbox *sb, int fd, int entry,
				 bool is_statx, unsigned mask, uint64_t buf)
{
	struct statx stx;
	struct stat st;
	int rc;

	if (is_statx) {
		if (statx(fd, "", AT_EMPTY_PATH, mask, &stx) < 0)
			return ans_err(errno);
		if (sb->det)
			sb_det_statx(sb, entry, &stx);
		rc = sb_mem_write(sb, buf, &stx, sizeof(stx));
	} else {
		if (fstat(fd, &st) < 0)
			return ans_err(errno);
		if (sb->det)
			sb_det_stat(sb, entry, &st);
		rc = sb_mem_write(sb, buf, &st, sizeof(st));
	}
	return rc < 0 ? ans_err(-rc) : ans_val(0);
}

/* A path or an fd (`dirfd` with AT_EMPTY_PATH and "" or NULL) to stat. */
static struct answer stat_any(struct sandbox *sb, int dirfd, uint64_t path_addr,
			      int flags, bool is_statx, unsigned mask,
			      uint64_t buf)
{
	char first = 1;
	bool owned;
	int fd, entry, rc;

	if ((flags & AT_EMPTY_PATH) &&
	    (!path_addr || (sb_mem_read(sb, &first, 1, path_addr) == 1 && !first))) {
		/* fstat: a channel is ours to answer, anything else (an
		 * image file, no fd, the cwd) the kernel's. */
		entry = dirfd == AT_FDCWD ? SB_FDT_FREE : fdt_get(sb, dirfd);
		if (entry == SB_FDT_FREE)
			return ans_cont();
		fd = entry_src(sb, entry, dirfd, &owned);
		if (fd < 0)
			return ans_err(EBADF);
	} else {
		rc = stat_target(sb, dirfd, path_addr, &fd, &owned, &entry);
		if (rc < 0)
			return not_alias(sb, rc);
	}
	struct answer a = stat_answer(sb, fd, entry, is_statx, mask, buf);
	if (owned)
		close(fd);
	return a;
}

static struct answer do_access(struct sandbox *sb, int dirfd, uint64_t path_addr,
			       int mode)
{
	char path[PATH_MAX];
	int rc = path_resolve(sb, dirfd, path_addr, path);

	if (rc < 0)
		return not_alias(sb, rc);
	if (strcmp(path, "/dev/channels") == 0 || is_random_dev(sb, path))
		return ans_err(mode & (W_OK | X_OK) ? EACCES : 0);
	long c = sb_chan_find(sb, path);
	if (c < 0)
		return not_alias(sb, -ENOENT);
	if ((mode & X_OK) || ((mode & R_OK) && !sb->ch[c].readable) ||
	    ((mode & W_OK) && !sb->ch[c].writable))
		return ans_err(EACCES);
	return ans_val(0);
}

/* ------------------------------------------------------------------ io */

enum io_kind { IO_READ, IO_WRITE, IO_SEEK };

struct io_call {
	enum io_kind kind;
	bool positional;   /* an explicit offset */
	int64_t offset;
	struct iovec iov[IOV_MAX_SB];
	int niov;
};

/* Wait until fd is ready for `events`, or the program is gone (killed by
 * a timeout or the caller). 0 when ready. */
static int io_wait(struct sandbox *sb, int fd, short events)
{
	struct pollfd p[2] = {{.fd = fd, .events = events},
			      {.fd = sb->pidfd, .events = POLLIN}};

	for (;;) {
		int r = poll(p, 2, sb_deadline_wait(sb));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (p[1].revents)
			return -ESRCH;
		if (r > 0)
			return 0;
	}
}

static int iov_load(struct sandbox *sb, struct io_call *io, uint64_t addr,
		    uint64_t cnt)
{
	if (cnt > IOV_MAX_SB)
		return -EINVAL;
	io->niov = (int)cnt;
	if (cnt && sb_mem_read(sb, io->iov, cnt * sizeof(struct iovec), addr) !=
			   (ssize_t)(cnt * sizeof(struct iovec)))
		return -EFAULT;
	return 0;
}

static int io_decode(struct sandbox *sb, const struct seccomp_notif *n,
		     struct io_call *io)
{
	const __u64 *a = n->data.args;
	int nr = n->data.nr;

	io->positional = false;
	io->niov = 1;
	io->iov[0] = (struct iovec){(void *)a[1], a[2]};
	switch (nr) {
	case SYS_read: io->kind = IO_READ; return 0;
	case SYS_write: io->kind = IO_WRITE; return 0;
	case SYS_pread64: io->kind = IO_READ; break;
	case SYS_pwrite64: io->kind = IO_WRITE; break;
	case SYS_lseek: io->kind = IO_SEEK; return 0;
	case SYS_readv:
	case SYS_writev:
		io->kind = nr == SYS_readv ? IO_READ : IO_WRITE;
		return iov_load(sb, io, a[1], a[2]);
	default:
		io->kind = nr == SYS_preadv || nr == SYS_preadv2 ? IO_READ
								 : IO_WRITE;
		if (iov_load(sb, io, a[1], a[2]) < 0)
			return -EFAULT;
		io->offset = (int64_t)a[3];
		io->positional = !((nr == SYS_preadv2 || nr == SYS_pwritev2) &&
				   io->offset == -1);
		return 0;
	}
	io->offset = (int64_t)a[3];
	io->positional = true;
	return 0;
}

static size_t iov_total(const struct io_call *io)
{
	size_t t = 0;

	for (int i = 0; i < io->niov; i++)
		t += io->iov[i].iov_len;
	return t;
}

/* The remote iovecs from byte `skip` on, at most `max` bytes. */
static int iov_slice(const struct io_call *io, size_t skip, size_t max,
		     struct iovec *out)
{
	int n = 0;

	for (int i = 0; i < io->niov && max; i++) {
		size_t len = io->iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		size_t take = len - skip < max ? len - skip : max;
		out[n++] = (struct iovec){(char *)io->iov[i].iov_base + skip, take};
		max -= take;
		skip = 0;
	}
	return n;
}

/* The transfer buffer is mapped, not malloc'd: malloc would hand a 1 MiB
 * block out of the arena of whichever thread services the first I/O, and
 * glibc, once it has freed one such mapped block, raises its mmap and trim
 * thresholds (to 1 and 2 MiB) for good; from then on every arena a service
 * thread uses keeps up to 2 MiB of freed buffer resident (zvmd: 15 arenas,
 * RSS +30 % in a 10-minute soak). A mapping of our own is returned whole
 * when the sandbox is freed. */
static int iobuf_ensure(struct sandbox *sb)
{
	void *p;

	if (sb->iobuf)
		return 0;
	p = mmap(NULL, IO_CHUNK, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	sb->iobuf = p;
	sb->niobuf = IO_CHUNK;
	return 0;
}

void sb_iobuf_free(struct sandbox *sb)
{
	if (sb->iobuf)
		munmap(sb->iobuf, sb->niobuf);
	sb->iobuf = NULL;
	sb->niobuf = 0;
}

static bool random_read(const struct sb_chan *c)
{
	return c->type == SANDBOX_RGET_SPUT || c->type == SANDBOX_RGET_RPUT;
}

static bool random_write(const struct sb_chan *c)
{
	return c->type == SANDBOX_SGET_RPUT || c->type == SANDBOX_RGET_RPUT;
}

static long io_read(struct sandbox *sb, int src, struct sb_chan *c,
		    struct sandbox_channel_stats *st, struct io_call *io)
{
	size_t want = iov_total(io);
	struct iovec rem[IOV_MAX_SB];
	ssize_t r;

	if (c && c->metered) {
		int64_t left = c->get_size - (int64_t)st->rbytes;

		if ((int64_t)st->reads >= c->gets || left <= 0) {
			st->limit_hit = true;
			return -EDQUOT;
		}
		if ((int64_t)want > left)
			want = left;
	}
	if (want > sb->niobuf)
		want = sb->niobuf;
	if (!io->positional && (r = io_wait(sb, src, POLLIN)) < 0)
		return r;
	r = io->positional ? pread(src, sb->iobuf, want, io->offset)
			   : read(src, sb->iobuf, want);
	if (r < 0)
		return -errno;
	int n = iov_slice(io, 0, r, rem);
	struct iovec l = {sb->iobuf, r};
	if (r > 0 && process_vm_writev(sb->pid, &l, 1, rem, n, 0) != r)
		return -EFAULT;
	if (c) {
		st->reads++;
		st->rbytes += r;
		if (c->md)
			EVP_DigestUpdate(c->md, sb->iobuf, r);
	}
	return r;
}

static long io_write(struct sandbox *sb, int src, struct sb_chan *c,
		     struct sandbox_channel_stats *st, struct io_call *io)
{
	size_t want = iov_total(io), done = 0;
	struct iovec rem[IOV_MAX_SB];

	if (c->metered) {
		int64_t left = c->put_size - (int64_t)st->wbytes;
		/* In a file, put_size also bounds the end of what is written:
		 * a write far past the end would make a sparse giant. */
		off_t pos = io->positional ? io->offset : lseek(src, 0, SEEK_CUR);

		if (pos >= 0 && c->put_size - (int64_t)pos < left)
			left = c->put_size - (int64_t)pos;
		if ((int64_t)st->writes >= c->puts || (left <= 0 && want > 0)) {
			st->limit_hit = true;
			return -EDQUOT;
		}
		if ((int64_t)want > left)
			want = left;
	}
	while (done < want || (want == 0 && done == 0)) {
		size_t chunk = want - done < sb->niobuf ? want - done : sb->niobuf;
		int n = iov_slice(io, done, chunk, rem);
		struct iovec l = {sb->iobuf, chunk};
		ssize_t r;

		if (chunk && process_vm_readv(sb->pid, &l, 1, rem, n, 0) !=
				     (ssize_t)chunk)
			return done ? (long)done : -EFAULT;
		if (!io->positional && (r = io_wait(sb, src, POLLOUT)) < 0)
			return done ? (long)done : r;
		r = io->positional ? pwrite(src, sb->iobuf, chunk, io->offset + done)
				   : write(src, sb->iobuf, chunk);
		if (r < 0) {
			if (!st->write_errno)
				st->write_errno = errno;
			return done ? (long)done : -errno;
		}
		if (c->md)
			EVP_DigestUpdate(c->md, sb->iobuf, r);
		st->wbytes += r;
		done += r;
		if (chunk == 0 || (size_t)r < chunk)
			break;
	}
	st->writes++;
	return (long)done;
}

/* A read of the deterministic /dev/urandom: the next bytes of the seeded
 * stream. */
static struct answer random_io(struct sandbox *sb, struct io_call *io)
{
	struct iovec rem[IOV_MAX_SB];
	size_t want;
	int r;

	if (io->kind == IO_WRITE)
		return ans_err(EBADF);
	if (io->kind == IO_SEEK || io->positional)
		return ans_err(ESPIPE);
	if ((r = iobuf_ensure(sb)) < 0)
		return ans_err(-r);
	want = iov_total(io) < sb->niobuf ? iov_total(io) : sb->niobuf;
	sb_det_random(sb, (unsigned char *)sb->iobuf, want);
	int n = iov_slice(io, 0, want, rem);
	struct iovec l = {sb->iobuf, want};
	if (want && process_vm_writev(sb->pid, &l, 1, rem, n, 0) != (ssize_t)want)
		return ans_err(EFAULT);
	return ans_val((long)want);
}

static struct answer on_io(struct sandbox *sb, const struct seccomp_notif *n)
{
	struct io_call io;
	int entry = fdt_get(sb, n->data.args[0]);
	struct sb_chan *c = entry >= 0 ? &sb->ch[entry] : NULL;
	bool owned;
	long r;

	/* Image runs: an fd we do not track is none or the program's own. */
	if (entry == SB_FDT_FREE)
		return sb->image ? ans_cont() : ans_err(EBADF);
	if (io_decode(sb, n, &io) < 0)
		return ans_err(EFAULT);
	if (entry == SB_FDT_RANDOM)
		return random_io(sb, &io);
	if (io.kind == IO_READ && c && !c->readable)
		return ans_err(EBADF);
	if (io.kind == IO_WRITE && (!c || !c->writable))
		return ans_err(EBADF);
	if (c && ((io.kind == IO_SEEK && !random_read(c) && !random_write(c)) ||
		  (io.positional && io.kind == IO_READ && !random_read(c)) ||
		  (io.positional && io.kind == IO_WRITE && !random_write(c))))
		return ans_err(ESPIPE);
	if ((r = iobuf_ensure(sb)) < 0)
		return ans_err(-r);
	int src = entry_src(sb, entry, (int)n->data.args[0], &owned);
	if (src < 0)
		return ans_err(EBADF);
	if (io.kind == IO_SEEK) {
		off_t o = lseek(src, (off_t)n->data.args[1], (int)n->data.args[2]);
		r = o < 0 ? -errno : o;
	} else if (io.kind == IO_READ) {
		r = io_read(sb, src, c, c ? &sb->stats[entry] : NULL, &io);
	} else {
		r = io_write(sb, src, c, &sb->stats[entry], &io);
	}
	if (owned)
		close(src);
	return r < 0 ? ans_err(-r) : ans_val(r);
}

/* ------------------------------------------------------------ dispatch */

/* Image runs: file mappings and ftruncate/fallocate/fchmod/flock run on
 * the program's own files, never on a channel (a mapping would read or
 * write it behind our back; the rest would change the caller's file). */
static struct answer on_fd_checked(struct sandbox *sb,
				   const struct seccomp_notif *n)
{
	bool is_mmap = n->data.nr == SYS_mmap;
	int fd = (int)n->data.args[is_mmap ? 4 : 0];

	if (sb->image && fdt_get(sb, fd) == SB_FDT_FREE)
		return ans_cont();
	return ans_err(is_mmap ? ENODEV : EPERM);
}

/* A signal whose default action ends the process. */
static bool sig_fatal(int sig)
{
	switch (sig) {
	case SIGCHLD: case SIGCONT: case SIGSTOP: case SIGTSTP: case SIGTTIN:
	case SIGTTOU: case SIGURG: case SIGWINCH:
		return false;
	default:
		return sig >= 1 && sig <= SIGRTMAX;
	}
}

/* Does the program catch or ignore `sig`? (/proc/PID/status) */
static bool sig_handled(const struct sandbox *sb, int sig)
{
	char path[64], buf[2048];
	bool handled = false;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)sb->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "SigCgt:\t" : "SigIgn:\t";
		const char *p = strstr(buf, key);

		if (p && (strtoull(p + strlen(key), NULL, 16) >> (sig - 1)) & 1)
			handled = true;
	}
	return handled;
}

/*
 * Signals only at itself. In deterministic mode the program is pid 1 of
 * its own pid namespace, and the kernel drops the signals a namespace's
 * init sends itself when their action is the default one: raise(SIGTERM)
 * would do nothing, abort() would end in SIGSEGV. So a self-signal that
 * would end a normal process ends this one: we SIGKILL it and the report
 * names the signal asked for (sb->self_signal). libc's raise() blocks
 * every signal around the call, so the mask is not looked at.
 */
static struct answer on_kill(struct sandbox *sb, const struct seccomp_notif *n)
{
	pid_t a0 = (pid_t)n->data.args[0], a1 = (pid_t)n->data.args[1];
	pid_t me = sb->det ? 1 : sb->pid;
	int sig;
	bool self;

	switch (n->data.nr) {
	case SYS_kill: self = a0 == me || a0 == 0; sig = (int)a1; break;
	case SYS_tkill: self = a0 == me; sig = (int)a1; break;
	default: self = a0 == me && a1 == me; sig = (int)n->data.args[2]; break;
	}
	if (!self)
		return ans_err(EPERM);
	if (sb->det && sig_fatal(sig) && (sig == SIGKILL || !sig_handled(sb, sig))) {
		sb->self_signal = sig;
		syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
		return (struct answer){.done = true};
	}
	return ans_cont();
}

static struct answer on_fcntl(struct sandbox *sb, const struct seccomp_notif *n)
{
	const __u64 *a = n->data.args;

	return fd_dup(sb, n->id, a[0], (int)a[2], false,
		      (int)a[1] == F_DUPFD_CLOEXEC);
}

static struct answer on_dup23(struct sandbox *sb, const struct seccomp_notif *n)
{
	const __u64 *a = n->data.args;
	int flags = n->data.nr == SYS_dup3 ? (int)a[2] : 0;

	if (flags & ~O_CLOEXEC)
		return ans_err(EINVAL);
	if ((int)a[0] == (int)a[1]) {
		if (n->data.nr == SYS_dup3)
			return ans_err(EINVAL);
		return fdt_get(sb, a[0]) == SB_FDT_FREE ? ans_err(EBADF)
							: ans_val((int)a[1]);
	}
	return fd_dup(sb, n->id, a[0], (int)a[1], true, flags & O_CLOEXEC);
}

static struct answer on_close(struct sandbox *sb, const struct seccomp_notif *n)
{
	int fd = (int)n->data.args[0];

	if (fd >= 0 && (size_t)fd < sb->nfdt && sb->fdt[fd] != SB_FDT_RESERVED)
		sb->fdt[fd] = SB_FDT_FREE;
	return ans_cont();
}

static struct answer dispatch(struct sandbox *sb, const struct seccomp_notif *n)
{
	const __u64 *a = n->data.args;

	switch (n->data.nr) {
	case SYS_kill: case SYS_tkill: case SYS_tgkill: return on_kill(sb, n);
	case SYS_open: return do_open(sb, n->id, AT_FDCWD, a[0], a[1]);
	case SYS_creat:
		return do_open(sb, n->id, AT_FDCWD, a[0],
			       O_CREAT | O_WRONLY | O_TRUNC);
	case SYS_openat: return do_open(sb, n->id, (int)a[0], a[1], a[2]);
	case SYS_openat2: return on_openat2(sb, n);
	case SYS_stat: case SYS_lstat:
		return stat_any(sb, AT_FDCWD, a[0], 0, false, 0, a[1]);
	case SYS_fstat:
		return stat_any(sb, (int)a[0], 0, AT_EMPTY_PATH, false, 0, a[1]);
	case SYS_newfstatat:
		return stat_any(sb, (int)a[0], a[1], (int)a[3], false, 0, a[2]);
	case SYS_statx:
		return stat_any(sb, (int)a[0], a[1], (int)a[2], true, (unsigned)a[3],
				a[4]);
	case SYS_exit: case SYS_exit_group:
		sb_memory_digest(sb);
		return ans_cont();
	case SYS_access: return do_access(sb, AT_FDCWD, a[0], (int)a[1]);
	case SYS_faccessat: case SYS_faccessat2:
		return do_access(sb, (int)a[0], a[1], (int)a[2]);
	case SYS_close: return on_close(sb, n);
	case SYS_dup: return fd_dup(sb, n->id, a[0], 0, false, false);
	case SYS_dup2: case SYS_dup3: return on_dup23(sb, n);
	case SYS_fcntl: return on_fcntl(sb, n);
	case SYS_getdents64: {
		long r = sb->image ? sb_image_getdents(sb, (int)a[0], a[1], a[2])
				   : -EPERM;

		return r < 0 ? ans_err((int)-r) : ans_val(r);
	}
	case SYS_mmap: case SYS_ftruncate: case SYS_fallocate: case SYS_fchmod:
	case SYS_flock:
		return on_fd_checked(sb, n);
	case SYS_clock_gettime: case SYS_clock_getres: case SYS_gettimeofday:
	case SYS_time: case SYS_nanosleep: case SYS_clock_nanosleep:
	case SYS_getrandom: case SYS_uname: case SYS_times: case SYS_getrusage: {
		long r = sb_det_answer(sb, n->data.nr, a);

		return r < 0 ? ans_err((int)-r) : ans_val(r);
	}
	default: return on_io(sb, n);
	}
}

static int respond(struct sandbox *sb, uint64_t id, struct answer a)
{
	struct seccomp_notif_resp resp = {.id = id};

	if (a.done)
		return 0;
	if (a.cont)
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	else if (a.error)
		resp.error = -a.error;
	else
		resp.val = a.val;
	if (ioctl(sb->notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 &&
	    errno != ENOENT)
		return -errno;
	return 0;
}

/* Receive one notification; 1 = got one, 0 = none pending / target gone. */
static int receive(struct sandbox *sb, struct seccomp_notif *n, int timeout_ms)
{
	struct pollfd p = {.fd = sb->notify_fd, .events = POLLIN};
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0 || !(p.revents & POLLIN))
		return r < 0 ? -errno : 0;
	memset(n, 0, sizeof(*n));
	if (ioctl(sb->notify_fd, SECCOMP_IOCTL_NOTIF_RECV, n) < 0)
		return errno == ENOENT || errno == EINTR ? 0 : -errno;
	return 1;
}

int sandbox_service(struct sandbox *sb)
{
	struct seccomp_notif n;
	int r;

	while ((r = receive(sb, &n, 0)) > 0) {
		struct answer a = dispatch(sb, &n);

		r = respond(sb, n.id, a);
		if (r < 0)
			return r;
	}
	return r;
}
