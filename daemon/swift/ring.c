/*
 * ring.c - Swift ring files (R1NG v1) and Swift's node selection.
 *
 * File layout (swift/common/ring/ring.py, RingData.serialize_v1), gzipped:
 *   "R1NG", uint16 BE version = 1, uint32 BE json_len, json_len bytes of
 *   JSON {byteorder, devs, part_shift, replica_count, ...}, then
 *   replica_count rows of uint16 device ids in `byteorder`, each
 *   1 << (32 - part_shift) entries; the last row may be shorter (fractional
 *   replica counts).
 */
#include "swift.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A part power above this means rows of ≥ 512 MiB each: refuse rather
 * than try to allocate it (real clusters use 10-22). */
#define RING_MAX_PART_POWER 28
#define RING_MAX_JSON (64u << 20)

struct swift_ring {
	swift_dev *devs;         /* index = device id; holes have ip == NULL */
	size_t ndevs;
	unsigned part_shift;
	uint32_t nparts;         /* 1 << (32 - part_shift) */
	unsigned nreplicas;
	uint16_t *rows[SWIFT_MAX_REPLICAS];
	uint32_t row_len[SWIFT_MAX_REPLICAS];
	/* Counts over devices that have partitions (Ring._rebuild_tier_data),
	 * which bound the handoff passes. */
	size_t num_regions, num_zones, num_ips, num_assigned;
};

/* ---- reading the gzip stream ---------------------------------------------- */

/* A gzip member inflated as it is read. Unlike gzread(), which passes
 * non-gzip files through and forgives a missing trailer, this insists on
 * one complete member with a good CRC, like Python's gzip module. */
typedef struct gunz {
	FILE *f;
	z_stream zs;
	bool end;                /* Z_STREAM_END seen: trailer verified */
	unsigned char in[65536];
	const char *path;
	swift_error *err;
} gunz;

static int gunz_open(gunz *g, const char *path, swift_error *err)
{
	*g = (gunz){.path = path, .err = err};
	g->f = fopen(path, "rb");
	if (!g->f)
		return swift_error_set(err, errno, "%s: cannot open ring: %s",
				       path, strerror(errno));
	if (inflateInit2(&g->zs, 16 + MAX_WBITS) != Z_OK) {
		fclose(g->f);
		g->f = NULL;
		return swift_error_set(err, ENOMEM, "%s: cannot start zlib",
				       path);
	}
	return 0;
}

static void gunz_close(gunz *g)
{
	if (!g->f)
		return;
	inflateEnd(&g->zs);
	fclose(g->f);
	g->f = NULL;
}

/* Read up to len bytes; *got < len only at the end of the stream. */
static int gunz_read(gunz *g, void *buf, size_t len, size_t *got)
{
	*got = 0;
	while (*got < len && !g->end) {
		if (g->zs.avail_in == 0) {
			size_t n = fread(g->in, 1, sizeof g->in, g->f);
			if (n == 0 && ferror(g->f))
				return swift_error_set(g->err, EIO, "%s: read "
					"error: %s", g->path, strerror(errno));
			if (n == 0)
				return swift_error_set(g->err, EINVAL, "%s: "
					"truncated gzip stream", g->path);
			g->zs.next_in = g->in;
			g->zs.avail_in = (unsigned)n;
		}
		size_t want = len - *got > (1u << 30) ? (1u << 30) : len - *got;
		g->zs.next_out = (unsigned char *)buf + *got;
		g->zs.avail_out = (unsigned)want;
		int rc = inflate(&g->zs, Z_NO_FLUSH);
		*got += want - g->zs.avail_out;
		if (rc == Z_STREAM_END)
			g->end = true;
		else if (rc != Z_OK && rc != Z_BUF_ERROR)
			return swift_error_set(g->err, EINVAL, "%s: not a valid "
				"gzip file: %s", g->path,
				g->zs.msg ? g->zs.msg : zError(rc));
	}
	return 0;
}

/* Read exactly len bytes; a short read is an error naming what was being
 * read. */
static int gunz_read_exact(gunz *g, void *buf, size_t len, const char *what)
{
	size_t got;
	if (gunz_read(g, buf, len, &got) < 0)
		return -1;
	if (got < len)
		return swift_error_set(g->err, EINVAL, "%s: truncated while "
			"reading %s (%zu of %zu bytes)", g->path, what, got,
			len);
	return 0;
}

