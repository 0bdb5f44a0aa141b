/*
 * memory.c — the "/dev/memory" etag (ZeroVM's `Memory = BYTES, 1`): an MD5
 * of the program's memory as it exits, so two runs can be compared by
 * their reports alone (README.md "The report").
 *
 * With spec->memory_etag the filter sends exit and exit_group to the
 * supervisor. The program has one thread and shares no memory, and it is
 * stopped in that call: nothing changes while we read. Digested: every
 * mapping that is readable, writable and private (data, bss, heap, stack,
 * anonymous mmaps; /proc/PID/maps order = address order), each as its
 * start and end addresses (8 bytes little-endian each) followed by its
 * bytes. Read-only and shared mappings are left out: the program cannot
 * have changed them (its text, read-only data, the vDSO; it has no shared
 * writable mapping). A page that cannot be read (a private file mapping
 * past the end of its file) counts as 4096 bytes of 0xff, so the digest
 * still says where it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#define CHUNK (64 * 1024) /* a static program has ~300 KiB to read */
#define PAGE 4096

/* /proc/PID/maps, whole (malloc'd, NUL-terminated), or NULL. */
static char *maps_read(pid_t pid)
{
	char path[64], *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	do {
		if (cap - len < PAGE + 1) {
			char *more = realloc(buf, cap = cap ? 2 * cap : 4 * PAGE);

			if (!more) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = more;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r > 0)
			len += (size_t)r;
	} while (r > 0 || (r < 0 && errno == EINTR));
	close(fd);
	if (r < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static void le64(unsigned char *out, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char)(v >> (8 * i));
}

/* Digest [start, end) of the program into md (buf: CHUNK bytes). */
static void range_digest(const struct sandbox *sb, EVP_MD_CTX *md,
			 uint64_t start, uint64_t end, unsigned char *buf)
{
	unsigned char addr[16];

	le64(addr, start);
	le64(addr + 8, end);
	EVP_DigestUpdate(md, addr, sizeof(addr));
	while (start < end) {
		size_t want = end - start < CHUNK ? end - start : CHUNK;
		ssize_t got = sb_mem_read(sb, buf, want, start);

		if (got > 0) {
			EVP_DigestUpdate(md, buf, (size_t)got);
			start += (uint64_t)got;
			continue;
		}
		memset(buf, 0xff, PAGE);
		EVP_DigestUpdate(md, buf, PAGE);
		start += PAGE;
	}
}

int sb_memory_digest(struct sandbox *sb)
{
	unsigned char d[EVP_MAX_MD_SIZE], *buf = malloc(CHUNK);
	char *maps = maps_read(sb->pid);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned len = 0;
	int rc = -ENOMEM;

	if (!buf || !maps || !md || !EVP_DigestInit_ex(md, EVP_md5(), NULL))
		goto out;
	for (char *line = maps; *line;) {
		char *next = strchr(line, '\n');
		unsigned long long start, end;
		char perms[5];

		if (next)
			*next++ = '\0';
		if (sscanf(line, "%llx-%llx %4s", &start, &end, perms) == 3 &&
		    perms[0] == 'r' && perms[1] == 'w' && perms[3] == 'p')
			range_digest(sb, md, start, end, buf);
		line = next ? next : line + strlen(line);
	}
	if (!EVP_DigestFinal_ex(md, d, &len))
		goto out;
	for (unsigned k = 0; k < len && k < 16; k++)
		snprintf(sb->mem_etag + 2 * k, 3, "%02x", d[k]);
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	free(maps);
	free(buf);
	return rc;
}
