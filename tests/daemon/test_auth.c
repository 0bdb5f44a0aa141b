/* Unit tests of the worker's check of signed internal requests and edge
 * hellos (daemon/auth.c): every outcome, and the replay cache's bounds. */
#include <criterion/criterion.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define NOW 1700000000
#define PATH "/internal/v1/task"
#define BODY "{\"version\":1}"

static struct zvmd_secret secret = {
	.key = "a cluster secret of at least 32 bytes, here 46",
	.len = 46,
};

static void nonce_of(unsigned n, char *out)
{
	snprintf(out, PROTO_NONCE_HEX + 1, "%032x", n);
}

/* Sign a request with nonce number n expiring at exp; check it at now. */
static enum zvmd_auth_result req(struct zvmd_auth *a, unsigned n,
				 long long exp, long long now, char *msg)
{
	char nonce[PROTO_NONCE_HEX + 1], sig[PROTO_SIG_HEX + 1], e[24];

	nonce_of(n, nonce);
	snprintf(e, sizeof(e), "%lld", exp);
	cr_assert_eq(proto_sign_request(secret.key, secret.len, "POST", PATH,
					exp, nonce, BODY, strlen(BODY), sig), 0);
	return zvmd_auth_request(a, "POST", PATH, e, nonce, sig, BODY,
				 strlen(BODY), now, msg, 256);
}

Test(auth, ok_then_replayed)
{
	struct zvmd_auth *a = zvmd_auth_new(&secret, 0);
	char msg[256];

	cr_assert_not_null(a);
	cr_expect_eq(req(a, 1, NOW + 60, NOW, msg), ZVMD_AUTH_OK, "%s", msg);
	cr_expect_eq(req(a, 1, NOW + 60, NOW + 30, msg), ZVMD_AUTH_REPLAYED);
	cr_expect_str_eq(msg, "replayed request (nonce "
			 "00000000000000000000000000000001 was used already)");
	cr_expect_eq(zvmd_auth_status(ZVMD_AUTH_REPLAYED), 403);
	cr_expect_eq(req(a, 2, NOW + 60, NOW, msg), ZVMD_AUTH_OK, "%s", msg);
	cr_expect_eq(zvmd_auth_pending(a), 2);
	zvmd_auth_free(a);
}

Test(auth, missing_bad_expired)
{
	struct zvmd_auth *a = zvmd_auth_new(&secret, 0);
	char msg[256], sig[PROTO_SIG_HEX + 1], nonce[PROTO_NONCE_HEX + 1];
	struct zvmd_secret other = secret;

	cr_expect_eq(zvmd_auth_request(a, "POST", PATH, NULL, NULL, NULL, "", 0,
				       NOW, msg, sizeof(msg)), ZVMD_AUTH_MISSING);
	cr_expect_str_eq(msg, "missing header X-Zvm-Expires");
	cr_expect_eq(zvmd_auth_status(ZVMD_AUTH_MISSING), 401);
	cr_expect_eq(req(a, 3, NOW - 1, NOW, msg), ZVMD_AUTH_EXPIRED);
	cr_expect_str_eq(msg, "signature expired 1 s ago");
	cr_expect_eq(req(a, 4, NOW + 301, NOW, msg), ZVMD_AUTH_EXPIRED);
	cr_expect_eq(zvmd_auth_status(ZVMD_AUTH_EXPIRED), 403);
	/* signed with another secret */
	other.key[0] ^= 1;
	nonce_of(5, nonce);
	cr_assert_eq(proto_sign_request(other.key, other.len, "POST", PATH,
					NOW + 9, nonce, BODY, strlen(BODY), sig), 0);
	cr_expect_eq(zvmd_auth_request(a, "POST", PATH, "1700000009", nonce, sig,
				       BODY, strlen(BODY), NOW, msg, sizeof(msg)),
		     ZVMD_AUTH_BAD_SIGNATURE);
	cr_expect(strstr(msg, "bad signature"), "%s", msg);
	/* tampered body: refused, and its nonce is not spent */
	cr_assert_eq(proto_sign_request(secret.key, secret.len, "POST", PATH,
					NOW + 9, nonce, BODY, strlen(BODY), sig), 0);
	cr_expect_eq(zvmd_auth_request(a, "POST", PATH, "1700000009", nonce, sig,
				       "{}", 2, NOW, msg, sizeof(msg)),
		     ZVMD_AUTH_BAD_SIGNATURE);
	cr_expect_eq(zvmd_auth_pending(a), 0);
	cr_expect_eq(zvmd_auth_request(a, "POST", PATH, "1700000009", nonce, sig,
				       BODY, strlen(BODY), NOW, msg, sizeof(msg)),
		     ZVMD_AUTH_OK, "%s", msg);
	zvmd_auth_free(a);
}

