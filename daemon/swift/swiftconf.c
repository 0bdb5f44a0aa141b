/*
 * swiftconf.c - swift.conf: hash path prefix/suffix and storage policies,
 * and Swift's hash_path().
 */
#include "swift.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int swift_error_set(swift_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	err->code = code;
	return -1;
}

/* State of one ini_parse() run; the first problem found wins. */
typedef struct conf_parse {
	swift_conf *conf;
	const char *path;
	swift_error *err;
	bool failed;
} conf_parse;

static int parse_fail(conf_parse *p, const char *fmt, const char *a,
		      const char *b)
{
	if (!p->failed)
		swift_error_set(p->err, EINVAL, fmt, p->path, a, b);
	p->failed = true;
	return 0;
}

/* Swift's config_true_value. */
static bool conf_true(const char *v)
{
	static const char *const yes[] = {"true", "1", "yes", "on", "t", "y"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return true;
	return false;
}

static swift_policy *policy_get_or_add(swift_conf *conf, int index)
{
	for (size_t i = 0; i < conf->npolicies; i++)
		if (conf->policies[i].index == index)
			return &conf->policies[i];
	swift_policy *grown = realloc(conf->policies,
				      (conf->npolicies + 1) * sizeof *grown);
	if (!grown)
		return NULL;
	conf->policies = grown;
	swift_policy *p = &conf->policies[conf->npolicies++];
	*p = (swift_policy){.index = index};
	return p;
}

static int parse_policy_index(const char *section, int *index)
{
	const char *num = section + strlen("storage-policy:");
	char *end;
	errno = 0;
	long v = strtol(num, &end, 10);
	if (errno || end == num || *end || v < 0 || v > INT_MAX)
		return -1;
	*index = (int)v;
	return 0;
}

static int set_string(char **dst, const char *value)
{
	char *copy = strdup(value);
	if (!copy)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

static int policy_option(conf_parse *p, const char *section, const char *name,
			 const char *value)
{
	int index;
	if (parse_policy_index(section, &index) < 0)
		return parse_fail(p, "%s: [%s]: the policy index must be a "
				  "non-negative integer%s", section, "");
	swift_policy *pol = policy_get_or_add(p->conf, index);
	if (!pol)
		return parse_fail(p, "%s: [%s]: out of memory%s", section, "");
	if (strcasecmp(name, "name") == 0) {
		if (!*value)
			return parse_fail(p, "%s: [%s]: empty policy name%s",
					  section, "");
		if (set_string(&pol->name, value) < 0)
			return parse_fail(p, "%s: [%s]: out of memory%s",
					  section, "");
	} else if (strcasecmp(name, "default") == 0) {
		pol->is_default = conf_true(value);
	} else if (strcasecmp(name, "deprecated") == 0) {
		pol->deprecated = conf_true(value);
	} else if (strcasecmp(name, "policy_type") == 0) {
		if (strcmp(value, "replication") == 0)
			pol->type = SWIFT_POLICY_REPLICATION;
		else if (strcmp(value, "erasure_coding") == 0)
			pol->type = SWIFT_POLICY_ERASURE_CODING;
		else
			return parse_fail(p, "%s: [%s]: unknown policy_type "
					  "'%s' (replication or erasure_coding)",
					  section, value);
	}
	/* Other options (aliases, ec_*, diskfile_module...) do not change
	 * where an object is or how it is read. */
	return 1;
}

static int conf_handler(void *user, const char *section, const char *name,
			const char *value)
{
	conf_parse *p = user;
	if (p->failed)
		return 0;
	if (strcmp(section, "swift-hash") == 0) {
		char **dst = NULL;
		if (strcasecmp(name, "swift_hash_path_prefix") == 0)
			dst = &p->conf->hash_prefix;
		else if (strcasecmp(name, "swift_hash_path_suffix") == 0)
			dst = &p->conf->hash_suffix;
		if (dst && set_string(dst, value) < 0)
			return parse_fail(p, "%s: [%s] %s: out of memory",
					  section, name);
		return 1;
	}
	if (strncmp(section, "storage-policy:", 15) == 0)
		return policy_option(p, section, name, value);
	return 1;
}

static int policy_cmp(const void *a, const void *b)
{
	const swift_policy *x = a, *y = b;
	return (x->index > y->index) - (x->index < y->index);
}

/* Swift's StoragePolicyCollection rules: names unique, one default, a
 * policy 0 always exists. */
static int conf_check_policies(swift_conf *conf, const char *path,
			       swift_error *err)
{
	size_t ndefault = 0;
	for (size_t i = 0; i < conf->npolicies; i++) {
		swift_policy *pol = &conf->policies[i];
		if (!pol->name)
			return swift_error_set(err, EINVAL,
				"%s: [storage-policy:%d] has no name", path,
				pol->index);
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(conf->policies[j].name, pol->name) == 0)
				return swift_error_set(err, EINVAL,
					"%s: policies %d and %d are both "
					"named '%s'", path,
					conf->policies[j].index, pol->index,
					pol->name);
		ndefault += pol->is_default;
	}
	if (ndefault > 1)
		return swift_error_set(err, EINVAL,
			"%s: more than one storage policy is the default",
			path);
	if (!swift_conf_policy(conf, 0)) {
		swift_policy *zero = policy_get_or_add(conf, 0);
		if (!zero || set_string(&zero->name, "Policy-0") < 0)
			return swift_error_set(err, ENOMEM,
				"%s: out of memory", path);
	}
	qsort(conf->policies, conf->npolicies, sizeof *conf->policies,
	      policy_cmp);
	if (ndefault == 0) {
		if (conf->npolicies > 1)
			return swift_error_set(err, EINVAL,
				"%s: several storage policies but none has "
				"'default = yes'", path);
		conf->policies[0].is_default = true;
	}
	return 0;
}

int swift_conf_load(const char *path, swift_conf *conf, swift_error *err)
{
	*conf = (swift_conf){0};
	conf_parse p = {.conf = conf, .path = path, .err = err};
	int rc = ini_parse(path, conf_handler, &p);
	if (rc < 0) {
		swift_error_set(err, ENOENT, "%s: cannot open: %s", path,
				strerror(errno));
		goto fail;
	}
	if (p.failed)
		goto fail;
	if (rc > 0) {
		swift_error_set(err, EINVAL, "%s:%d: not valid INI syntax",
				path, rc);
		goto fail;
	}
	if (!(conf->hash_prefix && *conf->hash_prefix) &&
	    !(conf->hash_suffix && *conf->hash_suffix)) {
		swift_error_set(err, EINVAL, "%s: [swift-hash] needs "
				"swift_hash_path_prefix or "
				"swift_hash_path_suffix", path);
		goto fail;
	}
	if (set_string(&conf->hash_prefix, conf->hash_prefix ?
		       conf->hash_prefix : "") < 0 ||
	    set_string(&conf->hash_suffix, conf->hash_suffix ?
		       conf->hash_suffix : "") < 0) {
		swift_error_set(err, ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	if (conf_check_policies(conf, path, err) < 0)
		goto fail;
	return 0;
fail:
	swift_conf_free(conf);
	return -1;
}

void swift_conf_free(swift_conf *conf)
{
	for (size_t i = 0; i < conf->npolicies; i++)
		free(conf->policies[i].name);
	free(conf->policies);
	free(conf->hash_prefix);
	free(conf->hash_suffix);
	*conf = (swift_conf){0};
}

const swift_policy *swift_conf_policy(const swift_conf *conf, int index)
{
	for (size_t i = 0; i < conf->npolicies; i++)
		if (conf->policies[i].index == index)
			return &conf->policies[i];
	return NULL;
}

const swift_policy *swift_conf_policy_by_name(const swift_conf *conf,
					       const char *name)
{
	for (size_t i = 0; i < conf->npolicies; i++)
		if (strcasecmp(conf->policies[i].name, name) == 0)
			return &conf->policies[i];
	return NULL;
}

const swift_policy *swift_conf_default_policy(const swift_conf *conf)
{
	for (size_t i = 0; i < conf->npolicies; i++)
		if (conf->policies[i].is_default)
			return &conf->policies[i];
	return NULL;
}

static void md5_add(EVP_MD_CTX *ctx, const char *s)
{
	if (s)
		EVP_DigestUpdate(ctx, s, strlen(s));
}

int swift_hash_path(const swift_conf *conf, const char *acct,
		    const char *cont, const char *obj, uint8_t digest[16],
		    swift_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned len = 16;
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return swift_error_set(err, ENOMEM, "hash_path: cannot "
				       "start an MD5 digest (OpenSSL)");
	}
	md5_add(ctx, conf->hash_prefix);
	md5_add(ctx, "/");
	md5_add(ctx, acct);
	if (cont && *cont) {
		md5_add(ctx, "/");
		md5_add(ctx, cont);
		if (obj && *obj) {
			md5_add(ctx, "/");
			md5_add(ctx, obj);
		}
	}
	md5_add(ctx, conf->hash_suffix);
	EVP_DigestFinal_ex(ctx, digest, &len);
	EVP_MD_CTX_free(ctx);
	return 0;
}
