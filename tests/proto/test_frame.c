/* Unit tests of response frames (proto/frame.c) and signatures
 * (proto/sign.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* ---------------------------------------------------- a recording sink */

struct rec {
	char log[8192];
	size_t n;
	int pause_every;   /* pause after every n-th event (0 = never) */
	int events;
	int fail_on_output;
};

static void rec_add(struct rec *r, const char *s, size_t n)
{
	cr_assert_lt(r->n + n, sizeof(r->log));
	memcpy(r->log + r->n, s, n);
	r->n += n;
	r->log[r->n] = '\0';
}

static int rec_ret(struct rec *r)
{
	r->events++;
	return r->pause_every && r->events % r->pause_every == 0;
}

static int on_frame(void *arg, const struct proto_frame *f,
		    struct proto_error *err)
{
	struct rec *r = arg;
	char line[1024];

	(void)err;
	switch (f->type) {
	case PROTO_FRAME_OUTPUT:
		snprintf(line, sizeof(line), "[output %zu %llu]", f->inst,
			 (unsigned long long)f->len);
		break;
	case PROTO_FRAME_REPORT:
		snprintf(line, sizeof(line), "[report %zu %s|%s|%d|%s|%d%s%s|%s]",
			 f->inst, f->system, f->status, f->retcode, f->etag,
			 f->validation, f->validation_note ? " " : "",
			 f->validation_note ? f->validation_note : "", f->cdr);
		break;
	case PROTO_FRAME_ERROR:
		snprintf(line, sizeof(line), "[error %s]", f->message);
		break;
	case PROTO_FRAME_DONE:
		snprintf(line, sizeof(line), "[done]");
		break;
	}
	rec_add(r, line, strlen(line));
	return rec_ret(r);
}

static int on_output(void *arg, size_t inst, const char *buf, size_t len,
		     struct proto_error *err)
{
	struct rec *r = arg;

	(void)inst;
	if (r->fail_on_output) {
		proto_error_set(err, PROTO_EINTERNAL, "spool full");
		return -1;
	}
	rec_add(r, buf, len);
	return rec_ret(r);
}

static struct proto_frame_parser *parser(struct rec *r, size_t ninst,
					 size_t max_line)
{
	struct proto_frame_sink sink = { on_frame, on_output, r };
	struct proto_frame_parser *p = proto_frame_parser_new(ninst, max_line,
							      &sink);

	cr_assert_not_null(p);
	return p;
}

/* Feed s in pieces of the sizes given by next(); resume after pauses. */
static int feed_split(struct proto_frame_parser *p, const char *s, size_t n,
		      size_t (*next)(void), struct proto_error *err)
{
	size_t at = 0;

	while (at < n) {
		size_t want = next(), used;

		if (want > n - at)
			want = n - at;
		if (proto_frame_parser_feed(p, s + at, want, &used, err))
			return -1;
		cr_assert_leq(used, want);
		at += used;
	}
	return 0;
}

static size_t one(void) { return 1; }
static size_t all(void) { return SIZE_MAX; }
static size_t rnd(void) { return (size_t)(rand() % 23) + 1; }

/* A stream with every frame type, a payload holding newlines and JSON,
 * and strings that need escaping or the hex form. */
static char *sample_stream(size_t *len)
{
	struct proto_frame f[] = {
		{ .type = PROTO_FRAME_OUTPUT, .inst = 2, .len = 13 },
		{ .type = PROTO_FRAME_REPORT, .inst = 2, .system = "map-3",
		  .status = "ok \"quoted\"\n", .retcode = -1,
		  .etag = "disabled", .validation = 0,
		  .validation_note = "nondeterministic: cpuid rdrand",
		  .cdr = "0.25 1.50 4 100 2 50 1 10 3 30" },
		{ .type = PROTO_FRAME_OUTPUT, .inst = 0, .len = 0 },
		{ .type = PROTO_FRAME_REPORT, .inst = 0, .system = "r\xff",
		  .status = "Signal 9", .retcode = 137, .etag = "/dev/out e",
		  .validation = 2, .validation_note = "", .cdr = "" },
		{ .type = PROTO_FRAME_DONE },
	};
	static const char payload[] = "{\"type\":1}\n\0x\n";
	char *s = NULL;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		char *line = proto_frame_format(&f[i]);
		size_t l = strlen(line);

		cr_assert_not_null(line);
		s = realloc(s, n + l + sizeof(payload));
		memcpy(s + n, line, l);
		n += l;
		if (i == 0) {
			memcpy(s + n, payload, 13);
			n += 13;
		}
		free(line);
	}
	*len = n;
	return s;
}