Test(auth, full_cache_refuses_then_recovers)
{
	struct zvmd_auth *a = zvmd_auth_new(&secret, 100);
	char msg[256];

	for (unsigned n = 0; n < 100; n++)
		cr_assert_eq(req(a, 100 + n, NOW + 10 + n % 7, NOW, msg),
			     ZVMD_AUTH_OK, "%u: %s", n, msg);
	cr_expect_eq(req(a, 999, NOW + 100, NOW, msg), ZVMD_AUTH_FULL);
	cr_expect_eq(zvmd_auth_status(ZVMD_AUTH_FULL), 503);
	cr_expect(strstr(msg, "100 nonces remembered"), "%s", msg);
	/* every remembered nonce is still refused while full */
	cr_expect_eq(req(a, 150, NOW + 10 + 50 % 7, NOW, msg),
		     ZVMD_AUTH_REPLAYED);
	/* at NOW+11 those that expired at NOW+10 are forgotten */
	cr_expect_eq(req(a, 999, NOW + 100, NOW + 11, msg), ZVMD_AUTH_OK, "%s",
		     msg);
	cr_expect_eq(zvmd_auth_pending(a), 100 - 15 + 1);
	/* those still valid are still refused */
	cr_expect_eq(req(a, 101, NOW + 11, NOW + 11, msg), ZVMD_AUTH_REPLAYED);
	zvmd_auth_free(a);
}

/* Many nonces come and go: the set stays consistent through deletions
 * that shift probe runs (a nonce is refused exactly while it is live). */
Test(auth, churn)
{
	struct zvmd_auth *a = zvmd_auth_new(&secret, 64);
	char msg[256];

	for (unsigned t = 0; t < 2000; t++) {
		long long now = NOW + t;

		cr_assert_eq(req(a, t, now + 20, now, msg), ZVMD_AUTH_OK,
			     "%u: %s", t, msg);
		if (t >= 20)
			cr_assert_eq(req(a, t - 20, now - 20 + 20, now, msg),
				     ZVMD_AUTH_REPLAYED, "%u", t);
		if (t >= 22)
			cr_assert_eq(req(a, t - 22, now - 2, now, msg),
				     ZVMD_AUTH_EXPIRED, "%u", t);
		cr_assert_leq(zvmd_auth_pending(a), 22);
	}
	zvmd_auth_free(a);
}

