/*
 * Unit tests of the metadata pickle reader (pickles made by Python's pickle
 * and Swift's _encode_metadata, fixtures/make_fixtures.py) and of the
 * object-directory reader (files laid out like an object server's).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fixture.h"
#include "swift.h"

static const char *get(const swift_meta *m, const char *key)
{
	const swift_meta_item *it = swift_meta_get(m, key);
	return it ? it->value : NULL;
}

static void expect_swift_meta(const char *fixture_name)
{
	size_t len;
	unsigned char *buf = read_fixture(fixture_name, &len);
	swift_meta m;
	swift_error err = {0};
	cr_assert_eq(swift_pickle_load(buf, len, &m, &err), 0, "%s: %s",
		     fixture_name, err.msg);
	cr_expect_eq(m.nitems, 8, "%s", fixture_name);
	cr_expect_str_eq(get(&m, "name"), "/AUTH_test/c/\xc3\xa9t\xc3\xa9");
	cr_expect_str_eq(get(&m, "etag"), "5a105e8b9d40e1329780d62ea2265d8a");
	cr_expect_str_eq(get(&m, "Content-Length"), "5");
	cr_expect_str_eq(get(&m, "X-Object-Meta-Color"), "bl\xc3\xbc");
	const swift_meta_item *empty = swift_meta_get(&m,
						      "X-Object-Meta-Empty");
	cr_assert(empty);
	cr_expect_eq(empty->value_len, 0);
	cr_expect_str_eq(get(&m, "X-Object-Meta-Same"), "text/plain");
	swift_meta_free(&m);
	free(buf);
}

Test(pickle, swift_shapes)
{
	expect_swift_meta("swift_py3.pickle");
	expect_swift_meta("text_py3.pickle");
	expect_swift_meta("proto3.pickle");
	expect_swift_meta("proto4.pickle");
}

Test(pickle, many_items_batched)
{
	size_t len;
	unsigned char *buf = read_fixture("many.pickle", &len);
	swift_meta m;
	swift_error err = {0};
	cr_assert_eq(swift_pickle_load(buf, len, &m, &err), 0, "%s", err.msg);
	cr_expect_eq(m.nitems, 1500);
	cr_expect_str_eq(get(&m, "k1499"), "v");
	cr_expect_str_eq(get(&m, "k0007"), "");
	swift_meta_free(&m);
	free(buf);
}

static void expect_refused(const void *buf, size_t len, const char *needle)
{
	swift_meta m;
	swift_error err = {0};
	cr_expect_eq(swift_pickle_load(buf, len, &m, &err), -1,
		     "accepted: %s", needle);
	cr_expect_eq(m.nitems, 0);
	cr_expect(strstr(err.msg, needle), "'%s' not in: %s", needle, err.msg);
}

static void expect_fixture_refused(const char *name, const char *needle)
{
	size_t len;
	unsigned char *buf = read_fixture(name, &len);
	expect_refused(buf, len, needle);
	free(buf);
}

Test(pickle, refuses_other_shapes)
{
	expect_fixture_refused("bad_int_value.pickle", "opcode 0x4b");
	expect_fixture_refused("bad_list.pickle", "opcode 0x5d");
	expect_fixture_refused("bad_global.pickle", "GLOBAL other than");
	expect_fixture_refused("bad_nested.pickle", "more than one dict");
	expect_fixture_refused("bad_proto0.pickle", "opcode 0x64");
	expect_refused("\x80\x02}q\x00.junk", 10, "data after STOP");
	expect_refused("\x80\x07}.", 4, "protocol");
	expect_refused("\x80\x02.", 3, "STOP without");
	expect_refused("\x80\x02}h\x05.", 6, "unset index");
	expect_refused("\x80\x02}X\xff\xff\xff\x7f", 8, "longer than");
	expect_refused("\x80\x02}(X\x01\x00\x00\x00" "au.", 12, "odd number");
	expect_refused("\x80\x02}U\x01" "aU\x01" "bU\x01" "cs.", 14, "dict");
	expect_refused("", 0, "truncated");
}

/* Every prefix of a valid pickle is refused, never read past. */
Test(pickle, every_truncation)
{
	size_t len;
	unsigned char *buf = read_fixture("swift_py3.pickle", &len);
	for (size_t cut = 0; cut < len; cut++) {
		unsigned char *copy = malloc(cut ? cut : 1);
		memcpy(copy, buf, cut);
		swift_meta m;
		swift_error err = {0};
		cr_expect_eq(swift_pickle_load(copy, cut, &m, &err), -1,
			     "prefix of %zu bytes accepted", cut);
		free(copy);
	}
	free(buf);
}