static const char expected_log[] =
	"[output 2 13]{\"type\":1}\n\0x"
	"[report 2 map-3|ok \"quoted\"\n|-1|disabled|0 nondeterministic: cpuid rdrand|0.25 1.50 4 100 2 50 1 10 3 30]"
	"[output 0 0]"
	"[report 0 r\xff|Signal 9|137|/dev/out e|2|]"
	"[done]";

static void expect_log(const struct rec *r)
{
	cr_assert_eq(r->n, sizeof(expected_log) - 1, "log: %s", r->log);
	cr_expect_eq(memcmp(r->log, expected_log, r->n), 0, "log: %s", r->log);
}

Test(frame, format_lines)
{
	struct proto_frame out = { .type = PROTO_FRAME_OUTPUT, .inst = 3,
				   .len = 5 };
	struct proto_frame err = { .type = PROTO_FRAME_ERROR,
				   .message = "no \"space\"" };
	struct proto_frame rep = { .type = PROTO_FRAME_REPORT, .inst = 1 };
	char *s;

	s = proto_frame_format(&out);
	cr_expect_str_eq(s, "{\"type\":\"output\",\"inst\":3,\"len\":5}\n");
	free(s);
	s = proto_frame_format(&err);
	cr_expect_str_eq(s, "{\"type\":\"error\",\"message\":\"no \\\"space\\\"\"}\n");
	free(s);
	cr_expect_null(proto_frame_format(&rep), "a report needs its strings");
}

Test(frame, whole_stream)
{
	struct rec r = { .n = 0 };
	struct proto_frame_parser *p = parser(&r, 3, 0);
	struct proto_error err = { 0 };
	size_t n;
	char *s = sample_stream(&n);

	cr_assert_eq(feed_split(p, s, n, all, &err), 0, "%s", err.msg);
	cr_expect_eq(proto_frame_parser_end(p, &err), 0, "%s", err.msg);
	expect_log(&r);
	proto_frame_parser_free(p);
	free(s);
}

Test(frame, byte_by_byte)
{
	struct rec r = { .n = 0 };
	struct proto_frame_parser *p = parser(&r, 3, 0);
	struct proto_error err = { 0 };
	size_t n;
	char *s = sample_stream(&n);

	cr_assert_eq(feed_split(p, s, n, one, &err), 0, "%s", err.msg);
	cr_expect_eq(proto_frame_parser_end(p, &err), 0, "%s", err.msg);
	expect_log(&r);
	proto_frame_parser_free(p);
	free(s);
}

Test(frame, random_splits_and_pauses)
{
	size_t n;
	char *s = sample_stream(&n);

	srand(7);
	for (int round = 0; round < 200; round++) {
		struct rec r = { .pause_every = round % 4 };
		struct proto_frame_parser *p = parser(&r, 3, 0);
		struct proto_error err = { 0 };

		cr_assert_eq(feed_split(p, s, n, rnd, &err), 0, "%s", err.msg);
		cr_expect_eq(proto_frame_parser_end(p, &err), 0, "%s", err.msg);
		expect_log(&r);
		proto_frame_parser_free(p);
	}
	free(s);
}

Test(frame, pause_stops_after_the_event)
{
	struct rec r = { .pause_every = 1 };
	struct proto_frame_parser *p = parser(&r, 1, 0);
	struct proto_error err = { 0 };
	const char s[] = "{\"type\":\"output\",\"inst\":0,\"len\":2}\nab{\"type\":\"done\"}\n";
	size_t used;

	cr_assert_eq(proto_frame_parser_feed(p, s, sizeof(s) - 1, &used, &err), 0);
	cr_expect_eq(used, strlen("{\"type\":\"output\",\"inst\":0,\"len\":2}\n"));
	cr_expect_str_eq(r.log, "[output 0 2]");
	proto_frame_parser_free(p);
}

