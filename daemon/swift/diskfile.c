/*
 * diskfile.c - find an object's current state in its hash directory and
 * read its metadata, as swift/obj/diskfile.py does for replication
 * policies.
 *
 * A hash directory holds files named by timestamps: a fixed-width
 * "1700000000.12345", then an optional "_<hex offset>":
 *   <ts>.data   the object (body = bytes, metadata in xattrs)
 *   <ts>.ts     a tombstone: deleted at ts
 *   <ts>[+|-<hex ctype delta>].meta   a POST's metadata (Swift writes "+0")
 *   <ts>#<frag>[#d].data              an erasure-coded fragment
 */
#include "swift.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define XATTR_KEY "user.swift.metadata"
#define XATTR_CHECKSUM "user.swift.metadata_checksum"
/* Swift splits at 64 KiB per xattr; refuse absurd totals. */
#define META_MAX (16u << 20)

/* ---- metadata xattrs ------------------------------------------------------ */

/* Append xattr name of fd (the file path, for messages) to *buf; 1 if it
 * does not exist. */
static int xattr_append(int fd, const char *path, const char *name,
			char **buf, size_t *len, swift_error *err)
{
	ssize_t n = fgetxattr(fd, name, NULL, 0);
	if (n < 0 && errno == ENODATA)
		return 1;
	if (n < 0)
		return swift_error_set(err, errno, "%s: reading xattr %s: %s",
				       path, name, strerror(errno));
	if ((size_t)n > META_MAX - *len)
		return swift_error_set(err, EFBIG, "%s: metadata larger than "
				       "%u bytes", path, META_MAX);
	char *grown = realloc(*buf, *len + (size_t)n + 1);
	if (!grown)
		return swift_error_set(err, ENOMEM, "%s: out of memory", path);
	*buf = grown;
	ssize_t got = fgetxattr(fd, name, *buf + *len, (size_t)n);
	if (got < 0)
		return swift_error_set(err, errno, "%s: reading xattr %s: %s",
				       path, name, strerror(errno));
	*len += (size_t)got;
	return 0;
}

static int checksum_verify(int fd, const char *path, const char *buf,
			   size_t len, swift_error *err)
{
	char want[33] = {0};
	ssize_t n = fgetxattr(fd, XATTR_CHECKSUM, want, sizeof want - 1);
	if (n < 0 && errno == ENODATA)
		return 0;      /* objects older than checksums have none */
	if (n != 32)
		return swift_error_set(err, EINVAL, "%s: bad %s xattr", path,
				       XATTR_CHECKSUM);
	uint8_t d[16];
	unsigned dlen = sizeof d;
	char got[33];
	if (!EVP_Digest(buf, len, d, &dlen, EVP_md5(), NULL))
		return swift_error_set(err, ENOMEM, "%s: MD5 failed", path);
	for (int i = 0; i < 16; i++)
		snprintf(got + 2 * i, 3, "%02x", d[i]);
	if (strcmp(got, want) != 0)
		return swift_error_set(err, EINVAL, "%s: metadata checksum "
			"mismatch (xattr says %s, pickle hashes to %s)",
			path, want, got);
	return 0;
}

int swift_meta_read_fd(int fd, const char *path, swift_meta *meta,
		       swift_error *err)
{
	*meta = (swift_meta){0};
	char *buf = NULL;
	size_t len = 0;
	int rc = xattr_append(fd, path, XATTR_KEY, &buf, &len, err);
	if (rc == 1)
		rc = swift_error_set(err, EINVAL, "%s: no %s xattr (not a "
				     "Swift object file)", path, XATTR_KEY);
	for (unsigned i = 1; rc == 0; i++) {
		char name[64];
		snprintf(name, sizeof name, XATTR_KEY "%u", i);
		rc = xattr_append(fd, path, name, &buf, &len, err);
	}
	if (rc == 1)
		rc = checksum_verify(fd, path, buf, len, err);
	if (rc == 0 && swift_pickle_load(buf, len, meta, err) < 0) {
		size_t n = strlen(err ? err->msg : "");
		if (err && n + strlen(path) + 3 < sizeof err->msg) {
			memmove(err->msg + strlen(path) + 2, err->msg, n + 1);
			memcpy(err->msg, path, strlen(path));
			memcpy(err->msg + strlen(path), ": ", 2);
		}
		rc = -1;
	}
	free(buf);
	return rc < 0 ? -1 : 0;
}

