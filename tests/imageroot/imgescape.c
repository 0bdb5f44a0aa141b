/*
 * imgescape — a program in an image root that tries to get out of it.
 *
 *   imgescape CANARY SELF TOKEN ATTACK [ARG]
 *
 * run by run_image.py from the image it builds (see there: /data, the
 * symlinks, the device nodes, the setuid copy). Each ATTACK is one kind
 * of escape; conventions of ../hostile/hostile.h ("RESULT: contained",
 * exit 0; "RESULT: ESCAPED", exit 99).
 */
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>

#include "hostile.h"

/* Reading the canary's secret by any name is the escape. */
static void must_not_read(const char *path)
{
	char buf[256];
	long fd = syscall(SYS_open, path, O_RDONLY);

	if (fd < 0) {
		say("contained: open %s -> %s\n", path, errname(errno));
		return;
	}
	long n = read((int)fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	if (strstr(buf, "canary secret"))
		escaped("open %s read the canary secret", path);
	else
		say("contained: open %s is the image's own file\n", path);
	close((int)fd);
}

static void sanity_data(void)
{
	char buf[64] = {0};
	int fd = open("/data", O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0 ||
	    strcmp(buf, "image data\n") != 0)
		escaped("cannot set up: /data of the image is not readable (%s)",
			errname(errno));
	if (fd >= 0)
		close(fd);
}

static void attack_dotdot(const char *arg)
{
	(void)arg;
	char path[PATH_MAX * 2];
	struct stat root, up;
	char cwd[PATH_MAX];

	snprintf(path, sizeof(path), "/../../../../..%s", hostile_secret);
	must_not_read(path);
	for (int i = 0; i < 32; i++)
		if (chdir("..") < 0)
			escaped("chdir .. failed: %s", errname(errno));
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, "/") != 0)
		escaped("after 32 x chdir .. the cwd is %s", cwd);
	snprintf(path, sizeof(path), "../../../../..%s", hostile_secret);
	must_not_read(path);
	must_not_read(hostile_secret);
	if (stat("/", &root) < 0 || stat("/..", &up) < 0 ||
	    root.st_ino != up.st_ino || root.st_dev != up.st_dev)
		escaped("/.. is not / (%s)", errname(errno));
	struct open_how how = {.flags = O_RDONLY};
	MUST_FAIL_FD(syscall(SYS_openat2, AT_FDCWD, "/../etc/passwd", &how,
			     sizeof(how)));
	/* "/.." lists the image: none of the host's top directories. */
	static const char *const host_only[] = {"etc", "home", "root", "boot",
		"var", "work", "sys", "usr", "srv", "opt", "sbin", NULL};
	DIR *d = opendir("/..");
	struct dirent *e;
	if (!d)
		escaped("open /.. failed: %s", errname(errno));
	while (d && (e = readdir(d))) {
		say("  /.. entry: %s\n", e->d_name);
		for (int i = 0; host_only[i]; i++)
			if (strcmp(e->d_name, host_only[i]) == 0)
				escaped("/.. lists the host's %s", e->d_name);
	}
	must_not_read("/dotdot_link/dotdot_link/etc/passwd");
	sanity_data();
}

static void attack_symlink(const char *arg)
{
	(void)arg;
	char target[PATH_MAX + 16];
	long n;

	must_not_read("/abs_link");
	must_not_read("/rel_link");
	snprintf(target, sizeof(target), "/root_link%s", hostile_secret);
	must_not_read(target);
	n = readlink("/abs_link", target, sizeof(target) - 1);
	say("readlink /abs_link -> %ld (%s): the text only\n", n, errname(errno));
	/* Links the program makes itself resolve in its root too. */
	unlink("/tmp/l");
	if (symlink(hostile_secret, "/tmp/l") < 0)
		escaped("cannot set up: symlink in /tmp: %s", errname(errno));
	must_not_read("/tmp/l");
	if (symlink("../../../../../../../../etc/passwd", "/tmp/p") < 0)
		escaped("cannot set up: symlink in /tmp: %s", errname(errno));
	MUST_FAIL_FD(syscall(SYS_open, "/tmp/p", O_RDONLY));
	sanity_data();
}

