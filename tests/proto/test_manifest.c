/* Unit tests of the ZeroVM manifest parser and writer. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "proto.h"

#define HEAD "Version = 20130611\n" \
	     "Program = /bin/prog\n" \
	     "Memory = 4294967296, 0\n" \
	     "Timeout = 50\n"
#define STD "Channel = /dev/null, /dev/stdin, 0, 0, 4294967296, 4294967296, 0, 0\n" \
	    "Channel = /tmp/out, /dev/stdout, 0, 0, 0, 0, 4294967296, 4294967296\n" \
	    "Channel = /tmp/err, /dev/stderr, 0, 0, 0, 0, 4294967296, 4294967296\n"

static struct proto_manifest *parse_ok(const char *text)
{
	struct proto_manifest *m = NULL;
	struct proto_error err = { 0 };
	int rc = proto_manifest_parse(text, strlen(text), &m, &err);

	cr_assert_eq(rc, 0, "parse failed: %s", err.msg);
	cr_assert_not_null(m);
	return m;
}

Test(manifest, minimal_valid)
{
	struct proto_manifest *m = parse_ok(HEAD STD);

	cr_expect_str_eq(m->version, "20130611");
	cr_expect_str_eq(m->program, "/bin/prog");
	cr_expect_eq(m->memory, 4294967296LL);
	cr_expect_not(m->memory_etag);
	cr_expect_eq(m->timeout, 50);
	cr_expect_null(m->node);
	cr_expect_null(m->job);
	cr_expect_eq(m->argc, 0);
	cr_expect_eq(m->nenv, 0);
	cr_assert_eq(m->nchannels, 3);
	cr_expect_str_eq(m->channels[0].uri, "/dev/null");
	cr_expect_str_eq(m->channels[0].alias, "/dev/stdin");
	cr_expect_eq(m->channels[0].gets, 4294967296LL);
	cr_expect_eq(m->channels[0].puts, 0);
	cr_expect_eq(m->channels[1].put_size, 4294967296LL);
	cr_expect_eq(m->channels[0].line, 5);
	cr_expect_eq(m->channels[2].line, 7);
	proto_manifest_free(m);
}

Test(manifest, all_keys_comments_blank_lines_crlf)
{
	const char *text =
		"# a comment\r\n"
		"\r\n"
		"  Version=20130611  \r\n"
		"Program = /p\r\n"
		"Memory = 1024, 1\r\n"
		"Timeout = 0\r\n"
		"Node = 3\r\n"
		"Job = /run/zvm.sock\r\n"
		"CommandLine = prog -n 'two words' \"a\\\"b\" c\\ d\r\n"
		"Environment = HOME,/home/u, LANG , C , EMPTY,\r\n"
		"Channel = /data/in, /dev/input, 3, 1, 10, 20, 0, 0\r\n"
		"   # indented comment\n"
		"Channel = /dev/null, /dev/stdin, 0, 0, 1, 1, 0, 0\r\n"
		"Channel = /o, /dev/stdout, 0, 0, 0, 0, 1, 1\r\n"
		"Channel = /e, /dev/stderr, 0, 0, 0, 0, 1, 1";
	struct proto_manifest *m = parse_ok(text);

	cr_expect(m->memory_etag);
	cr_expect_eq(m->memory, 1024);
	cr_expect_eq(m->timeout, 0);
	cr_expect_str_eq(m->node, "3");
	cr_expect_str_eq(m->job, "/run/zvm.sock");
	cr_assert_eq(m->argc, 5);
	cr_expect_str_eq(m->argv[0], "prog");
	cr_expect_str_eq(m->argv[1], "-n");
	cr_expect_str_eq(m->argv[2], "two words");
	cr_expect_str_eq(m->argv[3], "a\"b");
	cr_expect_str_eq(m->argv[4], "c d");
	cr_expect_null(m->argv[5]);
	cr_assert_eq(m->nenv, 3);
	cr_expect_str_eq(m->env[0], "HOME=/home/u");
	cr_expect_str_eq(m->env[1], "LANG=C");
	cr_expect_str_eq(m->env[2], "EMPTY=");
	cr_assert_eq(m->nchannels, 4);
	cr_expect_eq(m->channels[0].type, PROTO_RGET_RPUT);
	cr_expect(m->channels[0].etag);
	cr_expect_eq(m->channels[0].get_size, 20);
	cr_expect_eq(m->channels[0].line, 11);
	cr_expect_eq(m->channels[1].line, 13);
	proto_manifest_free(m);
}

Test(manifest, value_may_contain_equals)
{
	struct proto_manifest *m =
		parse_ok(HEAD "CommandLine = prog --opt=1 a=b\n" STD);

	cr_assert_eq(m->argc, 3);
	cr_expect_str_eq(m->argv[1], "--opt=1");
	cr_expect_str_eq(m->argv[2], "a=b");
	proto_manifest_free(m);
}

Test(manifest, write_only_and_read_only_channels)
{
	struct proto_manifest *m = parse_ok(
		HEAD STD "Channel = /x, /dev/out/reduce-1, 0, 0, 0, 5, 7, 8\n");

	cr_expect_eq(m->channels[3].gets, 0);
	cr_expect_eq(m->channels[3].get_size, 5);
	cr_expect_eq(m->channels[3].puts, 7);
	proto_manifest_free(m);
}

/* ------------------------------------------------ malformed manifests */

