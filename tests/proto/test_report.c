/* Unit tests of the ZeroVM report (the six lines) and the CDR line. */
#include <criterion/criterion.h>
#include <string.h>

#include "proto.h"

Test(report, format_six_lines)
{
	struct proto_report r = {
		.validation = 0, .daemon = 0, .retcode = 3,
		.etag = NULL,
		.acct = { 0.25, 1.5, 4, 100, 2, 50, 1, 10, 3, 30 },
		.status = "ok",
	};
	char *s = proto_report_format(&r);

	cr_assert_not_null(s);
	cr_expect_str_eq(s, "0\n0\n3\ndisabled\n"
			    "0.25 1.50 4 100 2 50 1 10 3 30\nok\n");
	free(s);
}

Test(report, format_keeps_fields_on_one_line)
{
	struct proto_report r = { .retcode = -1, .etag = "/dev/stdout abc",
				  .status = "Signal 9\nkilled" };
	char *s = proto_report_format(&r);

	cr_expect_str_eq(s, "0\n0\n-1\n/dev/stdout abc\n"
			    "0.00 0.00 0 0 0 0 0 0 0 0\nSignal 9 killed\n");
	free(s);
}

Test(report, round_trip)
{
	struct proto_report r = {
		.validation = 2, .daemon = 0, .retcode = 255,
		.etag = "/dev/stdout d41d8cd98f00b204e9800998ecf8427e",
		.acct = { 1.25, 0.5, 1, 2, 3, 4, 5, 6, 7,
			  18446744073709551615ULL >> 1 },
		.status = "session timeout",
	};
	struct proto_report back;
	struct proto_error err = { 0 };
	char *s = proto_report_format(&r);

	cr_assert_eq(proto_report_parse(s, strlen(s), &back, &err), 0, "%s",
		     err.msg);
	cr_expect_eq(back.validation, 2);
	cr_expect_eq(back.retcode, 255);
	cr_expect_str_eq(back.etag, r.etag);
	cr_expect_str_eq(back.status, "session timeout");
	cr_expect_float_eq(back.acct.sys, 1.25, 1e-9);
	cr_expect_float_eq(back.acct.user, 0.5, 1e-9);
	cr_expect_eq(back.acct.reads, 1);
	cr_expect_eq(back.acct.wbytes, 4);
	cr_expect_eq(back.acct.nwbytes, r.acct.nwbytes);
	free(s);
	proto_report_clear(&back);
	cr_expect_null(back.etag);
}

Test(report, parse_zerovm_output_with_trailing_line_and_12_fields)
{
	/* ZeroVM's own form: 12 accounting fields (memory, 0 after the
	 * times), CRLF tolerated, an empty seventh line after the state. */
	const char *text = "0\r\n0\r\n0\r\ndisabled\r\n"
			   "0.11 3.53 75929984 0 1262 75929984 34 199 0 0 0 0\r\n"
			   "ok\r\n\n";
	struct proto_report r;
	struct proto_error err = { 0 };

	cr_assert_eq(proto_report_parse(text, strlen(text), &r, &err), 0, "%s",
		     err.msg);
	cr_expect_str_eq(r.status, "ok");
	cr_expect_eq(r.acct.reads, 1262);
	cr_expect_eq(r.acct.rbytes, 75929984);
	cr_expect_eq(r.acct.writes, 34);
	cr_expect_eq(r.acct.wbytes, 199);
	cr_expect_eq(r.acct.nwbytes, 0);
	proto_report_clear(&r);
}

Test(report, parse_without_final_newline)
{
	const char *text = "1\n0\n-2\ndisabled\n0 0 0 0 0 0 0 0 0 0\nSignal 11";
	struct proto_report r;
	struct proto_error err = { 0 };

	cr_assert_eq(proto_report_parse(text, strlen(text), &r, &err), 0, "%s",
		     err.msg);
	cr_expect_eq(r.validation, 1);
	cr_expect_eq(r.retcode, -2);
	cr_expect_str_eq(r.status, "Signal 11");
	proto_report_clear(&r);
}

struct bad_report {
	const char *text;
	const char *msg;
};