static void attack_proc(const char *arg)
{
	(void)arg;
	static const char *const paths[] = {
		"/proc/self/maps", "/proc/1/root/etc/passwd", "/proc/self/fd/0",
		"/proc/self/exe", "/dev/fd/0", "/sys/kernel/osrelease",
		"/dev/shm", "/dev/pts/0", "/dev/tty", "/dev/mem", NULL,
	};

	for (int i = 0; paths[i]; i++)
		MUST_FAIL_FD(syscall(SYS_open, paths[i], O_RDONLY));
	int dfd = open("/proc", O_RDONLY | O_DIRECTORY);
	if (dfd >= 0 && list_for_host("/proc", dfd) > 2)
		escaped("/proc is not empty");
	MUST_FAIL(mount("proc", "/proc", "proc", 0, NULL));
	MUST_FAIL(mount("none", "/tmp", "tmpfs", 0, NULL));
	MUST_FAIL(umount2("/tmp", MNT_DETACH));
	MUST_FAIL(umount2("/dev", MNT_DETACH));
	MUST_FAIL(umount2("/", MNT_DETACH));
	MUST_FAIL(unshare(CLONE_NEWNS));
}

static void attack_write(const char *arg)
{
	(void)arg;
	struct timespec ts[2] = {{0, 0}, {0, 0}};
	int fd;

	MUST_FAIL_FD(syscall(SYS_open, "/data", O_WRONLY));
	MUST_FAIL_FD(syscall(SYS_open, "/data", O_RDWR));
	MUST_FAIL_FD(syscall(SYS_open, "/data", O_RDONLY | O_TRUNC));
	MUST_FAIL_FD(syscall(SYS_creat, "/newfile", 0644));
	MUST_FAIL_FD(syscall(SYS_open, "/prog/new", O_WRONLY | O_CREAT, 0644));
	MUST_FAIL_FD(syscall(SYS_open, "/dev/newfile", O_WRONLY | O_CREAT, 0644));
	MUST_FAIL_FD(syscall(SYS_open, "/", O_TMPFILE | O_RDWR, 0600));
	MUST_FAIL(mkdir("/newdir", 0755));
	MUST_FAIL(unlink("/data"));
	MUST_FAIL(rename("/data", "/data2"));
	MUST_FAIL(rename("/data", "/tmp/data"));
	MUST_FAIL(chmod("/data", 0777));
	MUST_FAIL(chmod("/dev/null", 0600));
	MUST_FAIL(truncate("/data", 0));
	MUST_FAIL(utimensat(AT_FDCWD, "/data", ts, 0));
	MUST_FAIL(symlink("x", "/newlink"));
	MUST_FAIL(link("/data", "/data-hl"));
	MUST_FAIL(rmdir("/proc"));
	MUST_FAIL(mknod("/tmp/node", S_IFCHR | 0666, makedev(1, 1)));
	fd = open("/data", O_RDONLY);
	if (fd < 0) {
		escaped("cannot set up: open /data: %s", errname(errno));
		return;
	}
	MUST_FAIL(ftruncate(fd, 0));
	MUST_FAIL(fchmod(fd, 0777));
	MUST_FAIL(fallocate(fd, 0, 0, 4096));
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED)
		escaped("mmap of /data MAP_SHARED writable succeeded");
	else
		say("contained: shared writable mmap of /data -> %s\n",
		    errname(errno));
	close(fd);
	/* /tmp is the program's: writing there is allowed. */
	fd = open("/tmp/mine", O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || write(fd, "x", 1) != 1)
		escaped("cannot set up: /tmp is not writable: %s", errname(errno));
	sanity_data();
}

