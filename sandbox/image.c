/* image.c — a tar image unpacked once into a content-addressed cache.
 *
 * Cache layout (README.md "Images"):
 *   CACHE/<sha256>/            an extracted tree, complete, never changed
 *   CACHE/.tmp-<sha256>-XXXXXX an extraction in progress (or a crash's
 *                              leftover, removed by the next extraction)
 *   CACHE/.locks/<sha256>      flock()ed while that image is extracted
 *   CACHE/.index/<stat key>    symlink to <sha256>: an unchanged file is
 *                              not hashed again
 *
 * libarchive reads the archive (tar formats, gzip); the tree is written by
 * hand with *at() calls relative to directory fds opened with O_NOFOLLOW,
 * one component at a time, so no entry can be written through a symlink
 * or outside the tree. (archive_write_disk resolves names against the
 * process's working directory, which a threaded daemon cannot change.) */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define IMG_DEFAULT_MAX_BYTES ((uint64_t)2 << 30)
#define IMG_DEFAULT_MAX_ENTRIES 200000
#define IMG_READ_BLOCK (256 * 1024)
#define IMG_DIGEST_HEX 64

/* One extraction. */
struct img {
	const char *name;             /* for messages */
	struct sandbox_error *err;
	uint64_t max_bytes, max_entries, bytes, entries;
	/* archive input: pread from fd, hashed on the way */
	int fd;
	off_t off;
	EVP_MD_CTX *md;
	unsigned char *buf;
	/* output */
	int rootfd;
	void *names;                  /* tsearch tree of struct seen */
	struct dirtime *dirs;
	size_t ndirs, capdirs;
};

struct seen {
	char *name;
	int type;                     /* AE_IFREG, AE_IFDIR, AE_IFLNK */
};

struct dirtime {
	char *name;                   /* "" = the root */
	struct timespec mtime;
};

static const char *img_label(const struct img *im)
{
	return im->name ? im->name : "";
}

/* ------------------------------------------------------------- names */

static int seen_cmp(const void *a, const void *b)
{
	return strcmp(((const struct seen *)a)->name,
		      ((const struct seen *)b)->name);
}

static void seen_free(void *p)
{
	struct seen *s = p;

	free(s->name);
	free(s);
}