/* Seeded random damage (1-4 bytes changed, sometimes cut): the reader
 * either refuses or returns a dict, and never reads out of bounds (ASan
 * build). */
Test(pickle, random_damage)
{
	size_t len;
	unsigned char *buf = read_fixture("swift_py3.pickle", &len);
	unsigned seed = 12345;
	for (int round = 0; round < 20000; round++) {
		unsigned char *copy = damaged_copy(buf, len, &seed, 4);
		size_t cut = rand_r(&seed) % 4 ? len : rand_r(&seed) % len;
		swift_meta m;
		swift_error err = {0};
		if (swift_pickle_load(copy, cut, &m, &err) == 0)
			swift_meta_free(&m);
		else
			cr_expect(strstr(err.msg, "metadata pickle: "), "%s",
				  err.msg);
		free(copy);
	}
	free(buf);
}

/* ---- object directories ------------------------------------------------- */

static char *make_dir(void)
{
	char *dir = strdup("/tmp/zvm-diskfile-XXXXXX");
	cr_assert(mkdtemp(dir));
	return dir;
}

static char *add_file(const char *dir, const char *name, const char *body,
		      const char *pickle_fixture, bool checksum_ok)
{
	char *path;
	cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
	FILE *f = fopen(path, "wb");
	cr_assert(f);
	fputs(body, f);
	fclose(f);
	if (pickle_fixture) {
		size_t len;
		unsigned char *buf = read_fixture(pickle_fixture, &len);
		/* split like Swift does past 64 KiB, here at 100 bytes */
		size_t half = len > 100 ? 100 : len;
		cr_assert_eq(setxattr(path, "user.swift.metadata", buf, half,
				      0), 0, "xattrs: %s", strerror(errno));
		if (len > half)
			cr_assert_eq(setxattr(path, "user.swift.metadata1",
					      buf + half, len - half, 0), 0);
		if (!checksum_ok)
			cr_assert_eq(setxattr(path,
				"user.swift.metadata_checksum",
				"00000000000000000000000000000000", 32, 0), 0);
		free(buf);
	}
	return path;
}

