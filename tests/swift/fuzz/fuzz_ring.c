/* libFuzzer target: the ring reader below the gzip layer. The input is the
 * decompressed ring; it is gzipped into a memfd so the fuzzer spends its
 * time on the format, not on CRCs. A loaded ring must answer lookups. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "swift.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int gzip_to_fd(const uint8_t *data, size_t size, int fd)
{
	static unsigned char out[1 << 20];
	z_stream zs = {0};
	if (size > (1 << 19) ||
	    deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	zs.next_in = (unsigned char *)data;
	zs.avail_in = (unsigned)size;
	zs.next_out = out;
	zs.avail_out = sizeof out;
	int rc = deflate(&zs, Z_FINISH);
	size_t len = sizeof out - zs.avail_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END || write(fd, out, len) != (ssize_t)len)
		return -1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("ring", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	swift_ring *ring;
	swift_error err;
	if (gzip_to_fd(data, size, fd) == 0 &&
	    swift_ring_load(path, &ring, &err) == 0) {
		const swift_dev *devs[SWIFT_MAX_REPLICAS + 8];
		uint32_t parts = swift_ring_partition_count(ring);
		for (uint32_t p = 0; p < parts && p < 256; p++) {
			swift_ring_primaries(ring, p, devs, SWIFT_MAX_REPLICAS);
			swift_ring_handoffs(ring, p, devs, 8);
		}
		swift_ring_free(ring);
	}
	close(fd);
	return 0;
}
