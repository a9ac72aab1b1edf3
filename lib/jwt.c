/* SPDX-License-Identifier: MIT */
/*
 * jwt.c - the `exp` claim of a JWT, read for scheduling only, and the
 * base64url decoder it needs. The token is a secret: no message here
 * quotes it or any part of it.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "jsonmap.h"
#include "jwt.h"

/* Longer than this is not a token we will decode. */
#define JWT_MAX_LEN 16384
/* 9999-12-31T23:59:59Z: anything later is a bug (milliseconds?), not a date. */
#define JWT_EXP_MAX INT64_C(253402300799)

/* The 6-bit value of a base64url or standard base64 character, -1 for any other. */
static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

/*
 * Decode in[0..inlen) and append the bytes to out. Both alphabets are
 * accepted; '=' padding is optional but, when present, must be right. Any
 * other character, or a length no encoder produces, gives -1 before
 * anything is written.
 */
int pb_base64url_decode(const char *in, size_t inlen, struct pb_buf *out)
{
	unsigned char bytes[3];
	size_t n = inlen, pad = 0;
	uint32_t acc = 0;

	while (n > 0 && in[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (b64_value(in[i]) < 0)
			return -1;
	for (size_t i = 0; i < n; i++) {
		acc = acc << 6 | (uint32_t)b64_value(in[i]);
		if (i % 4 != 3)
			continue;
		bytes[0] = (unsigned char)(acc >> 16);
		bytes[1] = (unsigned char)(acc >> 8);
		bytes[2] = (unsigned char)acc;
		acc = 0;
		if (pb_buf_add(out, bytes, 3) < 0)
			return -1;
	}
	/* 2 leftover characters carry 1 byte, 3 carry 2; the low bits are padding */
	if (n % 4 == 2) {
		bytes[0] = (unsigned char)(acc >> 4);
		return pb_buf_add(out, bytes, 1);
	}
	if (n % 4 == 3) {
		bytes[0] = (unsigned char)(acc >> 10);
		bytes[1] = (unsigned char)(acc >> 2);
		return pb_buf_add(out, bytes, 2);
	}
	return 0;
}

/*
 * Find the payload of "header.payload.signature": exactly two dots, header
 * and payload non-empty (the signature is empty for alg "none").
 */
static int jwt_payload(const char *token, size_t len, const char **payload, size_t *plen)
{
	const char *dot1 = memchr(token, '.', len), *dot2;

	if (dot1 == NULL || dot1 == token)
		return -1;
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
	if (dot2 == NULL || dot2 == dot1 + 1 ||
	    memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
		return -1;
	*payload = dot1 + 1;
	*plen = (size_t)(dot2 - *payload);
	return 0;
}

/* The `exp` claim as whole seconds: an integer, or a double truncated. */
static int exp_claim(struct json_object *claims, int64_t *exp, struct pb_err *err)
{
	struct json_object *v;
	int64_t i;
	double d;

	if (!json_object_object_get_ex(claims, "exp", &v))
		return pb_fail(err, PB_E_TEMP, "JWT has no numeric exp claim");
	if (json_object_is_type(v, json_type_int)) {
		/* json-c clamps values beyond int64 to INT64_MAX: out of range too */
		i = json_object_get_int64(v);
		if (i < 0 || i > JWT_EXP_MAX)
			return pb_fail(err, PB_E_TEMP, "JWT exp claim is out of range");
		*exp = i;
		return 0;
	}
	if (json_object_is_type(v, json_type_double)) {
		/* range-check before the cast: converting 1e300 to int64_t is undefined */
		d = json_object_get_double(v);
		if (!isfinite(d) || d < 0 || d > (double)JWT_EXP_MAX)
			return pb_fail(err, PB_E_TEMP, "JWT exp claim is out of range");
		*exp = (int64_t)d;
		return 0;
	}
	return pb_fail(err, PB_E_TEMP, "JWT has no numeric exp claim");
}

/* Read exp from token; see jwt.h. Only the payload is looked at. */
int pb_jwt_exp(const char *token, int64_t *exp, struct pb_err *err)
{
	struct pb_buf json = { 0 };
	struct json_object *claims = NULL;
	const char *payload;
	size_t len, plen;
	int rc = -1;

	if (token == NULL)
		return pb_fail(err, PB_E_TEMP, "token is not a JWT");
	if ((len = strnlen(token, JWT_MAX_LEN + 1)) > JWT_MAX_LEN)
		return pb_fail(err, PB_E_TEMP, "token is not a JWT (longer than %d bytes)",
			       JWT_MAX_LEN);
	if (jwt_payload(token, len, &payload, &plen) < 0)
		return pb_fail(err, PB_E_TEMP, "token is not a JWT");
	if (pb_base64url_decode(payload, plen, &json) < 0) {
		pb_fail(err, PB_E_TEMP, "JWT payload is not base64url");
		goto done;
	}
	if ((claims = pb_json_parse_object(json.data, json.len)) == NULL) {
		pb_fail(err, PB_E_TEMP, "JWT payload is not a JSON object");
		goto done;
	}
	rc = exp_claim(claims, exp, err);
done:
	json_object_put(claims);
	pb_buf_wipe(&json);
	return rc;
}
