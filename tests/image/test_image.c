/* sandbox_image_open: a good image unpacks once into the cache with its
 * modes cleaned; each hostile archive (made by make_tars.py) is refused
 * with a message naming the entry and leaves nothing behind, in the
 * cache or outside it. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"

static char base[64], cache[128], outside[160];

static int rm_one(const char *p, const struct stat *sb, int f, struct FTW *w)
{
	(void)sb;
	(void)f;
	(void)w;
	remove(p);
	return 0;
}

static void setup(void)
{
	char victim[200];
	FILE *f;

	snprintf(base, sizeof(base), "/tmp/zvm-image-test-XXXXXX");
	cr_assert_not_null(mkdtemp(base));
	snprintf(cache, sizeof(cache), "%s/cache", base);
	snprintf(outside, sizeof(outside), "%s/outside", cache);
	cr_assert_eq(mkdir(cache, 0755), 0);
	cr_assert_eq(mkdir(outside, 0755), 0);
	snprintf(victim, sizeof(victim), "%s/victim", outside);
	f = fopen(victim, "w");
	cr_assert_not_null(f);
	fputs("victim", f);
	fclose(f);
}

static void teardown(void)
{
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(image, .init = setup, .fini = teardown);

static int tar_fd(const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", getenv("TARS"), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	return fd;
}

static int image_open(const char *name, const struct sandbox_image_limits *l,
		      char **root, bool *extracted, struct sandbox_error *err)
{
	int fd = tar_fd(name);
	int rc = sandbox_image_open(cache, fd, name, l, root, extracted, err);

	close(fd);
	return rc;
}

/* Extracted trees and leftovers of extractions in the cache. */
static void cache_count(int *trees, int *tmps)
{
	DIR *d = opendir(cache);
	struct dirent *de;

	cr_assert_not_null(d);
	*trees = *tmps = 0;
	while ((de = readdir(d))) {
		if (strlen(de->d_name) == 64)
			(*trees)++;
		if (strncmp(de->d_name, ".tmp-", 5) == 0)
			(*tmps)++;
	}
	closedir(d);
}

static void at(char *buf, size_t size, const char *root, const char *rel)
{
	snprintf(buf, size, "%s/%s", root, rel);
}

