/*
 * channel.c — the supervisor's view of the channels and of the program's
 * fd table.
 *
 * The filter lets the program do I/O directly only on fd numbers that were
 * direct channels at exec time (the "layout"); every other fd is mediated.
 * Every call that creates or closes an fd is mediated too, so the
 * supervisor knows the program's whole fd table and can refuse to put a
 * metered channel on a number where the filter would let I/O through.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* The filter turns each run of same-class fds into a few rules; past this
 * many runs the remaining direct channels are mediated instead (still
 * correct, only slower) so the BPF stays far below the kernel's limit. */
#define SB_MAX_LAYOUT_RUNS 48

void sb_error(struct sandbox_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static bool limits_bind(int64_t calls, int64_t bytes)
{
	return calls < SANDBOX_UNBOUNDED || bytes < SANDBOX_UNBOUNDED;
}

static int chan_init(struct sb_chan *c, const struct sandbox_channel *s,
		     size_t i, struct sandbox_error *err)
{
	if (!s->alias || s->alias[0] != '/') {
		sb_error(err, "channel %zu: alias \"%s\" must be an absolute path",
			 i, s->alias ? s->alias : "");
		return -1;
	}
	if (strcmp(s->alias, "/dev/channels") == 0) {
		sb_error(err, "channel %zu: /dev/channels is reserved", i);
		return -1;
	}
	if (s->gets < 0 || s->get_size < 0 || s->puts < 0 || s->put_size < 0) {
		sb_error(err, "channel %zu (%s): negative limit", i, s->alias);
		return -1;
	}
	if ((unsigned)s->type > SANDBOX_RGET_RPUT) {
		sb_error(err, "channel %zu (%s): access type %d is not 0..3", i,
			 s->alias, s->type);
		return -1;
	}
	c->alias = strdup(s->alias);
	c->fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
	if (!c->alias || c->fd < 0) {
		sb_error(err, "channel %zu (%s): fd %d: %s", i, s->alias, s->fd,
			 c->alias ? strerror(errno) : "out of memory");
		return -1;
	}
	/* A directory would give the program lookups relative to it. */
	struct stat st;
	if (fstat(c->fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		sb_error(err, "channel %zu (%s): fd %d is a directory", i,
			 s->alias, s->fd);
		return -1;
	}
	c->type = s->type;
	c->readable = s->gets > 0 && s->get_size > 0;
	c->writable = s->puts > 0 && s->put_size > 0;
	c->network = s->network;
	c->gets = s->gets;
	c->get_size = s->get_size;
	c->puts = s->puts;
	c->put_size = s->put_size;
	/* Network channels are metered so their bytes can be told apart
	 * from local ones in the accounting. */
	c->metered = s->etag || s->network ||
		     (c->readable && limits_bind(s->gets, s->get_size)) ||
		     (c->writable && limits_bind(s->puts, s->put_size));
	if (s->etag) {
		c->md = EVP_MD_CTX_new();
		if (!c->md || !EVP_DigestInit_ex(c->md, EVP_md5(), NULL)) {
			sb_error(err, "channel %zu (%s): MD5 unavailable", i,
				 s->alias);
			return -1;
		}
	}
	return 0;
}

/* qsort_r order for channel indexes: by alias, then by index. */
static int alias_index_cmp(const void *a, const void *b, void *chans)
{
	const struct sandbox_channel *ch = chans;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int r = strcmp(ch[i].alias, ch[j].alias);

	return r ? r : (i > j) - (i < j);
}

/*
 * The channel indexes sorted by alias: duplicates end up side by side,
 * and opening an alias is a binary search. (A reducer can have 10 000
 * channels: comparing every pair, or every alias per open(), would cost
 * more than the spawn itself.)
 */
static size_t *chans_index(const struct sandbox_spec *spec,
			   struct sandbox_error *err)
{
	size_t n = spec->nchannels, *ix = malloc(n * sizeof(*ix) + 1);

	if (!ix) {
		sb_error(err, "out of memory checking channel aliases");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		ix[i] = i;
	qsort_r(ix, n, sizeof(*ix), alias_index_cmp,
		(void *)spec->channels);
	for (size_t k = 1; k < n; k++)
		if (strcmp(spec->channels[ix[k - 1]].alias,
			   spec->channels[ix[k]].alias) == 0) {
			sb_error(err, "channels %zu and %zu both use alias %s",
				 ix[k - 1], ix[k], spec->channels[ix[k]].alias);
			free(ix);
			return NULL;
		}
	return ix;
}

/* What the kernel may do directly on this channel's fd (internal.h). */
static char chan_class(const struct sb_chan *c)
{
	int bits = 0;

	if (c->metered)
		return SB_FD_NOTIFY;
	if (c->readable)
		bits |= SB_FD_READ;
	if (c->writable)
		bits |= SB_FD_WRITE;
	if (c->readable && (c->type == SANDBOX_RGET_SPUT ||
			    c->type == SANDBOX_RGET_RPUT))
		bits |= SB_FD_PREAD;
	if (c->writable && (c->type == SANDBOX_SGET_RPUT ||
			    c->type == SANDBOX_RGET_RPUT))
		bits |= SB_FD_PWRITE;
	return (char)(SB_FD_DIRECT + bits);
}

static void layout_build(struct sandbox *sb)
{
	size_t n = sb->nch, runs = 1;

	for (size_t i = 0; i < n; i++) {
		char cls = chan_class(&sb->ch[i]);

		if (i > 0 && cls != sb->layout[i - 1] && ++runs > SB_MAX_LAYOUT_RUNS)
			cls = SB_FD_NOTIFY;
		sb->layout[i] = cls;
	}
	/* fd n: the program's ELF, n + 1: the spawn socket (both closed by
	 * exec and reserved afterwards). */
	sb->layout[n] = SB_FD_NOTIFY;
	sb->layout[n + 1] = SB_FD_NOTIFY;
	sb->layout[n + 2] = '\0';
	sb->nlayout = n + 2;
}

/* With an image: the ELF and the socket live past RLIMIT_NOFILE (spawn.c),
 * so nothing can ever take their numbers; above the channels come
 * SB_IMAGE_FILES numbers for the program's own files, on which the kernel
 * does every I/O call directly, then SB_FD_SLACK mediated numbers where
 * the supervisor puts channels the program opens by alias. */
static void layout_build_image(struct sandbox *sb)
{
	layout_build(sb);
	memset(sb->layout + sb->nch, SB_FD_IMAGE, SB_IMAGE_FILES);
	sb->nlayout = sb->nch + SB_IMAGE_FILES;
	sb->layout[sb->nlayout] = '\0';
}

int sb_chans_init(struct sandbox *sb, const struct sandbox_spec *spec,
		  struct sandbox_error *err)
{
	size_t n = spec->nchannels;

	if (n < 3) {
		sb_error(err, "%zu channels: stdin, stdout and stderr are required",
			 n);
		return -1;
	}
	sb->by_alias = chans_index(spec, err);
	if (!sb->by_alias)
		return -1;
	sb->ch = calloc(n, sizeof(*sb->ch));
	sb->stats = calloc(n, sizeof(*sb->stats));
	sb->layout = malloc(n + 3 + (sb->image ? SB_IMAGE_FILES : 0));
	sb->nfdt = sb->image ? n + SB_IMAGE_FILES + SB_FD_SLACK
			     : n + 2 + SB_FD_SLACK;
	sb->fdt = malloc(sb->nfdt * sizeof(*sb->fdt));
	if (!sb->ch || !sb->stats || !sb->layout || !sb->fdt) {
		sb_error(err, "out of memory for %zu channels", n);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		sb->ch[i].fd = -1;
	sb->nch = n;
	for (size_t i = 0; i < n; i++)
		if (chan_init(&sb->ch[i], &spec->channels[i], i, err) < 0)
			return -1;
	for (size_t i = 0; i < sb->nfdt; i++)
		sb->fdt[i] = i < n ? (int)i
			     : i < n + 2 && !sb->image ? SB_FDT_RESERVED
						       : SB_FDT_FREE;
	if (sb->image)
		layout_build_image(sb);
	else
		layout_build(sb);
	return 0;
}

void sb_chans_free(struct sandbox *sb)
{
	for (size_t i = 0; i < sb->nch; i++) {
		if (sb->ch[i].fd >= 0)
			close(sb->ch[i].fd);
		free(sb->ch[i].alias);
		EVP_MD_CTX_free(sb->ch[i].md);
	}
	free(sb->ch);
	free(sb->stats);
	free(sb->layout);
	free(sb->fdt);
	free(sb->by_alias);
	sb->by_alias = NULL;
	sb->ch = NULL;
	sb->nch = 0;
}

long sb_chan_find(const struct sandbox *sb, const char *path)
{
	size_t lo = 0, hi = sb->nch;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(path, sb->ch[sb->by_alias[mid]].alias);

		if (r == 0)
			return (long)sb->by_alias[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

bool sb_fdt_allowed(const struct sandbox *sb, int entry, int fd)
{
	if (fd < 0 || (size_t)fd >= sb->nfdt || sb->fdt[fd] == SB_FDT_RESERVED)
		return false;
	/* The program's own files' numbers: no filter rule guards them. */
	if (sb->image && (size_t)fd >= sb->nch && (size_t)fd < sb->nlayout)
		return false;
	if ((size_t)fd >= sb->nlayout || sb->layout[fd] == SB_FD_NOTIFY)
		return true;
	if (entry < 0)
		return false;
	/* Whatever the filter lets through at fd, the channel must allow. */
	char want = chan_class(&sb->ch[entry]);
	int fd_bits = sb->layout[fd] - SB_FD_DIRECT;

	return want != SB_FD_NOTIFY && (fd_bits & ~(want - SB_FD_DIRECT)) == 0;
}

/* With an image the kernel opens the program's files itself, unseen: a
 * number free in our table may hold one of them. */
static bool kernel_free(const struct sandbox *sb, int fd)
{
	int got;

	if (!sb->image)
		return true;
	got = (int)syscall(SYS_pidfd_getfd, sb->pidfd, fd, 0);
	if (got >= 0)
		close(got);
	return got < 0;
}

int sb_fdt_place(const struct sandbox *sb, int entry, int min)
{
	for (size_t fd = min < 0 ? 0 : (size_t)min; fd < sb->nfdt; fd++)
		if (sb->fdt[fd] == SB_FDT_FREE && sb_fdt_allowed(sb, entry, fd) &&
		    kernel_free(sb, (int)fd))
			return (int)fd;
	return -1;
}

static int channels_memfd_create(struct sandbox *sb)
{
	int fd = memfd_create("channels", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	FILE *f;

	if (fd < 0)
		return -1;
	f = fdopen(dup(fd), "w");
	if (!f) {
		close(fd);
		return -1;
	}
	for (size_t i = 0; i < sb->nch; i++)
		fprintf(f, "%zu %s\n", i, sb->ch[i].alias);
	if (fclose(f) != 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK |
					   F_SEAL_SEAL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int sb_channels_open(struct sandbox *sb)
{
	char path[64];

	if (sb->channels_memfd < 0)
		sb->channels_memfd = channels_memfd_create(sb);
	if (sb->channels_memfd < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", sb->channels_memfd);
	return open(path, O_RDONLY | O_CLOEXEC);
}
