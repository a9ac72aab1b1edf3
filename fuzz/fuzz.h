/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what every libFuzzer target here shares: a checked invariant
 * that aborts (so libFuzzer saves the input), and cutting the fuzz input
 * into NUL-terminated parts.
 */
#ifndef PB_FUZZ_H
#define PB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An invariant: on failure say which and abort, so the input is kept. */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

/* At most this many parts in one input; the rest stays in the last one. */
#define FUZZ_MAX_PARTS 16

/* The input cut at its NUL bytes into C strings (one copy owns them all). */
struct fuzz_parts {
	char *copy;
	char *part[FUZZ_MAX_PARTS];
	size_t len[FUZZ_MAX_PARTS];
	size_t n;
};

/*
 * Cut data at NUL bytes into at most max parts (the last part keeps any
 * further NULs, so its len may exceed its strlen). Returns -1 only when out
 * of memory. Free with fuzz_parts_free().
 */
static inline int fuzz_split(const uint8_t *data, size_t size, size_t max,
			     struct fuzz_parts *fp)
{
	char *p, *end, *nul;

	memset(fp, 0, sizeof(*fp));
	if (max > FUZZ_MAX_PARTS)
		max = FUZZ_MAX_PARTS;
	if ((fp->copy = malloc(size + 1)) == NULL)
		return -1;
	if (size > 0)
		memcpy(fp->copy, data, size);
	fp->copy[size] = '\0';
	p = fp->copy;
	end = p + size;
	for (;;) {
		nul = fp->n + 1 < max ? memchr(p, '\0', (size_t)(end - p)) : NULL;
		fp->part[fp->n] = p;
		fp->len[fp->n] = (size_t)((nul != NULL ? nul : end) - p);
		fp->n++;
		if (nul == NULL)
			return 0;
		p = nul + 1;
	}
}

static inline void fuzz_parts_free(struct fuzz_parts *fp)
{
	free(fp->copy);
	fp->copy = NULL;
}

/* The input as one C string (stops at the first NUL); free() it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		return NULL;
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