/* After the last row: the stream must end here, with nothing after it. */
static int gunz_expect_end(gunz *g)
{
	unsigned char extra;
	size_t got;
	if (gunz_read(g, &extra, 1, &got) < 0)
		return -1;
	if (got)
		return swift_error_set(g->err, EINVAL, "%s: unexpected data "
				       "after the partition table", g->path);
	if (g->zs.avail_in || fread(&extra, 1, 1, g->f))
		return swift_error_set(g->err, EINVAL, "%s: unexpected data "
				       "after the gzip stream", g->path);
	return 0;
}

/* ---- the JSON header -------------------------------------------------------- */

static int json_int(json_t *obj, const char *key, int dflt, bool required,
		    int *out)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		*out = dflt;
		return required ? -1 : 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < INT_MIN ||
	    json_integer_value(v) > INT_MAX)
		return -1;
	*out = (int)json_integer_value(v);
	return 0;
}

static int dev_parse(json_t *jd, size_t index, swift_dev *dev,
		     const char *path, swift_error *err)
{
	if (!json_is_object(jd))
		return swift_error_set(err, EINVAL, "%s: devs[%zu] is not an "
				       "object or null", path, index);
	int id;
	if (json_int(jd, "id", 0, true, &id) < 0 || id < 0 ||
	    (size_t)id != index)
		return swift_error_set(err, EINVAL, "%s: devs[%zu] has a "
			"missing or wrong 'id' (must equal its index)",
			path, index);
	const char *ip = json_string_value(json_object_get(jd, "ip"));
	const char *device = json_string_value(json_object_get(jd, "device"));
	if (!ip || !device)
		return swift_error_set(err, EINVAL, "%s: devs[%zu] needs "
			"string 'ip' and 'device'", path, index);
	const char *rip = json_string_value(json_object_get(jd,
							    "replication_ip"));
	dev->id = id;
	if (json_int(jd, "region", 1, false, &dev->region) < 0 ||
	    json_int(jd, "zone", 0, true, &dev->zone) < 0 ||
	    json_int(jd, "port", 0, true, &dev->port) < 0 ||
	    json_int(jd, "replication_port", dev->port, false,
		     &dev->replication_port) < 0)
		return swift_error_set(err, EINVAL, "%s: devs[%zu]: region, "
			"zone, port and replication_port must be integers "
			"(zone and port are required)", path, index);
	json_t *w = json_object_get(jd, "weight");
	dev->weight = json_is_number(w) ? json_number_value(w) : 0.0;
	dev->ip = strdup(ip);
	dev->device = strdup(device);
	dev->replication_ip = strdup(rip ? rip : ip);
	if (!dev->ip || !dev->device || !dev->replication_ip)
		return swift_error_set(err, ENOMEM, "%s: out of memory", path);
	return 0;
}

