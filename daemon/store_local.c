/* store_local.c — the embedded local object store.
 *
 * swift://acct/cont/obj is the file <root>/acct/cont/obj; an object name
 * with slashes is a path of directories inside the container directory.
 * Metadata (content type, etag, size, X-Object-Meta-*) is a JSON sidecar
 * `.<name>.meta.json` beside the object. Every name segment is checked
 * (no empty segment, no "..", no leading '.', no NUL) and every open goes
 * through openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) from the root,
 * so nothing outside the root is ever read or written, even through a
 * symlink planted inside it. Names beginning with '.' are the store's
 * own (temp files, sidecars) and never listed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

struct store_local {
	struct zvmd_store base;
	int rootfd;
	unsigned long tmp_counter;
};

bool zvmd_segment_ok(const char *s, size_t len)
{
	if (len == 0 || len > 255 || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0' || s[i] == '/')
			return false;
	return true;
}

/* Every segment of a '/'-separated relative path is acceptable. */
static bool path_ok(const char *path, int min_segments)
{
	int n = 0;
	const char *p = path;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (!zvmd_segment_ok(p, len))
			return false;
		n++;
		if (!slash)
			break;
		p = slash + 1;
	}
	return n >= min_segments;
}

static int open_beneath(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

static struct store_local *local(struct zvmd_store *st)
{
	return (struct store_local *)st;
}

static int bad_path(const char *path, struct proto_error *err)
{
	return proto_error_set(err, PROTO_EBADJOB,
			       "object path '%s' is not acct/container/object "
			       "with non-empty segments that do not begin "
			       "with '.'", path);
}

static int local_open_read(struct zvmd_store *st, const char *path, int *fd,
			   struct proto_error *err)
{
	struct stat sb;
	int f;

	if (!path_ok(path, 3))
		return bad_path(path, err);
	/* O_NONBLOCK: a FIFO planted in the store would block the open, and
	 * with it the whole event loop; it is refused below as not a file. */
	f = open_beneath(local(st)->rootfd, path, O_RDONLY | O_NONBLOCK, 0);
	if (f < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP ||
		      errno == EXDEV))
		return proto_error_set(err, PROTO_ENOTFOUND,
				       "object %s not found", path);
	if (f < 0)
		return proto_error_set(err, PROTO_EINTERNAL, "object %s: %s",
				       path, strerror(errno));
	if (fstat(f, &sb) || !S_ISREG(sb.st_mode)) {
		close(f);
		return proto_error_set(err, PROTO_ENOTFOUND,
				       "object %s not found (not a file)", path);
	}
	if (fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK)) {
		close(f);
		return proto_error_set(err, PROTO_EINTERNAL, "object %s: %s",
				       path, strerror(errno));
	}
	*fd = f;
	return 0;
}

struct names {
	char **v;
	size_t n, cap;
};

static int names_add(struct names *nm, const char *s)
{
	if (nm->n == nm->cap) {
		size_t cap = nm->cap ? nm->cap * 2 : 16;
		char **v = realloc(nm->v, cap * sizeof(*v));

		if (!v)
			return -1;
		nm->v = v;
		nm->cap = cap;
	}
	if (!(nm->v[nm->n] = strdup(s)))
		return -1;
	nm->n++;
	return 0;
}

static void names_free(struct names *nm)
{
	proto_strv_free(nm->v, nm->n);
	memset(nm, 0, sizeof(*nm));
}

/* Collect files under dirfd (recursively) as "prefix/name" when they begin
 * with `want`; directories named by an object path are walked too. */
static int walk(int fd, const char *rel, const char *want, bool recurse,
		bool dirs, struct names *out)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	int rc = 0;

	if (!d) {
		close(fd);
		return -1;
	}
	while (rc == 0 && (e = readdir(d))) {
		char full[4096];
		struct stat sb;

		if (e->d_name[0] == '.')
			continue;
		if (snprintf(full, sizeof(full), "%s%s%s", rel, *rel ? "/" : "",
			     e->d_name) >= (int)sizeof(full))
			continue;
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW))
			continue;
		if (S_ISDIR(sb.st_mode) && recurse) {
			int sub = openat(dirfd(d), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);
			if (sub >= 0)
				rc = walk(sub, full, want, true, dirs, out);
			continue;
		}
		if ((dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode)) &&
		    !strncmp(full, want, strlen(want)))
			rc = names_add(out, full);
	}
	closedir(d);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int local_list(struct zvmd_store *st, const char *account,
		      const char *container, const char *prefix,
		      struct proto_names *out, struct proto_error *err)
{
	char path[1024];
	struct names nm = { 0 };
	int dirfd;

