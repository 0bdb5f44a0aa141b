/*
 * image_root.c — the program's file system when it runs from an image
 * (spec->root_dir): the image as a read-only `/`, a /dev of harmless
 * devices, a private size-limited /tmp.
 *
 * Image-less programs share the holder's empty root (holder.c); an image
 * run costs one more mount namespace per spawn, built from mounts the
 * caller prepares with the new mount API (sb_image_prepare: errors name
 * the image) and the child only attaches (sb_image_enter: raw calls):
 *
 *   1. unshare a mount namespace (a copy of the holder's: the empty root)
 *   2. attach a clone of root_dir — read-only, nosuid, nodev, not
 *      recursive (nothing mounted under root_dir comes along) — over `/`,
 *      and chroot into it
 *   3. attach a clone of the /dev tree over /dev: null, zero, full (and
 *      random, urandom when not deterministic: the supervisor answers
 *      those from the seeded stream) on a read-only, noexec tmpfs built
 *      once per process
 *   4. attach a fresh tmpfs (size = spec->tmp_size, mode 1777, nosuid,
 *      nodev, noexec) over /tmp; it vanishes with the namespace, i.e.
 *      with the program
 *
 * And, for deterministic runs, directory listings sorted by name
 * (sb_image_getdents, at the end).
 *
 * The channel aliases under /dev (/dev/stdin, /dev/in/…, /dev/channels)
 * are not files: the supervisor answers them before the kernel looks
 * (notify.c), as in image-less runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

/* ------------------------------------------------------ the program */

int sandbox_image_open_program(const char *root_dir, const char *path, int *fd,
			       struct sandbox_error *err)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	int root, f;

	*fd = -1;
	root = open(root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		sb_error(err, "image root %s: %s", root_dir, strerror(errno));
		return -1;
	}
	f = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
	close(root);
	if (f < 0) {
		sb_error(err, "image %s: program %s: %s", root_dir, path,
			 errno == ELOOP ? "too many symbolic links" : strerror(errno));
		return -1;
	}
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		sb_error(err, "image %s: program %s: not a regular file", root_dir,
			 path);
		close(f);
		return -1;
	}
	if (!(st.st_mode & S_IXOTH)) {
		sb_error(err, "image %s: program %s: not executable by others "
			 "(the program runs as uid %d: chmod o+x)", root_dir, path,
			 SB_UID);
		close(f);
		return -1;
	}
	*fd = f;
	return 0;
}

/* ------------------------------------------------------ the root */

/* The CLIs' cache of extracted tars. */
static char *default_cache(struct sandbox_error *err)
{
	const char *env = getenv("ZEROVM_IMAGE_CACHE"), *home = getenv("HOME");
	char *dir = NULL;

	if (env && *env)
		dir = strdup(env);
	else if (home && *home && asprintf(&dir, "%s/.cache/zerovm/images", home) < 0)
		dir = NULL;
	if (!dir)
		sb_error(err, "no image cache: set ZEROVM_IMAGE_CACHE or HOME");
	return dir;
}

