/*
 * swift.h - read OpenStack Swift's on-disk state without Swift.
 *
 * A worker zvmd runs on a storage node and wants the bytes of an object that
 * the proxy already authorised. This library answers the two questions that
 * takes, the same way Swift 2.30 answers them:
 *
 *   where is it?   swift.conf (hash prefix/suffix, storage policies) and the
 *                  ring file (object.ring.gz, object-N.ring.gz) give the
 *                  partition, the object hash and the primary/handoff devices;
 *   what is it?    the object's hash directory on a device gives the current
 *                  .data file and its metadata (a pickle in xattrs).
 *
 * It never writes, never talks to the network and never runs Python.
 * Every function returns 0 on success or -1 with a message in a swift_error
 * that names the file and the problem. Corrupt input never crashes it.
 */
#ifndef ZEROVM_SWIFT_H
#define ZEROVM_SWIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SWIFT_ERROR_MAX 512

typedef struct swift_error {
	int code;                /* errno-like: ENOENT = no such object/file */
	char msg[SWIFT_ERROR_MAX];
} swift_error;

/* Fill err (if not NULL) and return -1. */
int swift_error_set(swift_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- swift.conf ---------------------------------------------------------- */

typedef enum swift_policy_type {
	SWIFT_POLICY_REPLICATION,
	SWIFT_POLICY_ERASURE_CODING,
} swift_policy_type;

typedef struct swift_policy {
	int index;               /* N of [storage-policy:N] */
	char *name;
	bool is_default;
	bool deprecated;
	swift_policy_type type;
} swift_policy;

typedef struct swift_conf {
	char *hash_prefix;       /* [swift-hash] swift_hash_path_prefix */
	char *hash_suffix;       /* [swift-hash] swift_hash_path_suffix */
	swift_policy *policies;  /* sorted by index; policy 0 always present */
	size_t npolicies;
} swift_conf;

/* Parse swift.conf into *conf (owned by the caller: swift_conf_free). Like
 * Swift: prefix or suffix must be set; without any [storage-policy:N],
 * "Policy-0" (replication) is the default; a missing policy 0 is added. */
int swift_conf_load(const char *path, swift_conf *conf, swift_error *err);
void swift_conf_free(swift_conf *conf);
/* NULL when there is no such policy. */
const swift_policy *swift_conf_policy(const swift_conf *conf, int index);
const swift_policy *swift_conf_policy_by_name(const swift_conf *conf,
					       const char *name);
const swift_policy *swift_conf_default_policy(const swift_conf *conf);

/* md5(prefix "/" acct ["/" cont ["/" obj]] suffix): Swift's hash_path.
 * cont and obj may be NULL (account or container hash). */
int swift_hash_path(const swift_conf *conf, const char *acct,
		    const char *cont, const char *obj, uint8_t digest[16],
		    swift_error *err);

/* ---- rings --------------------------------------------------------------- */

/* The largest replica count we accept; Swift has no hard limit but real
 * clusters use 2-6. */
#define SWIFT_MAX_REPLICAS 32

typedef struct swift_dev {
	int id;
	int region;
	int zone;
	char *ip;
	int port;
	char *replication_ip;
	int replication_port;
	char *device;
	double weight;
} swift_dev;

typedef struct swift_ring swift_ring;   /* opaque, immutable after load */

/* Read a ring file (gzip R1NG v1). *ring is owned by the caller. */
int swift_ring_load(const char *path, swift_ring **ring, swift_error *err);
void swift_ring_free(swift_ring *ring);

uint32_t swift_ring_partition_count(const swift_ring *ring);
unsigned swift_ring_replica_count(const swift_ring *ring);
unsigned swift_ring_part_power(const swift_ring *ring);

/* The partition a hash_path digest falls in. */
uint32_t swift_ring_partition(const swift_ring *ring, const uint8_t digest[16]);

/* The primary devices of a partition, in replica order, duplicates dropped
 * (Ring.get_part_nodes). Returns how many were written to out (≤ max). */
size_t swift_ring_primaries(const swift_ring *ring, uint32_t part,
			    const swift_dev **out, size_t max);

/* Handoff devices of a partition, in Ring.get_more_nodes order: first
 * devices in unused regions, then unused zones, then unused IPs, then any
 * unused device. Returns how many were written (≤ max); 0 also when
 * memory for the walk cannot be allocated. */
size_t swift_ring_handoffs(const swift_ring *ring, uint32_t part,
			   const swift_dev **out, size_t max);

/* Where an object lives: partition, hash (hex) and primaries. */
typedef struct swift_location {
	uint32_t part;
	char hash[33];
	size_t nprimaries;
	const swift_dev *primaries[SWIFT_MAX_REPLICAS];
} swift_location;

int swift_ring_locate(const swift_ring *ring, const swift_conf *conf,
		      const char *acct, const char *cont, const char *obj,
		      swift_location *loc, swift_error *err);

/* ---- metadata pickles ---------------------------------------------------- */

/* One metadata item; keys and values are raw bytes (Swift stores UTF-8),
 * each also NUL-terminated for convenience. */
typedef struct swift_meta_item {
	char *key;
	size_t key_len;
	char *value;
	size_t value_len;
} swift_meta_item;

typedef struct swift_meta {
	swift_meta_item *items;
	size_t nitems;
} swift_meta;

/* Decode a pickled dict of str/bytes -> str/bytes as written by Swift's
 * write_metadata (protocol 2, under Python 2 or 3; protocols 3-4 too).
 * Anything else (other types, other opcodes, bad structure) is refused. */
int swift_pickle_load(const void *buf, size_t len, swift_meta *meta,
		      swift_error *err);
void swift_meta_free(swift_meta *meta);
/* Case-insensitive key lookup; NULL if absent. */
const swift_meta_item *swift_meta_get(const swift_meta *meta, const char *key);

/* Read and decode user.swift.metadata, ...metadata1, ... of a file, checking
 * user.swift.metadata_checksum when present. The _fd form reads an open
 * file (path only names it in messages). */
int swift_meta_read_xattrs(const char *path, swift_meta *meta,
			   swift_error *err);
int swift_meta_read_fd(int fd, const char *path, swift_meta *meta,
		       swift_error *err);

/* ---- objects on disk ------------------------------------------------------- */

/* Reasons an object's bytes on one disk are not the object. */
enum {
	SWIFT_OBJ_SLO = 1 << 0,       /* X-Static-Large-Object: a manifest */
	SWIFT_OBJ_DLO = 1 << 1,       /* X-Object-Manifest: a manifest */
	SWIFT_OBJ_SYMLINK = 1 << 2,   /* X-Object-Sysmeta-Symlink-Target */
	SWIFT_OBJ_ENCRYPTED = 1 << 3, /* X-Object-Sysmeta-Crypto-* */
	SWIFT_OBJ_EC = 1 << 4,        /* erasure-coded policy: a fragment */
};

typedef struct swift_object {
	int fd;                  /* the .data, open read-only (owned; a caller
				  * keeping it sets obj->fd = -1 first) */
	char *data_path;         /* the current .data file */
	char *meta_path;         /* a newer .meta file, or NULL */
	swift_meta meta;         /* merged metadata (.data, then .meta) */
	/* Views into meta (NULL if absent); content_length parsed. */
	const char *name;        /* "/acct/cont/obj" */
	const char *etag;
	const char *content_type;
	const char *timestamp;   /* X-Timestamp */
	uint64_t content_length;
	unsigned flags;          /* SWIFT_OBJ_*: nonzero = read through Swift */
} swift_object;

/* "<devices>/<device>/objects[-N]/<part>/<hash[-3:]>/<hash>" (malloc'd). */
char *swift_object_dir(const char *devices, const char *device,
		       int policy_index, uint32_t part, const char *hash);

/* Find the current object in a hash directory: the newest .data newer than
 * any .ts, with a newer .meta merged in. err->code is ENOENT when there is
 * no object (no dir, no .data, deleted, expired). policy may be NULL
 * (replication). now is the Unix time for X-Delete-At. Metadata and size
 * are read from the open fd, so they describe the bytes behind obj->fd even
 * if a newer PUT replaces the file meanwhile. */
int swift_object_open(const char *hash_dir, const swift_policy *policy,
		      double now, swift_object *obj, swift_error *err);
void swift_object_free(swift_object *obj);

#endif