Test(image, good_image_is_cleaned_and_kept)
{
	struct sandbox_error err = { { 0 } };
	char *root = NULL, p[512], q[512], link[64];
	bool extracted = false;
	struct stat sb, sb2;
	ssize_t n;

	cr_assert_eq(image_open("good.tar", NULL, &root, &extracted, &err), 0,
		     "%s", err.msg);
	cr_assert(extracted);
	cr_assert_eq(strncmp(root, cache, strlen(cache)), 0, "%s", root);

	at(p, sizeof(p), root, "bin/prog");
	cr_assert_eq(lstat(p, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0755, "setuid kept: %o", sb.st_mode);
	cr_assert_eq(sb.st_size, 7);
	cr_assert_eq(sb.st_mtime, 1400000000);
	at(p, sizeof(p), root, "etc/motd");
	cr_assert_eq(lstat(p, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0644, "setgid kept: %o", sb.st_mode);
	at(q, sizeof(q), root, "etc/motd.hard");
	cr_assert_eq(lstat(q, &sb2), 0);
	cr_assert_eq(sb.st_ino, sb2.st_ino, "hard link is not one inode");
	at(p, sizeof(p), root, "tmp");
	cr_assert_eq(lstat(p, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0755, "sticky kept: %o", sb.st_mode);
	at(p, sizeof(p), root, "bin");
	cr_assert_eq(lstat(p, &sb), 0);
	cr_assert_eq(sb.st_mtime, 1400000000, "directory mtime not restored");

	at(p, sizeof(p), root, "escape");
	n = readlink(p, link, sizeof(link) - 1);
	cr_assert_gt(n, 0);
	link[n] = '\0';
	cr_assert_str_eq(link, "../../../../etc", "symlinks stay as they are");
	at(p, sizeof(p), root, "abs");
	n = readlink(p, link, sizeof(link) - 1);
	cr_assert_gt(n, 0);
	link[n] = '\0';
	cr_assert_str_eq(link, "/etc/motd");

	at(p, sizeof(p), root, "dev");
	cr_assert_eq(lstat(p, &sb), 0, "no dev directory for the sandbox");
	cr_assert(S_ISDIR(sb.st_mode));
	at(p, sizeof(p), root, "dev/null");
	cr_assert_neq(lstat(p, &sb), 0, "a device node was made");
	at(p, sizeof(p), root, "fifo");
	cr_assert_neq(lstat(p, &sb), 0, "a FIFO was made");
	free(root);
}

Test(image, gzip_archive)
{
	struct sandbox_error err = { { 0 } };
	char *root = NULL, p[512];
	struct stat sb;

	cr_assert_eq(image_open("good.tar.gz", NULL, &root, NULL, &err), 0,
		     "%s", err.msg);
	at(p, sizeof(p), root, "etc/motd");
	cr_assert_eq(stat(p, &sb), 0);
	cr_assert_eq(sb.st_size, 12);
	free(root);
}

Test(image, second_open_reuses_the_tree)
{
	struct sandbox_error err = { { 0 } };
	char *r1 = NULL, *r2 = NULL, *r3 = NULL, path[512];
	bool ex = false;
	int trees, tmps;

	cr_assert_eq(image_open("good.tar", NULL, &r1, &ex, &err), 0, "%s",
		     err.msg);
	cr_assert(ex);
	cr_assert_eq(image_open("good.tar", NULL, &r2, &ex, &err), 0, "%s",
		     err.msg);
	cr_assert_not(ex, "extracted twice");
	cr_assert_str_eq(r1, r2);

	/* A copy (another inode, so no stat index entry): hashed again,
	 * same content, same tree. */
	snprintf(path, sizeof(path), "%s/copy.tar", base);
	{
		int in = tar_fd("good.tar");
		int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		char buf[4096];
		ssize_t n;

		cr_assert(out >= 0);
		while ((n = read(in, buf, sizeof(buf))) > 0)
			cr_assert_eq(write(out, buf, (size_t)n), n);
		close(in);
		lseek(out, 0, SEEK_SET);
		close(out);
	}
	{
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		cr_assert_eq(sandbox_image_open(cache, fd, "copy", NULL, &r3,
						&ex, &err), 0, "%s", err.msg);
		close(fd);
	}
	cr_assert_not(ex);
	cr_assert_str_eq(r1, r3);
	cache_count(&trees, &tmps);
	cr_assert_eq(trees, 1);
	cr_assert_eq(tmps, 0);
	free(r1);
	free(r2);
	free(r3);
}

/* Eviction: the tree leaves its place at once (renamed under the image's
 * lock), its trash is removed, and the next open extracts it again, the
 * same; an image whose extraction lock is held is left alone. */
Test(image, evict_then_reopen)
{
	struct sandbox_error err = { { 0 } };
	char *r1 = NULL, *r2 = NULL, *trash = NULL, p[512];
	uint64_t bytes = 0, again = 0;
	bool ex = false;
	struct stat sb;
	int trees, tmps, lock;

	cr_assert_eq(image_open("good.tar", NULL, &r1, &ex, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(sandbox_image_tree_bytes(r1, &bytes, &err), 0, "%s",
		     err.msg);
	/* bin/prog, etc/motd (+ a hard link: counted once), dirs */
	cr_assert(bytes >= 4096 && bytes < 256 * 1024, "%llu bytes",
		  (unsigned long long)bytes);

	/* Someone extracting it: left alone. */
	snprintf(p, sizeof(p), "%s/.locks/%s", cache, strrchr(r1, '/') + 1);
	lock = open(p, O_RDWR | O_CLOEXEC);
	cr_assert(lock >= 0, "%s: %s", p, strerror(errno));
	cr_assert_eq(flock(lock, LOCK_EX), 0);
	{
		pid_t pid = fork();
		int st;

		if (pid == 0) /* flock is per open file: ask from elsewhere */
			_exit(sandbox_image_evict(r1, &trash, &err) == 1 &&
			      !trash ? 0 : 1);
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "evicted under a held lock");
	}
	close(lock);
	cr_assert_eq(stat(r1, &sb), 0);

	cr_assert_eq(sandbox_image_evict(r1, &trash, &err), 0, "%s", err.msg);
	cr_assert_not_null(trash);
	cr_assert_neq(stat(r1, &sb), 0, "the tree is still in place");
	at(p, sizeof(p), trash, "bin/prog");
	cr_assert_eq(stat(p, &sb), 0, "the trash holds the tree");
	sandbox_image_trash_remove(trash);
	cache_count(&trees, &tmps);
	cr_assert_eq(trees, 0);
	cr_assert_eq(tmps, 0, "the trash was not removed");

	cr_assert_eq(image_open("good.tar", NULL, &r2, &ex, &err), 0, "%s",
		     err.msg);
	cr_assert(ex, "an evicted image was found without extraction");
	cr_assert_str_eq(r1, r2);
	at(p, sizeof(p), r2, "bin/prog");
	cr_assert_eq(stat(p, &sb), 0);
	cr_assert_eq(sb.st_size, 7);
	cr_assert_eq(sandbox_image_tree_bytes(r2, &again, &err), 0);
	cr_assert_eq(again, bytes);

	cr_assert_eq(sandbox_image_evict(base, &trash, &err), -1);
	cr_assert(strstr(err.msg, "is not a cache tree"), "%s", err.msg);
	free(r1);
	free(r2);
}

static void *open_thread(void *arg)
{
	struct sandbox_error err = { { 0 } };
	char *root = NULL;
	bool ex = false;
	int fd = tar_fd("good.tar.gz");

	(void)arg;
	if (sandbox_image_open(cache, fd, "race", NULL, &root, &ex, &err)) {
		close(fd);
		return (void *)(intptr_t)-1;
	}
	close(fd);
	free(root);
	return (void *)(intptr_t)ex;
}

/* 4 processes x 3 threads open the same new image at once: one extracts. */
Test(image, concurrent_opens_extract_once)
{
	pid_t pids[4];
	int total = 0, trees, tmps;

	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		cr_assert(pids[i] >= 0);
		if (pids[i] == 0) {
			pthread_t t[3];
			intptr_t n = 0;

			for (int k = 0; k < 3; k++)
				pthread_create(&t[k], NULL, open_thread, NULL);
			for (int k = 0; k < 3; k++) {
				void *r;

				pthread_join(t[k], &r);
				if ((intptr_t)r < 0)
					_exit(100);
				n += (intptr_t)r;
			}
			_exit((int)n);
		}
	}
	for (int i = 0; i < 4; i++) {
		int st;

		cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
		cr_assert(WIFEXITED(st));
		cr_assert_neq(WEXITSTATUS(st), 100, "an open failed");
		total += WEXITSTATUS(st);
	}
	cr_assert_eq(total, 1, "%d extractions", total);
	cache_count(&trees, &tmps);
	cr_assert_eq(trees, 1);
	cr_assert_eq(tmps, 0);
}

/* The archive is refused with `want` in the message; nothing is left in
 * the cache, nothing appeared outside the tree, the victim is intact. */
static void refused(const char *tar, const struct sandbox_image_limits *l,
		    const char *want)
{
	struct sandbox_error err = { { 0 } };
	char *root = (char *)"unset", p[512], buf[16] = { 0 };
	struct stat sb;
	int trees, tmps, fd;

	cr_assert_neq(image_open(tar, l, &root, NULL, &err), 0,
		      "%s was accepted", tar);
	cr_assert_null(root);
	cr_assert(strstr(err.msg, want), "%s: message \"%s\" lacks \"%s\"",
		  tar, err.msg, want);
	cr_assert(strstr(err.msg, tar), "message names no image: %s",
		  err.msg);
	cache_count(&trees, &tmps);
	cr_assert_eq(trees, 0, "%s left a tree", tar);
	cr_assert_eq(tmps, 0, "%s left a temporary tree", tar);
	snprintf(p, sizeof(p), "%s/evil", cache);
	cr_assert_neq(lstat(p, &sb), 0, "%s wrote %s", tar, p);
	snprintf(p, sizeof(p), "%s/evil", outside);
	cr_assert_neq(lstat(p, &sb), 0, "%s wrote %s", tar, p);
	snprintf(p, sizeof(p), "%s/evil", base);
	cr_assert_neq(lstat(p, &sb), 0, "%s wrote %s", tar, p);
	cr_assert_neq(lstat("/tmp/zerovm-image-evil", &sb), 0);
	snprintf(p, sizeof(p), "%s/victim", outside);
	fd = open(p, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(read(fd, buf, sizeof(buf) - 1), 6);
	close(fd);
	cr_assert_str_eq(buf, "victim");
}

Test(image, dotdot)
{
	refused("dotdot.tar", NULL, "entry '../evil': '..' in the name");
}

Test(image, dotdot_in_the_middle)
{
	refused("dotdot-mid.tar", NULL, "entry 'a/b/../../../evil': '..'");
}

Test(image, absolute_name)
{
	refused("absolute.tar", NULL, "entry '/tmp/zerovm-image-evil': "
		"absolute name");
}

Test(image, write_through_symlink)
{
	refused("through-symlink.tar", NULL, "entry 'link/evil': directory "
		"'link': is a symlink");
}

Test(image, replace_symlink)
{
	refused("replace-symlink.tar", NULL, "entry 'x': duplicate entry");
}

Test(image, hardlink_outside)
{
	refused("hardlink-out.tar", NULL, "entry 'h': hard link target: '..'");
}

Test(image, hardlink_absolute)
{
	refused("hardlink-abs.tar", NULL, "entry 'h': hard link target: "
		"absolute name");
}

Test(image, hardlink_to_nothing)
{
	refused("hardlink-missing.tar", NULL, "entry 'h': hard link to "
		"'nothing', which is not an earlier regular file");
}

Test(image, hardlink_to_symlink)
{
	refused("hardlink-symlink.tar", NULL, "entry 'h': hard link to 's'");
}

Test(image, newline_in_name)
{
	refused("newline.tar", NULL, "entry 'a\\x0ab': control character");
}

Test(image, duplicate_file)
{
	refused("duplicate.tar", NULL, "entry 'f': duplicate entry");
}

Test(image, file_then_directory)
{
	refused("file-then-dir.tar", NULL, "entry 'd/': duplicate entry");
}

Test(image, huge_entry)
{
	refused("huge.tar", NULL, "entry 'huge': 100000000000 bytes would "
		"pass the image's limit of 2147483648 bytes");
}

Test(image, sparse_huge)
{
	refused("sparse-huge.tar", NULL, "entry 'h': 3221225472 bytes would "
		"pass the image's limit of 2147483648 bytes");
}

/* A sparse entry unpacks to its full size with its data in place. */
Test(image, sparse)
{
	struct sandbox_error err = { { 0 } };
	char *root = NULL, p[512], c = 0;
	struct stat sb;
	int fd;

	cr_assert_eq(image_open("sparse.tar", NULL, &root, NULL, &err), 0, "%s",
		     err.msg);
	at(p, sizeof(p), root, "s");
	fd = open(p, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(fstat(fd, &sb), 0);
	cr_assert_eq(sb.st_size, (1 << 20) + 1);
	cr_assert_eq(pread(fd, &c, 1, 0), 1);
	cr_assert_eq(c, 'x');
	cr_assert_eq(pread(fd, &c, 1, 1000), 1);
	cr_assert_eq(c, 0);
	cr_assert_eq(pread(fd, &c, 1, 1 << 20), 1);
	cr_assert_eq(c, 'y');
	close(fd);
	free(root);
}

Test(image, size_limit)
{
	struct sandbox_image_limits l = { .max_bytes = 1 << 20 };

	refused("big.tar", &l, "entry 'big': 2097152 bytes would pass");
}

Test(image, entry_limit)
{
	struct sandbox_image_limits l = { .max_entries = 10 };

	refused("many.tar", &l, "more than 10 entries");
}

Test(image, tmp_not_a_directory)
{
	refused("tmp-symlink.tar", NULL, "entry 'tmp': must be a directory");
}

Test(image, not_an_archive)
{
	refused("garbage.tar", NULL, "not a tar archive");
}

/* A pax name with a NUL: C strings end at it, so the entry is "a"; the
 * text after the NUL (a `..` escape) never reaches the file system. */
Test(image, nul_in_name)
{
	struct sandbox_error err = { { 0 } };
	char *root = NULL, p[512];
	struct stat sb;
	DIR *d;
	struct dirent *de;
	int n = 0;

	cr_assert_eq(image_open("nul.tar", NULL, &root, NULL, &err), 0, "%s",
		     err.msg);
	d = opendir(root);
	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "dev") && strcmp(de->d_name, "tmp")) {
			n++;
			cr_assert_str_eq(de->d_name, "a");
		}
	closedir(d);
	cr_assert_eq(n, 1);
	snprintf(p, sizeof(p), "%s/evil", cache);
	cr_assert_neq(lstat(p, &sb), 0);
	free(root);
}

Test(image, pipe_is_refused)
{
	struct sandbox_error err = { { 0 } };
	char *root = NULL;
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_neq(sandbox_image_open(cache, p[0], "pipe", NULL, &root, NULL,
					 &err), 0);
	cr_assert(strstr(err.msg, "image pipe: the archive must be a regular "
			 "file"), "%s", err.msg);
	close(p[0]);
	close(p[1]);
}