/* Printable form of an entry name for messages (controls as \xNN). */
static void name_show(const char *raw, char *out, size_t size)
{
	size_t o = 0;

	for (; *raw && o + 5 < size; raw++) {
		unsigned char c = (unsigned char)*raw;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

/* The name relative to the tree: "./a//b/" -> "a/b", "./" -> "".
 * NULL + *why for absolute names, `..` and control characters. */
static char *name_clean(const char *raw, const char **why)
{
	size_t n = strlen(raw), o = 0;
	char *out;

	*why = NULL;
	if (raw[0] == '/')
		return *why = "absolute name", NULL;
	if (n >= PATH_MAX)
		return *why = "name too long", NULL;
	for (const char *p = raw; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return *why = "control character in the name", NULL;
	out = malloc(n + 1);
	if (!out)
		return *why = "out of memory", NULL;
	while (*raw) {
		size_t len = strcspn(raw, "/");

		if (len == 2 && raw[0] == '.' && raw[1] == '.') {
			free(out);
			return *why = "'..' in the name", NULL;
		}
		if (len > NAME_MAX) {
			free(out);
			return *why = "a name component is too long", NULL;
		}
		if (len && !(len == 1 && raw[0] == '.')) {
			if (o)
				out[o++] = '/';
			memcpy(out + o, raw, len);
			o += len;
		}
		raw += len;
		while (*raw == '/')
			raw++;
	}
	out[o] = '\0';
	return out;
}

/* Remember a created entry; 1 if the name was already there (then *type
 * is what it was), 0 if added, -1 out of memory. */
static int name_add(struct img *im, const char *name, int *type)
{
	struct seen key = { .name = (char *)name }, *s, **found;

	found = tfind(&key, &im->names, seen_cmp);
	if (found) {
		*type = (*found)->type;
		return 1;
	}
	s = malloc(sizeof(*s));
	if (!s || !(s->name = strdup(name))) {
		free(s);
		return -1;
	}
	s->type = *type;
	if (!tsearch(s, &im->names, seen_cmp)) {
		seen_free(s);
		return -1;
	}
	return 0;
}

static int name_type(struct img *im, const char *name)
{
	struct seen key = { .name = (char *)name }, **found;

	found = tfind(&key, &im->names, seen_cmp);
	return found ? (*found)->type : 0;
}

/* ------------------------------------------------------------ errors */

static int img_fail(struct img *im, const char *entry, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int img_fail(struct img *im, const char *entry, const char *fmt, ...)
{
	char what[160], shown[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!entry) {
		sb_error(im->err, "image %s: %s", img_label(im), what);
		return -1;
	}
	name_show(entry, shown, sizeof(shown));
	sb_error(im->err, "image %s: entry '%s': %s", img_label(im), shown,
		 what);
	return -1;
}

/* ---------------------------------------------------------- the tree */

static int dir_remember(struct img *im, const char *name,
			struct timespec mtime)
{
	if (im->ndirs == im->capdirs) {
		size_t cap = im->capdirs ? 2 * im->capdirs : 64;
		struct dirtime *d = realloc(im->dirs, cap * sizeof(*d));

		if (!d)
			return -1;
		im->dirs = d;
		im->capdirs = cap;
	}
	im->dirs[im->ndirs].name = strdup(name);
	if (!im->dirs[im->ndirs].name)
		return -1;
	im->dirs[im->ndirs].mtime = mtime;
	im->ndirs++;
	return 0;
}

/*
 * An O_PATH fd of directory `dir` ("a/b", "" = the root), creating missing
 * components (mode 0755, mtime 0) when `create`. Every component is
 * opened with O_NOFOLLOW: a symlink on the way is an error, never
 * followed. The caller closes the fd.
 */
static int dir_open(struct img *im, const char *entry, const char *dir,
		    bool create)
{
	char comp[NAME_MAX + 1];
	int fd = dup(im->rootfd);
	size_t done = 0;

	if (fd < 0)
		return img_fail(im, entry, "dup: %s", strerror(errno));
	while (dir[done]) {
		size_t len = strcspn(dir + done, "/");
		int next;

		memcpy(comp, dir + done, len);
		comp[len] = '\0';
		if (create && mkdirat(fd, comp, 0755) == 0) {
			char *sofar = strndup(dir, done + len);

			if (!sofar || dir_remember(im, sofar,
						   (struct timespec){ 0, 0 })) {
				free(sofar);
				close(fd);
				return img_fail(im, entry, "out of memory");
			}
			free(sofar);
		}
		next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW |
			      O_CLOEXEC);
		if (next < 0) {
			int e = errno;

			close(fd);
			return img_fail(im, entry, "directory '%.*s': %s",
					(int)(done + len), dir,
					e == ENOTDIR || e == ELOOP ?
					"is a symlink or not a directory "
					"(extraction never writes through "
					"a link)" : strerror(e));
		}
		close(fd);
		fd = next;
		done += len;
		while (dir[done] == '/')
			done++;
	}
	return fd;
}

/* Split "a/b/c" into its directory's fd and "c". */
static int parent_open(struct img *im, const char *name, const char **base)
{
	const char *slash = strrchr(name, '/');
	char *dir;
	int fd;

	*base = slash ? slash + 1 : name;
	if (!slash)
		return dir_open(im, name, "", true);
	dir = strndup(name, (size_t)(slash - name));
	if (!dir)
		return img_fail(im, name, "out of memory");
	fd = dir_open(im, name, dir, true);
	free(dir);
	return fd;
}

static int file_write(struct img *im, struct archive *a,
		      struct archive_entry *e, const char *name, int pfd,
		      const char *base)
{
	mode_t mode = archive_entry_perm(e) & 0111 ? 0755 : 0644;
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	struct timespec ts[2];
	const void *buf;
	size_t len;
	la_int64_t off;
	int fd, r;

	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd < 0)
		return img_fail(im, name, "%s", errno == EEXIST ?
				"exists already (duplicate entry)" :
				strerror(errno));
	while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
		if (off < 0 || (uint64_t)off + len > (uint64_t)size) {
			close(fd);
			return img_fail(im, name, "data past its size");
		}
		for (size_t w = 0; w < len;) {
			ssize_t n = pwrite(fd, (const char *)buf + w, len - w,
					   off + (off_t)w);

			if (n < 0) {
				close(fd);
				return img_fail(im, name, "write: %s",
						strerror(errno));
			}
			w += (size_t)n;
		}
	}
	if (r != ARCHIVE_EOF) {
		close(fd);
		return img_fail(im, name, "%s", archive_error_string(a));
	}
	ts[0] = ts[1] = (struct timespec){ archive_entry_mtime(e),
					   archive_entry_mtime_nsec(e) };
	if (ftruncate(fd, size) || fchmod(fd, mode) || futimens(fd, ts)) {
		close(fd);
		return img_fail(im, name, "%s", strerror(errno));
	}
	close(fd);
	return 0;
}

static int link_write(struct img *im, const char *name, const char *raw,
		      int pfd, const char *base)
{
	const char *why, *tbase;
	char *target = name_clean(raw, &why);
	int tfd, rc = 0;

	if (!target)
		return img_fail(im, name, "hard link target: %s", why);
	if (name_type(im, target) != AE_IFREG) {
		rc = img_fail(im, name, "hard link to '%.64s', which is not an "
			      "earlier regular file of this image", target);
		free(target);
		return rc;
	}
	tfd = parent_open(im, target, &tbase);
	if (tfd < 0) {
		free(target);
		return -1;
	}
	if (linkat(tfd, tbase, pfd, base, 0))
		rc = img_fail(im, name, "hard link: %s", errno == EEXIST ?
			      "exists already (duplicate entry)" :
			      strerror(errno));
	close(tfd);
	free(target);
	return rc;
}

static int symlink_write(struct img *im, struct archive_entry *e,
			 const char *name, int pfd, const char *base)
{
	const char *target = archive_entry_symlink(e);
	struct timespec ts[2];

	if (!target || !*target || strlen(target) >= PATH_MAX)
		return img_fail(im, name, "symlink without a usable target");
	if (symlinkat(target, pfd, base))
		return img_fail(im, name, "symlink: %s", errno == EEXIST ?
				"exists already (duplicate entry)" :
				strerror(errno));
	ts[0] = ts[1] = (struct timespec){ archive_entry_mtime(e),
					   archive_entry_mtime_nsec(e) };
	utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int dir_write(struct img *im, struct archive_entry *e,
		     const char *name, int pfd, const char *base)
{
	struct stat sb;
	struct timespec mtime = { archive_entry_mtime(e),
				  archive_entry_mtime_nsec(e) };

	if (mkdirat(pfd, base, 0755) && errno != EEXIST)
		return img_fail(im, name, "mkdir: %s", strerror(errno));
	if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(sb.st_mode))
		return img_fail(im, name, "exists already and is not a "
				"directory (duplicate entry)");
	if (dir_remember(im, name, mtime))
		return img_fail(im, name, "out of memory");
	return 0;
}

/* Every entry's declared size counts against the image's limit, checked
 * before anything of the entry is written. */
static int budget_take(struct img *im, const char *raw,
		       struct archive_entry *e)
{
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;

	if (size < 0 || (uint64_t)size > im->max_bytes - im->bytes)
		return img_fail(im, raw, "%lld bytes would pass the image's "
				"limit of %llu bytes", (long long)size,
				(unsigned long long)im->max_bytes);
	im->bytes += (uint64_t)size;
	return 0;
}

/* Kinds we refuse to create: the sandbox supplies its own /dev. */
static bool entry_skipped(mode_t type)
{
	return type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO ||
	       type == AE_IFSOCK;
}

static int entry_write(struct img *im, struct archive *a,
		       struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e);
	const char *hard = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	const char *why, *base;
	char *name;
	int pfd, kind, prev, rc;

	if (!raw)
		return img_fail(im, NULL, "entry %llu has no name",
				(unsigned long long)im->entries);
	if (budget_take(im, raw, e))
		return -1;
	if (!(name = name_clean(raw, &why)))
		return img_fail(im, raw, "%s", why);
	kind = hard ? (int)AE_IFREG : (int)type;
	if (!hard && entry_skipped(type)) {
		free(name);
		return 0;
	}
	if (!hard && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
		free(name);
		return img_fail(im, raw, "unknown entry type %o", (unsigned)type);
	}
	if (!*name) {
		rc = type == AE_IFDIR ?
		     dir_remember(im, "", (struct timespec){
			     archive_entry_mtime(e), archive_entry_mtime_nsec(e) }) :
		     img_fail(im, raw, "only a directory can name the root");
		free(name);
		return rc;
	}
	prev = kind;
	rc = name_add(im, name, &prev);
	if (rc < 0 || (rc == 1 && !(prev == AE_IFDIR && kind == AE_IFDIR))) {
		rc = img_fail(im, raw, rc < 0 ? "out of memory" :
			      "duplicate entry");
		free(name);
		return rc;
	}
	pfd = parent_open(im, name, &base);
	if (pfd < 0) {
		free(name);
		return -1;
	}
	if (hard)
		rc = link_write(im, name, hard, pfd, base);
	else if (type == AE_IFREG)
		rc = file_write(im, a, e, name, pfd, base);
	else if (type == AE_IFLNK)
		rc = symlink_write(im, e, name, pfd, base);
	else
		rc = dir_write(im, e, name, pfd, base);
	close(pfd);
	free(name);
	return rc;
}

