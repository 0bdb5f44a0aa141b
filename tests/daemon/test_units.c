/* Unit tests of zvmd's store and configuration (criterion). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static char root[64];
static struct zvmd_store *st;

static void put(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	cr_assert(f, "create %s", path);
	fputs(text, f);
	fclose(f);
}

static void mk(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	cr_assert(mkdir(path, 0755) == 0, "mkdir %s", path);
}

static void setup(void)
{
	struct proto_error err;

	snprintf(root, sizeof(root), "/tmp/zvmd-unit-XXXXXX");
	cr_assert(mkdtemp(root));
	mk("a");
	mk("a/c");
	mk("a/c/sub");
	mk("a/d");
	put("a/c/b.txt", "B");
	put("a/c/a.txt", "A");
	put("a/c/sub/z.txt", "Z");
	put("a/c/.hidden", "H");
	cr_assert(zvmd_store_local_open(root, &st, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
	char cmd[128];

	st->ops->free(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert(system(cmd) == 0);
}

TestSuite(store, .init = setup, .fini = teardown);

Test(store, list_is_sorted_recursive_and_hides_dot_names)
{
	struct proto_names nm = { 0 };
	struct proto_error err;

	cr_assert(st->ops->list(st, "a", "c", "", &nm, &err) == 0, "%s",
		  err.msg);
	cr_assert_eq(nm.n, 3);
	cr_assert_str_eq(nm.v[0], "a.txt");
	cr_assert_str_eq(nm.v[1], "b.txt");
	cr_assert_str_eq(nm.v[2], "sub/z.txt");
	proto_strv_free(nm.v, nm.n);
	cr_assert(st->ops->list(st, "a", "c", "b", &nm, &err) == 0);
	cr_assert_eq(nm.n, 1);
	proto_strv_free(nm.v, nm.n);
	cr_assert(st->ops->list(st, "a", NULL, "", &nm, &err) == 0);
	cr_assert_eq(nm.n, 2, "containers c and d");
	proto_strv_free(nm.v, nm.n);
}

Test(store, missing_container_is_404)
{
	struct proto_names nm = { 0 };
	struct proto_error err;

	cr_assert(st->ops->list(st, "a", "nope", "", &nm, &err) == -1);
	cr_assert_eq(err.kind, PROTO_ENOTFOUND);
	cr_assert(strstr(err.msg, "a/nope"), "%s", err.msg);
}

Test(store, refuses_traversal_and_bad_segments)
{
	static const char *bad[] = {
		"a/c/../c/a.txt", "a/../../etc/passwd", "a//c/a.txt",
		"a/c/.hidden", "a/c/", "/a/c/a.txt", "a/c",
	};
	struct proto_error err;
	int fd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert(st->ops->open_read(st, bad[i], &fd, &err) == -1,
			  "%s opened", bad[i]);
		cr_assert_eq(err.kind, PROTO_EBADJOB, "%s: %s", bad[i],
			     err.msg);
	}
}

Test(store, symlink_out_of_root_is_not_followed)
{
	char link[512];
	struct proto_error err;
	int fd;

	snprintf(link, sizeof(link), "%s/a/c/passwd", root);
	cr_assert(symlink("/etc/passwd", link) == 0);
	cr_assert(st->ops->open_read(st, "a/c/passwd", &fd, &err) == -1);
	cr_assert_eq(err.kind, PROTO_ENOTFOUND, "%s", err.msg);
}

Test(store, commit_is_atomic_with_metadata)
{
	struct proto_meta meta[] = { { "k", "v" } };
	struct zvmd_output *o;
	struct proto_error err;
	struct zvmd_stat sb;
	char path[512];

	cr_assert(st->ops->create(st, "a/d/x/y.txt", &o, &err) == 0, "%s",
		  err.msg);
	cr_assert(write(o->fd, "hello", 5) == 5);
	snprintf(path, sizeof(path), "%s/a/d/x/y.txt", root);
	cr_assert(access(path, F_OK) == -1, "visible before commit");
	close(o->fd);
	o->fd = -1;
	cr_assert(st->ops->commit(st, o, "text/x", meta, 1,
				  "5d41402abc4b2a76b9719d911017c592",
				  &err) == 0, "%s", err.msg);
	cr_assert(access(path, F_OK) == 0);
	cr_assert(st->ops->stat(st, "a/d/x/y.txt", &sb, &err) == 0);
	cr_assert_eq(sb.size, 5);
	cr_assert_str_eq(sb.content_type, "text/x");
	cr_assert_str_eq(sb.etag, "5d41402abc4b2a76b9719d911017c592");
}

Test(store, abort_leaves_nothing)
{
	struct zvmd_output *o;
	struct proto_names nm = { 0 };
	struct proto_error err;
	char cmd[256];

	cr_assert(st->ops->create(st, "a/d/gone.txt", &o, &err) == 0);
	st->ops->abort(st, o);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s/a/d)\"", root);
	cr_assert(system(cmd) == 0, "a/d is not empty");
	cr_assert(st->ops->list(st, "a", "d", "", &nm, &err) == 0);
	cr_assert_eq(nm.n, 0);
	free(nm.v);
}

Test(store, output_into_missing_container_is_404)
{
	struct zvmd_output *o;
	struct proto_error err;

	cr_assert(st->ops->create(st, "a/none/x", &o, &err) == -1);
	cr_assert_eq(err.kind, PROTO_ENOTFOUND);
}

Test(config, sizes_and_errors)
{
	struct zvmd_config cfg;
	struct zvmd_error err;

	zvmd_config_default(&cfg);
	cr_assert(zvmd_config_set(&cfg, "max_output", "2G", &err) == 0);
	cr_assert_eq(cfg.max_output, 2ULL << 30);
	cr_assert(zvmd_config_set(&cfg, "max_job_size", "64K", &err) == 0);
	cr_assert_eq(cfg.max_job_size, 65536);
	cr_assert(zvmd_config_set(&cfg, "pool_size", "12", &err) == 0);
	cr_assert_eq(cfg.pool_size, 12);
	cr_assert(zvmd_config_set(&cfg, "pool_size", "3K", &err) == -1);
	cr_assert(zvmd_config_set(&cfg, "pool_size", "-1", &err) == -1);
	cr_assert(zvmd_config_set(&cfg, "max_output", "1T", &err) == -1);
	cr_assert(zvmd_config_set(&cfg, "nope", "1", &err) == -1);
	cr_assert(strstr(err.msg, "nope"), "%s", err.msg);
}

Test(config, prewarm_is_yes_or_no)
{
	struct zvmd_config cfg;
	struct zvmd_error err;

	zvmd_config_default(&cfg);
	cr_assert(cfg.prewarm, "prewarm is on by default");
	cr_assert(zvmd_config_set(&cfg, "prewarm", "no", &err) == 0);
	cr_assert(!cfg.prewarm);
	cr_assert(zvmd_config_set(&cfg, "prewarm", "Yes", &err) == 0);
	cr_assert(cfg.prewarm);
	cr_assert(zvmd_config_set(&cfg, "prewarm", "off", &err) == 0);
	cr_assert(!cfg.prewarm);
	cr_assert(zvmd_config_set(&cfg, "prewarm", "1", &err) == 0);
	cr_assert(cfg.prewarm);
	cr_assert(zvmd_config_set(&cfg, "prewarm", "", &err) == -1);
	cr_assert(zvmd_config_set(&cfg, "prewarm", "maybe", &err) == -1);
	cr_assert_str_eq(err.msg, "prewarm: 'maybe' is not yes or no");
	cr_assert(cfg.prewarm, "a bad value changes nothing");
}

Test(config, client_timeout_is_positive)
{
	struct zvmd_config cfg;
	struct zvmd_error err;

	zvmd_config_default(&cfg);
	cr_assert_eq(cfg.client_timeout, 60);
	cr_assert(zvmd_config_set(&cfg, "root", "/tmp", &err) == 0);
	cr_assert(zvmd_config_set(&cfg, "spool", "/tmp", &err) == 0);
	cr_assert(zvmd_config_set(&cfg, "client_timeout", "5", &err) == 0);
	cr_assert(zvmd_config_check(&cfg, &err) == 0, "%s", err.msg);
	cr_assert(zvmd_config_set(&cfg, "client_timeout", "0", &err) == 0);
	cr_assert(zvmd_config_check(&cfg, &err) == -1);
	cr_assert(strstr(err.msg, "client_timeout"), "%s", err.msg);
}

Test(config, file_errors_name_the_line)
{
	char path[] = "/tmp/zvmd-conf-XXXXXX";
	int fd = mkstemp(path);
	struct zvmd_config cfg;
	struct zvmd_error err;

	cr_assert(fd >= 0);
	cr_assert(write(fd, "[zvmd]\npool_size = 4\nqueue = 3\n", 31) == 31);
	close(fd);
	zvmd_config_default(&cfg);
	cr_assert(zvmd_config_load(&cfg, path, &err) == -1);
	cr_assert(strstr(err.msg, ":3: unknown option 'queue'"), "%s", err.msg);
	cr_assert_eq(cfg.pool_size, 4);
	unlink(path);
}

Test(config, listen_addresses)
{
	struct sockaddr_in sa;
	char msg[128];

	cr_assert(zvmd_listen_parse("127.0.0.1:0", &sa, msg, sizeof(msg)) == 0);
	cr_assert(zvmd_listen_parse(":8080", &sa, msg, sizeof(msg)) == 0);
	cr_assert_eq(ntohs(sa.sin_port), 8080);
	cr_assert(zvmd_listen_parse("localhost:1", &sa, msg, sizeof(msg)) == -1);
	cr_assert(zvmd_listen_parse("1.2.3.4:70000", &sa, msg, sizeof(msg)) ==
		  -1);
}

/* ------------------------------------------------------- image cache */

