/* frame.c — the worker's answer to a task: a stream of JSON lines, each
 * `output` line followed by its raw bytes. The parser takes the stream in
 * whatever pieces the network delivers, never holds more than one line,
 * and hands output bytes through without copying them. */
#include <inttypes.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"

/* JSON integers are exact up to 2^53 (what other decoders can read). */
#define LEN_MAX ((int64_t)1 << 53)

static const char *const frame_types[] = {
	[PROTO_FRAME_OUTPUT] = "output",
	[PROTO_FRAME_REPORT] = "report",
	[PROTO_FRAME_ERROR] = "error",
	[PROTO_FRAME_DONE] = "done",
};

char *proto_frame_format(const struct proto_frame *f)
{
	struct pbuf b;

	pbuf_init(&b);
	switch (f->type) {
	case PROTO_FRAME_OUTPUT:
		if (f->len > (uint64_t)LEN_MAX)
			return NULL;
		pbuf_printf(&b, "{\"type\":\"output\",\"inst\":%zu,\"len\":%"
			    PRIu64 "}\n", f->inst, f->len);
		break;
	case PROTO_FRAME_REPORT:
		if (!f->system || !f->status || !f->etag || !f->cdr)
			return NULL;
		pbuf_printf(&b, "{\"type\":\"report\",\"inst\":%zu,\"system\":",
			    f->inst);
		wire_put_str(&b, f->system);
		pbuf_puts(&b, ",\"status\":");
		wire_put_str(&b, f->status);
		pbuf_printf(&b, ",\"retcode\":%d,\"etag\":", f->retcode);
		wire_put_str(&b, f->etag);
		pbuf_printf(&b, ",\"validation\":%d,", f->validation);
		if (f->validation_note && *f->validation_note) {
			pbuf_puts(&b, "\"validation_note\":");
			wire_put_str(&b, f->validation_note);
			pbuf_puts(&b, ",");
		}
		pbuf_puts(&b, "\"cdr\":");
		wire_put_str(&b, f->cdr);
		pbuf_puts(&b, "}\n");
		break;
	case PROTO_FRAME_ERROR:
		if (!f->message)
			return NULL;
		pbuf_puts(&b, "{\"type\":\"error\",\"message\":");
		wire_put_str(&b, f->message);
		pbuf_puts(&b, "}\n");
		break;
	case PROTO_FRAME_DONE:
		pbuf_puts(&b, "{\"type\":\"done\"}\n");
		break;
	default:
		return NULL;
	}
	return pbuf_take(&b);
}

/* ------------------------------------------------------------- parser */

enum pstate { P_LINE, P_PAYLOAD, P_ENDED, P_FAILED };

struct proto_frame_parser {
	struct proto_frame_sink sink;
	size_t ninst, max_line;
	unsigned char *reported;  /* per instance: a report came */
	enum pstate state;
	char *line;               /* the partial line, max_line bytes */
	size_t nline;
	uint64_t nframe;          /* frames started, for messages */
	uint64_t offset;          /* bytes consumed, for messages */
	uint64_t frame_at;        /* offset where the current frame began */
	size_t out_inst;          /* the output frame being passed through */
	uint64_t out_left, out_len;
	bool done;                /* ended with `done` (else `error`) */
	char *error;              /* an error frame's message */
	struct proto_error failure; /* the first error: repeated after */
};

struct proto_frame_parser *proto_frame_parser_new(size_t ninst,
						  size_t max_line,
						  const struct proto_frame_sink *sink)
{
	struct proto_frame_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->sink = *sink;
	p->ninst = ninst;
	p->max_line = max_line ? max_line : PROTO_FRAME_LINE_MAX;
	p->line = malloc(p->max_line);
	p->reported = calloc(ninst ? ninst : 1, 1);
	if (!p->line || !p->reported) {
		proto_frame_parser_free(p);
		return NULL;
	}
	return p;
}

void proto_frame_parser_free(struct proto_frame_parser *p)
{
	if (!p)
		return;
	free(p->line);
	free(p->reported);
	free(p->error);
	free(p);
}