/* Directory mtimes last: creating their entries changed them. */
static void dirs_settle(struct img *im)
{
	for (size_t i = 0; i < im->ndirs; i++) {
		struct timespec ts[2] = { im->dirs[i].mtime, im->dirs[i].mtime };
		int fd = dir_open(im, im->dirs[i].name, im->dirs[i].name, false);

		if (fd < 0)
			continue;
		/* futimens() refuses O_PATH fds; "." relative to one works. */
		utimensat(fd, ".", ts, 0);
		close(fd);
	}
}

/* The sandbox mounts its own /dev and /tmp over these: they must be
 * directories, made (mtime 0) if the archive has none. */
static int mount_points(struct img *im)
{
	static const char *const names[] = { "dev", "tmp" };
	struct stat sb;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (mkdirat(im->rootfd, names[i], 0755) == 0) {
			if (dir_remember(im, names[i], (struct timespec){ 0, 0 }))
				return img_fail(im, names[i], "out of memory");
			continue;
		}
		if (errno != EEXIST)
			return img_fail(im, names[i], "mkdir: %s",
					strerror(errno));
		if (fstatat(im->rootfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISDIR(sb.st_mode))
			return img_fail(im, names[i], "must be a directory "
					"(the sandbox mounts its own /%s there)",
					names[i]);
	}
	return 0;
}