int swift_meta_read_xattrs(const char *path, swift_meta *meta,
			   swift_error *err)
{
	*meta = (swift_meta){0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return swift_error_set(err, errno, "%s: %s", path,
				       strerror(errno));
	int rc = swift_meta_read_fd(fd, path, meta, err);
	close(fd);
	return rc;
}

/* ---- the hash directory ----------------------------------------------------- */

char *swift_object_dir(const char *devices, const char *device,
		       int policy_index, uint32_t part, const char *hash)
{
	char pol[24] = "";
	if (policy_index > 0)
		snprintf(pol, sizeof pol, "-%d", policy_index);
	size_t hlen = strlen(hash);
	char *path;
	if (hlen < 3 || asprintf(&path, "%s/%s/objects%s/%u/%s/%s", devices,
				 device, pol, part, hash + hlen - 3, hash) < 0)
		return NULL;
	return path;
}

/* The newest file of each kind, by timestamp. */
typedef struct ondisk {
	char data[256], ts[256], meta[256];        /* file names */
	char data_t[256], ts_t[256], meta_t[256];  /* their timestamps */
} ondisk;

/* The timestamp of a file name: up to the extension, '+', '-' or '#'. */
static void name_timestamp(const char *name, size_t stem, char *out,
			   size_t outlen)
{
	size_t n = strcspn(name, "+-#");
	if (n > stem)
		n = stem;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, name, n);
	out[n] = 0;
}

/* A Swift timestamp: 16 characters of digits and '.', then an optional
 * "_" and a hex offset. Anything else is not an object file. */
static bool timestamp_valid(const char *t)
{
	size_t base = strspn(t, "0123456789.");
	if (base != 16 || strchr(t, '.') != t + 10)
		return false;
	if (!t[16])
		return true;
	return t[16] == '_' && t[17] && strlen(t + 17) <= 16 &&
	       strspn(t + 17, "0123456789abcdef") == strlen(t + 17);
}

/* Order two valid timestamps: the fixed-width part as text, then the
 * offset as a number (.meta names write it without leading zeros). */
static int timestamp_cmp(const char *a, const char *b)
{
	int c = strncmp(a, b, 16);
	if (c)
		return c;
	unsigned long long oa = a[16] ? strtoull(a + 17, NULL, 16) : 0;
	unsigned long long ob = b[16] ? strtoull(b + 17, NULL, 16) : 0;
	return (oa > ob) - (oa < ob);
}

static void ondisk_consider(ondisk *od, const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot || strlen(name) >= sizeof od->data)
		return;
	char t[256];
	name_timestamp(name, (size_t)(dot - name), t, sizeof t);
	if (!timestamp_valid(t))
		return;
	char *best = NULL, *best_t = NULL;
	if (strcmp(dot, ".data") == 0)
		best = od->data, best_t = od->data_t;
	else if (strcmp(dot, ".ts") == 0)
		best = od->ts, best_t = od->ts_t;
	else if (strcmp(dot, ".meta") == 0)
		best = od->meta, best_t = od->meta_t;
	if (best && (!best_t[0] || timestamp_cmp(t, best_t) > 0)) {
		strcpy(best, name);
		strcpy(best_t, t);
	}
}

static int ondisk_scan(const char *dir, ondisk *od, swift_error *err)
{
	*od = (ondisk){0};
	DIR *d = opendir(dir);
	if (!d)
		return swift_error_set(err, errno, "%s: %s", dir,
				       errno == ENOENT ? "no such object "
				       "(no hash directory)" : strerror(errno));
	struct dirent *de;
	while ((de = readdir(d)))
		ondisk_consider(od, de->d_name);
	closedir(d);
	if (!od->data[0])
		return swift_error_set(err, ENOENT, "%s: no .data file%s", dir,
				       od->ts[0] ? " (object deleted)" : "");
	if (od->ts[0] && timestamp_cmp(od->ts_t, od->data_t) >= 0)
		return swift_error_set(err, ENOENT, "%s: object deleted at %s "
				       "(tombstone %s)", dir, od->ts_t, od->ts);
	if (!od->meta[0] || timestamp_cmp(od->meta_t, od->data_t) <= 0)
		od->meta[0] = 0;
	return 0;
}