struct bad_manifest {
	const char *text;
	const char *msg;
	enum proto_error_kind kind;
};

#define BAD(t, m) { t, m, PROTO_EUNPARSABLE }

static struct bad_manifest bad_cases[] = {
	BAD("", "line 0: end of manifest: required key Version is missing"),
	BAD("Program = /p\nMemory = 1, 0\nTimeout = 1\n" STD,
	    "line 6: end of manifest: required key Version is missing"),
	BAD("Version = 20130612\n",
	    "line 1: Version: expected 20130611, got \"20130612\""),
	BAD("Version = 20130611\nMemory = 1, 0\nTimeout = 1\n" STD,
	    "line 6: end of manifest: required key Program is missing"),
	BAD("Version = 20130611\nProgram = /p\nTimeout = 1\n" STD,
	    "line 6: end of manifest: required key Memory is missing"),
	BAD("Version = 20130611\nProgram = /p\nMemory = 1, 0\n" STD,
	    "line 6: end of manifest: required key Timeout is missing"),
	BAD(HEAD "Channel = /dev/null, /dev/stdin, 0, 0, 1, 1, 0, 0\n"
		 "Channel = /o, /dev/stdout, 0, 0, 0, 0, 1, 1\n",
	    "line 6: end of manifest: no Channel for /dev/stderr"),
	BAD(HEAD "Channel = /o, /dev/stdout, 0, 0, 0, 0, 1, 1\n"
		 "Channel = /e, /dev/stderr, 0, 0, 0, 0, 1, 1\n",
	    "line 6: end of manifest: no Channel for /dev/stdin"),
	BAD(HEAD "Program = /q\n",
	    "line 5: Program: duplicate key (first given on line 2)"),
	BAD(HEAD "Colour = blue\n", "line 5: unknown key \"Colour\""),
	BAD(HEAD "program = /p\n", "line 5: unknown key \"program\""),
	BAD(HEAD "just some words\n",
	    "line 5: expected \"Key = Value\", got \"just some words\""),
	BAD("Version = 20130611\nProgram =   \n",
	    "line 2: Program: value is empty"),
	BAD("Version = 20130611\nProgram = /p\nMemory = 1024\n",
	    "line 3: Memory: expected \"<bytes>, <etag 0|1>\", got \"1024\""),
	BAD("Version = 20130611\nProgram = /p\nMemory = -1, 0\n",
	    "line 3: Memory: size must be a non-negative integer, got \"-1\""),
	BAD("Version = 20130611\nProgram = /p\nMemory = 1k, 0\n",
	    "line 3: Memory: size must be a non-negative integer, got \"1k\""),
	BAD("Version = 20130611\nProgram = /p\nMemory = 99999999999999999999, 0\n",
	    "line 3: Memory: size must be a non-negative integer, got "
	    "\"99999999999999999999\""),
	BAD("Version = 20130611\nProgram = /p\nMemory = 1, 2\n",
	    "line 3: Memory: etag must be 0 or 1, got \"2\""),
	BAD(HEAD "Timeout = 5\n",
	    "line 5: Timeout: duplicate key (first given on line 4)"),
	BAD("Version = 20130611\nTimeout = 1 0\n",
	    "line 2: Timeout: seconds must be a non-negative integer, got \"1 0\""),
	BAD("Version = 20130611\nTimeout = 0x10\n",
	    "line 2: Timeout: seconds must be a non-negative integer, got \"0x10\""),
	BAD(HEAD STD "\n\nChannel = /x, /dev/in, 5, 0, 1, 1, 0, 0\n",
	    "line 10: Channel: type must be 0..3, got \"5\""),
	BAD(HEAD "Channel = /x, /dev/in, -1, 0, 1, 1, 0, 0\n",
	    "line 5: Channel: type must be 0..3, got \"-1\""),
	BAD(HEAD "Channel = /x, /dev/in, 0, 3, 1, 1, 0, 0\n",
	    "line 5: Channel: etag must be 0 or 1, got \"3\""),
	BAD(HEAD "Channel = /x, /dev/in, 0, 0, 1, 1, 0\n",
	    "line 5: Channel: expected 8 comma-separated fields (uri, alias, "
	    "type, etag, gets, get_size, puts, put_size), got "
	    "\"/x, /dev/in, 0, 0, 1, 1, 0\""),
	BAD(HEAD "Channel = /x, /dev/in, 0, 0, 1, 1, 0, 0, 9\n",
	    "line 5: Channel: expected 8 comma-separated fields (uri, alias, "
	    "type, etag, gets, get_size, puts, put_size), got "
	    "\"/x, /dev/in, 0, 0, 1, 1, 0, 0, 9\""),
	BAD(HEAD "Channel = , /dev/in, 0, 0, 1, 1, 0, 0\n",
	    "line 5: Channel: uri is empty"),
	BAD(HEAD "Channel = /x, input, 0, 0, 1, 1, 0, 0\n",
	    "line 5: Channel: alias must be a path under /dev/ (like "
	    "/dev/input), got \"input\""),
	BAD(HEAD "Channel = /x, /dev/, 0, 0, 1, 1, 0, 0\n",
	    "line 5: Channel: alias must be a path under /dev/ (like "
	    "/dev/input), got \"/dev/\""),
	BAD(HEAD "Channel = /x, /dev/../etc/passwd, 0, 0, 1, 1, 0, 0\n",
	    "line 5: Channel: alias must be a path under /dev/ (like "
	    "/dev/input), got \"/dev/../etc/passwd\""),
	BAD(HEAD "Channel = /x, /dev/in//x, 0, 0, 1, 1, 0, 0\n",
	    "line 5: Channel: alias must be a path under /dev/ (like "
	    "/dev/input), got \"/dev/in//x\""),
	BAD(HEAD "Channel = /x, /dev/in x, 0, 0, 1, 1, 0, 0\n",
	    "line 5: Channel: alias must be a path under /dev/ (like "
	    "/dev/input), got \"/dev/in x\""),
	BAD(HEAD STD "Channel = /y, /dev/stdout, 0, 0, 0, 0, 1, 1\n",
	    "line 8: Channel: alias is already used on line 6, got \"/dev/stdout\""),
	BAD(HEAD "Channel = /x, /dev/in, 0, 0, 1, 1, -5, 0\n",
	    "line 5: Channel: puts must be a non-negative integer, got \"-5\""),
	BAD(HEAD "Channel = /x, /dev/in, 0, 0, 1, 1x, 0, 0\n",
	    "line 5: Channel: get_size must be a non-negative integer, got \"1x\""),
	BAD(HEAD "Channel = /x, /dev/in, 0, 0, 0, 10, 10, 0\n",
	    "line 5: Channel: channel allows neither reads nor writes "
	    "(gets/get_size and puts/put_size are zero), got \"/dev/in\""),
	BAD(HEAD "Channel = /x, /dev/in, 0, 0, 0, 0, 0, 0\n",
	    "line 5: Channel: channel allows neither reads nor writes "
	    "(gets/get_size and puts/put_size are zero), got \"/dev/in\""),
	BAD(HEAD "CommandLine = prog 'unfinished\n",
	    "line 5: CommandLine: unterminated single quote"),
	BAD(HEAD "CommandLine = prog \"unfinished\n",
	    "line 5: CommandLine: unterminated double quote"),
	BAD(HEAD "CommandLine = prog \\\n",
	    "line 5: CommandLine: backslash at the end of the line"),
	BAD(HEAD "Environment = A,1,B\n",
	    "line 5: Environment: expected \"name,value,name,value...\" (an "
	    "even number of fields), got \"A,1,B\""),
	BAD(HEAD "Environment = ,1\n",
	    "line 5: Environment: variable name must be non-empty and without "
	    "'=', got \"\""),
	BAD(HEAD "Environment = A=B,1\n",
	    "line 5: Environment: variable name must be non-empty and without "
	    "'=', got \"A=B\""),
	BAD(HEAD "Node = \n", "line 5: Node: value is empty"),
	BAD(HEAD "Job = 1\nJob = 2\n",
	    "line 6: Job: duplicate key (first given on line 5)"),
	BAD(HEAD "Image = \n", "line 5: Image: value is empty"),
	BAD(HEAD "ImageTmp = -1\n",
	    "line 5: ImageTmp: size must be a non-negative integer, got \"-1\""),
	BAD(HEAD "ImageTmp = 1\nImage = /i\nImageTmp = 2\n",
	    "line 7: ImageTmp: duplicate key (first given on line 5)"),
};