static int fail(struct proto_frame_parser *p, struct proto_error *err,
		const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "frame N (byte B): <why>"; the parser refuses everything after. */
static int fail(struct proto_frame_parser *p, struct proto_error *err,
		const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	p->state = P_FAILED;
	proto_error_set(&p->failure, PROTO_EUNPARSABLE, "frame %" PRIu64
			" (byte %" PRIu64 "): %s", p->nframe, p->frame_at, why);
	if (err)
		*err = p->failure;
	return -1;
}

/* A callback failed: keep its message (or give one). */
static int sink_failed(struct proto_frame_parser *p, struct proto_error *err)
{
	p->state = P_FAILED;
	if (err && !err->msg[0])
		proto_error_set(err, PROTO_EINTERNAL, "frame %" PRIu64
				": refused by the receiver", p->nframe);
	if (err)
		p->failure = *err;
	return -1;
}

static const char *const output_keys[] = { "type", "inst", "len", NULL };
static const char *const report_keys[] = {
	"type", "inst", "system", "status", "retcode", "etag", "validation",
	"validation_note", "cdr", NULL
};
static const char *const error_keys[] = { "type", "message", NULL };
static const char *const done_keys[] = { "type", NULL };

static int int_field(json_t *o, const char *key, int64_t lo, int64_t hi,
		     int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/* The strings of a frame, freed once the callback has seen them. */
struct fstrs {
	char *v[6];
	size_t n;
};

static int str_field(json_t *o, const char *key, struct fstrs *s,
		     const char **out)
{
	size_t len;
	int rc = wire_get_str(json_object_get(o, key), NULL, &s->v[s->n], &len);

	if (rc)
		return rc;
	*out = s->v[s->n++];
	return 0;
}

static int decode_frame(struct proto_frame_parser *p, json_t *o,
			struct proto_frame *f, struct fstrs *s,
			struct proto_error *err)
{
	const char *const *keys[] = { output_keys, report_keys, error_keys,
				      done_keys };
	json_t *t = json_object_get(o, "type");
	const char *bad;
	int64_t x;
	unsigned i;

	if (!json_is_string(t))
		return fail(p, err, "needs a \"type\" string");
	for (i = 0; i < 4; i++)
		if (strcmp(json_string_value(t), frame_types[i]) == 0)
			break;
	if (i == 4)
		return fail(p, err, "unknown type \"%.32s\"",
			    json_string_value(t));
	f->type = (enum proto_frame_type)i;
	bad = wire_unknown_key(o, keys[i]);
	if (bad)
		return fail(p, err, "%s frame: unknown field \"%.32s\"",
			    frame_types[i], bad);
	if (i == PROTO_FRAME_OUTPUT || i == PROTO_FRAME_REPORT) {
		json_t *iv = json_object_get(o, "inst");

		if (!json_is_integer(iv) || json_integer_value(iv) < 0)
			return fail(p, err, "%s frame: inst must be an instance "
				    "index", frame_types[i]);
		if ((uint64_t)json_integer_value(iv) >= p->ninst)
			return fail(p, err, "%s frame: inst %lld is out of range "
				    "(%zu instances)", frame_types[i],
				    (long long)json_integer_value(iv), p->ninst);
		f->inst = (size_t)json_integer_value(iv);
	}
	switch (f->type) {
	case PROTO_FRAME_OUTPUT:
		if (int_field(o, "len", 0, LEN_MAX, &x))
			return fail(p, err, "output frame: len must be an "
				    "integer 0..2^53");
		f->len = (uint64_t)x;
		return 0;
	case PROTO_FRAME_REPORT:
		if (p->reported[f->inst])
			return fail(p, err, "report frame: inst %zu reported "
				    "twice", f->inst);
		if (str_field(o, "system", s, &f->system) ||
		    str_field(o, "status", s, &f->status) ||
		    str_field(o, "etag", s, &f->etag) ||
		    str_field(o, "cdr", s, &f->cdr))
			return fail(p, err, "report frame: system, status, etag "
				    "and cdr must be strings without NUL");
		if (int_field(o, "retcode", INT_MIN, INT_MAX, &x))
			return fail(p, err, "report frame: retcode must be an "
				    "int");
		f->retcode = (int)x;
		if (int_field(o, "validation", 0, INT_MAX, &x))
			return fail(p, err, "report frame: validation must be a "
				    "non-negative int");
		f->validation = (int)x;
		if (json_object_get(o, "validation_note") &&
		    str_field(o, "validation_note", s, &f->validation_note))
			return fail(p, err, "report frame: validation_note must "
				    "be a string without NUL");
		p->reported[f->inst] = 1;
		return 0;
	case PROTO_FRAME_ERROR:
		if (str_field(o, "message", s, &f->message))
			return fail(p, err, "error frame: message must be a "
				    "string without NUL");
		return 0;
	case PROTO_FRAME_DONE:
		return 0;
	}
	return 0;
}

/* A complete line (without its '\n') is in p->line: decode, hand over. */
static int line_done(struct proto_frame_parser *p, struct proto_error *err)
{
	struct proto_frame f = { 0 };
	struct fstrs s = { .n = 0 };
	json_error_t je;
	json_t *o;
	int rc;

	o = json_loadb(p->line, p->nline, JSON_REJECT_DUPLICATES, &je);
	p->nline = 0;
	if (!o)
		return fail(p, err, "not a JSON line: %s", je.text);
	if (!json_is_object(o)) {
		json_decref(o);
		return fail(p, err, "not a JSON object");
	}
	rc = decode_frame(p, o, &f, &s, err);
	json_decref(o);
	if (rc == 0) {
		if (f.type == PROTO_FRAME_ERROR && !(p->error = strdup(f.message)))
			rc = fail(p, err, "out of memory");
		else if (f.type == PROTO_FRAME_ERROR ||
			 f.type == PROTO_FRAME_DONE)
			p->state = P_ENDED;
		else if (f.type == PROTO_FRAME_OUTPUT && f.len) {
			p->state = P_PAYLOAD;
			p->out_inst = f.inst;
			p->out_left = p->out_len = f.len;
		}
		p->done = f.type == PROTO_FRAME_DONE;
	}
	if (rc == 0) {
		if (err)
			err->msg[0] = '\0';
		rc = p->sink.frame ? p->sink.frame(p->sink.arg, &f, err) : 0;
		if (rc < 0)
			rc = sink_failed(p, err);
	}
	while (s.n)
		free(s.v[--s.n]);
	return rc;
}

/* Consume line bytes from buf; returns bytes used, *rc the outcome. */
static size_t feed_line(struct proto_frame_parser *p, const char *buf,
			size_t len, int *rc, struct proto_error *err)
{
	const char *nl = memchr(buf, '\n', len);
	size_t take = nl ? (size_t)(nl - buf) : len;

	if (p->nline == 0)
		p->frame_at = p->offset, p->nframe++;
	if (take >= p->max_line - p->nline) {
		*rc = fail(p, err, "line longer than %zu bytes", p->max_line);
		return 0;
	}
	memcpy(p->line + p->nline, buf, take);
	p->nline += take;
	if (!nl) {
		*rc = 0;
		return take;
	}
	*rc = line_done(p, err);
	return take + 1;
}

static size_t feed_payload(struct proto_frame_parser *p, const char *buf,
			   size_t len, int *rc, struct proto_error *err)
{
	size_t take = p->out_left < len ? (size_t)p->out_left : len;

	p->out_left -= take;
	if (!p->out_left)
		p->state = P_LINE;
	if (err)
		err->msg[0] = '\0';
	*rc = p->sink.output ? p->sink.output(p->sink.arg, p->out_inst, buf,
					      take, err) : 0;
	if (*rc < 0)
		*rc = sink_failed(p, err);
	return take;
}

int proto_frame_parser_feed(struct proto_frame_parser *p, const void *data,
			    size_t len, size_t *used, struct proto_error *err)
{
	const char *buf = data;
	size_t at = 0;

	*used = 0;
	if (p->state == P_FAILED) {
		if (err)
			*err = p->failure;
		return -1;
	}
	while (at < len) {
		size_t n;
		int rc = 0;

		if (p->state == P_ENDED) {
			p->frame_at = p->offset;
			p->nframe++;
			return fail(p, err, "data after the %s frame",
				    p->done ? "done" : "error");
		}
		n = p->state == P_LINE ? feed_line(p, buf + at, len - at, &rc, err)
				       : feed_payload(p, buf + at, len - at, &rc,
						      err);
		at += n;
		p->offset += n;
		*used = at;
		if (rc < 0)
			return -1;
		if (rc > 0)
			break;
	}
	return 0;
}

int proto_frame_parser_end(struct proto_frame_parser *p,
			   struct proto_error *err)
{
	switch (p->state) {
	case P_FAILED:
		if (err)
			*err = p->failure;
		return -1;
	case P_ENDED:
		if (p->done)
			return 0;
		return proto_error_set(err, PROTO_EINTERNAL, "%s", p->error[0] ?
				       p->error : "task failed (the worker gave "
				       "no reason)");
	case P_PAYLOAD:
		return proto_error_set(err, PROTO_EUNPARSABLE, "stream cut in "
				       "the output of inst %zu (%" PRIu64
				       " of %" PRIu64 " bytes)", p->out_inst,
				       p->out_len - p->out_left, p->out_len);
	case P_LINE:
		break;
	}
	if (p->nline)
		return proto_error_set(err, PROTO_EUNPARSABLE, "stream cut in "
				       "frame %" PRIu64 " (%zu bytes of its "
				       "line)", p->nframe, p->nline);
	return proto_error_set(err, PROTO_EUNPARSABLE, "stream ended without "
			       "a done frame");
}