	if (!zvmd_segment_ok(account, strlen(account)) ||
	    (container && !zvmd_segment_ok(container, strlen(container))))
		return proto_error_set(err, PROTO_EBADJOB,
				       "bad account or container name in "
				       "'%s/%s'", account,
				       container ? container : "");
	snprintf(path, sizeof(path), "%s%s%s", account, container ? "/" : "",
		 container ? container : "");
	dirfd = open_beneath(local(st)->rootfd, path, O_RDONLY | O_DIRECTORY,
			     0);
	if (dirfd < 0)
		return proto_error_set(err, PROTO_ENOTFOUND, "%s %s not found",
				       container ? "container" : "account",
				       path);
	if (walk(dirfd, "", prefix ? prefix : "", container != NULL,
		 container == NULL, &nm)) {
		names_free(&nm);
		return proto_error_set(err, PROTO_EINTERNAL,
				       "listing %s failed: %s", path,
				       strerror(errno));
	}
	qsort(nm.v, nm.n, sizeof(*nm.v), cmp_str);
	out->v = nm.v;
	out->n = nm.n;
	return 0;
}

/* Split "a/b/c" into the directory part and the basename. */
static void split_path(const char *path, char *dir, size_t cap,
		       const char **base)
{
	const char *slash = strrchr(path, '/');
	size_t n = (size_t)(slash - path);

	snprintf(dir, cap, "%.*s", (int)n, path);
	*base = slash + 1;
}

static json_t *sidecar_read(int dirfd, const char *base)
{
	char name[300];
	int fd;
	json_t *j;

	snprintf(name, sizeof(name), ".%s.meta.json", base);
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	j = json_loadfd(fd, 0, NULL);
	close(fd);
	return j;
}

static int local_stat(struct zvmd_store *st, const char *path,
		      struct zvmd_stat *out, struct proto_error *err)
{
	char dir[4096];
	const char *base;
	struct stat sb;
	int dirfd;
	json_t *j;

	if (!path_ok(path, 3))
		return bad_path(path, err);
	split_path(path, dir, sizeof(dir), &base);
	dirfd = open_beneath(local(st)->rootfd, dir, O_RDONLY | O_DIRECTORY, 0);
	if (dirfd < 0 || fstatat(dirfd, base, &sb, AT_SYMLINK_NOFOLLOW) ||
	    !S_ISREG(sb.st_mode)) {
		if (dirfd >= 0)
			close(dirfd);
		return proto_error_set(err, PROTO_ENOTFOUND,
				       "object %s not found", path);
	}
	memset(out, 0, sizeof(*out));
	out->size = (uint64_t)sb.st_size;
	snprintf(out->content_type, sizeof(out->content_type),
		 "application/octet-stream");
	j = sidecar_read(dirfd, base);
	close(dirfd);
	/* A sidecar whose size disagrees belongs to an older object. */
	if (j && json_integer_value(json_object_get(j, "size")) ==
		 (json_int_t)sb.st_size) {
		const char *ct = json_string_value(json_object_get(j,
							"content_type"));
		const char *et = json_string_value(json_object_get(j, "etag"));

		if (ct)
			snprintf(out->content_type, sizeof(out->content_type),
				 "%s", ct);
		if (et)
			snprintf(out->etag, sizeof(out->etag), "%s", et);
	}
	json_decref(j);
	return 0;
}

/* Open (creating the object's own subdirectories) the directory of
 * path; the container itself must exist. */
static int open_object_dir(int rootfd, const char *path, int *out,
			   struct proto_error *err)
{
	const char *p = strchr(strchr(path, '/') + 1, '/');
	char cont[1024];
	int dirfd;

	snprintf(cont, sizeof(cont), "%.*s", (int)(p - path), path);
	dirfd = open_beneath(rootfd, cont, O_RDONLY | O_DIRECTORY, 0);
	if (dirfd < 0)
		return proto_error_set(err, PROTO_ENOTFOUND,
				       "container %s not found", cont);
	for (p++;;) {
		const char *slash = strchr(p, '/');
		char seg[256];
		int sub;

		if (!slash)
			break;
		snprintf(seg, sizeof(seg), "%.*s", (int)(slash - p), p);
		if (mkdirat(dirfd, seg, 0755) && errno != EEXIST) {
			close(dirfd);
			return proto_error_set(err, PROTO_EINTERNAL,
					       "creating %s: %s", path,
					       strerror(errno));
		}
		sub = openat(dirfd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			     O_CLOEXEC);
		close(dirfd);
		if (sub < 0)
			return proto_error_set(err, PROTO_EBADJOB,
					       "object %s: '%s' is not a "
					       "directory", path, seg);
		dirfd = sub;
		p = slash + 1;
	}
	*out = dirfd;
	return 0;
}

/* An output can't replace a directory: refuse before anything runs. */
static bool name_is_dir(int dirfd, const char *name)
{
	struct stat sb;

	return !fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) &&
	       S_ISDIR(sb.st_mode);
}