static int header_parse(swift_ring *ring, const char *json, size_t len,
			bool *byteswap, const char *path, swift_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return swift_error_set(err, EINVAL, "%s: ring header JSON: %s "
				       "(at byte %d)", path, jerr.text,
				       jerr.position);
	int rc = -1;
	const char *order = json_string_value(json_object_get(root,
							      "byteorder"));
	int shift, nrep;
	json_t *devs = json_object_get(root, "devs");
	if (!json_is_object(root) || !order ||
	    (strcmp(order, "little") && strcmp(order, "big"))) {
		swift_error_set(err, EINVAL, "%s: ring header needs "
				"'byteorder' \"little\" or \"big\"", path);
		goto out;
	}
	if (json_int(root, "part_shift", 0, true, &shift) < 0 ||
	    shift < 32 - RING_MAX_PART_POWER || shift > 32) {
		swift_error_set(err, EINVAL, "%s: ring header 'part_shift' "
			"must be an integer in %d..32", path,
			32 - RING_MAX_PART_POWER);
		goto out;
	}
	if (json_int(root, "replica_count", 0, true, &nrep) < 0 ||
	    nrep < 1 || nrep > SWIFT_MAX_REPLICAS) {
		swift_error_set(err, EINVAL, "%s: ring header "
			"'replica_count' must be an integer in 1..%d", path,
			SWIFT_MAX_REPLICAS);
		goto out;
	}
	if (!json_is_array(devs) || json_array_size(devs) > 65536) {
		swift_error_set(err, EINVAL, "%s: ring header 'devs' must be "
				"a list of at most 65536 entries", path);
		goto out;
	}
	ring->ndevs = json_array_size(devs);
	ring->devs = calloc(ring->ndevs ? ring->ndevs : 1, sizeof *ring->devs);
	if (!ring->devs) {
		swift_error_set(err, ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (size_t i = 0; i < ring->ndevs; i++) {
		json_t *jd = json_array_get(devs, i);
		if (json_is_null(jd))
			continue;
		if (dev_parse(jd, i, &ring->devs[i], path, err) < 0)
			goto out;
	}
	ring->part_shift = (unsigned)shift;
	ring->nparts = (uint32_t)1 << (32 - shift);
	ring->nreplicas = (unsigned)nrep;
	uint16_t probe = 1;
	bool host_little = *(uint8_t *)&probe == 1;
	*byteswap = host_little != (strcmp(order, "little") == 0);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* ---- the partition table ---------------------------------------------------- */

static int rows_read(swift_ring *ring, gunz *g, bool byteswap,
		     const char *path, swift_error *err)
{
	size_t full = (size_t)ring->nparts * 2;
	for (unsigned r = 0; r < ring->nreplicas; r++) {
		ring->rows[r] = malloc(full);
		if (!ring->rows[r])
			return swift_error_set(err, ENOMEM, "%s: out of memory "
				"for %zu-byte partition row", path, full);
		size_t got;
		if (gunz_read(g, ring->rows[r], full, &got) < 0)
			return -1;
		bool last = r + 1 == ring->nreplicas;
		if ((got < full && !last) || got % 2 || got == 0)
			return swift_error_set(err, EINVAL, "%s: truncated "
				"partition table: replica row %u has %zu of "
				"%zu bytes", path, r, got, full);
		ring->row_len[r] = (uint32_t)(got / 2);
		for (uint32_t p = 0; p < ring->row_len[r]; p++) {
			uint16_t id = ring->rows[r][p];
			if (byteswap)
				id = (uint16_t)((id >> 8) | (id << 8));
			ring->rows[r][p] = id;
			if (id >= ring->ndevs || !ring->devs[id].ip)
				return swift_error_set(err, EINVAL, "%s: "
					"partition %u of replica row %u names "
					"device %u, which is not in 'devs'",
					path, p, r, id);
		}
	}
	return gunz_expect_end(g);
}

/* ---- tier counts (used to stop handoff passes early) ------------------------ */

static bool same_ip(const swift_dev *a, const swift_dev *b)
{
	return a->region == b->region && a->zone == b->zone &&
	       strcmp(a->ip, b->ip) == 0;
}

static int tiers_count(swift_ring *ring, const char *path, swift_error *err)
{
	bool *assigned = calloc(ring->ndevs ? ring->ndevs : 1, 1);
	if (!assigned)
		return swift_error_set(err, ENOMEM, "%s: out of memory", path);
	for (unsigned r = 0; r < ring->nreplicas; r++)
		for (uint32_t p = 0; p < ring->row_len[r]; p++)
			assigned[ring->rows[r][p]] = true;
	for (size_t i = 0; i < ring->ndevs; i++) {
		if (!assigned[i])
			continue;
		const swift_dev *d = &ring->devs[i];
		bool new_region = true, new_zone = true, new_ip = true;
		for (size_t j = 0; j < i; j++) {
			if (!assigned[j])
				continue;
			const swift_dev *e = &ring->devs[j];
			new_region &= e->region != d->region;
			new_zone &= !(e->region == d->region &&
				      e->zone == d->zone);
			new_ip &= !same_ip(d, e);
		}
		ring->num_regions += new_region;
		ring->num_zones += new_zone;
		ring->num_ips += new_ip;
		ring->num_assigned++;
	}
	free(assigned);
	return 0;
}

/* ---- load/free -------------------------------------------------------------- */

static int ring_read(swift_ring *ring, gunz *g, const char *path,
		     swift_error *err)
{
	uint8_t head[10];
	if (gunz_read_exact(g, head, 6, "the magic") < 0)
		return -1;
	if (memcmp(head, "R1NG", 4) != 0)
		return swift_error_set(err, EINVAL, "%s: not a ring file "
			"(no R1NG magic; old pickled rings are not "
			"supported)", path);
	unsigned version = (unsigned)head[4] << 8 | head[5];
	if (version != 1)
		return swift_error_set(err, EINVAL, "%s: unknown ring format "
				       "version %u (only 1)", path, version);
	if (gunz_read_exact(g, head + 6, 4, "the header length") < 0)
		return -1;
	uint32_t jlen = (uint32_t)head[6] << 24 | (uint32_t)head[7] << 16 |
			(uint32_t)head[8] << 8 | head[9];
	if (jlen > RING_MAX_JSON)
		return swift_error_set(err, EINVAL, "%s: ring header of %u "
				       "bytes is too large", path, jlen);
	char *json = malloc(jlen ? jlen : 1);
	if (!json)
		return swift_error_set(err, ENOMEM, "%s: out of memory", path);
	bool byteswap = false;
	int rc = gunz_read_exact(g, json, jlen, "the JSON header");
	if (rc == 0)
		rc = header_parse(ring, json, jlen, &byteswap, path, err);
	free(json);
	if (rc == 0)
		rc = rows_read(ring, g, byteswap, path, err);
	if (rc == 0)
		rc = tiers_count(ring, path, err);
	return rc;
}

int swift_ring_load(const char *path, swift_ring **out, swift_error *err)
{
	*out = NULL;
	gunz g;
	if (gunz_open(&g, path, err) < 0)
		return -1;
	swift_ring *ring = calloc(1, sizeof *ring);
	if (!ring) {
		gunz_close(&g);
		return swift_error_set(err, ENOMEM, "%s: out of memory", path);
	}
	int rc = ring_read(ring, &g, path, err);
	gunz_close(&g);
	if (rc < 0) {
		swift_ring_free(ring);
		return -1;
	}
	*out = ring;
	return 0;
}

void swift_ring_free(swift_ring *ring)
{
	if (!ring)
		return;
	for (size_t i = 0; i < ring->ndevs; i++) {
		free(ring->devs[i].ip);
		free(ring->devs[i].replication_ip);
		free(ring->devs[i].device);
	}
	free(ring->devs);
	for (unsigned r = 0; r < ring->nreplicas; r++)
		free(ring->rows[r]);
	free(ring);
}

uint32_t swift_ring_partition_count(const swift_ring *ring)
{
	return ring->nparts;
}

unsigned swift_ring_replica_count(const swift_ring *ring)
{
	return ring->nreplicas;
}

unsigned swift_ring_part_power(const swift_ring *ring)
{
	return 32 - ring->part_shift;
}

/* ---- lookups ---------------------------------------------------------------- */

static uint32_t be32_shift(const uint8_t *b, unsigned shift)
{
	uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		     (uint32_t)b[2] << 8 | b[3];
	return shift >= 32 ? 0 : v >> shift;
}

uint32_t swift_ring_partition(const swift_ring *ring, const uint8_t digest[16])
{
	return be32_shift(digest, ring->part_shift);
}

size_t swift_ring_primaries(const swift_ring *ring, uint32_t part,
			    const swift_dev **out, size_t max)
{
	size_t n = 0;
	for (unsigned r = 0; r < ring->nreplicas && n < max; r++) {
		if (part >= ring->row_len[r])
			continue;
		const swift_dev *d = &ring->devs[ring->rows[r][part]];
		bool seen = false;
		for (size_t i = 0; i < n; i++)
			seen |= out[i] == d;
		if (!seen)
			out[n++] = d;
	}
	return n;
}

/* The state of Ring.get_more_nodes: what is used already, by device and by
 * tier (region, zone, ip). Tier sets are small arrays of representative
 * devices: rings have few regions/zones/ips relative to partitions. */
typedef struct handoff_walk {
	const swift_ring *ring;
	bool *used;
	const swift_dev **tiers;   /* every device taken so far */
	size_t ntiers;
	size_t nused;
	size_t regions, zones, ips;
	const swift_dev **out;
	size_t nout, max;
} handoff_walk;

enum tier { TIER_REGION, TIER_ZONE, TIER_IP, TIER_DEV };

static bool tier_match(const swift_dev *a, const swift_dev *b, enum tier t)
{
	switch (t) {
	case TIER_REGION:
		return a->region == b->region;
	case TIER_ZONE:
		return a->region == b->region && a->zone == b->zone;
	case TIER_IP:
		return same_ip(a, b);
	case TIER_DEV:
		break;
	}
	return a == b;
}

static bool tier_seen(const handoff_walk *w, const swift_dev *d, enum tier t)
{
	for (size_t i = 0; i < w->ntiers; i++)
		if (tier_match(w->tiers[i], d, t))
			return true;
	return false;
}

/* Record d as used, updating the distinct region/zone/ip counts. */
static void walk_take(handoff_walk *w, const swift_dev *d)
{
	w->regions += !tier_seen(w, d, TIER_REGION);
	w->zones += !tier_seen(w, d, TIER_ZONE);
	w->ips += !tier_seen(w, d, TIER_IP);
	w->tiers[w->ntiers++] = d;
	w->used[d->id] = true;
	w->nused++;
}

static size_t tier_total(const swift_ring *ring, enum tier t)
{
	switch (t) {
	case TIER_REGION:
		return ring->num_regions;
	case TIER_ZONE:
		return ring->num_zones;
	case TIER_IP:
		return ring->num_ips;
	case TIER_DEV:
		break;
	}
	return ring->num_assigned;
}

static size_t tier_used(const handoff_walk *w, enum tier t)
{
	switch (t) {
	case TIER_REGION:
		return w->regions;
	case TIER_ZONE:
		return w->zones;
	case TIER_IP:
		return w->ips;
	case TIER_DEV:
		break;
	}
	return w->nused;
}

/* Try partition hp: take each unused device in a tier not seen yet.
 * Returns true when the pass is over (tier exhausted or out full). */
static bool walk_part(handoff_walk *w, uint32_t hp, enum tier t)
{
	const swift_ring *ring = w->ring;
	for (unsigned r = 0; r < ring->nreplicas; r++) {
		if (hp >= ring->row_len[r])
			continue;
		const swift_dev *d = &ring->devs[ring->rows[r][hp]];
		if (w->used[d->id] || (t != TIER_DEV && tier_seen(w, d, t)))
			continue;
		w->out[w->nout++] = d;
		walk_take(w, d);
		if (w->nout == w->max)
			return true;
		if (tier_used(w, t) == tier_total(ring, t))
			return true;
	}
	return false;
}

/* One pass of get_more_nodes over the partitions
 * chain(range(start, parts, inc), range(inc - ((parts - start) % inc),
 * start, inc)). */
static void walk_pass(handoff_walk *w, uint32_t start, enum tier t)
{
	uint32_t parts = w->ring->row_len[0];
	uint32_t inc = parts / 65536 ? parts / 65536 : 1;
	if (w->nout == w->max || tier_used(w, t) == tier_total(w->ring, t))
		return;
	for (uint64_t hp = start; hp < parts; hp += inc)
		if (walk_part(w, (uint32_t)hp, t))
			return;
	for (uint64_t hp = inc - ((parts - start) % inc); hp < start; hp += inc)
		if (walk_part(w, (uint32_t)hp, t))
			return;
}

size_t swift_ring_handoffs(const swift_ring *ring, uint32_t part,
			   const swift_dev **out, size_t max)
{
	const swift_dev *prim[SWIFT_MAX_REPLICAS];
	size_t nprim = swift_ring_primaries(ring, part, prim,
					    SWIFT_MAX_REPLICAS);
	handoff_walk w = {.ring = ring, .out = out, .max = max};
	w.used = calloc(ring->ndevs ? ring->ndevs : 1, sizeof *w.used);
	w.tiers = calloc(ring->num_assigned + nprim + 1, sizeof *w.tiers);
	if (!w.used || !w.tiers || max == 0 || ring->row_len[0] == 0)
		goto out;
	for (size_t i = 0; i < nprim; i++)
		walk_take(&w, prim[i]);

	char num[16];
	uint8_t digest[16];
	unsigned dlen = sizeof digest;
	int n = snprintf(num, sizeof num, "%u", part);
	if (!EVP_Digest(num, (size_t)n, digest, &dlen, EVP_md5(), NULL))
		goto out;
	uint32_t start = be32_shift(digest, ring->part_shift);
	if (start >= ring->row_len[0])
		goto out;
	for (enum tier t = TIER_REGION; t <= TIER_DEV; t++)
		walk_pass(&w, start, t);
out:
	free(w.used);
	free(w.tiers);
	return w.nout;
}

int swift_ring_locate(const swift_ring *ring, const swift_conf *conf,
		      const char *acct, const char *cont, const char *obj,
		      swift_location *loc, swift_error *err)
{
	uint8_t digest[16];
	if (!acct || !*acct || (obj && *obj && !(cont && *cont)))
		return swift_error_set(err, EINVAL, "locate: need an account "
				       "(and a container for an object)");
	if (swift_hash_path(conf, acct, cont, obj, digest, err) < 0)
		return -1;
	loc->part = swift_ring_partition(ring, digest);
	for (int i = 0; i < 16; i++)
		snprintf(loc->hash + 2 * i, 3, "%02x", digest[i]);
	loc->nprimaries = swift_ring_primaries(ring, loc->part, loc->primaries,
					       SWIFT_MAX_REPLICAS);
	return 0;
}