/* ---- merging .data and .meta metadata ---------------------------------------- */

/* Keys a POST cannot change: they stay as the .data says (diskfile.py
 * RESERVED_DATAFILE_META, DATAFILE_SYSTEM_META, object sysmeta). */
static bool datafile_owned(const char *key)
{
	return strcasecmp(key, "Content-Length") == 0 ||
	       strcasecmp(key, "deleted") == 0 ||
	       strcasecmp(key, "ETag") == 0 ||
	       strcasecmp(key, "X-Static-Large-Object") == 0 ||
	       strncasecmp(key, "X-Object-Sysmeta-", 17) == 0;
}

static int meta_take(swift_meta *dst, swift_meta_item *it)
{
	swift_meta_item *grown = realloc(dst->items,
					 (dst->nitems + 1) * sizeof *grown);
	if (!grown)
		return -1;
	dst->items = grown;
	dst->items[dst->nitems++] = *it;
	*it = (swift_meta_item){0};
	return 0;
}

static void meta_drop(swift_meta *m, const char *key)
{
	for (size_t i = 0; i < m->nitems; i++) {
		if (strcasecmp(m->items[i].key, key) != 0)
			continue;
		free(m->items[i].key);
		free(m->items[i].value);
		m->items[i] = m->items[--m->nitems];
		return;
	}
}

/* merged = .meta's items, then the .data's owned keys, and the .data's
 * Content-Type unless the .meta carries a newer one. Consumes both. */
static int meta_merge(swift_meta *data, swift_meta *meta,
		      const char *data_t, swift_meta *merged)
{
	*merged = (swift_meta){0};
	const swift_meta_item *ctt = swift_meta_get(meta,
						    "Content-Type-Timestamp");
	bool data_ctype = !ctt || !timestamp_valid(ctt->value) ||
			  timestamp_cmp(data_t, ctt->value) > 0;
	meta_drop(meta, "name");
	for (size_t i = 0; i < data->nitems; i++) {
		const char *k = data->items[i].key;
		bool ctype = strcasecmp(k, "Content-Type") == 0;
		if (!datafile_owned(k) && !(ctype && data_ctype) &&
		    strcasecmp(k, "name") != 0)
			continue;
		meta_drop(meta, k);
		if (ctype)
			meta_drop(meta, "Content-Type-Timestamp");
		if (meta_take(merged, &data->items[i]) < 0)
			return -1;
	}
	for (size_t i = 0; i < meta->nitems; i++)
		if (meta_take(merged, &meta->items[i]) < 0)
			return -1;
	swift_meta_free(data);
	swift_meta_free(meta);
	return 0;
}

/* ---- the object ------------------------------------------------------------- */

static const char *meta_str(const swift_meta *m, const char *key)
{
	const swift_meta_item *it = swift_meta_get(m, key);
	return it ? it->value : NULL;
}

static unsigned object_flags(const swift_meta *m, const swift_policy *policy)
{
	unsigned flags = 0;
	const char *slo = meta_str(m, "X-Static-Large-Object");
	if (slo && (strcasecmp(slo, "true") == 0 || strcmp(slo, "1") == 0 ||
		    strcasecmp(slo, "yes") == 0 || strcasecmp(slo, "on") == 0))
		flags |= SWIFT_OBJ_SLO;
	if (meta_str(m, "X-Object-Manifest"))
		flags |= SWIFT_OBJ_DLO;
	if (meta_str(m, "X-Object-Sysmeta-Symlink-Target"))
		flags |= SWIFT_OBJ_SYMLINK;
	for (size_t i = 0; i < m->nitems; i++)
		if (strncasecmp(m->items[i].key, "X-Object-Sysmeta-Crypto-",
				24) == 0)
			flags |= SWIFT_OBJ_ENCRYPTED;
	if (policy && policy->type == SWIFT_POLICY_ERASURE_CODING)
		flags |= SWIFT_OBJ_EC;
	return flags;
}

