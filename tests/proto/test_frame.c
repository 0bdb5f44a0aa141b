/* Unit tests of response frames and signatures. */
#include <criterion/criterion.h>

#include "proto.h"

Test(frame, placeholder_format)
{
	struct proto_frame f = { .type = PROTO_FRAME_DONE };
	char *s = proto_frame_format(&f);

	cr_expect_str_eq(s, "{\"type\":\"done\"}\n");
	free(s);
}
