/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jwt.c - libFuzzer target for JWT payload decoding (lib/jwt.c).
 *
 * Every input is tried three ways: as a whole token, as the JSON payload
 * of a token built around it, and as bytes for a base64 round trip.
 * Invariants: an accepted exp lies in 0 .. 9999-12-31; a payload whose exp
 * is a plain in-range integer is read as exactly that; decoding what we
 * encode gives the input back in both alphabets, padded or not; a decoded
 * string is 3/4 of its length.
 */
#include <json-c/json.h>

#include "fuzz.h"
#include "jsonmap.h"
#include "jwt.h"

#define EXP_MAX INT64_C(253402300799)

/* base64 of in[0..n): url alphabet or standard, with or without '=' padding. */
static void encode(const uint8_t *in, size_t n, bool url, bool pad, struct pb_buf *out)
{
	const char *abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			      : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t k = n - i >= 3 ? 3 : n - i;
		char q[4];

		if (k > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (k > 2)
			v |= in[i + 2];
		q[0] = abc[v >> 18 & 63];
		q[1] = abc[v >> 12 & 63];
		q[2] = k > 1 ? abc[v >> 6 & 63] : '=';
		q[3] = k > 2 ? abc[v & 63] : '=';
		FUZZ_CHECK(pb_buf_add(out, q, pad ? 4 : k + 1) == 0);
	}
	if (out->data == NULL)
		FUZZ_CHECK(pb_buf_add(out, "", 0) == 0);
}

/* Decoding the encoding gives the bytes back, every way. */
static void check_round_trip(const uint8_t *data, size_t size)
{
	for (int way = 0; way < 4; way++) {
		struct pb_buf enc = { 0 }, dec = { 0 };

		encode(data, size, way & 1, way & 2, &enc);
		FUZZ_CHECK(pb_base64url_decode(enc.data, enc.len, &dec) == 0);
		FUZZ_CHECK(dec.len == size && (size == 0 || memcmp(dec.data, data, size) == 0));
		pb_buf_wipe(&enc);
		pb_buf_wipe(&dec);
	}
}

/* The input as a token (and as base64 text). */
static void check_token(const uint8_t *data, size_t size)
{
	struct pb_buf dec = { 0 };
	struct pb_err err;
	int64_t exp = -1;
	char *tok = fuzz_cstr(data, size);

	if (tok == NULL)
		return;
	pb_err_clear(&err);
	if (pb_jwt_exp(tok, &exp, &err) == 0)
		FUZZ_CHECK(exp >= 0 && exp <= EXP_MAX);
	else
		FUZZ_CHECK(err.msg[0] != '\0' && err.code == PB_E_TEMP);
	if (pb_base64url_decode((const char *)data, size, &dec) == 0) {
		size_t n = size;

		while (n > 0 && n + 2 > size && data[n - 1] == '=')
			n--;
		FUZZ_CHECK(dec.len == n * 3 / 4);
	}
	pb_buf_wipe(&dec);
	free(tok);
}

/* The input as the payload of "header.<input>.sig". */
static void check_payload(const uint8_t *data, size_t size)
{
	struct pb_buf tok = { 0 };
	struct json_object *o, *v;
	struct pb_err err;
	int64_t exp = -1, want = -1;
	int rc;

	FUZZ_CHECK(pb_buf_adds(&tok, "eyJhbGciOiJub25lIn0.") == 0);
	encode(data, size, true, false, &tok);
	FUZZ_CHECK(pb_buf_adds(&tok, ".c2ln") == 0);
	pb_err_clear(&err);
	rc = pb_jwt_exp(tok.data, &exp, &err);
	o = pb_json_parse_object((const char *)data, size);
	if (o != NULL && json_object_object_get_ex(o, "exp", &v) &&
	    json_object_is_type(v, json_type_int)) {
		want = json_object_get_int64(v);
		if (tok.len <= 16384 && want >= 0 && want < EXP_MAX && want != INT64_MAX)
			FUZZ_CHECK(rc == 0 && exp == want);
	}
	if (o == NULL && size > 0 && tok.len <= 16384)
		FUZZ_CHECK(rc < 0);
	json_object_put(o);
	pb_buf_wipe(&tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_token(data, size);
	check_payload(data, size);
	check_round_trip(data, size);
	return 0;
}
