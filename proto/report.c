/*
 * report.c — the report ZeroVM prints when a session ends, six lines:
 *
 *   validation state      0 ok, 1 failed, 2 not validated; then, after a
 *                         space, an optional note ("nondeterministic:
 *                         tsc rdrand": what a deterministic run could
 *                         not make so)
 *   daemon flag           0
 *   user return code      the program's exit code
 *   etags                 "disabled", or "<alias> <md5> ..." per channel
 *   accounting            "sys user reads rbytes writes wbytes
 *                          nreads nrbytes nwrites nwbytes"
 *   exit state            "ok", "session timeout", "Signal 9 ..."
 *
 * ZeroCloud turns these into X-Nexe-Validation, X-Nexe-Retcode,
 * X-Nexe-Etag, X-Nexe-Cdr-Line and X-Nexe-Status.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define REPORT_ETAG_DISABLED "disabled"

/* Append `s` with line breaks turned into spaces, so one field stays on
 * its line whatever the program or the sandbox put in it. */
static void add_one_line(struct pbuf *b, const char *s)
{
	for (; *s; s++)
		pbuf_add(b, (*s == '\n' || *s == '\r') ? " " : s, 1);
	pbuf_add(b, "\n", 1);
}

static void accounting_add(struct pbuf *b, const struct proto_accounting *a)
{
	pbuf_printf(b, "%.2f %.2f %llu %llu %llu %llu %llu %llu %llu %llu",
		    a->sys, a->user, (unsigned long long)a->reads,
		    (unsigned long long)a->rbytes,
		    (unsigned long long)a->writes,
		    (unsigned long long)a->wbytes,
		    (unsigned long long)a->nreads,
		    (unsigned long long)a->nrbytes,
		    (unsigned long long)a->nwrites,
		    (unsigned long long)a->nwbytes);
}

char *proto_accounting_format(const struct proto_accounting *a)
{
	struct pbuf b;

	pbuf_init(&b);
	accounting_add(&b, a);
	return pbuf_take(&b);
}

char *proto_report_format(const struct proto_report *r)
{
	struct pbuf b;

	pbuf_init(&b);
	pbuf_printf(&b, "%d", r->validation);
	if (r->validation_note && *r->validation_note) {
		pbuf_add(&b, " ", 1);
		add_one_line(&b, r->validation_note);
	} else {
		pbuf_add(&b, "\n", 1);
	}
	pbuf_printf(&b, "%d\n%d\n", r->daemon, r->retcode);
	add_one_line(&b, r->etag && *r->etag ? r->etag : REPORT_ETAG_DISABLED);
	accounting_add(&b, &r->acct);
	pbuf_add(&b, "\n", 1);
	add_one_line(&b, r->status ? r->status : "unknown");
	return pbuf_take(&b);
}

void proto_report_clear(struct proto_report *r)
{
	if (!r)
		return;
	free(r->etag);
	free(r->status);
	free(r->validation_note);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------- parse */

static int bad(struct proto_error *err, int line, const char *what,
	       const char *s, size_t n)
{
	return proto_error_set(err, PROTO_EUNPARSABLE,
			       "report line %d: %s, got \"%.*s\"", line, what,
			       (int)(n > 64 ? 64 : n), s);
}

static bool parse_int(const char *s, size_t n, int *out)
{
	bool neg = n > 0 && s[0] == '-';
	int64_t v;

	if (!parse_nonneg(s + neg, n - neg, &v) || v > 2147483648LL ||
	    (!neg && v > 2147483647LL))
		return false;
	*out = (int)(neg ? -v : v);
	return true;
}

static bool parse_seconds(const char *s, size_t n, double *out)
{
	char buf[64], *end;
	size_t i;

	if (n == 0 || n >= sizeof(buf))
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
			return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	*out = strtod(buf, &end);
	return *end == '\0' && errno == 0 && isfinite(*out);
}

/*
 * Ten fields as documented by ZeroCloud; ZeroVM itself also printed a
 * twelve-field form "sys user memory 0 reads ..." — accepted, the
 * memory fields are dropped.
 */
static int parse_accounting(const char *s, size_t n, int line,
			    struct proto_accounting *a,
			    struct proto_error *err)
{
	const char *f[12];
	size_t fl[12], nf = 0, i, skip;
	const char *p = s, *end = s + n;
	uint64_t *u[8] = { &a->reads, &a->rbytes, &a->writes, &a->wbytes,
			   &a->nreads, &a->nrbytes, &a->nwrites, &a->nwbytes };

	while (p < end) {
		const char *e;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		for (e = p; e < end && *e != ' ' && *e != '\t'; e++)
			;
		if (nf == 12)
			return bad(err, line, "accounting has more than 12 "
				   "fields", s, n);
		f[nf] = p;
		fl[nf++] = (size_t)(e - p);
		p = e;
	}
	if (nf != 10 && nf != 12)
		return bad(err, line, "accounting must have 10 fields (sys "
			   "user reads rbytes writes wbytes nreads nrbytes "
			   "nwrites nwbytes)", s, n);
	if (!parse_seconds(f[0], fl[0], &a->sys) ||
	    !parse_seconds(f[1], fl[1], &a->user))
		return bad(err, line, "accounting times must be non-negative "
			   "seconds", s, n);
	skip = nf == 12 ? 4 : 2;
	for (i = 0; i < 8; i++) {
		int64_t v;

		if (!parse_nonneg(f[skip + i], fl[skip + i], &v))
			return bad(err, line, "accounting counters must be "
				   "non-negative integers", s, n);
		*u[i] = (uint64_t)v;
	}
	return 0;
}

int proto_report_parse(const char *text, size_t len, struct proto_report *out,
		       struct proto_error *err)
{
	static const char *const what[3] = {
		"validation state must be an integer",
		"daemon flag must be an integer",
		"user return code must be an integer",
	};
	struct proto_report r = { 0 };
	const char *line[6], *p = text, *end = text + len;
	size_t n[6], i;
	int *ints[3] = { &r.validation, &r.daemon, &r.retcode };

	memset(out, 0, sizeof(*out));
	for (i = 0; i < 6; i++) {
		const char *nl;

		if (p >= end)
			return proto_error_set(err, PROTO_EUNPARSABLE,
					       "report has %zu lines, expected 6",
					       i);
		nl = memchr(p, '\n', (size_t)(end - p));
		line[i] = p;
		n[i] = (size_t)((nl ? nl : end) - p);
		if (n[i] && p[n[i] - 1] == '\r')
			n[i]--;
		if (memchr(line[i], '\0', n[i]))
			return bad(err, (int)i + 1, "line contains a NUL byte",
				   "", 0);
		p = nl ? nl + 1 : end;
	}
	/* The validation state may carry a note after a space. */
	const char *note = memchr(line[0], ' ', n[0]);
	size_t n0 = n[0];
	if (note)
		n[0] = (size_t)(note - line[0]);
	for (i = 0; i < 3; i++)
		if (!parse_int(line[i], n[i], ints[i]))
			return bad(err, (int)i + 1, what[i], line[i], n[i]);
	if (note && !(r.validation_note = pstrndup(note + 1,
						   n0 - (size_t)(note + 1 - line[0])))) {
		return proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	}
	if (parse_accounting(line[4], n[4], 5, &r.acct, err) < 0) {
		proto_report_clear(&r); /* the note */
		return -1;
	}
	r.etag = pstrndup(line[3], n[3]);
	r.status = pstrndup(line[5], n[5]);
	if (!r.etag || !r.status) {
		proto_report_clear(&r);
		return proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	}
	*out = r;
	return 0;
}
