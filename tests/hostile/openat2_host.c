/* openat2(2) of host files, with each RESOLVE_ mode. */
#include <linux/openat2.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	static const unsigned long long resolve[] = {
		0, RESOLVE_IN_ROOT, RESOLVE_NO_XDEV, RESOLVE_BENEATH,
	};

	hostile_init(argc, argv);
	for (size_t i = 0; hostile_paths[i]; i++) {
		say("path %s\n", hostile_paths[i]);
		for (size_t r = 0; r < sizeof(resolve) / sizeof(resolve[0]); r++) {
			struct open_how how = { .flags = O_RDONLY,
						.resolve = resolve[r] };

			MUST_FAIL_FD(syscall(SYS_openat2, AT_FDCWD,
					     hostile_paths[i], &how,
					     sizeof(how)));
		}
	}
	struct open_how create = { .flags = O_WRONLY | O_CREAT | O_EXCL,
				   .mode = 0644 };
	MUST_FAIL_FD(syscall(SYS_openat2, AT_FDCWD, hostile_tmp_target,
			     &create, sizeof(create)));
	MUST_FAIL_FD(syscall(SYS_openat2, AT_FDCWD, hostile_canary_target,
			     &create, sizeof(create)));
	return hostile_done();
}
