/* name_to_handle_at(2) / open_by_handle_at(2): the "shocker" escape.
 * A channel fd is a host file; with it as the mount fd, a forged handle
 * for inode 2 (the root of an ext4/xfs/btrfs file system) would open the
 * host file system's root directory. */
#include "hostile.h"

struct handle128 {
	unsigned int handle_bytes;
	int handle_type;
	unsigned char f_handle[128];
};

int main(int argc, char **argv)
{
	struct handle128 h;
	int mount_id;

	hostile_init(argc, argv);
	for (size_t i = 0; hostile_paths[i]; i++) {
		h.handle_bytes = sizeof(h.f_handle);
		say("path %s\n", hostile_paths[i]);
		MUST_FAIL(syscall(SYS_name_to_handle_at, AT_FDCWD,
				  hostile_paths[i], &h, &mount_id, 0));
	}
	/* The handle of a channel itself (reveals its host inode). */
	h.handle_bytes = sizeof(h.f_handle);
	MUST_FAIL(syscall(SYS_name_to_handle_at, 0, "", &h, &mount_id,
			  AT_EMPTY_PATH));
	/* Forged handles: FILEID_INO32_GEN (1) and ext4's (0x81), inode 2. */
	static const int types[] = { 1, 0x81, 0x4d };
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (int fd = 0; fd < 3; fd++) {
			memset(&h, 0, sizeof(h));
			h.handle_bytes = 8;
			h.handle_type = types[t];
			h.f_handle[0] = 2; /* inode 2, generation 0 */
			say("forged handle type %#x via fd %d\n", types[t], fd);
			long r = MUST_FAIL(syscall(SYS_open_by_handle_at, fd,
						   &h, O_RDONLY | O_DIRECTORY));
			if (r >= 0) {
				list_for_host("handle root", (int)r);
				close((int)r);
			}
		}
	}
	return hostile_done();
}
