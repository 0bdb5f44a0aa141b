/*
 * swift-locate - find an object with daemon/swift alone, as a worker zvmd
 * will: ring + swift.conf give its nodes, the node's devices dir gives the
 * .data file and its metadata.
 *
 *   swift-locate SWIFT_CONF RING [-h N] [-d IP:PORT=DEVICES]... [-o OUT]
 *                ACCOUNT/CONTAINER/OBJECT
 *
 * Prints "part P", "hash H", "primary IP:PORT/DEV" lines, "handoff ..."
 * lines (-h N of them), and for each primary whose devices dir is given with
 * -d, "object IP:PORT/DEV etag=E length=L flags=F type=T name=N" and its
 * files as "data IP:PORT/DEV PATH" (and "metafile ..." for a newer .meta),
 * its user metadata as "meta IP:PORT/DEV X-Object-Meta-K: V" lines (or
 * "missing IP:PORT/DEV reason"). -o copies the first found .data to OUT.
 * Policy: the ring name object-N.ring.gz selects policy N.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "swift.h"

#define MAX_MAPS 16

typedef struct dev_map {
	const char *node;        /* "ip:port" */
	const char *devices;
} dev_map;

static int usage(void)
{
	fprintf(stderr, "usage: swift-locate SWIFT_CONF RING [-h N] "
		"[-d IP:PORT=DEVICES]... [-o OUT] ACCOUNT/CONTAINER/OBJECT\n");
	return 2;
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;
	int rc = in && out ? 0 : -1;
	while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = -1;
	return rc;
}

static int policy_of_ring(const char *ring_path)
{
	const char *base = strrchr(ring_path, '/');
	base = base ? base + 1 : ring_path;
	int n;
	return sscanf(base, "object-%d.ring.gz", &n) == 1 ? n : 0;
}

static const char *devices_for(const dev_map *maps, size_t nmaps,
			       const swift_dev *d)
{
	char node[128];
	snprintf(node, sizeof node, "%s:%d", d->ip, d->port);
	for (size_t i = 0; i < nmaps; i++)
		if (strcmp(maps[i].node, node) == 0)
			return maps[i].devices;
	return NULL;
}

static void show_object(const swift_dev *d, const char *devices,
			const swift_conf *conf, int policy_index,
			const swift_location *loc, const char *out,
			bool *copied)
{
	char *dir = swift_object_dir(devices, d->device, policy_index,
				     loc->part, loc->hash);
	swift_object obj;
	swift_error err = {0};
	if (!dir || swift_object_open(dir, swift_conf_policy(conf,
		policy_index), (double)time(NULL), &obj, &err) < 0) {
		printf("missing %s:%d/%s %s\n", d->ip, d->port, d->device,
		       dir ? err.msg : "out of memory");
		free(dir);
		return;
	}
	printf("object %s:%d/%s etag=%s length=%llu flags=%u type=%s "
	       "name=%s\n", d->ip, d->port, d->device,
	       obj.etag ? obj.etag : "-",
	       (unsigned long long)obj.content_length, obj.flags,
	       obj.content_type ? obj.content_type : "-", obj.name);
	printf("data %s:%d/%s %s\n", d->ip, d->port, d->device,
	       obj.data_path);
	if (obj.meta_path)
		printf("metafile %s:%d/%s %s\n", d->ip, d->port, d->device,
		       obj.meta_path);
	for (size_t i = 0; i < obj.meta.nitems; i++)
		if (strncasecmp(obj.meta.items[i].key, "X-Object-Meta-", 14) == 0)
			printf("meta %s:%d/%s %s: %s\n", d->ip, d->port,
			       d->device, obj.meta.items[i].key,
			       obj.meta.items[i].value);
	if (out && !*copied) {
		if (copy_file(obj.data_path, out) < 0)
			fprintf(stderr, "swift-locate: copying %s to %s: %s\n",
				obj.data_path, out, strerror(errno));
		*copied = true;
	}
	swift_object_free(&obj);
	free(dir);
}

int main(int argc, char **argv)
{
	dev_map maps[MAX_MAPS];
	size_t nmaps = 0, nhandoffs = 0;
	const char *out = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "+h:d:o:")) != -1) {
		char *eq;
		switch (opt) {
		case 'h':
			nhandoffs = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			eq = strchr(optarg, '=');
			if (!eq || nmaps == MAX_MAPS)
				return usage();
			*eq = 0;
			maps[nmaps++] = (dev_map){optarg, eq + 1};
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind != 3)
		return usage();
	const char *conf_path = argv[optind], *ring_path = argv[optind + 1];
	char *name = argv[optind + 2];
	char *acct = strtok(name, "/"), *cont = strtok(NULL, "/");
	char *obj = strtok(NULL, "");

	swift_conf conf;
	swift_ring *ring;
	swift_error err = {0};
	if (swift_conf_load(conf_path, &conf, &err) < 0) {
		fprintf(stderr, "swift-locate: %s\n", err.msg);
		return 1;
	}
	if (swift_ring_load(ring_path, &ring, &err) < 0) {
		fprintf(stderr, "swift-locate: %s\n", err.msg);
		swift_conf_free(&conf);
		return 1;
	}
	swift_location loc;
	int rc = swift_ring_locate(ring, &conf, acct, cont, obj, &loc, &err);
	if (rc < 0) {
		fprintf(stderr, "swift-locate: %s\n", err.msg);
		goto out;
	}
	printf("part %u\nhash %s\n", loc.part, loc.hash);
	for (size_t i = 0; i < loc.nprimaries; i++)
		printf("primary %s:%d/%s\n", loc.primaries[i]->ip,
		       loc.primaries[i]->port, loc.primaries[i]->device);
	const swift_dev *more[64];
	size_t n = swift_ring_handoffs(ring, loc.part, more,
				       nhandoffs < 64 ? nhandoffs : 64);
	for (size_t i = 0; i < n; i++)
		printf("handoff %s:%d/%s\n", more[i]->ip, more[i]->port,
		       more[i]->device);
	bool copied = false;
	for (size_t i = 0; i < loc.nprimaries; i++) {
		const char *devices = devices_for(maps, nmaps,
						  loc.primaries[i]);
		if (devices)
			show_object(loc.primaries[i], devices, &conf,
				    policy_of_ring(ring_path), &loc, out,
				    &copied);
	}
out:
	swift_ring_free(ring);
	swift_conf_free(&conf);
	return rc < 0 ? 1 : 0;
}
