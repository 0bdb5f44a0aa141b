/* prep_driver: run zvmd's coordinator planning phase (daemon/cluster_prep.c)
 * once, against a real proxy, and print what it decided as JSON:
 *
 *   prep-driver ZVMD.CONF ACCOUNT TOKEN [LIST_LIMIT] < job.json
 *   {"status": 200, "message": "", "instances": ["map-1", ...],
 *    "placement": [0, 1, ...], "nodes": [{"http": ..., "edge": ...}],
 *    "objects": {"AUTH_test/books/a.txt": {"etag": ..., "size": ...,
 *                "timestamp": ..., "policy": 0}}}
 *
 * The configuration needs role = cluster. Used by test_prep.py inside
 * tests/swift/cluster.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "internal.h"

static char *read_stdin(size_t *len)
{
	size_t cap = 65536;
	char *buf = malloc(cap);

	*len = 0;
	while (buf) {
		size_t n = fread(buf + *len, 1, cap - *len, stdin);

		*len += n;
		if (n == 0)
			return buf;
		if (*len == cap) {
			char *b = realloc(buf, cap * 2);

			if (!b)
				free(buf);
			buf = b;
			cap *= 2;
		}
	}
	return NULL;
}

static json_t *result_json(const struct zvmd_prep *p)
{
	json_t *out = json_pack("{s:i, s:s}", "status", p->status, "message",
				p->msg);
	json_t *names = json_array(), *place = json_array();
	json_t *nodes = json_array(), *objects = json_object();

	for (size_t i = 0; p->plan && p->status == 200 && i < p->plan->ninst;
	     i++) {
		json_array_append_new(names, json_string(p->plan->inst[i].name));
		json_array_append_new(place,
				      json_integer((json_int_t)p->place.inst[i]));
	}
	for (size_t i = 0; i < p->place.nnodes; i++)
		json_array_append_new(nodes, json_pack("{s:s, s:s, s:i}",
			"http", p->place.nodes[i].http,
			"edge", p->place.nodes[i].edge,
			"instances", (int)p->place.nodes[i].ninst));
	for (size_t i = 0; i < p->nobjects; i++) {
		const struct proto_object *o = &p->objects[i];

		json_object_set_new(objects, o->path, json_pack(
			"{s:s, s:I, s:s, s:i}", "etag", o->etag,
			"size", (json_int_t)o->size, "timestamp", o->timestamp,
			"policy", o->policy));
	}
	json_object_set_new(out, "instances", names);
	json_object_set_new(out, "placement", place);
	json_object_set_new(out, "nodes", nodes);
	json_object_set_new(out, "objects", objects);
	return out;
}

int main(int argc, char **argv)
{
	struct zvmd_prep p = { 0 };
	struct zvmd_cluster *cl;
	struct zvmd_error err;
	json_t *out;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: prep-driver ZVMD.CONF ACCOUNT TOKEN "
			"[LIST_LIMIT] < job.json\n");
		return 2;
	}
	zvmd_config_default(&p.cfg);
	if (zvmd_config_load(&p.cfg, argv[1], &err) ||
	    zvmd_config_check(&p.cfg, &err) ||
	    zvmd_cluster_load(&p.cfg, &cl, &err)) {
		fprintf(stderr, "prep-driver: %s\n", err.msg);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	p.cl = cl;
	snprintf(p.account, sizeof(p.account), "%s", argv[2]);
	p.token = strdup(argv[3]);
	p.list_limit = argc == 5 ? (unsigned)atoi(argv[4]) : 0;
	p.json = read_stdin(&p.len);
	if (!p.json || !p.token) {
		fprintf(stderr, "prep-driver: out of memory\n");
		return 1;
	}
	zvmd_prep_run(&p);
	out = result_json(&p);
	json_dumpf(out, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(out);
	zvmd_prep_clear(&p);
	zvmd_cluster_free(cl);
	curl_global_cleanup();
	return 0;
}
