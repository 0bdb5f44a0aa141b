/* keyctl(2), add_key(2), request_key(2): kernel keyrings are not
 * namespaced and may hold the host's secrets. */
#include <linux/keyctl.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	char buf[256];

	hostile_init(argc, argv);
	MUST_FAIL(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID,
			  KEY_SPEC_SESSION_KEYRING, 0));
	MUST_FAIL(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID,
			  KEY_SPEC_USER_KEYRING, 0));
	MUST_FAIL(syscall(SYS_keyctl, KEYCTL_READ, KEY_SPEC_USER_KEYRING, buf,
			  sizeof(buf)));
	MUST_FAIL(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL));
	MUST_FAIL(syscall(SYS_add_key, "user", "zvm-hostile", "x", 1,
			  KEY_SPEC_USER_KEYRING));
	MUST_FAIL(syscall(SYS_request_key, "user", "zvm-hostile", NULL,
			  KEY_SPEC_USER_KEYRING));
	return hostile_done();
}
