/* mock_store.c — see mock_store.h. */
#include <stdlib.h>
#include <string.h>

#include "mock_store.h"

static int push(struct proto_names *out, const char *s, size_t n)
{
	char **v = realloc(out->v, (out->n + 1) * sizeof(char *));

	if (!v)
		return -1;
	out->v = v;
	v[out->n] = strndup(s, n);
	return v[out->n++] ? 0 : -1;
}

static bool seen(const struct proto_names *out, const char *s, size_t n)
{
	for (size_t i = 0; i < out->n; i++)
		if (strlen(out->v[i]) == n && memcmp(out->v[i], s, n) == 0)
			return true;
	return false;
}

int mock_list(void *ctx, const char *account, const char *container,
	      const char *prefix, struct proto_names *out,
	      struct proto_error *err)
{
	struct mock_store *m = ctx;
	size_t al = strlen(account), cl = container ? strlen(container) : 0;
	bool found = container == NULL;

	m->calls++;
	out->v = NULL;
	out->n = 0;
	for (size_t i = 0; i < m->n; i++) {
		const char *s = m->names[i], *c, *o;

		if (strncmp(s, account, al) != 0 || s[al] != '/')
			continue;
		c = s + al + 1;
		o = strchr(c, '/');
		if (!container) {
			if (strncmp(c, prefix, strlen(prefix)) == 0 &&
			    !seen(out, c, (size_t)(o - c)) &&
			    push(out, c, (size_t)(o - c)) < 0)
				return proto_error_set(err, PROTO_EINTERNAL,
						       "oom");
			continue;
		}
		if ((size_t)(o - c) != cl || strncmp(c, container, cl) != 0)
			continue;
		found = true;
		o++;
		if (*o && strncmp(o, prefix, strlen(prefix)) == 0 &&
		    push(out, o, strlen(o)) < 0)
			return proto_error_set(err, PROTO_EINTERNAL, "oom");
	}
	if (!found)
		return proto_error_set(err, PROTO_ENOTFOUND,
				       "container %s not found", container);
	return 0;
}
