/* A mock object store for unit tests of the planner: a fixed table of
 * "account/container/object" names, listed in table order. */
#ifndef ZEROVM_TEST_MOCK_STORE_H
#define ZEROVM_TEST_MOCK_STORE_H

#include "proto.h"

struct mock_store {
	const char *const *names; /* "acct/cont/obj" or "acct/cont/" */
	size_t n;
	int calls;
};

int mock_list(void *ctx, const char *account, const char *container,
	      const char *prefix, struct proto_names *out,
	      struct proto_error *err);

#endif