static struct bad_report bad_reports[] = {
	{ "", "report has 0 lines, expected 6" },
	{ "0\n0\n0\ndisabled\n0 0 0 0 0 0 0 0 0 0\n",
	  "report has 5 lines, expected 6" },
	{ "x\n0\n0\nd\n0 0 0 0 0 0 0 0 0 0\nok\n",
	  "report line 1: validation state must be an integer, got \"x\"" },
	{ "0\n\n0\nd\n0 0 0 0 0 0 0 0 0 0\nok\n",
	  "report line 2: daemon flag must be an integer, got \"\"" },
	{ "0\n0\n99999999999\nd\n0 0 0 0 0 0 0 0 0 0\nok\n",
	  "report line 3: user return code must be an integer, got "
	  "\"99999999999\"" },
	{ "0\n0\n0\nd\n0 0 0 0 0 0 0 0 0\nok\n",
	  "report line 5: accounting must have 10 fields (sys user reads rbytes "
	  "writes wbytes nreads nrbytes nwrites nwbytes), got "
	  "\"0 0 0 0 0 0 0 0 0\"" },
	{ "0\n0\n0\nd\n-1 0 0 0 0 0 0 0 0 0\nok\n",
	  "report line 5: accounting times must be non-negative seconds, got "
	  "\"-1 0 0 0 0 0 0 0 0 0\"" },
	{ "0\n0\n0\nd\n0 0 0 0 0 x 0 0 0 0\nok\n",
	  "report line 5: accounting counters must be non-negative integers, "
	  "got \"0 0 0 0 0 x 0 0 0 0\"" },
	/* Found by fuzz-manifest: the note leaked when a later line failed. */
	{ "0 nondeterministic: tsc\n0\n0\nd\n0 0 0 0 0 x 0 0 0 0\nok\n",
	  "report line 5: accounting counters must be non-negative integers, "
	  "got \"0 0 0 0 0 x 0 0 0 0\"" },
	{ "0\n0\n0\nd\n0 0 0 0 0 0 0 0 0 0 0 0 0\nok\n",
	  "report line 5: accounting has more than 12 fields, got "
	  "\"0 0 0 0 0 0 0 0 0 0 0 0 0\"" },
};

Test(report, malformed)
{
	size_t i;

	for (i = 0; i < sizeof(bad_reports) / sizeof(bad_reports[0]); i++) {
		struct proto_report r;
		struct proto_error err = { 0 };
		const char *t = bad_reports[i].text;

		cr_expect_eq(proto_report_parse(t, strlen(t), &r, &err), -1,
			     "accepted case %zu", i);
		cr_expect_eq(err.kind, PROTO_EUNPARSABLE);
		cr_expect_str_eq(err.msg, bad_reports[i].msg, "case %zu", i);
	}
}

Test(report, accounting_line)
{
	struct proto_accounting a = { 0.1, 0.2, 1, 2, 3, 4, 5, 6, 7, 8 };
	char *s = proto_accounting_format(&a);

	cr_expect_str_eq(s, "0.10 0.20 1 2 3 4 5 6 7 8");
	free(s);
}

Test(errors, status_codes)
{
	cr_expect_eq(proto_error_status(PROTO_OK), 200);
	cr_expect_eq(proto_error_status(PROTO_EBADJOB), 400);
	cr_expect_eq(proto_error_status(PROTO_EFORBIDDEN), 403);
	cr_expect_eq(proto_error_status(PROTO_ENOTFOUND), 404);
	cr_expect_eq(proto_error_status(PROTO_ETOOLARGE), 413);
	cr_expect_eq(proto_error_status(PROTO_EUNPARSABLE), 422);
	cr_expect_eq(proto_error_status(PROTO_EINTERNAL), 500);
}

/* What a deterministic run could not make deterministic follows the
 * validation state on its line, and comes back out of a parse. */
Test(report, validation_note_round_trip)
{
	struct proto_report r = {
		.validation = 0, .validation_note = "nondeterministic: tsc rdrand",
		.etag = "disabled", .status = "ok",
	};
	struct proto_report back;
	struct proto_error err = { 0 };
	char *s = proto_report_format(&r);

	cr_assert_eq(strncmp(s, "0 nondeterministic: tsc rdrand\n0\n0\n", 35), 0,
		     "%s", s);
	cr_assert_eq(proto_report_parse(s, strlen(s), &back, &err), 0, "%s",
		     err.msg);
	cr_expect_eq(back.validation, 0);
	cr_expect_str_eq(back.validation_note, "nondeterministic: tsc rdrand");
	free(s);
	proto_report_clear(&back);
	s = proto_report_format(&(struct proto_report){.validation = 1});
	cr_assert_eq(proto_report_parse(s, strlen(s), &back, &err), 0, "%s",
		     err.msg);
	cr_expect_null(back.validation_note);
	free(s);
	proto_report_clear(&back);
}