Test(frame, error_frame_ends_the_stream)
{
	struct rec r = { .n = 0 };
	struct proto_frame_parser *p = parser(&r, 1, 0);
	struct proto_error err = { 0 };
	const char s[] = "{\"type\":\"error\",\"message\":\"spool disk full\"}\n";
	size_t used;

	cr_assert_eq(proto_frame_parser_feed(p, s, sizeof(s) - 1, &used, &err), 0);
	cr_expect_eq(proto_frame_parser_end(p, &err), -1);
	cr_expect_str_eq(err.msg, "spool disk full");
	proto_frame_parser_free(p);
}

Test(frame, receiver_failure_sticks)
{
	struct rec r = { .fail_on_output = 1 };
	struct proto_frame_parser *p = parser(&r, 1, 0);
	struct proto_error err = { 0 };
	const char s[] = "{\"type\":\"output\",\"inst\":0,\"len\":2}\nab";
	size_t used;

	cr_expect_eq(proto_frame_parser_feed(p, s, sizeof(s) - 1, &used, &err), -1);
	cr_expect_str_eq(err.msg, "spool full");
	cr_expect_eq(proto_frame_parser_feed(p, "x", 1, &used, &err), -1);
	cr_expect_str_eq(err.msg, "spool full");
	cr_expect_eq(proto_frame_parser_end(p, &err), -1);
	proto_frame_parser_free(p);
}

struct frame_case {
	const char *text;
	const char *msg;       /* from feed, or from end when feed is fine */
};

#define OUTL "{\"type\":\"output\",\"inst\":0,\"len\":3}\n"
#define REP(extra) "{\"type\":\"report\",\"inst\":1,\"system\":\"s\"," \
	"\"status\":\"ok\",\"retcode\":0,\"etag\":\"disabled\"," \
	"\"validation\":0,\"cdr\":\"c\"" extra "}\n"

static const struct frame_case bad_frames[] = {
	{ "garbage\n", "frame 1 (byte 0): not a JSON line" },
	{ "\n", "frame 1 (byte 0): not a JSON line" },
	{ "[1]\n", "frame 1 (byte 0): not a JSON object" },
	{ "{}\n", "frame 1 (byte 0): needs a \"type\" string" },
	{ "{\"type\":7}\n", "needs a \"type\" string" },
	{ "{\"type\":\"bogus\"}\n", "frame 1 (byte 0): unknown type \"bogus\"" },
	{ "{\"type\":\"done\",\"x\":1}\n", "done frame: unknown field \"x\"" },
	{ "{\"type\":\"done\",\"type\":\"done\"}\n", "not a JSON line" },
	{ "{\"type\":\"output\",\"inst\":5,\"len\":1}\n",
	  "output frame: inst 5 is out of range (2 instances)" },
	{ "{\"type\":\"output\",\"inst\":-1,\"len\":1}\n",
	  "output frame: inst must be an instance index" },
	{ "{\"type\":\"output\",\"inst\":\"0\",\"len\":1}\n",
	  "output frame: inst must be an instance index" },
	{ "{\"type\":\"output\",\"inst\":0}\n",
	  "output frame: len must be an integer 0..2^53" },
	{ "{\"type\":\"output\",\"inst\":0,\"len\":-3}\n",
	  "output frame: len must be an integer 0..2^53" },
	{ "{\"type\":\"output\",\"inst\":0,\"len\":9007199254740993}\n",
	  "output frame: len must be an integer 0..2^53" },
	{ REP("") REP(""), "frame 2 (byte 109): report frame: inst 1 reported twice" },
	{ REP(",\"extra\":1"), "report frame: unknown field \"extra\"" },
	{ "{\"type\":\"report\",\"inst\":1,\"system\":\"s\",\"status\":\"\","
	  "\"retcode\":0,\"etag\":\"\",\"validation\":0,\"cdr\":\"\","
	  "\"validation_note\":3}\n",
	  "report frame: validation_note must be a string without NUL" },
	{ "{\"type\":\"report\",\"inst\":1,\"system\":\"s\",\"status\":\"ok\","
	  "\"retcode\":0,\"etag\":\"disabled\",\"validation\":0}\n",
	  "report frame: system, status, etag and cdr must be strings" },
	{ "{\"type\":\"report\",\"inst\":1,\"system\":\"s\",\"status\":\"ok\","
	  "\"retcode\":4294967296,\"etag\":\"disabled\",\"validation\":0,\"cdr\":\"\"}\n",
	  "report frame: retcode must be an int" },
	{ "{\"type\":\"report\",\"inst\":1,\"system\":\"s\",\"status\":\"ok\","
	  "\"retcode\":0,\"etag\":\"disabled\",\"validation\":-1,\"cdr\":\"\"}\n",
	  "report frame: validation must be a non-negative int" },
	{ "{\"type\":\"report\",\"inst\":1,\"system\":{\"hex\":\"00\"},\"status\":\"ok\","
	  "\"retcode\":0,\"etag\":\"disabled\",\"validation\":0,\"cdr\":\"\"}\n",
	  "must be strings without NUL" },
	{ "{\"type\":\"error\"}\n", "error frame: message must be a string" },
	{ "{\"type\":\"done\"}\n{\"type\":\"done\"}\n",
	  "frame 2 (byte 16): data after the done frame" },
	{ "{\"type\":\"error\",\"message\":\"m\"}\nx",
	  "data after the error frame" },
	{ OUTL "ab", "stream cut in the output of inst 0 (2 of 3 bytes)" },
	{ OUTL "abc{\"type\":\"do", "stream cut in frame 2 (11 bytes of its line)" },
	{ OUTL "abc", "stream ended without a done frame" },
	{ "", "stream ended without a done frame" },
	{ "{\"type\":\"output\",\"inst\":0,\"len\":1,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n",
	  "frame 1 (byte 0): line longer than 128 bytes" },
	{ "{\"type\":\"done\"} junk\n", "not a JSON line" },
};