/* Criterion re-executes the test binary, so parameters carry an index
 * into bad_cases rather than pointers into this process. */
#define NBAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

ParameterizedTestParameters(manifest, malformed)
{
	static size_t idx[NBAD];
	size_t i;

	for (i = 0; i < NBAD; i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, NBAD);
}

ParameterizedTest(size_t *i, manifest, malformed)
{
	const struct bad_manifest *c = &bad_cases[*i];
	struct proto_manifest *m = (void *)1;
	struct proto_error err = { 0 };
	int rc = proto_manifest_parse(c->text, strlen(c->text), &m, &err);

	cr_assert_eq(rc, -1, "accepted: %s", c->text);
	cr_expect_null(m);
	cr_expect_eq(err.kind, c->kind);
	cr_expect_str_eq(err.msg, c->msg);
}

Test(manifest, nul_byte_is_refused)
{
	const char text[] = "Version = 20130611\nProgram = /p\0x\n";
	struct proto_manifest *m = NULL;
	struct proto_error err = { 0 };

	cr_assert_eq(proto_manifest_parse(text, sizeof(text) - 1, &m, &err), -1);
	cr_expect_str_eq(err.msg, "line 2: contains a NUL byte");
}

Test(manifest, too_large_is_413)
{
	size_t n = 600 * 1024;
	char *text = malloc(n);
	struct proto_manifest *m = NULL;
	struct proto_error err = { 0 };

	memset(text, '\n', n);
	cr_assert_eq(proto_manifest_parse(text, n, &m, &err), -1);
	cr_expect_eq(err.kind, PROTO_ETOOLARGE);
	cr_expect_eq(proto_error_status(err.kind), 413);
	free(text);
}

