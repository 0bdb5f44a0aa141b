/*
 * filter_posix.c — the wider system-call policy of programs that run
 * from an image (spec->root_dir): what an interpreter like python3 or a
 * busybox applet needs from a normal-looking Unix, and nothing that
 * reaches past its private root.
 *
 * It is safe to let path calls through because of where they resolve:
 * the program's root is the image, mounted read-only, nosuid, nodev in a
 * mount namespace of its own, with a /dev of harmless devices and a
 * private size-limited /tmp (image_root.c) — no /proc, no host path, no
 * device of the host, nothing writable but /tmp. Everything the core
 * policy refuses stays refused: new processes and threads, exec of
 * anything but the program, sockets, ptrace, mount and namespaces, and so
 * on (filter.c).
 *
 * What changes (README.md "Images" has the table):
 *   ALLOW   listing and walking directories, links, changing the file
 *           tree (only /tmp is writable: the mounts decide)
 *   NOTIFY  deterministic runs: getdents64 (sorted listings);
 *           file mappings and fd calls that would reach past the
 *           supervisor on a channel: it refuses them on channels and
 *           lets them run on the program's own files (notify.c)
 * The path calls the core policy already sends to the supervisor (open,
 * stat, access) keep going there: it answers the channel aliases under
 * /dev and lets the kernel resolve every other path in the root.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <sys/mman.h>

#include "internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const int posix_allow[] = {
	SCMP_SYS(chdir),
	SCMP_SYS(fchdir), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
	SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rmdir), SCMP_SYS(unlink),
	SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
	SCMP_SYS(renameat2), SCMP_SYS(symlink), SCMP_SYS(symlinkat),
	SCMP_SYS(link), SCMP_SYS(linkat), SCMP_SYS(chmod), SCMP_SYS(fchmodat),
	SCMP_SYS(truncate), SCMP_SYS(fadvise64),
};

/* Fine on the program's own files, not on a channel (the caller's file:
 * its size, mode and locks are not the program's to change). */
static const int posix_fd_checked[] = {
	SCMP_SYS(ftruncate), SCMP_SYS(fallocate), SCMP_SYS(fchmod),
	SCMP_SYS(flock),
};

int sb_filter_posix_rules(void *scmp_ctx, size_t nfds, bool det)
{
	scmp_filter_ctx ctx = scmp_ctx;
	int rc;

	/* Deterministic runs list directories sorted (the supervisor); the
	 * old getdents (glibc never uses it on x86-64) would bypass that. */
	rc = seccomp_rule_add(ctx, det ? SCMP_ACT_NOTIFY : SCMP_ACT_ALLOW,
			      SCMP_SYS(getdents64), 0);
	rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
					SCMP_SYS(getdents), 0);
	for (size_t i = 0; rc == 0 && i < N(posix_allow); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, posix_allow[i], 0);
	for (size_t i = 0; rc == 0 && i < N(posix_fd_checked); i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EBADF),
				      posix_fd_checked[i], 1,
				      SCMP_A0(SCMP_CMP_GE, nfds));
		rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_NOTIFY,
						posix_fd_checked[i], 1,
						SCMP_A0(SCMP_CMP_LT, nfds));
	}
	/* utimensat(fd, NULL, …) and AT_EMPTY_PATH act on the fd itself
	 * (a channel: the caller's file): only with a path. */
	rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(utimensat), 2,
					SCMP_A1(SCMP_CMP_NE, 0),
					SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0));
	/* File mappings: ld.so maps libraries PROT_EXEC, python its
	 * extension modules; a channel must not be mapped (reads and writes
	 * would bypass the supervisor). */
	rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(mmap), 1,
					SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, 0));
	return rc;
}