static void rm_rf(char *dir)
{
	char *cmd;
	cr_assert(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
	cr_assert_eq(system(cmd), 0);
	free(cmd);
	free(dir);
}

Test(diskfile, current_data_and_meta)
{
	char *dir = make_dir();
	free(add_file(dir, "1600000000.00000.data", "old!!", "swift_py3.pickle",
		      true));
	char *data = add_file(dir, "1700000000.12345.data", "hello",
			      "swift_py3.pickle", true);
	free(add_file(dir, "1650000000.00000.ts", "", NULL, true));
	/* not Swift's names: ignored */
	free(add_file(dir, "zzzz.data", "", NULL, true));
	free(add_file(dir, ".data", "", NULL, true));
	free(add_file(dir, "1800000000.00000_0g.ts", "", NULL, true));
	char *meta = add_file(dir, "1700000001.00000+0.meta", "",
			      "post_meta.pickle", true);
	free(add_file(dir, "1700000000.99999-a.meta", "", "slo.pickle", true));
	swift_object obj;
	swift_error err = {0};
	cr_assert_eq(swift_object_open(dir, NULL, 1.7e9, &obj, &err), 0, "%s",
		     err.msg);
	cr_expect_str_eq(obj.data_path, data);
	cr_expect_str_eq(obj.meta_path, meta);
	cr_expect_str_eq(obj.etag, "5a105e8b9d40e1329780d62ea2265d8a");
	cr_expect_eq(obj.content_length, 5);
	cr_expect_str_eq(obj.content_type, "text/plain");
	cr_expect_str_eq(obj.name, "/AUTH_test/c/\xc3\xa9t\xc3\xa9");
	cr_expect_str_eq(obj.timestamp, "1700000001.00000");
	cr_expect_str_eq(get(&obj.meta, "X-Object-Meta-Color"), "red");
	cr_expect_null(get(&obj.meta, "X-Object-Meta-Empty"));
	cr_expect_eq(obj.flags, 0);
	/* The open fd is the object, even once the file is gone. */
	unlink(data);
	char bytes[16] = {0};
	cr_expect_eq(pread(obj.fd, bytes, sizeof bytes, 0), 5);
	cr_expect_str_eq(bytes, "hello");
	int kept = obj.fd;
	obj.fd = -1;
	swift_object_free(&obj);
	cr_expect_eq(close(kept), 0, "the caller owns a taken fd");
	free(data);
	free(meta);
	rm_rf(dir);
}

Test(diskfile, deleted_missing_and_flags)
{
	swift_object obj;
	swift_error err = {0};
	cr_expect_eq(swift_object_open("/nonexistent/hash", NULL, 0, &obj,
				       &err), -1);
	cr_expect_eq(err.code, ENOENT);

	char *dir = make_dir();
	free(add_file(dir, "1700000000.12345.data", "hello",
		      "swift_py3.pickle", true));
	free(add_file(dir, "1700000002.00000.ts", "", NULL, true));
	cr_expect_eq(swift_object_open(dir, NULL, 0, &obj, &err), -1);
	cr_expect_eq(err.code, ENOENT);
	cr_expect(strstr(err.msg, "deleted"), "%s", err.msg);
	rm_rf(dir);

	const char *fix[] = {"slo.pickle", "crypto.pickle", "swift_py3.pickle"};
	unsigned flags[] = {SWIFT_OBJ_SLO, SWIFT_OBJ_ENCRYPTED, SWIFT_OBJ_EC};
	swift_policy ec = {.index = 1, .type = SWIFT_POLICY_ERASURE_CODING};
	for (int i = 0; i < 3; i++) {
		dir = make_dir();
		free(add_file(dir, "1700000000.12345.data", "hello", fix[i],
			      true));
		cr_assert_eq(swift_object_open(dir, i == 2 ? &ec : NULL, 0,
					       &obj, &err), 0, "%s", err.msg);
		cr_expect_eq(obj.flags, flags[i], "%s", fix[i]);
		swift_object_free(&obj);
		rm_rf(dir);
	}
}

Test(diskfile, corrupt)
{
	swift_object obj;
	swift_error err = {0};
	char *dir = make_dir();
	free(add_file(dir, "1700000000.12345.data", "hello",
		      "swift_py3.pickle", false));
	cr_expect_eq(swift_object_open(dir, NULL, 0, &obj, &err), -1);
	cr_expect(strstr(err.msg, "checksum mismatch"), "%s", err.msg);
	rm_rf(dir);

	dir = make_dir();
	free(add_file(dir, "1700000000.12345.data", "hell", "swift_py3.pickle",
		      true));
	cr_expect_eq(swift_object_open(dir, NULL, 0, &obj, &err), -1);
	cr_expect(strstr(err.msg, "Content-Length"), "%s", err.msg);
	rm_rf(dir);

	dir = make_dir();
	free(add_file(dir, "1700000000.12345.data", "hello", NULL, true));
	cr_expect_eq(swift_object_open(dir, NULL, 0, &obj, &err), -1);
	cr_expect(strstr(err.msg, "no user.swift.metadata"), "%s", err.msg);
	rm_rf(dir);

	dir = make_dir();
	free(add_file(dir, "1700000000.12345.data", "hello",
		      "bad_global.pickle", true));
	cr_expect_eq(swift_object_open(dir, NULL, 0, &obj, &err), -1);
	cr_expect(strstr(err.msg, ".data: metadata pickle"), "%s", err.msg);
	rm_rf(dir);
}

/* Offsets order by value: "_a" (10) is older than "_10" (16) although it
 * sorts after it as text; .meta names write offsets without padding. */
Test(diskfile, timestamp_offsets)
{
	char *dir = make_dir();
	char *data = add_file(dir, "1700000000.12345_0000000000000010.data",
			      "hello", "swift_py3.pickle", true);
	free(add_file(dir, "1700000000.12345_a.meta", "", "post_meta.pickle",
		      true));
	free(add_file(dir, "1700000000.12345_f.ts", "", NULL, true));
	swift_object obj;
	swift_error err = {0};
	cr_assert_eq(swift_object_open(dir, NULL, 0, &obj, &err), 0, "%s",
		     err.msg);
	cr_expect_str_eq(obj.data_path, data);
	cr_expect_null(obj.meta_path);
	swift_object_free(&obj);
	free(add_file(dir, "1700000000.12345_11.ts", "", NULL, true));
	cr_expect_eq(swift_object_open(dir, NULL, 0, &obj, &err), -1);
	cr_expect_eq(err.code, ENOENT);
	free(data);
	rm_rf(dir);
}

Test(diskfile, object_dir)
{
	char *p = swift_object_dir("/srv/node", "d1", 0, 32,
				   "80128c44efdf63a00679cb16a71dea1d");
	cr_expect_str_eq(p, "/srv/node/d1/objects/32/a1d/"
			 "80128c44efdf63a00679cb16a71dea1d");
	free(p);
	p = swift_object_dir("/srv/node", "d1", 2, 7, "abc");
	cr_expect_str_eq(p, "/srv/node/d1/objects-2/7/abc/abc");
	free(p);
}
