/*
 * libFuzzer target: manifest parse -> format -> parse must give the same
 * text again; the report parser gets the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct proto_manifest *m = NULL, *m2 = NULL;
	struct proto_report r;
	struct proto_error err = { 0 };
	char *text, *text2;

	if (proto_report_parse((const char *)data, size, &r, &err) == 0) {
		char *s = proto_report_format(&r);

		if (!s)
			abort();
		free(s);
		proto_report_clear(&r);
	}
	if (proto_manifest_parse((const char *)data, size, &m, &err) < 0) {
		if (m || !err.msg[0])
			abort();
		return 0;
	}
	text = proto_manifest_format(m);
	if (text) {
		if (proto_manifest_parse(text, strlen(text), &m2, &err) < 0)
			abort(); /* we wrote something we cannot read */
		text2 = proto_manifest_format(m2);
		if (!text2 || strcmp(text, text2) != 0)
			abort(); /* not a fixed point */
		free(text2);
		proto_manifest_free(m2);
		free(text);
	}
	proto_manifest_free(m);
	return 0;
}