static void attack_setuid(const char *arg)
{
	(void)arg;
	uid_t r, e, s;
	gid_t gr, ge, gs;

	if (getresuid(&r, &e, &s) < 0 || getresgid(&gr, &ge, &gs) < 0)
		escaped("getresuid: %s", errname(errno));
	say("uids %d %d %d gids %d %d %d\n", r, e, s, gr, ge, gs);
	if (r != 65534 || e != 65534 || s != 65534 || gr != 65534 ||
	    ge != 65534 || gs != 65534)
		escaped("runs with an identity other than 65534");
	MUST_FAIL(setuid(0));
	MUST_FAIL(setresuid(0, 0, 0));
	char *argv[] = {"suid", (char *)hostile_canary, "x", "x", "pwned", NULL};
	MUST_FAIL(execve("/prog/suid", argv, NULL));
}

static void attack_devnode(const char *arg)
{
	(void)arg;
	static const char *const nodes[] = {
		"/evil/mem", "/evil/null", "/evil/kmsg", "/evil/disk", NULL,
	};

	for (int i = 0; nodes[i]; i++) {
		MUST_FAIL_FD(syscall(SYS_open, nodes[i], O_RDONLY));
		MUST_FAIL_FD(syscall(SYS_open, nodes[i], O_WRONLY));
	}
	/* The image's own /dev is hidden by the sandbox's. */
	struct stat st;
	MUST_FAIL(stat("/dev/mem", &st));
	int dfd = open("/dev", O_RDONLY | O_DIRECTORY);
	char buf[4096];
	long n;
	while (dfd >= 0 && (n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			const char *name = d->d_name;

			say("  /dev entry: %s\n", name);
			if (strcmp(name, ".") && strcmp(name, "..") &&
			    strcmp(name, "null") && strcmp(name, "zero") &&
			    strcmp(name, "full") && strcmp(name, "random") &&
			    strcmp(name, "urandom"))
				escaped("/dev has %s", name);
			off += d->d_reclen;
		}
	/* The sandbox's own devices do work. */
	int z = open("/dev/zero", O_RDONLY);
	if (z < 0 || read(z, buf, 16) != 16 || buf[0] != 0)
		escaped("cannot set up: /dev/zero: %s", errname(errno));
}

static void attack_hardlink(const char *arg)
{
	(void)arg;
	MUST_FAIL(link("/data", "/tmp/hl"));
	MUST_FAIL(linkat(AT_FDCWD, "/prog/imgescape", AT_FDCWD, "/tmp/hl2",
			 AT_SYMLINK_FOLLOW));
	MUST_FAIL(linkat(1, "", AT_FDCWD, "/tmp/out-hl", AT_EMPTY_PATH));
	/* The channel is the caller's file: not even its times change. */
	MUST_FAIL(syscall(SYS_utimensat, 1, NULL, NULL, 0));
	MUST_FAIL(utimensat(1, "", NULL, AT_EMPTY_PATH));
	int fd = open("/data", O_RDONLY);
	MUST_FAIL(linkat(fd, "", AT_FDCWD, "/tmp/data-hl", AT_EMPTY_PATH));
	int t = open("/tmp/a", O_WRONLY | O_CREAT, 0600);
	if (t < 0)
		escaped("cannot set up: /tmp/a: %s", errname(errno));
	MUST_FAIL(link("/tmp/a", "/a"));
	MUST_FAIL(rename("/tmp/a", "/a"));
	char handle[128] = {0};
	int mount_id;
	MUST_FAIL(syscall(SYS_name_to_handle_at, AT_FDCWD, "/data", handle,
			  &mount_id, 0));
}

/* Fill /tmp: the write that does not fit fails with ENOSPC, and no more
 * than `size` bytes (and a bounded number of files) ever fit. */
static void attack_tmpfill(const char *arg)
{
	static char chunk[64 * 1024];
	long long size = arg ? atoll(arg) : 0, total = 0;
	int fd, files = 0;
	DIR *d = opendir("/tmp");
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			escaped("/tmp is not fresh: it holds %s", e->d_name);
	fd = open("/tmp/fill", O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		escaped("cannot set up: /tmp/fill: %s", errname(errno));
	memset(chunk, 'z', sizeof(chunk));
	for (;;) {
		long w = write(fd, chunk, sizeof(chunk));

		if (w <= 0)
			break;
		total += w;
		if (total > size + (long long)sizeof(chunk))
			break;
	}
	say("wrote %lld bytes to /tmp, then %s\n", total, errname(errno));
	if (total > size)
		escaped("wrote %lld bytes into a %lld-byte /tmp", total, size);
	else if (errno != ENOSPC)
		escaped("the write past the end failed with %s, not ENOSPC",
			errname(errno));
	close(fd);
	unlink("/tmp/fill");
	for (files = 0; files < 1000000; files++) {
		char name[64];

		snprintf(name, sizeof(name), "/tmp/f%d", files);
		fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0)
			break;
		close(fd);
	}
	say("created %d empty files, then %s\n", files, errname(errno));
	if (files > size / 1024 + 64)
		escaped("created %d files in a %lld-byte /tmp", files, size);
}

/* Nothing but the program itself is ever executed. */
static void attack_exec(const char *arg)
{
	(void)arg;
	char *argv[] = {"imgescape", (char *)hostile_canary, "x", "x", "pwned",
			NULL};
	char *envp[] = {NULL};
	int fd, pfd;

	MUST_FAIL(execve("/prog/imgescape", argv, envp));
	MUST_FAIL(execve("/lib64/ld-linux-x86-64.so.2", argv, envp));
	MUST_FAIL(syscall(SYS_execveat, AT_FDCWD, "/prog/imgescape", argv, envp, 0));
	fd = open("/prog/imgescape", O_RDONLY);
	pfd = open("/prog/imgescape", O_PATH);
	if (fd < 0 || pfd < 0)
		escaped("cannot set up: open /prog/imgescape: %s", errname(errno));
	MUST_FAIL(syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH));
	MUST_FAIL(syscall(SYS_execveat, pfd, "", argv, envp, AT_EMPTY_PATH));
	for (int n = 0; n < 4096; n++)
		if (syscall(SYS_execveat, n, "", argv, envp, AT_EMPTY_PATH) == 0)
			escaped("execveat(%d) ran", n);
	/* A copy in /tmp: noexec, and exec is refused anyway. */
	int t = open("/tmp/copy", O_WRONLY | O_CREAT, 0755);
	char buf[65536];
	long n;
	while (t >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		if (write(t, buf, n) != n)
			break;
	if (t >= 0)
		close(t);
	MUST_FAIL(execve("/tmp/copy", argv, envp));
}

static const struct {
	const char *name;
	void (*run)(const char *arg);
} attacks[] = {
	{"dotdot", attack_dotdot},   {"symlink", attack_symlink},
	{"proc", attack_proc},       {"write", attack_write},
	{"setuid", attack_setuid},   {"devnode", attack_devnode},
	{"hardlink", attack_hardlink}, {"tmpfill", attack_tmpfill},
	{"exec", attack_exec},
};

int main(int argc, char **argv)
{
	const char *attack = argc > 4 ? argv[4] : "";
	size_t i;

	hostile_init(argc, argv);
	if (strcmp(attack, "pwned") == 0) {
		escaped("a second program was executed");
		return hostile_done();
	}
	for (i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++)
		if (strcmp(attack, attacks[i].name) == 0)
			break;
	if (i == sizeof(attacks) / sizeof(attacks[0]))
		escaped("cannot set up: unknown attack '%s'", attack);
	else
		attacks[i].run(argc > 5 ? argv[5] : NULL);
	return hostile_done();
}