/* ------------------------------------------------------- round trip */

static void expect_same(const struct proto_manifest *a,
			const struct proto_manifest *b)
{
	size_t i;

	cr_expect_str_eq(a->program, b->program);
	cr_expect_eq(a->memory, b->memory);
	cr_expect_eq(a->memory_etag, b->memory_etag);
	cr_expect_eq(a->timeout, b->timeout);
	cr_expect_eq(!a->node, !b->node);
	if (a->node)
		cr_expect_str_eq(a->node, b->node);
	cr_expect_eq(!a->job, !b->job);
	if (a->job)
		cr_expect_str_eq(a->job, b->job);
	cr_assert_eq(a->argc, b->argc);
	for (i = 0; i < a->argc; i++)
		cr_expect_str_eq(a->argv[i], b->argv[i]);
	cr_assert_eq(a->nenv, b->nenv);
	for (i = 0; i < a->nenv; i++)
		cr_expect_str_eq(a->env[i], b->env[i]);
	cr_assert_eq(a->nchannels, b->nchannels);
	for (i = 0; i < a->nchannels; i++) {
		const struct proto_manifest_channel *x = &a->channels[i];
		const struct proto_manifest_channel *y = &b->channels[i];

		cr_expect_str_eq(x->uri, y->uri);
		cr_expect_str_eq(x->alias, y->alias);
		cr_expect_eq(x->type, y->type);
		cr_expect_eq(x->etag, y->etag);
		cr_expect_eq(x->gets, y->gets);
		cr_expect_eq(x->get_size, y->get_size);
		cr_expect_eq(x->puts, y->puts);
		cr_expect_eq(x->put_size, y->put_size);
	}
}