/* ----------------------------------------------------------- reading */

static la_ssize_t img_read(struct archive *a, void *data, const void **buf)
{
	struct img *im = data;
	ssize_t n = pread(im->fd, im->buf, IMG_READ_BLOCK, im->off);

	if (n < 0) {
		archive_set_error(a, errno, "read: %s", strerror(errno));
		return -1;
	}
	EVP_DigestUpdate(im->md, im->buf, (size_t)n);
	im->off += n;
	*buf = im->buf;
	return n;
}

/* Hash what libarchive did not read (padding after the end marker). */
static int img_read_rest(struct img *im)
{
	ssize_t n;

	while ((n = pread(im->fd, im->buf, IMG_READ_BLOCK, im->off)) > 0) {
		EVP_DigestUpdate(im->md, im->buf, (size_t)n);
		im->off += n;
	}
	return n < 0 ? -1 : 0;
}

static void digest_hex(EVP_MD_CTX *md, char hex[IMG_DIGEST_HEX + 1])
{
	unsigned char d[32];
	unsigned int len = 0;

	EVP_DigestFinal_ex(md, d, &len);
	for (unsigned i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	hex[IMG_DIGEST_HEX] = '\0';
}

/* SHA-256 of the whole file. */
static int file_digest(struct img *im, char hex[IMG_DIGEST_HEX + 1])
{
	im->off = 0;
	if (!EVP_DigestInit_ex(im->md, EVP_sha256(), NULL))
		return img_fail(im, NULL, "sha256 unavailable");
	for (;;) {
		ssize_t n = pread(im->fd, im->buf, IMG_READ_BLOCK, im->off);

		if (n < 0)
			return img_fail(im, NULL, "read: %s", strerror(errno));
		if (n == 0)
			break;
		EVP_DigestUpdate(im->md, im->buf, (size_t)n);
		im->off += n;
	}
	digest_hex(im->md, hex);
	return 0;
}

/* Unpack the archive into the directory at rootfd; checks that the bytes
 * read hash to `want` (the file did not change since it was hashed). */
static int img_unpack(struct img *im, const char *want)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char got[IMG_DIGEST_HEX + 1];
	int r, rc = -1;

	if (!a)
		return img_fail(im, NULL, "out of memory");
	im->off = 0;
	EVP_DigestInit_ex(im->md, EVP_sha256(), NULL);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_none(a);
	if (archive_read_open(a, im, NULL, img_read, NULL) != ARCHIVE_OK) {
		img_fail(im, NULL, "not a tar archive (plain or gzip): %s",
			 archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		if (++im->entries > im->max_entries) {
			img_fail(im, NULL, "more than %llu entries",
				 (unsigned long long)im->max_entries);
			goto out;
		}
		if (entry_write(im, a, e))
			goto out;
	}
	if (r != ARCHIVE_EOF) {
		img_fail(im, NULL, "after %llu entries: %s",
			 (unsigned long long)im->entries,
			 archive_error_string(a));
		goto out;
	}
	if (img_read_rest(im)) {
		img_fail(im, NULL, "read: %s", strerror(errno));
		goto out;
	}
	digest_hex(im->md, got);
	if (strcmp(got, want)) {
		img_fail(im, NULL, "the archive changed while it was read");
		goto out;
	}
	if (mount_points(im))
		goto out;
	dirs_settle(im);
	rc = 0;
out:
	archive_read_free(a);
	return rc;
}

/* ------------------------------------------------------------- cache */

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void tree_remove(const char *path)
{
	nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

/* Leftovers of extractions of this image that died (we hold its lock). */
static void stale_remove(const char *cache, const char *hex)
{
	char prefix[IMG_DIGEST_HEX + 8], path[PATH_MAX];
	DIR *d = opendir(cache);
	struct dirent *de;

	if (!d)
		return;
	snprintf(prefix, sizeof(prefix), ".tmp-%s-", hex);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", cache,
				     de->d_name) < sizeof(path))
			tree_remove(path);
	closedir(d);
}

