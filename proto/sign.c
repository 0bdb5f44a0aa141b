/* sign.c — signed internal requests and edge hellos (HMAC-SHA256 with the
 * cluster secret). Pure functions: the replay cache lives in the daemon
 * (daemon/auth.c); here only syntax, expiry window and the MAC. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "internal.h"

#define EDGE_MAGIC "ZVMEDGE/1"

static void hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool lower_hex(const char *s, size_t want)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == want;
}

/* A job id travels in the space-separated hello line and in logs. */
bool wire_job_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._:-", s[i])))
			return false;
	return true;
}

static int hmac_hex(const unsigned char *key, size_t keylen, const char *msg,
		    size_t len, char *out_hex)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (keylen > INT32_MAX ||
	    !HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
		  len, mac, &maclen) || maclen != PROTO_SIG_HEX / 2)
		return -1;
	hex(mac, maclen, out_hex);
	return 0;
}

int proto_sign_request(const unsigned char *key, size_t keylen,
		       const char *method, const char *path, int64_t expires,
		       const char *nonce, const void *body, size_t len,
		       char *out_hex)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char body_hex[2 * SHA256_DIGEST_LENGTH + 1];
	struct pbuf b;
	int rc;

	if (!lower_hex(nonce, PROTO_NONCE_HEX) || expires < 0 ||
	    strchr(method, '\n') || strchr(path, '\n'))
		return -1;
	if (!SHA256(len ? body : (const void *)"", len, digest))
		return -1;
	hex(digest, sizeof(digest), body_hex);
	pbuf_init(&b);
	pbuf_printf(&b, "%s\n%s\n%" PRId64 "\n%s\n%s", method, path, expires,
		    nonce, body_hex);
	if (!b.ok) {
		free(pbuf_take(&b));
		return -1;
	}
	rc = hmac_hex(key, keylen, b.s, b.len, out_hex);
	free(pbuf_take(&b));
	return rc;
}

/* Decimal digits only, no leading zero, fits int64. */
static bool parse_canonical(const char *s, size_t n, int64_t *out)
{
	if (n > 1 && s[0] == '0')
		return false;
	return parse_nonneg(s, n, out);
}

static enum proto_sig_result window(int64_t expires, int64_t now,
				    struct proto_error *err)
{
	if (expires < now) {
		proto_error_set(err, PROTO_EFORBIDDEN, "signature expired %"
				PRId64 " s ago", now - expires);
		return PROTO_SIG_EXPIRED;
	}
	if (expires - now > PROTO_EXPIRES_MAX) {
		proto_error_set(err, PROTO_EFORBIDDEN, "signature expires in %"
				PRId64 " s, more than the %d s allowed (clocks "
				"out of sync?)", expires - now,
				PROTO_EXPIRES_MAX);
		return PROTO_SIG_EXPIRED;
	}
	return PROTO_SIG_OK;
}

static enum proto_sig_result sig_fail(struct proto_error *err,
				      enum proto_sig_result r,
				      const char *why)
{
	proto_error_set(err, PROTO_EFORBIDDEN, "%s", why);
	return r;
}

enum proto_sig_result
proto_verify_request(const unsigned char *key, size_t keylen,
		     const char *method, const char *path, const char *expires,
		     const char *nonce, const char *signature, const void *body,
		     size_t len, int64_t now, struct proto_error *err)
{
	char want[PROTO_SIG_HEX + 1];
	int64_t exp;
	enum proto_sig_result r;

	if (!expires)
		return sig_fail(err, PROTO_SIG_MISSING,
				"missing header X-Zvm-Expires");
	if (!nonce)
		return sig_fail(err, PROTO_SIG_MISSING,
				"missing header X-Zvm-Nonce");
	if (!signature)
		return sig_fail(err, PROTO_SIG_MISSING,
				"missing header X-Zvm-Signature");
	if (!parse_canonical(expires, strlen(expires), &exp))
		return sig_fail(err, PROTO_SIG_MALFORMED, "X-Zvm-Expires must "
				"be unix seconds (decimal digits)");
	if (!lower_hex(nonce, PROTO_NONCE_HEX))
		return sig_fail(err, PROTO_SIG_MALFORMED, "X-Zvm-Nonce must be "
				"32 lowercase hex digits");
	if (!lower_hex(signature, PROTO_SIG_HEX))
		return sig_fail(err, PROTO_SIG_MALFORMED, "X-Zvm-Signature must "
				"be 64 lowercase hex digits");
	r = window(exp, now, err);
	if (r != PROTO_SIG_OK)
		return r;
	if (proto_sign_request(key, keylen, method, path, exp, nonce, body,
			       len, want))
		return sig_fail(err, PROTO_SIG_BAD, "signature cannot be "
				"computed for this method and path");
	if (CRYPTO_memcmp(want, signature, PROTO_SIG_HEX) != 0)
		return sig_fail(err, PROTO_SIG_BAD, "bad signature (wrong "
				"cluster secret, or the request was altered)");
	return PROTO_SIG_OK;
}

int proto_nonce_new(char *out)
{
	unsigned char b[PROTO_NONCE_HEX / 2];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	hex(b, sizeof(b), out);
	return 0;
}

/* ----------------------------------------------------------- edge hello */