Test(frame, malformed_streams)
{
	for (size_t i = 0; i < sizeof(bad_frames) / sizeof(bad_frames[0]); i++) {
		const struct frame_case *c = &bad_frames[i];
		size_t (*splits[])(void) = { all, one };

		for (size_t k = 0; k < 2; k++) {
			struct rec r = { .n = 0 };
			struct proto_frame_parser *p = parser(&r, 2, 128);
			struct proto_error err = { 0 };
			int rc = feed_split(p, c->text, strlen(c->text), splits[k],
					    &err);

			if (rc == 0)
				rc = proto_frame_parser_end(p, &err);
			cr_expect_eq(rc, -1, "case %zu accepted", i);
			cr_expect(strstr(err.msg, c->msg), "case %zu/%zu: got "
				  "\"%s\", want \"%s\"", i, k, err.msg, c->msg);
			/* after a failure, everything is refused */
			cr_expect_eq(proto_frame_parser_end(p, &err), -1);
			proto_frame_parser_free(p);
		}
	}
}

/* ------------------------------------------------------------ signatures */

static const unsigned char key[] = "0123456789abcdef0123456789abcdef-cluster";
static const unsigned char key2[] = "0123456789abcdef0123456789abcdef-CLUSTER";
#define KEY key, sizeof(key) - 1
#define NONCE "00112233445566778899aabbccddeeff"
#define PATH "/internal/v1/task"
#define NOW 1700000000

static void sign(const char *method, const char *path, long long expires,
		 const char *body, char *sig)
{
	cr_assert_eq(proto_sign_request(KEY, method, path, expires, NONCE, body,
					strlen(body), sig), 0);
}

static enum proto_sig_result verify(const char *method, const char *path,
				    const char *expires, const char *nonce,
				    const char *sig, const char *body,
				    struct proto_error *err)
{
	return proto_verify_request(KEY, method, path, expires, nonce, sig,
				    body, strlen(body), NOW, err);
}

Test(sign, known_answer)
{
	char sig[PROTO_SIG_HEX + 1];

	/* python3: hmac.new(key, b"POST\n/internal/v1/task\n1700000100\n"
	 *   + NONCE + b"\n" + sha256(b"{}").hexdigest(), sha256) */
	sign("POST", PATH, NOW + 100, "{}", sig);
	cr_expect_eq(strlen(sig), 64);
	cr_expect_str_eq(sig, "2f749f0bfb5c3a031a2ce8bf0a9d59f2"
			 "750ed0502121846fcf409576010cc205");
}