Test(manifest, round_trip_parse_format_parse)
{
	const char *text = HEAD
		"Node = map-1\nJob = /run/j\n"
		"CommandLine = prog '' \"it's\" 'a b' 'x\"y' back\\\\slash $HOME\n"
		"Environment = A,1,B,x=y,C,\n" STD
		"Channel = /data/a b, /dev/in/map-2, 1, 1, 3, 4, 5, 6\n";
	struct proto_manifest *a = parse_ok(text), *b;
	char *out = proto_manifest_format(a);

	cr_assert_not_null(out);
	b = parse_ok(out);
	expect_same(a, b);
	cr_expect_str_eq(a->argv[1], "");
	cr_expect_str_eq(a->argv[2], "it's");
	cr_expect_str_eq(a->argv[5], "back\\slash");
	free(out);
	proto_manifest_free(a);
	proto_manifest_free(b);
}

/* Every optional key at once (each singleton key has its own slot for
 * duplicate detection), and Image/ImageTmp survive a round trip. */
Test(manifest, image_keys_round_trip)
{
	const char *text = HEAD "Node = n\nJob = j\nImage = /img/python3.tar\n"
		"ImageTmp = 1048576\nCommandLine = python3 -c pass\n"
		"Environment = A,1\n" STD;
	struct proto_manifest *a = parse_ok(text), *b;
	char *out = proto_manifest_format(a);

	cr_assert_str_eq(a->image, "/img/python3.tar");
	cr_expect_eq(a->image_tmp, 1048576);
	cr_assert_not_null(out);
	b = parse_ok(out);
	expect_same(a, b);
	cr_expect_str_eq(b->image, "/img/python3.tar");
	cr_expect_eq(b->image_tmp, 1048576);
	free(out);
	proto_manifest_free(a);
	proto_manifest_free(b);
}

Test(manifest, format_built_struct)
{
	struct proto_manifest_channel ch[3] = {
		{ "/dev/null", "/dev/stdin", PROTO_SGET_SPUT, false, 1, 2, 0, 0, 0 },
		{ "/o", "/dev/stdout", PROTO_SGET_SPUT, false, 0, 0, 3, 4, 0 },
		{ "/e", "/dev/stderr", PROTO_SGET_SPUT, true, 0, 0, 5, 6, 0 },
	};
	char *argv[] = { "wc", "-l", NULL };
	struct proto_manifest m = {
		.program = "/bin/wc", .memory = 1 << 20, .timeout = 10,
		.argv = argv, .argc = 2, .channels = ch, .nchannels = 3,
	};
	char *out = proto_manifest_format(&m);

	cr_assert_not_null(out);
	cr_expect_str_eq(out,
		"Version = 20130611\n"
		"Program = /bin/wc\n"
		"Memory = 1048576, 0\n"
		"Timeout = 10\n"
		"CommandLine = wc -l\n"
		"Channel = /dev/null, /dev/stdin, 0, 0, 1, 2, 0, 0\n"
		"Channel = /o, /dev/stdout, 0, 0, 0, 0, 3, 4\n"
		"Channel = /e, /dev/stderr, 0, 1, 0, 0, 5, 6\n");
	free(out);
}

Test(manifest, format_refuses_unrepresentable)
{
	struct proto_manifest_channel ch[1] = {
		{ "/a,b", "/dev/stdin", PROTO_SGET_SPUT, false, 1, 1, 0, 0, 0 },
	};
	struct proto_manifest m = {
		.program = "/p", .channels = ch, .nchannels = 1,
	};
	char *env[] = { "A=1\n", NULL };

	cr_expect_null(proto_manifest_format(&m));
	ch[0].uri = "/ok";
	m.program = "/p\nTimeout = 1";
	cr_expect_null(proto_manifest_format(&m));
	m.program = "/p";
	m.env = env;
	m.nenv = 1;
	cr_expect_null(proto_manifest_format(&m));
	m.nenv = 0;
	ch[0].gets = -1;
	cr_expect_null(proto_manifest_format(&m));
}
