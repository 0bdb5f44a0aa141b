/* error.c — errors as values: a kind that maps to an HTTP status, and a
 * message that names what is wrong. */
#include <stdarg.h>
#include <stdio.h>

#include "proto.h"

int proto_error_status(enum proto_error_kind kind)
{
	switch (kind) {
	case PROTO_OK: return 200;
	case PROTO_EBADJOB: return 400;
	case PROTO_EFORBIDDEN: return 403;
	case PROTO_ENOTFOUND: return 404;
	case PROTO_ETOOLARGE: return 413;
	case PROTO_EUNPARSABLE: return 422;
	case PROTO_EINTERNAL: return 500;
	}
	return 500;
}

int proto_error_set(struct proto_error *err, enum proto_error_kind kind,
		    const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->kind = kind;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}