static int object_check(swift_object *obj, double now, swift_error *err)
{
	const char *len = meta_str(&obj->meta, "Content-Length");
	char *end;
	if (!obj->name || !obj->timestamp || !len)
		return swift_error_set(err, EINVAL, "%s: metadata lacks name, "
				       "X-Timestamp or Content-Length",
				       obj->data_path);
	errno = 0;
	unsigned long long n = strtoull(len, &end, 10);
	if (errno || end == len || *end || *len == '-')
		return swift_error_set(err, EINVAL, "%s: bad Content-Length "
				       "'%s'", obj->data_path, len);
	obj->content_length = n;
	const char *del = meta_str(&obj->meta, "X-Delete-At");
	if (del && strtod(del, NULL) <= now)
		return swift_error_set(err, ENOENT, "%s: object expired "
				       "(X-Delete-At %s)", obj->data_path, del);
	if (obj->flags & SWIFT_OBJ_EC)
		return 0;      /* a fragment's size is not the object's */
	struct stat st;
	if (fstat(obj->fd, &st) < 0)
		return swift_error_set(err, errno, "%s: %s", obj->data_path,
				       strerror(errno));
	if ((uint64_t)st.st_size != obj->content_length)
		return swift_error_set(err, EIO, "%s: file has %lld bytes but "
			"Content-Length says %llu (Swift would quarantine it)",
			obj->data_path, (long long)st.st_size, n);
	return 0;
}

/* Scan the directory and open the current .data. A concurrent PUT or
 * cleanup can remove the file between the scan and the open: scan again. */
static int object_open_data(const char *hash_dir, swift_object *obj,
			    ondisk *od, swift_error *err)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		if (ondisk_scan(hash_dir, od, err) < 0)
			return -1;
		free(obj->data_path);
		free(obj->meta_path);
		obj->meta_path = NULL;
		if (asprintf(&obj->data_path, "%s/%s", hash_dir, od->data) < 0 ||
		    (od->meta[0] && asprintf(&obj->meta_path, "%s/%s",
					     hash_dir, od->meta) < 0)) {
			obj->data_path = NULL;
			return swift_error_set(err, ENOMEM, "out of memory");
		}
		obj->fd = open(obj->data_path, O_RDONLY | O_CLOEXEC);
		if (obj->fd >= 0)
			return 0;
		if (errno != ENOENT)
			break;
	}
	return swift_error_set(err, errno, "%s: %s", obj->data_path,
			       strerror(errno));
}

int swift_object_open(const char *hash_dir, const swift_policy *policy,
		      double now, swift_object *obj, swift_error *err)
{
	*obj = (swift_object){.fd = -1};
	ondisk od;
	if (object_open_data(hash_dir, obj, &od, err) < 0)
		goto fail;
	swift_meta data, meta;
	if (swift_meta_read_fd(obj->fd, obj->data_path, &data, err) < 0)
		goto fail;
	if (!obj->meta_path) {
		obj->meta = data;
	} else {
		/* A .meta that vanished was replaced by a newer one or folded
		 * into a newer .data: either way this .data's own metadata
		 * would be stale, so fail rather than guess. */
		if (swift_meta_read_xattrs(obj->meta_path, &meta, err) < 0) {
			swift_meta_free(&data);
			goto fail;
		}
		int rc = meta_merge(&data, &meta, od.data_t, &obj->meta);
		swift_meta_free(&data);
		swift_meta_free(&meta);
		if (rc < 0) {
			swift_error_set(err, ENOMEM, "out of memory");
			goto fail;
		}
	}
	obj->name = meta_str(&obj->meta, "name");
	obj->etag = meta_str(&obj->meta, "ETag");
	obj->content_type = meta_str(&obj->meta, "Content-Type");
	obj->timestamp = meta_str(&obj->meta, "X-Timestamp");
	obj->flags = object_flags(&obj->meta, policy);
	if (object_check(obj, now, err) < 0)
		goto fail;
	return 0;
fail:
	swift_object_free(obj);
	return -1;
}

void swift_object_free(swift_object *obj)
{
	if (obj->fd >= 0)
		close(obj->fd);
	free(obj->data_path);
	free(obj->meta_path);
	swift_meta_free(&obj->meta);
	*obj = (swift_object){.fd = -1};
}