static bool is_dir_at(int dfd, const char *name)
{
	struct stat sb;

	return fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(sb.st_mode);
}

static bool is_hex_digest(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n == IMG_DIGEST_HEX && !s[n];
}

static void stat_key(const struct stat *sb, char *key, size_t size)
{
	snprintf(key, size, ".index/%llx-%llx-%llx-%lld.%09ld-%lld.%09ld",
		 (unsigned long long)sb->st_dev, (unsigned long long)sb->st_ino,
		 (unsigned long long)sb->st_size, (long long)sb->st_mtim.tv_sec,
		 sb->st_mtim.tv_nsec, (long long)sb->st_ctim.tv_sec,
		 sb->st_ctim.tv_nsec);
}

/* The digest an unchanged file had last time, if its tree still exists. */
static bool index_lookup(int cfd, const char *key, char hex[IMG_DIGEST_HEX + 1])
{
	ssize_t n = readlinkat(cfd, key, hex, IMG_DIGEST_HEX + 1);

	if (n != IMG_DIGEST_HEX)
		return false;
	hex[n] = '\0';
	return is_hex_digest(hex) && is_dir_at(cfd, hex);
}

/* mkdir -p */
static int dirs_make(const char *path, struct sandbox_error *err)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return sb_error(err, "image cache %s: path too long", path), -1;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		goto fail;
	return 0;