/* The signed part: "ZVMEDGE/1 job writer wchan expires nonce". */
static int hello_text(const char *job, size_t writer, size_t wchan,
		      int64_t expires, const char *nonce, char *out, size_t cap)
{
	int n = snprintf(out, cap, EDGE_MAGIC " %s %zu %zu %" PRId64 " %s",
			 job, writer, wchan, expires, nonce);

	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int proto_edge_hello_format(const unsigned char *key, size_t keylen,
			    const char *job, size_t writer, size_t wchan,
			    int64_t expires, const char *nonce, char *out,
			    size_t cap)
{
	char mac[PROTO_SIG_HEX + 1];
	int n;

	if (cap < PROTO_EDGE_HELLO_MAX || !wire_job_ok(job) ||
	    !lower_hex(nonce, PROTO_NONCE_HEX) || expires < 0)
		return -1;
	n = hello_text(job, writer, wchan, expires, nonce, out, cap);
	if (n < 0 || hmac_hex(key, keylen, out, (size_t)n, mac))
		return -1;
	n += snprintf(out + n, cap - (size_t)n, " %s\n", mac);
	return (size_t)n < cap ? n : -1;
}

/* The next space-separated field of [*p, end): its start and length. */
static bool field(const char **p, const char *end, const char **s, size_t *n)
{
	const char *q = *p;

	while (q < end && *q != ' ')
		q++;
	*s = *p;
	*n = (size_t)(q - *p);
	*p = q < end ? q + 1 : q;
	return *n > 0;
}

int proto_edge_hello_parse(const char *line, size_t len,
			   struct proto_edge_hello *out,
			   struct proto_error *err)
{
	const char *p = line, *end, *f[7];
	size_t n[7];
	int64_t v;

	memset(out, 0, sizeof(*out));
	if (len && line[len - 1] == '\n')
		len--;
	end = line + len;
	if (len >= PROTO_EDGE_HELLO_MAX || memchr(line, '\0', len))
		return proto_error_set(err, PROTO_EBADJOB, "edge hello: not a "
				       "ZVMEDGE/1 line");
	for (int i = 0; i < 7; i++)
		if (!field(&p, end, &f[i], &n[i]))
			return proto_error_set(err, PROTO_EBADJOB, "edge hello: "
					       "needs 7 fields separated by "
					       "single spaces");
	if (p != end)
		return proto_error_set(err, PROTO_EBADJOB, "edge hello: text "
				       "after the hmac");
	if (n[0] != strlen(EDGE_MAGIC) || memcmp(f[0], EDGE_MAGIC, n[0]))
		return proto_error_set(err, PROTO_EBADJOB, "edge hello: not a "
				       "ZVMEDGE/1 line");
	if (n[1] >= sizeof(out->job))
		return proto_error_set(err, PROTO_EBADJOB, "edge hello: job id "
				       "longer than 64");
	memcpy(out->job, f[1], n[1]);
	if (!wire_job_ok(out->job))
		return proto_error_set(err, PROTO_EBADJOB, "edge hello: job id "
				       "must be [A-Za-z0-9._:-]");
	if (!parse_canonical(f[2], n[2], &v) || (uint64_t)v > SIZE_MAX)
		return proto_error_set(err, PROTO_EBADJOB, "edge hello: writer "
				       "instance must be a decimal number");
	out->writer = (size_t)v;
	if (!parse_canonical(f[3], n[3], &v) || (uint64_t)v > SIZE_MAX)
		return proto_error_set(err, PROTO_EBADJOB, "edge hello: writer "
				       "channel must be a decimal number");
	out->wchan = (size_t)v;
	if (!parse_canonical(f[4], n[4], &out->expires))
		return proto_error_set(err, PROTO_EBADJOB, "edge hello: expires "
				       "must be unix seconds");
	if (n[5] != PROTO_NONCE_HEX || n[6] != PROTO_SIG_HEX)
		return proto_error_set(err, PROTO_EBADJOB, "edge hello: nonce "
				       "and hmac must be 32 and 64 hex digits");
	memcpy(out->nonce, f[5], n[5]);
	memcpy(out->hmac, f[6], n[6]);
	if (!lower_hex(out->nonce, PROTO_NONCE_HEX) ||
	    !lower_hex(out->hmac, PROTO_SIG_HEX))
		return proto_error_set(err, PROTO_EBADJOB, "edge hello: nonce "
				       "and hmac must be lowercase hex");
	return 0;
}

enum proto_sig_result
proto_edge_hello_verify(const unsigned char *key, size_t keylen,
			const struct proto_edge_hello *h, int64_t now,
			struct proto_error *err)
{
	char text[PROTO_EDGE_HELLO_MAX], mac[PROTO_SIG_HEX + 1];
	enum proto_sig_result r = window(h->expires, now, err);
	int n;

	if (r != PROTO_SIG_OK)
		return r;
	n = hello_text(h->job, h->writer, h->wchan, h->expires, h->nonce, text,
		       sizeof(text));
	if (n < 0 || hmac_hex(key, keylen, text, (size_t)n, mac))
		return sig_fail(err, PROTO_SIG_MALFORMED, "edge hello: cannot "
				"be checked");
	if (CRYPTO_memcmp(mac, h->hmac, PROTO_SIG_HEX) != 0)
		return sig_fail(err, PROTO_SIG_BAD, "edge hello: bad hmac "
				"(wrong cluster secret, or the line was "
				"altered)");
	return PROTO_SIG_OK;
}
