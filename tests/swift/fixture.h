/*
 * fixture.h - helpers shared by the swift unit tests: fixture files
 * (SWIFT_FIXTURES, tests/swift/fixtures) and seeded random damage.
 */
#ifndef ZEROVM_TESTS_SWIFT_FIXTURE_H
#define ZEROVM_TESTS_SWIFT_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The path of a fixture (malloc'd). */
static inline char *fixture(const char *name)
{
	char *p;
	const char *dir = getenv("SWIFT_FIXTURES");
	cr_assert(dir, "SWIFT_FIXTURES is not set");
	cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

/* The bytes of a fixture (malloc'd, at most 1 MiB). */
static inline unsigned char *read_fixture(const char *name, size_t *len)
{
	char *path = fixture(name);
	FILE *f = fopen(path, "rb");
	cr_assert(f, "cannot open %s", path);
	unsigned char *buf = malloc(1 << 20);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	free(path);
	return buf;
}

/* A copy of buf with 1..max_changes bytes set to random values. */
static inline unsigned char *damaged_copy(const unsigned char *buf,
					  size_t len, unsigned *seed,
					  int max_changes)
{
	unsigned char *copy = malloc(len);
	memcpy(copy, buf, len);
	int changes = 1 + rand_r(seed) % max_changes;
	for (int i = 0; i < changes; i++)
		copy[rand_r(seed) % len] = (unsigned char)rand_r(seed);
	return copy;
}

#endif