fail:
	sb_error(err, "image cache %s: mkdir %s: %s", path, buf,
		 strerror(errno));
	return -1;
}

/* Holding the image's lock: extract it unless someone just did. */
static int img_extract(struct img *im, const char *cache, int cfd,
		       const char *hex, bool *extracted)
{
	char tmp[PATH_MAX];
	int rc = -1;

	if (is_dir_at(cfd, hex))
		return 0;
	stale_remove(cache, hex);
	if (snprintf(tmp, sizeof(tmp), "%s/.tmp-%s-XXXXXX", cache, hex) >=
	    (int)sizeof(tmp))
		return img_fail(im, NULL, "cache path too long");
	if (!mkdtemp(tmp))
		return img_fail(im, NULL, "mkdtemp %s: %s", tmp,
				strerror(errno));
	im->rootfd = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (im->rootfd < 0) {
		img_fail(im, NULL, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (img_unpack(im, hex))
		goto out;
	if (chmod(tmp, 0755)) {
		img_fail(im, NULL, "chmod %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (renameat(AT_FDCWD, tmp, cfd, hex)) {
		img_fail(im, NULL, "rename %s: %s", tmp, strerror(errno));
		goto out;
	}
	*extracted = true;
	rc = 0;
out:
	if (rc)
		tree_remove(tmp);
	return rc;
}

static int lock_take(struct img *im, int cfd, const char *hex)
{
	char path[IMG_DIGEST_HEX + 8];
	int fd;

	if (mkdirat(cfd, ".locks", 0755) && errno != EEXIST)
		return img_fail(im, NULL, "cache .locks: %s", strerror(errno));
	snprintf(path, sizeof(path), ".locks/%s", hex);
	fd = openat(cfd, path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return img_fail(im, NULL, "cache lock %s: %s", path,
				strerror(errno));
	while (flock(fd, LOCK_EX)) {
		if (errno == EINTR)
			continue;
		close(fd);
		return img_fail(im, NULL, "cache lock %s: %s", path,
				strerror(errno));
	}
	return fd;
}

static void index_store(int cfd, const char *key, const char *hex)
{
	if (mkdirat(cfd, ".index", 0755) && errno != EEXIST)
		return;
	if (symlinkat(hex, cfd, key) && errno == EEXIST) {
		/* A stale key (the file's tree was removed, or an inode was
		 * reused): replace it. */
		unlinkat(cfd, key, 0);
		symlinkat(hex, cfd, key);
	}
}

static int img_open(struct img *im, const char *cache, char **root_dir,
		    bool *extracted)
{
	char key[128], hex[IMG_DIGEST_HEX + 1];
	struct stat sb;
	int cfd, lfd = -1, rc = -1;

	if (fstat(im->fd, &sb))
		return img_fail(im, NULL, "fstat: %s", strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return img_fail(im, NULL, "the archive must be a regular file");
	cfd = open(cache, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return img_fail(im, NULL, "cache %s: %s", cache,
				strerror(errno));
	stat_key(&sb, key, sizeof(key));
	if (!index_lookup(cfd, key, hex)) {
		if (file_digest(im, hex))
			goto out;
		if (!is_dir_at(cfd, hex)) {
			lfd = lock_take(im, cfd, hex);
			if (lfd < 0 || img_extract(im, cache, cfd, hex, extracted))
				goto out;
		}
		index_store(cfd, key, hex);
	}
	if (asprintf(root_dir, "%s/%s", cache, hex) < 0) {
		*root_dir = NULL;
		img_fail(im, NULL, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (lfd >= 0)
		close(lfd);
	close(cfd);
	return rc;
}

/* ---------------------------------------------------------- eviction */

static uint64_t tree_bytes_sum;

static int add_one(const char *path, const struct stat *sb, int flag,
		   struct FTW *ftw)
{
	(void)path;
	(void)flag;
	(void)ftw;
	/* Links to one file are all in the tree (extraction makes them
	 * only to earlier entries of the same archive): a share each. */
	tree_bytes_sum += (uint64_t)sb->st_blocks * 512 /
			  (sb->st_nlink && !S_ISDIR(sb->st_mode) ?
			   sb->st_nlink : 1);
	return 0;
}

int sandbox_image_tree_bytes(const char *root_dir, uint64_t *bytes,
			     struct sandbox_error *err)
{
	/* nftw passes no argument to its callback: one walk at a time. */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	int rc;

	pthread_mutex_lock(&lock);
	tree_bytes_sum = 0;
	rc = nftw(root_dir, add_one, 32, FTW_PHYS);
	*bytes = tree_bytes_sum;
	pthread_mutex_unlock(&lock);
	if (rc)
		sb_error(err, "image cache: measuring %s: %s", root_dir,
			 strerror(errno));
	return rc ? -1 : 0;
}

int sandbox_image_evict(const char *root_dir, char **trash,
			struct sandbox_error *err)
{
	static unsigned long seq;
	const char *hex = strrchr(root_dir, '/');
	char lock[PATH_MAX];
	int fd, rc = -1;

	*trash = NULL;
	if (!hex || !is_hex_digest(hex + 1))
		return sb_error(err, "image cache: %s is not a cache tree "
				"(CACHE/<sha256>)", root_dir), -1;
	hex++;
	if (snprintf(lock, sizeof(lock), "%.*s.locks/%s", (int)(hex - root_dir),
		     root_dir, hex) >= (int)sizeof(lock))
		return sb_error(err, "image cache: %s: path too long",
				root_dir), -1;
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == ENOENT) { /* a tree put there by hand */
		*strrchr(lock, '/') = '\0';
		mkdir(lock, 0755);
		lock[strlen(lock)] = '/';
		fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			  0600);
	}
	if (fd < 0)
		return sb_error(err, "image cache lock %s: %s", lock,
				strerror(errno)), -1;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? 1 : -1;
		if (rc < 0)
			sb_error(err, "image cache lock %s: %s", lock,
				 strerror(errno));
		close(fd);
		return rc;
	}
	if (asprintf(trash, "%.*s.tmp-%s-evicted.%d.%lu", (int)(hex - root_dir),
		     root_dir, hex, (int)getpid(),
		     __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED)) < 0) {
		*trash = NULL;
		sb_error(err, "out of memory");
	} else if (rename(root_dir, *trash)) {
		sb_error(err, "image cache: rename %s: %s", root_dir,
			 strerror(errno));
		free(*trash);
		*trash = NULL;
	} else {
		rc = 0;
	}
	close(fd);
	return rc;
}

void sandbox_image_trash_remove(char *trash)
{
	if (trash)
		tree_remove(trash);
	free(trash);
}

int sandbox_image_open(const char *cache_dir, int tar_fd, const char *name,
		       const struct sandbox_image_limits *limits,
		       char **root_dir, bool *extracted,
		       struct sandbox_error *err)
{
	struct img im = {
		.name = name, .err = err, .fd = tar_fd, .rootfd = -1,
		.max_bytes = limits && limits->max_bytes ? limits->max_bytes :
			     IMG_DEFAULT_MAX_BYTES,
		.max_entries = limits && limits->max_entries ?
			       limits->max_entries : IMG_DEFAULT_MAX_ENTRIES,
	};
	bool did = false;
	char *cache = NULL;
	int rc = -1;

	*root_dir = NULL;
	if (dirs_make(cache_dir, err))
		return -1;
	cache = realpath(cache_dir, NULL);
	im.md = EVP_MD_CTX_new();
	im.buf = malloc(IMG_READ_BLOCK);
	if (!cache || !im.md || !im.buf) {
		img_fail(&im, NULL, "cache %s: %s", cache_dir,
			 cache ? "out of memory" : strerror(errno));
		goto out;
	}
	rc = img_open(&im, cache, root_dir, &did);
out:
	if (extracted)
		*extracted = did;
	if (im.rootfd >= 0)
		close(im.rootfd);
	tdestroy(im.names, seen_free);
	for (size_t i = 0; i < im.ndirs; i++)
		free(im.dirs[i].name);
	free(im.dirs);
	EVP_MD_CTX_free(im.md);
	free(im.buf);
	free(cache);
	return rc;
}
