/* image_cache.c — the image cache's size bound: least recently used
 * trees that no job holds are evicted once the trees pass
 * image_cache_size (daemon/README.md, "Images").
 *
 * sandbox_image_open() makes and finds trees; this file only counts them.
 * A job holds each tree its instances use from the moment its images are
 * resolved (a pool thread) until the job is freed (the loop), so a
 * queued or running instance's root is never evicted. Holding and
 * evicting meet under one mutex: a tree is renamed out of the cache
 * (sandbox_image_evict) under it, and a hold checks under it that the
 * tree is still there — a tree that vanished between
 * sandbox_image_open() and the hold is opened again (extracted anew).
 * The slow parts (measuring a tree, removing an evicted one) run on pool
 * threads outside the mutex; the loop only ever takes it for a moment.
 *
 * The bound assumes this zvmd owns its image_cache: trees another process
 * uses are not seen. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "sandbox.h"

struct zvmd_image_tree {
	char *root;          /* <image_cache>/<sha256> */
	uint64_t bytes;      /* its disk use */
	uint64_t used;       /* the cache's clock at its last hold */
	unsigned refs;       /* jobs holding it */
};

int zvmd_image_cache_init(struct zvmd_image_cache *c)
{
	memset(c, 0, sizeof(*c));
	return uv_mutex_init(&c->lock);
}

void zvmd_image_cache_close(struct zvmd_image_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].root);
	free(c->v);
	free(c->scanned);
	uv_mutex_destroy(&c->lock);
}

static struct zvmd_image_tree *tree_find(struct zvmd_image_cache *c,
					 const char *root)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].root, root))
			return &c->v[i];
	return NULL;
}

/* Under the lock. NULL when memory runs out. */
static struct zvmd_image_tree *tree_add(struct zvmd_image_cache *c,
					const char *root, uint64_t bytes)
{
	struct zvmd_image_tree *t;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;

		t = realloc(c->v, cap * sizeof(*t));
		if (!t)
			return NULL;
		c->v = t;
		c->cap = cap;
	}
	t = &c->v[c->n];
	*t = (struct zvmd_image_tree){ .root = strdup(root), .bytes = bytes };
	if (!t->root)
		return NULL;
	c->n++;
	c->bytes += bytes;
	return t;
}

/* Under the lock. */
static void tree_drop(struct zvmd_image_cache *c, struct zvmd_image_tree *t)
{
	c->bytes -= t->bytes;
	free(t->root);
	*t = c->v[--c->n];
}

static bool is_tree_name(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* Count the trees already in `dir` (a restart, or trees of an earlier
 * image_cache after a reload): never used by this zvmd, so the first
 * to go. Pool thread, without the lock but for the insertions. */
static void cache_scan(struct zvmd_image_cache *c, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct sandbox_error e = { { 0 } };
		char *root;
		uint64_t bytes;

		if (!is_tree_name(de->d_name) ||
		    asprintf(&root, "%s/%s", dir, de->d_name) < 0)
			continue;
		if (sandbox_image_tree_bytes(root, &bytes, &e) == 0) {
			uv_mutex_lock(&c->lock);
			if (!tree_find(c, root))
				tree_add(c, root, bytes);
			uv_mutex_unlock(&c->lock);
		}
		free(root);
	}
	closedir(d);
}

int zvmd_image_cache_hold(struct zvmd_image_cache *c, const char *root,
			  struct proto_error *err)
{
	char *dir = strdup(root);
	struct zvmd_image_tree *t;
	struct stat sb;
	bool scan, measured;
	uint64_t bytes = 0;
	int rc;

	if (!dir)
		return proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	*strrchr(dir, '/') = '\0';
	uv_mutex_lock(&c->lock);
	scan = !c->scanned || strcmp(c->scanned, dir);
	if (scan) {
		free(c->scanned);
		c->scanned = strdup(dir);
	}
	uv_mutex_unlock(&c->lock);
	if (scan)
		cache_scan(c, dir);
	free(dir);