static int local_create(struct zvmd_store *st, const char *path,
			struct zvmd_output **out, struct proto_error *err)
{
	struct store_local *sl = local(st);
	struct zvmd_output *o;
	char tmp[64];
	int dirfd, fd;

	if (!path_ok(path, 3))
		return bad_path(path, err);
	if (open_object_dir(sl->rootfd, path, &dirfd, err))
		return -1;
	if (name_is_dir(dirfd, strrchr(path, '/') + 1)) {
		close(dirfd);
		return proto_error_set(err, PROTO_EBADJOB, "object %s: a "
				       "directory of that name exists", path);
	}
	snprintf(tmp, sizeof(tmp), ".tmp-zvmd-%d-%lu", (int)getpid(),
		 ++sl->tmp_counter);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	o = calloc(1, sizeof(*o));
	if (fd < 0 || !o || !(o->tmpname = strdup(tmp)) ||
	    !(o->name = strdup(strrchr(path, '/') + 1))) {
		int e = errno;

		if (fd >= 0) {
			close(fd);
			unlinkat(dirfd, tmp, 0);
		}
		close(dirfd);
		if (o)
			free(o->tmpname);
		free(o);
		return proto_error_set(err, PROTO_EINTERNAL,
				       "creating a temp file for %s: %s", path,
				       strerror(e));
	}
	o->dirfd = dirfd;
	o->fd = fd;
	*out = o;
	return 0;
}

static void output_free(struct zvmd_output *o)
{
	if (o->fd >= 0)
		close(o->fd);
	close(o->dirfd);
	free(o->tmpname);
	free(o->name);
	free(o);
}

static int sidecar_write(struct zvmd_output *o, const char *content_type,
			 const struct proto_meta *meta, size_t nmeta,
			 const char *etag, uint64_t size)
{
	json_t *j = json_object(), *m = json_object();
	char tmp[300], name[300];
	int fd, rc = -1;

	snprintf(tmp, sizeof(tmp), "%s.meta", o->tmpname);
	snprintf(name, sizeof(name), ".%s.meta.json", o->name);
	if (!j || !m)
		goto out;
	json_object_set_new(j, "content_type", json_string(
		content_type ? content_type : "application/octet-stream"));
	if (etag && *etag)
		json_object_set_new(j, "etag", json_string(etag));
	json_object_set_new(j, "size", json_integer((json_int_t)size));
	for (size_t i = 0; i < nmeta; i++)
		json_object_set_new(m, meta[i].key, json_string(meta[i].value));
	json_object_set(j, "meta", m);
	fd = openat(o->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
	if (fd < 0)
		goto out;
	rc = json_dumpfd(j, fd, JSON_SORT_KEYS | JSON_INDENT(1));
	if (close(fd) || rc || renameat(o->dirfd, tmp, o->dirfd, name)) {
		unlinkat(o->dirfd, tmp, 0);
		rc = -1;
	}
out:
	json_decref(m);
	json_decref(j);
	return rc;
}

static int local_commit(struct zvmd_store *st, struct zvmd_output *o,
			const char *content_type, const struct proto_meta *meta,
			size_t nmeta, const char *etag, struct proto_error *err)
{
	struct stat sb;
	int rc = 0;

	(void)st;
	if (fstatat(o->dirfd, o->tmpname, &sb, AT_SYMLINK_NOFOLLOW) ||
	    sidecar_write(o, content_type, meta, nmeta, etag,
			  (uint64_t)sb.st_size) ||
	    renameat(o->dirfd, o->tmpname, o->dirfd, o->name)) {
		rc = proto_error_set(err, PROTO_EINTERNAL,
				     "storing object %s: %s", o->name,
				     strerror(errno));
		unlinkat(o->dirfd, o->tmpname, 0);
	}
	output_free(o);
	return rc;
}

static void local_abort(struct zvmd_store *st, struct zvmd_output *o)
{
	(void)st;
	unlinkat(o->dirfd, o->tmpname, 0);
	output_free(o);
}

static void local_free(struct zvmd_store *st)
{
	close(local(st)->rootfd);
	free(st);
}

static const struct zvmd_store_ops local_ops = {
	.open_read = local_open_read,
	.list = local_list,
	.stat = local_stat,
	.create = local_create,
	.commit = local_commit,
	.abort = local_abort,
	.free = local_free,
};

int zvmd_store_local_open(const char *root, struct zvmd_store **out,
			  struct proto_error *err)
{
	struct store_local *sl = calloc(1, sizeof(*sl));

	if (!sl)
		return proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	sl->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sl->rootfd < 0) {
		free(sl);
		return proto_error_set(err, PROTO_EINTERNAL, "store root %s: %s",
				       root, strerror(errno));
	}
	sl->base.ops = &local_ops;
	*out = &sl->base;
	return 0;
}