static char icache[64];

static void icache_setup(void)
{
	snprintf(icache, sizeof(icache), "/tmp/zvmd-icache-XXXXXX");
	cr_assert(mkdtemp(icache));
}

static void icache_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", icache);
	cr_assert(system(cmd) == 0);
}

TestSuite(image_cache, .init = icache_setup, .fini = icache_teardown);

/* A tree named by a fake digest of 64 times `c`, holding 64 KiB. */
static void tree_make(char c, char *out, size_t size)
{
	static char data[65536];
	char path[512], name[65] = { 0 };
	FILE *f;

	memset(name, c, 64);
	cr_assert((size_t)snprintf(out, size, "%s/%s", icache, name) < size);
	cr_assert(mkdir(out, 0755) == 0, "mkdir %s", out);
	snprintf(path, sizeof(path), "%s/data", out);
	f = fopen(path, "w");
	cr_assert(f);
	memset(data, c, sizeof(data));
	cr_assert(fwrite(data, 1, sizeof(data), f) == sizeof(data));
	fclose(f);
}

static bool exists(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0;
}

/* Least recently used first, held trees never; a tree evicted after its
 * open is reported vanished to the hold; trees already in the cache are
 * counted at the first hold and go first. */
Test(image_cache, lru_eviction_spares_held_trees)
{
	struct zvmd_image_cache c;
	struct proto_error err = { 0 };
	char a[128], b[128], d[128], old[128];
	uint64_t bytes, one, evictions;

	tree_make('a', a, sizeof(a));
	tree_make('b', b, sizeof(b));
	tree_make('d', d, sizeof(d));
	tree_make('e', old, sizeof(old));
	cr_assert(zvmd_image_cache_init(&c) == 0);
	cr_assert(zvmd_image_cache_hold(&c, a, &err) == 0, "%s", err.msg);
	zvmd_image_cache_stats(&c, &bytes, &evictions);
	one = bytes / 4;
	cr_assert(one >= 65536 && bytes == 4 * one, "%llu bytes in 4 trees",
		  (unsigned long long)bytes);
	cr_assert(zvmd_image_cache_hold(&c, b, &err) == 0);
	cr_assert(zvmd_image_cache_hold(&c, d, &err) == 0);
	zvmd_image_cache_release(&c, b);
	zvmd_image_cache_release(&c, d);

	/* Over 2 trees: 'e' (never used) goes, then 'b'; 'a' (the oldest
	 * use) is held. */
	cr_assert_eq(zvmd_image_cache_trim(&c, 2 * one), 2);
	cr_assert(!exists(old) && !exists(b) && exists(a) && exists(d));
	zvmd_image_cache_stats(&c, &bytes, &evictions);
	cr_assert_eq(bytes, 2 * one);
	cr_assert_eq(evictions, 2);
	cr_assert_eq(zvmd_image_cache_hold(&c, b, &err), 1,
		     "an evicted tree was held");
	cr_assert_eq(zvmd_image_cache_trim(&c, 0), 0, "0 is no bound");

	/* Nothing fits: everything not held goes; released, 'a' goes too. */
	cr_assert_eq(zvmd_image_cache_trim(&c, 1), 1);
	cr_assert(exists(a) && !exists(d));
	zvmd_image_cache_release(&c, a);
	cr_assert_eq(zvmd_image_cache_trim(&c, 1), 1);
	cr_assert(!exists(a));
	zvmd_image_cache_stats(&c, &bytes, &evictions);
	cr_assert_eq(bytes, 0);
	cr_assert_eq(evictions, 4);
	zvmd_image_cache_close(&c);
}