	uv_mutex_lock(&c->lock);
	t = tree_find(c, root);
	uv_mutex_unlock(&c->lock);
	measured = !t;
	if (measured) {
		struct sandbox_error e = { { 0 } };

		/* A tree just extracted, or evicted since: measure it now. */
		if (sandbox_image_tree_bytes(root, &bytes, &e))
			return stat(root, &sb) ? 1 : proto_error_set(
				err, PROTO_EINTERNAL, "%s", e.msg);
	}
	uv_mutex_lock(&c->lock);
	if (stat(root, &sb)) {
		rc = 1; /* evicted since it was opened */
	} else if (!(t = tree_find(c, root)) && !measured) {
		rc = 1; /* evicted and made again meanwhile: measure that */
	} else if (!t && !(t = tree_add(c, root, bytes))) {
		rc = proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	} else {
		t->refs++;
		t->used = ++c->clock;
		rc = 0;
	}
	uv_mutex_unlock(&c->lock);
	return rc;
}

void zvmd_image_cache_release(struct zvmd_image_cache *c, const char *root)
{
	struct zvmd_image_tree *t;

	uv_mutex_lock(&c->lock);
	t = tree_find(c, root);
	if (t && t->refs)
		t->refs--;
	uv_mutex_unlock(&c->lock);
}

/* Under the lock: the least recently used tree nobody holds. */
static struct zvmd_image_tree *victim(struct zvmd_image_cache *c)
{
	struct zvmd_image_tree *best = NULL;

	for (size_t i = 0; i < c->n; i++)
		if (!c->v[i].refs && (!best || c->v[i].used < best->used))
			best = &c->v[i];
	return best;
}

unsigned zvmd_image_cache_trim(struct zvmd_image_cache *c, uint64_t max_bytes)
{
	unsigned evicted = 0;
	int rc = 0;

	while (max_bytes && rc == 0) {
		struct sandbox_error e = { { 0 } };
		struct zvmd_image_tree *t;
		char root[PATH_MAX], *trash = NULL;
		uint64_t bytes, total;
		struct stat sb;

		uv_mutex_lock(&c->lock);
		t = c->bytes > max_bytes ? victim(c) : NULL;
		if (!t) {
			uv_mutex_unlock(&c->lock);
			break;
		}
		snprintf(root, sizeof(root), "%s", t->root);
		bytes = t->bytes;
		rc = sandbox_image_evict(root, &trash, &e);
		if (rc < 0 && stat(root, &sb) && errno == ENOENT)
			rc = 2; /* removed by hand: only forget it */
		if (rc == 0 || rc == 2)
			tree_drop(c, t);
		if (rc == 0)
			c->evictions++;
		total = c->bytes;
		uv_mutex_unlock(&c->lock);
		if (rc == 0) {
			evicted++;
			zvmd_log(ZVMD_LOG_INFO, "msg=\"image evicted\" root=%s "
				 "bytes=%llu cache_bytes=%llu "
				 "image_cache_size=%llu", root,
				 (unsigned long long)bytes,
				 (unsigned long long)total,
				 (unsigned long long)max_bytes);
			sandbox_image_trash_remove(trash);
		} else if (rc < 0) {
			zvmd_log(ZVMD_LOG_WARNING, "msg=\"image eviction "
				 "failed\" error=\"%s\"", e.msg);
		}
		/* 1: that image is being extracted right now; the next
		 * trim tries again. */
		if (rc == 2)
			rc = 0;
	}
	return evicted;
}

void zvmd_image_cache_stats(struct zvmd_image_cache *c, uint64_t *bytes,
			    uint64_t *evictions)
{
	uv_mutex_lock(&c->lock);
	*bytes = c->bytes;
	*evictions = c->evictions;
	uv_mutex_unlock(&c->lock);
}