Test(sign, good_and_tampered)
{
	struct proto_error err = { 0 };
	char sig[PROTO_SIG_HEX + 1], bad[PROTO_SIG_HEX + 1];

	sign("POST", PATH, NOW + 100, "{\"a\":1}", sig);
	cr_expect_eq(verify("POST", PATH, "1700000100", NONCE, sig, "{\"a\":1}",
			    &err), PROTO_SIG_OK, "%s", err.msg);
	/* tampered body, path, method, expiry, nonce */
	cr_expect_eq(verify("POST", PATH, "1700000100", NONCE, sig, "{\"a\":2}",
			    &err), PROTO_SIG_BAD);
	cr_expect_str_eq(err.msg, "bad signature (wrong cluster secret, or the "
			 "request was altered)");
	cr_expect_eq(verify("POST", "/internal/v1/tasks", "1700000100", NONCE,
			    sig, "{\"a\":1}", &err), PROTO_SIG_BAD);
	cr_expect_eq(verify("PUT", PATH, "1700000100", NONCE, sig, "{\"a\":1}",
			    &err), PROTO_SIG_BAD);
	cr_expect_eq(verify("POST", PATH, "1700000101", NONCE, sig, "{\"a\":1}",
			    &err), PROTO_SIG_BAD);
	cr_expect_eq(verify("POST", PATH, "1700000100",
			    "00112233445566778899aabbccddeefe", sig, "{\"a\":1}",
			    &err), PROTO_SIG_BAD);
	/* wrong secret */
	cr_assert_eq(proto_sign_request(key2, sizeof(key2) - 1, "POST", PATH,
					NOW + 100, NONCE, "{\"a\":1}", 7, bad), 0);
	cr_expect_eq(verify("POST", PATH, "1700000100", NONCE, bad, "{\"a\":1}",
			    &err), PROTO_SIG_BAD);
	/* uppercase hex is not the canonical form */
	for (char *c = sig; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 32);
	cr_expect_eq(verify("POST", PATH, "1700000100", NONCE, sig, "{\"a\":1}",
			    &err), PROTO_SIG_MALFORMED);
}

Test(sign, expiry_window)
{
	struct proto_error err = { 0 };
	char sig[PROTO_SIG_HEX + 1];

	sign("POST", PATH, NOW - 1, "", sig);
	cr_expect_eq(verify("POST", PATH, "1699999999", NONCE, sig, "", &err),
		     PROTO_SIG_EXPIRED);
	cr_expect_str_eq(err.msg, "signature expired 1 s ago");
	sign("POST", PATH, NOW, "", sig);
	cr_expect_eq(verify("POST", PATH, "1700000000", NONCE, sig, "", &err),
		     PROTO_SIG_OK, "expiring now is still valid");
	sign("POST", PATH, NOW + 301, "", sig);
	cr_expect_eq(verify("POST", PATH, "1700000301", NONCE, sig, "", &err),
		     PROTO_SIG_EXPIRED);
	cr_expect(strstr(err.msg, "more than the 300 s allowed"), "%s", err.msg);
	sign("POST", PATH, NOW + 300, "", sig);
	cr_expect_eq(verify("POST", PATH, "1700000300", NONCE, sig, "", &err),
		     PROTO_SIG_OK);
}

Test(sign, missing_and_malformed)
{
	struct proto_error err = { 0 };
	char sig[PROTO_SIG_HEX + 1];

	sign("POST", PATH, NOW + 10, "", sig);
	cr_expect_eq(verify("POST", PATH, NULL, NONCE, sig, "", &err),
		     PROTO_SIG_MISSING);
	cr_expect_str_eq(err.msg, "missing header X-Zvm-Expires");
	cr_expect_eq(verify("POST", PATH, "1700000010", NULL, sig, "", &err),
		     PROTO_SIG_MISSING);
	cr_expect_str_eq(err.msg, "missing header X-Zvm-Nonce");
	cr_expect_eq(verify("POST", PATH, "1700000010", NONCE, NULL, "", &err),
		     PROTO_SIG_MISSING);
	cr_expect_str_eq(err.msg, "missing header X-Zvm-Signature");
	cr_expect_eq(verify("POST", PATH, "+1700000010", NONCE, sig, "", &err),
		     PROTO_SIG_MALFORMED);
	cr_expect_eq(verify("POST", PATH, "01700000010", NONCE, sig, "", &err),
		     PROTO_SIG_MALFORMED);
	cr_expect_eq(verify("POST", PATH, "", NONCE, sig, "", &err),
		     PROTO_SIG_MALFORMED);
	cr_expect_eq(verify("POST", PATH, "1700000010", "0011", sig, "", &err),
		     PROTO_SIG_MALFORMED);
	cr_expect_str_eq(err.msg, "X-Zvm-Nonce must be 32 lowercase hex digits");
	cr_expect_eq(verify("POST", PATH, "1700000010", NONCE, "abc", "", &err),
		     PROTO_SIG_MALFORMED);
	cr_expect_eq(proto_sign_request(KEY, "POST", PATH, 1, "XYZ", "", 0, sig),
		     -1);
}