/* Bytes this process has allocated (heap and mmap'd blocks). */
static size_t allocated(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* Memory follows the nonces in flight, not the bound: a cache made for
 * 64 Ki nonces took 6 MiB up front, touched page by page as random
 * nonces came, and zvmd's RSS crept up for minutes in the cluster soak.
 * Growing through many doublings keeps every nonce refused while live. */
Test(auth, grows_with_nonces_in_flight)
{
	size_t before = allocated();
	struct zvmd_auth *a = zvmd_auth_new(&secret, 0);
	char msg[256];

	cr_assert_not_null(a);
	cr_expect_lt(allocated() - before, 16384, "%zu bytes for an empty "
		     "cache", allocated() - before);
	for (unsigned n = 0; n < 5000; n++)
		cr_assert_eq(req(a, 7 * n, NOW + 60 + n % 13, NOW, msg),
			     ZVMD_AUTH_OK, "%u: %s", n, msg);
	cr_expect_eq(zvmd_auth_pending(a), 5000);
	/* doubling: at most 4 slots and 2 heap entries of 32 bytes each */
	cr_expect_lt(allocated() - before, 5000 * 6 * 32 + 16384, "%zu",
		     allocated() - before);
	for (unsigned n = 0; n < 5000; n++)
		cr_assert_eq(req(a, 7 * n, NOW + 60 + n % 13, NOW + 1, msg),
			     ZVMD_AUTH_REPLAYED, "%u", n);
	/* all expired: forgotten, and their nonces count as new again
	 * (signed with a later expiry) */
	cr_expect_eq(req(a, 0, NOW + 200, NOW + 100, msg), ZVMD_AUTH_OK, "%s",
		     msg);
	cr_expect_eq(zvmd_auth_pending(a), 1);
	zvmd_auth_free(a);
}

Test(auth, edge_hello)
{
	struct zvmd_auth *a = zvmd_auth_new(&secret, 0);
	struct proto_edge_hello h;
	char line[PROTO_EDGE_HELLO_MAX], msg[256], nonce[PROTO_NONCE_HEX + 1];
	int n;

	nonce_of(7, nonce);
	n = proto_edge_hello_format(secret.key, secret.len, "c2-17", 4, 9,
				    NOW + 30, nonce, line, sizeof(line));
	cr_assert_gt(n, 0);
	cr_expect_eq(zvmd_auth_edge(a, line, (size_t)n, NOW, &h, msg, sizeof(msg)),
		     ZVMD_AUTH_OK, "%s", msg);
	cr_expect_eq(h.writer, 4);
	cr_expect_eq(h.wchan, 9);
	cr_expect_eq(zvmd_auth_edge(a, line, (size_t)n, NOW, &h, msg, sizeof(msg)),
		     ZVMD_AUTH_REPLAYED);
	cr_expect_eq(zvmd_auth_edge(a, "GET / HTTP/1.1\r\n", 16, NOW, &h, msg,
				    sizeof(msg)), ZVMD_AUTH_BAD_SIGNATURE);
	cr_expect(strstr(msg, "edge hello"), "%s", msg);
	line[n - 2] = line[n - 2] == '0' ? '1' : '0'; /* flip the hmac */
	cr_expect_eq(zvmd_auth_edge(a, line, (size_t)n, NOW, &h, msg, sizeof(msg)),
		     ZVMD_AUTH_BAD_SIGNATURE);
	zvmd_auth_free(a);
}

Test(auth, short_secret_refused)
{
	struct zvmd_secret s = { .key = "short", .len = 5 };

	cr_expect_null(zvmd_auth_new(&s, 0));
}

/* The secret file (zvmd_secret_load, daemon/cluster.c): what auth needs. */
static const char *secret_file(const char *text, mode_t mode)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/zvmd-secret-XXXXXX");
	cr_assert_neq(mkstemp(path), -1);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(chmod(path, mode), 0);
	return path;
}

Test(auth, secret_file)
{
	static const char hex64[] =
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	struct zvmd_secret s;
	char msg[512], text[2048];
	const char *p;

	p = secret_file("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\r\n", 0600);
	cr_expect_eq(zvmd_secret_load(p, &s, msg, sizeof(msg)), 0, "%s", msg);
	cr_expect_eq(s.len, 64, "trailing CR/LF are not part of the secret");
	cr_expect_eq(memcmp(s.key, hex64, 64), 0);
	unlink(p);
	p = secret_file("too short\n", 0600);
	cr_expect_eq(zvmd_secret_load(p, &s, msg, sizeof(msg)), -1);
	cr_expect(strstr(msg, "holds 9 bytes; a cluster secret needs at least 32"),
		  "%s", msg);
	unlink(p);
	p = secret_file(hex64, 0644);
	cr_expect_eq(zvmd_secret_load(p, &s, msg, sizeof(msg)), -1);
	cr_expect(strstr(msg, "is accessible to every user (mode 0644)"), "%s",
		  msg);
	unlink(p);
	memset(text, 'k', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	p = secret_file(text, 0400);
	cr_expect_eq(zvmd_secret_load(p, &s, msg, sizeof(msg)), -1);
	cr_expect(strstr(msg, "is larger than 1024 bytes"), "%s", msg);
	unlink(p);
	cr_expect_eq(zvmd_secret_load("/nonexistent/secret", &s, msg,
				      sizeof(msg)), -1);
	cr_expect(strstr(msg, "No such file"), "%s", msg);
	cr_expect_eq(zvmd_secret_load("/tmp", &s, msg, sizeof(msg)), -1);
	cr_expect(strstr(msg, "is not a regular file"), "%s", msg);
}
