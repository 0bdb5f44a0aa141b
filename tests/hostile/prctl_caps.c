/* Capabilities: the program must hold none, and can raise none (ambient
 * raise, capset, bounding-set reads are fine but show nothing). */
#include <linux/capability.h>
#include <sys/prctl.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	hostile_init(argc, argv);
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) == 0) {
		say("capget: effective %08x%08x permitted %08x%08x\n",
		    data[1].effective, data[0].effective, data[1].permitted,
		    data[0].permitted);
		if (data[0].effective | data[1].effective | data[0].permitted |
		    data[1].permitted)
			escaped("the program holds capabilities");
	} else {
		say("capget -> %s\n", errname(errno));
	}
	MUST_FAIL(syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
			  CAP_SYS_ADMIN, 0, 0));
	MUST_FAIL(syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
			  CAP_NET_ADMIN, 0, 0));
	memset(data, 0xff, sizeof(data));
	MUST_FAIL(syscall(SYS_capset, &hdr, data));
	MUST_FAIL(syscall(SYS_setuid, 0));
	return hostile_done();
}