Test(sign, nonces_differ)
{
	char a[PROTO_NONCE_HEX + 1], b[PROTO_NONCE_HEX + 1];

	cr_assert_eq(proto_nonce_new(a), 0);
	cr_assert_eq(proto_nonce_new(b), 0);
	cr_expect_eq(strlen(a), 32);
	cr_expect_str_neq(a, b);
}

/* ------------------------------------------------------------ edge hello */

Test(edge, round_trip)
{
	char line[PROTO_EDGE_HELLO_MAX];
	struct proto_edge_hello h;
	struct proto_error err = { 0 };
	int n = proto_edge_hello_format(KEY, "c2-17", 3, 12, NOW + 60, NONCE,
					line, sizeof(line));

	cr_assert_gt(n, 0);
	cr_expect_eq((size_t)n, strlen(line));
	cr_expect_eq(strncmp(line, "ZVMEDGE/1 c2-17 3 12 1700000060 " NONCE " ",
			     strlen("ZVMEDGE/1 c2-17 3 12 1700000060 " NONCE " ")),
		     0, "%s", line);
	cr_expect_eq(line[n - 1], '\n');
	cr_assert_eq(proto_edge_hello_parse(line, (size_t)n, &h, &err), 0,
		     "%s", err.msg);
	cr_expect_str_eq(h.job, "c2-17");
	cr_expect_eq(h.writer, 3);
	cr_expect_eq(h.wchan, 12);
	cr_expect_eq(h.expires, NOW + 60);
	cr_expect_eq(proto_edge_hello_verify(KEY, &h, NOW, &err), PROTO_SIG_OK,
		     "%s", err.msg);
	cr_expect_eq(proto_edge_hello_verify(key2, sizeof(key2) - 1, &h, NOW,
					     &err), PROTO_SIG_BAD);
	cr_expect_eq(proto_edge_hello_verify(KEY, &h, NOW + 61, &err),
		     PROTO_SIG_EXPIRED);
	h.wchan = 13; /* a tampered field */
	cr_expect_eq(proto_edge_hello_verify(KEY, &h, NOW, &err), PROTO_SIG_BAD);
	cr_expect_eq(proto_edge_hello_format(KEY, "bad job", 3, 12, NOW, NONCE,
					     line, sizeof(line)), -1);
}

Test(edge, malformed_lines)
{
	static const struct { const char *line, *msg; } cases[] = {
		{ "", "needs 7 fields" },
		{ "HELLO a 1 2 3 " NONCE " " NONCE NONCE, "not a ZVMEDGE/1 line" },
		{ "ZVMEDGE/1 a 1 2 3 " NONCE, "needs 7 fields" },
		{ "ZVMEDGE/1 a  1 2 3 " NONCE " " NONCE NONCE, "needs 7 fields" },
		{ "ZVMEDGE/1 a 1 2 3 " NONCE " " NONCE NONCE " x", "text after the hmac" },
		{ "ZVMEDGE/1 a/b 1 2 3 " NONCE " " NONCE NONCE, "job id must be" },
		{ "ZVMEDGE/1 a 01 2 3 " NONCE " " NONCE NONCE, "writer instance" },
		{ "ZVMEDGE/1 a 1 -2 3 " NONCE " " NONCE NONCE, "writer channel" },
		{ "ZVMEDGE/1 a 1 2 3x " NONCE " " NONCE NONCE, "expires" },
		{ "ZVMEDGE/1 a 1 2 3 " NONCE " " NONCE, "32 and 64 hex" },
		{ "ZVMEDGE/1 a 1 2 3 " NONCE " " NONCE "00112233445566778899AABBCCDDEEFF",
		  "lowercase hex" },
		{ "ZVMEDGE/1 a 99999999999999999999 2 3 " NONCE " " NONCE NONCE,
		  "writer instance" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proto_edge_hello h;
		struct proto_error err = { 0 };

		cr_expect_eq(proto_edge_hello_parse(cases[i].line,
						    strlen(cases[i].line), &h,
						    &err), -1, "case %zu", i);
		cr_expect(strstr(err.msg, cases[i].msg), "case %zu: %s", i,
			  err.msg);
	}
}