int sandbox_image_root(const char *image, const char *cache_dir,
		       char **root_dir, struct sandbox_error *err)
{
	struct stat st;
	char *cache = NULL;
	int fd, rc;

	*root_dir = NULL;
	fd = open(image, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		sb_error(err, "image %s: %s", image, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		*root_dir = realpath(image, NULL);
		if (!*root_dir)
			sb_error(err, "image %s: %s", image, strerror(errno));
		return *root_dir ? 0 : -1;
	}
	if (!S_ISREG(st.st_mode)) {
		sb_error(err, "image %s: neither a directory nor a tar file", image);
		close(fd);
		return -1;
	}
	if (!cache_dir && !(cache = default_cache(err))) {
		close(fd);
		return -1;
	}
	rc = sandbox_image_open(cache_dir ? cache_dir : cache, fd, image, NULL,
				root_dir, NULL, err);
	free(cache);
	close(fd);
	return rc;
}

/* ------------------------------------------------------ /dev */

struct dev_node {
	const char *name;
	unsigned major, minor;
	bool random;   /* only when the host's randomness is wanted */
};

static const struct dev_node dev_nodes[] = {
	{"null", 1, 3, false},   {"zero", 1, 5, false}, {"full", 1, 7, false},
	{"random", 1, 8, true},  {"urandom", 1, 9, true},
};

/* One tree per mode, built on first use, cloned per spawn. */
static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;
static int dev_tree[2] = {-1, -1};

static int tmpfs_new(const char *size, const char *inodes, const char *mode,
		     unsigned attrs)
{
	int fs = fsopen("tmpfs", FSOPEN_CLOEXEC), m = -1;

	if (fs < 0)
		return -1;
	if (fsconfig(fs, FSCONFIG_SET_STRING, "size", size, 0) == 0 &&
	    fsconfig(fs, FSCONFIG_SET_STRING, "nr_inodes", inodes, 0) == 0 &&
	    fsconfig(fs, FSCONFIG_SET_STRING, "mode", mode, 0) == 0 &&
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		m = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	int saved = errno;
	close(fs);
	errno = saved;
	return m;
}

static int dev_tree_build(bool det)
{
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	int m = tmpfs_new("4k", "16", "0755",
			  MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);

	if (m < 0)
		return -1;
	for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
		const struct dev_node *d = &dev_nodes[i];

		if (det && d->random)
			continue;
		/* fchmodat: mknodat's mode is cut by the process umask. */
		if (mknodat(m, d->name, S_IFCHR | 0666,
			    makedev(d->major, d->minor)) < 0 ||
		    fchmodat(m, d->name, 0666, 0) < 0)
			goto fail;
	}
	if (mount_setattr(m, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		goto fail;
	return m;
fail:
	close(m);
	return -1;
}

static int dev_clone(bool det, struct sandbox_error *err)
{
	int fd = -1;

	pthread_mutex_lock(&dev_lock);
	if (dev_tree[det] < 0)
		dev_tree[det] = dev_tree_build(det);
	if (dev_tree[det] >= 0)
		fd = open_tree(dev_tree[det], "",
			       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (fd < 0)
		sb_error(err, "image /dev: %s", strerror(errno));
	pthread_mutex_unlock(&dev_lock);
	return fd;
}

/* ------------------------------------------------------ root and /tmp */

/* A directory to mount over must exist in the image. */
static int need_dir(int root, const char *root_dir, const char *name,
		    struct sandbox_error *err)
{
	struct stat st;

	if (fstatat(root, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode))
		return 0;
	sb_error(err, "image %s: /%s must be a directory (the sandbox mounts "
		 "its own /%s there)", root_dir, name, name);
	return -1;
}

static int root_clone(const char *root_dir, bool want_tmp,
		      struct sandbox_error *err)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
			    MOUNT_ATTR_NODEV,
	};
	int fd = open_tree(AT_FDCWD, root_dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		sb_error(err, "image root %s: %s", root_dir, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		sb_error(err, "image root %s: not a directory", root_dir);
		goto fail;
	}
	if (need_dir(fd, root_dir, "dev", err) < 0 ||
	    (want_tmp && need_dir(fd, root_dir, "tmp", err) < 0))
		goto fail;
	if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
		sb_error(err, "image root %s: making it read-only: %s", root_dir,
			 strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static int tmp_new(uint64_t size, struct sandbox_error *err)
{
	char sz[32], inodes[32];
	/* One inode per KiB (at least 64): files without data must not
	 * fill the host's memory either. */
	uint64_t n = size / 1024 < 64 ? 64 : size / 1024;
	int fd;

	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
	snprintf(inodes, sizeof(inodes), "%llu", (unsigned long long)n);
	fd = tmpfs_new(sz, inodes, "1777",
		       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (fd < 0)
		sb_error(err, "image /tmp (%llu bytes): %s",
			 (unsigned long long)size, strerror(errno));
	return fd;
}

int sb_image_prepare(const struct sandbox_spec *spec, struct sb_image *im,
		     struct sandbox_error *err)
{
	im->root_fd = im->dev_fd = im->tmp_fd = -1;
	im->root_fd = root_clone(spec->root_dir, spec->tmp_size > 0, err);
	if (im->root_fd < 0)
		return -1;
	im->dev_fd = dev_clone(spec->deterministic, err);
	if (im->dev_fd < 0)
		goto fail;
	if (spec->tmp_size > 0 && (im->tmp_fd = tmp_new(spec->tmp_size, err)) < 0)
		goto fail;
	return 0;
fail:
	sb_image_release(im);
	return -1;
}

void sb_image_release(struct sb_image *im)
{
	if (im->root_fd >= 0)
		close(im->root_fd);
	if (im->dev_fd >= 0)
		close(im->dev_fd);
	if (im->tmp_fd >= 0)
		close(im->tmp_fd);
	im->root_fd = im->dev_fd = im->tmp_fd = -1;
}

/* ------------------------------------------------------ in the child */

const char *const sb_image_step_names[] = {
	"unshare the mount namespace", "attaching the image over /",
	"chroot into the image", "attaching /dev", "attaching /tmp",
};

#define MOVE_EMPTY(fd, to) \
	sb_raw(SYS_move_mount, (fd), (long)"", AT_FDCWD, (long)(to), \
	       MOVE_MOUNT_F_EMPTY_PATH, 0)

SB_CHILD_CODE long sb_image_enter(const struct sb_image *im, int *step)
{
	long r;

	*step = 0;
	if ((r = sb_raw(SYS_unshare, CLONE_NEWNS, 0, 0, 0, 0, 0)) < 0)
		return r;
	*step = 1;
	if ((r = MOVE_EMPTY(im->root_fd, "/")) < 0)
		return r;
	*step = 2;
	if ((r = sb_raw(SYS_fchdir, im->root_fd, 0, 0, 0, 0, 0)) < 0 ||
	    (r = sb_raw(SYS_chroot, (long)".", 0, 0, 0, 0, 0)) < 0)
		return r;
	*step = 3;
	if ((r = MOVE_EMPTY(im->dev_fd, "/dev")) < 0)
		return r;
	*step = 4;
	if (im->tmp_fd >= 0 && (r = MOVE_EMPTY(im->tmp_fd, "/tmp")) < 0)
		return r;
	return 0;
}

/* ------------------------------------------------------ sorted listings */

/*
 * Deterministic image runs: getdents64 lists a directory sorted by name,
 * so the same image lists the same way on every machine (the kernel's
 * order is the file system's: hash order on ext4, creation order on
 * tmpfs). The directory's file offset, shared with the program, is the
 * index of the next entry in that order, and each entry's d_off the index
 * after it: lseek/rewinddir/seekdir (the kernel's) keep working. The
 * directory is read when a listing starts (offset 0) or another directory
 * is listed; the calls that continue it use that snapshot — POSIX leaves
 * it open whether entries made after opendir/rewinddir show up.
 */
struct dent {
	uint64_t ino;
	unsigned char type;
	char *name;
};

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int dent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

static void dents_free(struct dent *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(d[i].name);
	free(d);
}

struct sb_dircache {
	int fd;            /* the program's fd number */
	dev_t dev;
	ino_t ino;
	struct dent *d;
	size_t n;
};

void sb_image_dircache_free(struct sandbox *sb)
{
	if (!sb->dircache)
		return;
	dents_free(sb->dircache->d, sb->dircache->n);
	free(sb->dircache);
	sb->dircache = NULL;
}

/* Every entry of the directory open at `dir`, sorted; moves its offset. */
static long dents_read(int dir, struct dent **out, size_t *nout)
{
	char buf[32768];
	struct dent *d = NULL;
	size_t n = 0, cap = 0;
	long got;

	if (lseek(dir, 0, SEEK_SET) < 0)
		return -errno;
	while ((got = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < got;) {
			struct linux_dirent64 *e = (struct linux_dirent64 *)(buf + off);

			if (n == cap) {
				struct dent *nd = realloc(d, (cap = cap ? 2 * cap : 64) *
							     sizeof(*d));
				if (!nd)
					goto oom;
				d = nd;
			}
			d[n].ino = e->d_ino;
			d[n].type = e->d_type;
			if (!(d[n].name = strdup(e->d_name)))
				goto oom;
			n++;
			off += e->d_reclen;
		}
	}
	if (got < 0) {
		got = -errno;
		dents_free(d, n);
		return got;
	}
	qsort(d, n, sizeof(*d), dent_cmp);
	*out = d;
	*nout = n;
	return 0;
oom:
	dents_free(d, n);
	return -ENOMEM;
}

/* The sorted listing of the directory the program has at fd (open at
 * `dir` here): the snapshot, or a fresh one when a listing starts. */
static int dircache_get(struct sandbox *sb, int fd, int dir,
			const struct stat *st, off_t idx)
{
	struct sb_dircache *c = sb->dircache;
	struct dent *d;
	size_t n;
	int r;

	if (c && idx != 0 && c->fd == fd && c->dev == st->st_dev &&
	    c->ino == st->st_ino)
		return 0;
	if ((r = (int)dents_read(dir, &d, &n)) < 0)
		return r;
	sb_image_dircache_free(sb);
	if (!(c = malloc(sizeof(*c)))) {
		dents_free(d, n);
		return -ENOMEM;
	}
	*c = (struct sb_dircache){fd, st->st_dev, st->st_ino, d, n};
	sb->dircache = c;
	return 0;
}

long sb_image_getdents(struct sandbox *sb, int fd, uint64_t buf, uint64_t count)
{
	const struct dent *d;
	size_t n, i = 0, len = 0;
	char *out = NULL;
	struct stat st;
	off_t idx;
	long r;
	int dir = (int)syscall(SYS_pidfd_getfd, sb->pidfd, fd, 0);

	if (dir < 0)
		return -EBADF;
	if (fstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = -ENOTDIR;
		goto out;
	}
	idx = lseek(dir, 0, SEEK_CUR);
	if (idx < 0) {
		r = -errno;
		goto out;
	}
	if ((r = dircache_get(sb, fd, dir, &st, idx)) < 0)
		goto restore;
	d = sb->dircache->d;
	n = sb->dircache->n;
	if (count > 1 << 20)
		count = 1 << 20;
	if (!(out = malloc(count ? count : 1))) {
		r = -ENOMEM;
		goto out;
	}
	for (i = (size_t)idx; i < n; i++) {
		size_t nl = strlen(d[i].name);
		size_t reclen = (offsetof(struct linux_dirent64, d_name) + nl + 1 + 7) & ~7UL;
		struct linux_dirent64 *e = (struct linux_dirent64 *)(out + len);

		if (len + reclen > count)
			break;
		memset(e, 0, reclen);
		e->d_ino = d[i].ino;
		e->d_off = (int64_t)i + 1;
		e->d_reclen = (unsigned short)reclen;
		e->d_type = d[i].type;
		memcpy(e->d_name, d[i].name, nl);
		len += reclen;
	}
	/* Nothing fits: the buffer cannot hold the next entry. */
	r = len == 0 && (size_t)idx < n ? -EINVAL
	    : len ? sb_mem_write(sb, buf, out, len) : 0;
	if (r == 0)
		r = (long)len;
	/* Where the program's next call starts: after what it got, or
	 * where it was if it got nothing. */
restore:
	if (lseek(dir, r > 0 ? (off_t)i : idx, SEEK_SET) < 0 && r >= 0)
		r = -errno;
out:
	free(out);
	close(dir);
	return r;
}
