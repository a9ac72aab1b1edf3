/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jsonmap.c - libFuzzer target for reading vendor answers
 * (lib/jsonmap.c): the strict body parser, dot paths with '|'
 * alternatives, and the one-line error summary.
 *
 * Input: a path expression, a NUL, then the body (any bytes). The body is
 * handed over in a buffer of exactly its length, so a read past the end
 * is caught. Invariants: a parsed body is an object; a path naming a
 * top-level member finds exactly it, alone and behind a missing
 * alternative; "key.0" finds an array's first element; the summary and
 * the OAuth2 code are one line of printable text that fits their buffers.
 */
#include <json-c/json.h>

#include "fuzz.h"
#include "jsonmap.h"

/* Is k usable as a path component ([A-Za-z0-9_-]+)? */
static bool plain_key(const char *k)
{
	return k[0] != '\0' && strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789_-") == strlen(k);
}

/* Paths built from the body's own members find those members. */
static void check_members(struct json_object *root)
{
	char path[300];

	json_object_object_foreach(root, key, val) {
		if (!plain_key(key) || strlen(key) > 100)
			continue;
		FUZZ_CHECK(pb_json_path_valid(key));
		FUZZ_CHECK(pb_json_path(root, key) == val);
		snprintf(path, sizeof(path), "no_such_member_x | %s", key);
		FUZZ_CHECK(pb_json_path_valid(path));
		if (json_object_object_get_ex(root, "no_such_member_x", NULL))
			continue;
		FUZZ_CHECK(pb_json_path(root, path) == val);
		if (json_object_is_type(val, json_type_array) && json_object_array_length(val) > 0) {
			snprintf(path, sizeof(path), "%s.0", key);
			FUZZ_CHECK(pb_json_path(root, path) == json_object_array_get_idx(val, 0));
		}
	}
}

/* One line of printable bytes (UTF-8 allowed), shorter than its buffer. */
static void check_line(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	FUZZ_CHECK(n < size);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_parts fp;
	struct json_object *root, *v;
	char summary[256], oauth[64];
	size_t outlen, blen;
	char *body;

	if (fuzz_split(data, size, 2, &fp) < 0)
		return 0;
	blen = fp.n > 1 ? fp.len[1] : 0;
	if ((body = malloc(blen ? blen : 1)) == NULL)
		goto done;
	if (blen > 0)
		memcpy(body, fp.part[1], blen);

	root = pb_json_parse_object(body, blen);
	if (root != NULL) {
		FUZZ_CHECK(json_object_is_type(root, json_type_object));
		FUZZ_CHECK(memchr(body, '\0', blen) == NULL);
		/* any expression, valid or not, is safe to evaluate */
		v = pb_json_path(root, fp.part[0]);
		if (fp.part[0][0] == '\0')
			FUZZ_CHECK(v == NULL);
		check_members(root);
		json_object_put(root);
	}

	/* the summary, into a buffer of a size the input picks */
	outlen = size > 0 ? 1 + data[size - 1] % sizeof(summary) : sizeof(summary);
	memset(summary, 'x', sizeof(summary));
	memset(oauth, 'x', sizeof(oauth));
	pb_json_error_summary(body, blen, summary, outlen, oauth, outlen < 64 ? outlen : 64);
	check_line(summary, outlen);
	check_line(oauth, outlen < 64 ? outlen : 64);
	pb_json_error_summary(body, blen, summary, sizeof(summary), NULL, 0);
	check_line(summary, sizeof(summary));
	free(body);
done:
	fuzz_parts_free(&fp);
	return 0;
}
