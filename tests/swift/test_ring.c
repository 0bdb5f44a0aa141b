/*
 * Unit tests of the ring and swift.conf readers against fixtures built by
 * Swift's own RingBuilder and answers from Swift's own Ring
 * (fixtures/make_fixtures.py, fixtures/expected.txt).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fixture.h"
#include "swift.h"

static swift_conf load_conf(void)
{
	swift_conf conf;
	swift_error err = {0};
	char *path = fixture("swift.conf");
	cr_assert_eq(swift_conf_load(path, &conf, &err), 0, "%s", err.msg);
	free(path);
	return conf;
}

static swift_ring *load_ring(const char *name)
{
	swift_ring *ring;
	swift_error err = {0};
	char *path = fixture(name);
	cr_assert_eq(swift_ring_load(path, &ring, &err), 0, "%s", err.msg);
	free(path);
	return ring;
}

/* "ip:port/device" list of devs, space-separated. */
static void devs_str(const swift_dev **d, size_t n, char *out, size_t len)
{
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		size_t at = strlen(out);
		snprintf(out + at, len - at, "%s%s:%d/%s", i ? " " : "",
			 d[i]->ip, d[i]->port, d[i]->device);
	}
}

static void unescape_spaces(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (strncmp(r, "%20", 3) == 0) {
			*w++ = ' ';
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
}

/* Every line of expected.txt: same partition, hash, primaries and
 * handoffs as Swift's Ring. */
Test(ring, matches_swift)
{
	swift_conf conf = load_conf();
	char *path = fixture("expected.txt");
	FILE *f = fopen(path, "r");
	cr_assert(f, "cannot open %s", path);
	char line[4096];
	int lines = 0;
	while (fgets(line, sizeof line, f)) {
		char ringname[64], name[512], hash[64], prim[1024], hand[2048];
		unsigned part;
		line[strcspn(line, "\n")] = 0;
		char *bar = strstr(line, " | ");
		cr_assert(bar);
		*bar = 0;
		snprintf(hand, sizeof hand, "%s", bar + 3);
		int used = 0;
		cr_assert_eq(sscanf(line, "%63s %511s %u %63s %n", ringname,
				    name, &part, hash, &used), 4);
		snprintf(prim, sizeof prim, "%s", line + used);
		unescape_spaces(name);
		char *acct = strtok(name, "/"), *cont = strtok(NULL, "/");
		char *obj = strtok(NULL, "");

		swift_ring *ring = load_ring(ringname);
		swift_location loc;
		swift_error err = {0};
		cr_assert_eq(swift_ring_locate(ring, &conf, acct, cont, obj,
					       &loc, &err), 0, "%s", err.msg);
		char got[2048];
		cr_expect_eq(loc.part, part, "%s %s", ringname, name);
		cr_expect_str_eq(loc.hash, hash, "%s %s", ringname, name);
		devs_str(loc.primaries, loc.nprimaries, got, sizeof got);
		cr_expect_str_eq(got, prim, "%s %s primaries", ringname, name);
		const swift_dev *more[64];
		size_t n = swift_ring_handoffs(ring, loc.part, more, 64);
		devs_str(more, n, got, sizeof got);
		cr_expect_str_eq(got, hand, "%s %s handoffs", ringname, name);
		/* Asking for fewer handoffs gives a prefix of the same list. */
		size_t two = swift_ring_handoffs(ring, loc.part, more, 2);
		cr_expect_eq(two, n < 2 ? n : 2);
		swift_ring_free(ring);
		lines++;
	}
	fclose(f);
	free(path);
	cr_expect_gt(lines, 10);
	swift_conf_free(&conf);
}

Test(ring, shape)
{
	swift_ring *ring = load_ring("frac.ring.gz");
	cr_expect_eq(swift_ring_replica_count(ring), 3);
	cr_expect_eq(swift_ring_part_power(ring), 6);
	cr_expect_eq(swift_ring_partition_count(ring), 64);
	swift_ring_free(ring);
}

/* Write a gzip file holding data[0..len). */
static char *write_gz(const void *data, size_t len)
{
	char *path = strdup("/tmp/zvm-ring-test-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	gzFile gz = gzdopen(fd, "wb");
	cr_assert(gz);
	if (len)
		cr_assert_eq(gzwrite(gz, data, (unsigned)len), (int)len);
	gzclose(gz);
	return path;
}

/* The decompressed bytes of a fixture ring. */
static unsigned char *ring_bytes(const char *name, size_t *len)
{
	char *path = fixture(name);
	gzFile gz = gzopen(path, "rb");
	cr_assert(gz);
	unsigned char *buf = malloc(1 << 20);
	int n = gzread(gz, buf, 1 << 20);
	cr_assert(n > 0);
	gzclose(gz);
	free(path);
	*len = (size_t)n;
	return buf;
}

static void expect_load_error(const void *data, size_t len, const char *what)
{
	char *path = write_gz(data, len);
	swift_ring *ring = NULL;
	swift_error err = {0};
	cr_expect_eq(swift_ring_load(path, &ring, &err), -1,
		     "loaded a broken ring (%s)", what);
	cr_expect_null(ring);
	cr_expect(strstr(err.msg, path) != NULL, "error names no file: %s",
		  err.msg);
	unlink(path);
	free(path);
}

/* Every truncation of a valid ring is refused with an error, never a
 * crash (except cutting the shorter last row to another even length, which
 * is a valid ring; odd lengths are not). */
Test(ring, truncated)
{
	size_t len;
	unsigned char *buf = ring_bytes("three.ring.gz", &len);
	size_t jlen = (size_t)buf[6] << 24 | buf[7] << 16 | buf[8] << 8 | buf[9];
	size_t rows_at = 10 + jlen;
	for (size_t cut = 0; cut < len; cut++) {
		bool in_last_row = cut > rows_at + 2 * 2 * 64;
		if (in_last_row && cut % 2 == 0)
			continue;
		expect_load_error(buf, cut, "truncated");
	}
	free(buf);
}

/* The gzip layer too: a cut or damaged compressed file is an error. */
Test(ring, damaged_gzip)
{
	size_t len;
	unsigned char *gz = read_fixture("three.ring.gz", &len);
	cr_assert_lt(len, 4096);
	FILE *f;
	char path[] = "/tmp/zvm-ring-gz-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	for (size_t cut = 0; cut <= len; cut++) {
		bool flip = cut == len;
		unsigned char copy[4096];
		memcpy(copy, gz, len);
		if (flip)
			copy[len / 2] ^= 0x55;
		f = fopen(path, "wb");
		fwrite(copy, 1, flip ? len : cut, f);
		fclose(f);
		swift_ring *ring = NULL;
		swift_error err = {0};
		cr_expect_eq(swift_ring_load(path, &ring, &err), -1,
			     "%s %zu bytes loaded", flip ? "damaged" : "cut",
			     cut);
		cr_expect(strstr(err.msg, path), "%s", err.msg);
	}
	unlink(path);
	free(gz);
}

/* Seeded random damage to the decompressed ring: refused or loaded, never
 * a crash or an out-of-bounds read (ASan build). A loaded ring must still
 * answer lookups for every partition. */
Test(ring, random_damage)
{
	size_t len;
	unsigned char *buf = ring_bytes("frac.ring.gz", &len);
	unsigned seed = 777;
	for (int round = 0; round < 600; round++) {
		unsigned char *copy = damaged_copy(buf, len, &seed, 3);
		char *path = write_gz(copy, len);
		swift_ring *ring = NULL;
		swift_error err = {0};
		if (swift_ring_load(path, &ring, &err) == 0) {
			const swift_dev *d[64];
			for (uint32_t p = 0;
			     p < swift_ring_partition_count(ring); p++) {
				swift_ring_primaries(ring, p, d, 64);
				swift_ring_handoffs(ring, p, d, 64);
			}
			swift_ring_free(ring);
		} else {
			cr_expect(strstr(err.msg, path), "%s", err.msg);
		}
		unlink(path);
		free(path);
		free(copy);
	}
	free(buf);
}

static void expect_json_error(const char *json, const char *needle)
{
	unsigned char buf[4096];
	size_t jlen = strlen(json);
	memcpy(buf, "R1NG\0\1", 6);
	buf[6] = 0, buf[7] = 0, buf[8] = (unsigned char)(jlen >> 8);
	buf[9] = (unsigned char)jlen;
	memcpy(buf + 10, json, jlen);
	/* one row of 2 partitions (part_shift 31), device 0 */
	memset(buf + 10 + jlen, 0, 4);
	char *path = write_gz(buf, 10 + jlen + 4);
	swift_ring *ring = NULL;
	swift_error err = {0};
	cr_expect_eq(swift_ring_load(path, &ring, &err), -1, "%s", json);
	cr_expect(strstr(err.msg, needle) != NULL, "'%s' not in: %s", needle,
		  err.msg);
	unlink(path);
	free(path);
}

#define DEV0 "{\"id\":0,\"zone\":1,\"ip\":\"127.0.0.2\",\"port\":6200," \
	     "\"device\":\"d1\"}"

Test(ring, bad_headers)
{
	expect_json_error("{", "JSON");
	expect_json_error("[]", "byteorder");
	expect_json_error("{\"byteorder\":\"middle\",\"devs\":[" DEV0 "],"
			  "\"part_shift\":31,\"replica_count\":1}", "byteorder");
	expect_json_error("{\"byteorder\":\"little\",\"devs\":[" DEV0 "],"
			  "\"part_shift\":2,\"replica_count\":1}", "part_shift");
	expect_json_error("{\"byteorder\":\"little\",\"devs\":[" DEV0 "],"
			  "\"part_shift\":31,\"replica_count\":0}",
			  "replica_count");
	expect_json_error("{\"byteorder\":\"little\",\"devs\":[null],"
			  "\"part_shift\":31,\"replica_count\":1}",
			  "device 0, which is not in 'devs'");
	expect_json_error("{\"byteorder\":\"little\",\"devs\":[{\"id\":3}],"
			  "\"part_shift\":31,\"replica_count\":1}", "'id'");
	expect_json_error("{\"byteorder\":\"little\",\"devs\":[{\"id\":0,"
			  "\"ip\":\"x\",\"device\":\"d\",\"zone\":\"1\"}],"
			  "\"part_shift\":31,\"replica_count\":1}", "zone");
	expect_json_error("{\"byteorder\":\"little\",\"devs\":[" DEV0 "],"
			  "\"part_shift\":31,\"replica_count\":2}",
			  "truncated partition table");
}

Test(ring, bad_magic_and_version)
{
	expect_load_error("R2NG\0\1\0\0\0\0", 10, "magic");
	expect_load_error("R1NG\0\2\0\0\0\0", 10, "version");
	expect_load_error("R1NG\0\1\xff\xff\xff\xff", 10, "json length");
	unsigned char tail[64];
	size_t len;
	unsigned char *buf = ring_bytes("three.ring.gz", &len);
	memcpy(tail, "junk", 4);
	buf = realloc(buf, len + 4);
	memcpy(buf + len, tail, 4);
	expect_load_error(buf, len + 4, "trailing data");
	free(buf);
}

Test(ring, missing_file)
{
	swift_ring *ring;
	swift_error err = {0};
	cr_expect_eq(swift_ring_load("/nonexistent/object.ring.gz", &ring,
				     &err), -1);
	cr_expect(strstr(err.msg, "/nonexistent/object.ring.gz"));
}

Test(conf, policies)
{
	swift_conf conf = load_conf();
	cr_expect_str_eq(conf.hash_prefix, "zvmprefix");
	cr_expect_str_eq(conf.hash_suffix, "zvmsuffix");
	cr_assert_eq(conf.npolicies, 2);
	const swift_policy *gold = swift_conf_default_policy(&conf);
	cr_assert(gold);
	cr_expect_str_eq(gold->name, "gold");
	cr_expect_eq(gold->index, 0);
	const swift_policy *ec = swift_conf_policy_by_name(&conf, "EC");
	cr_assert(ec);
	cr_expect_eq(ec->index, 1);
	cr_expect_eq(ec->type, SWIFT_POLICY_ERASURE_CODING);
	cr_expect_null(swift_conf_policy(&conf, 2));
	swift_conf_free(&conf);
}

static int conf_from(const char *text, swift_conf *conf, swift_error *err)
{
	char path[] = "/tmp/zvm-swiftconf-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	int rc = swift_conf_load(path, conf, err);
	unlink(path);
	return rc;
}

static void expect_conf_error(const char *text, const char *needle)
{
	swift_conf conf;
	swift_error err = {0};
	cr_expect_eq(conf_from(text, &conf, &err), -1, "%s", text);
	cr_expect(strstr(err.msg, needle), "'%s' not in: %s", needle, err.msg);
}

Test(conf, defaults_and_errors)
{
	swift_conf conf;
	swift_error err = {0};
	cr_assert_eq(conf_from("[swift-hash]\nswift_hash_path_suffix = s\n",
			       &conf, &err), 0, "%s", err.msg);
	cr_expect_str_eq(conf.hash_prefix, "");
	cr_assert_eq(conf.npolicies, 1);
	cr_expect_str_eq(conf.policies[0].name, "Policy-0");
	cr_expect(conf.policies[0].is_default);
	swift_conf_free(&conf);

	expect_conf_error("[swift-hash]\n", "swift_hash_path_prefix");
	expect_conf_error("[swift-hash]\nswift_hash_path_prefix = p\n"
			  "[storage-policy:x]\nname = a\n", "index");
	expect_conf_error("[swift-hash]\nswift_hash_path_prefix = p\n"
			  "[storage-policy:0]\nname = a\n"
			  "[storage-policy:1]\nname = A\n", "both named");
	expect_conf_error("[swift-hash]\nswift_hash_path_prefix = p\n"
			  "[storage-policy:0]\nname = a\n"
			  "[storage-policy:1]\nname = b\n", "none has");
	expect_conf_error("[swift-hash]\nswift_hash_path_prefix = p\n"
			  "[storage-policy:0]\nname = a\ndefault = yes\n"
			  "[storage-policy:1]\nname = b\ndefault = true\n",
			  "more than one");
	expect_conf_error("[swift-hash]\nswift_hash_path_prefix = p\n"
			  "[storage-policy:0]\nname = a\npolicy_type = x\n",
			  "policy_type");
	expect_conf_error("[swift-hash\n", "INI");
	cr_expect_eq(swift_conf_load("/nonexistent/swift.conf", &conf, &err),
		     -1);
	cr_expect(strstr(err.msg, "/nonexistent/swift.conf"));
}
