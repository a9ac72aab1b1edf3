/* SPDX-License-Identifier: MIT */
/*
 * test_jwt.c - base64url decoding and the JWT `exp` claim, including
 * tokens that are not JWTs at all and payloads written to hurt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jwt.h"

#define HEADER "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"	/* {"alg":"HS256","typ":"JWT"} */

/* base64url without padding, for building hostile tokens from plain JSON. */
static void b64url(const char *in, size_t n, struct pb_buf *out)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *u = (const unsigned char *)in;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)u[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)u[i + 1] << 8;
		if (left > 2)
			v |= u[i + 2];
		assert_int_equal(pb_buf_add(out, &abc[v >> 18 & 63], 1), 0);
		assert_int_equal(pb_buf_add(out, &abc[v >> 12 & 63], 1), 0);
		if (left > 1)
			assert_int_equal(pb_buf_add(out, &abc[v >> 6 & 63], 1), 0);
		if (left > 2)
			assert_int_equal(pb_buf_add(out, &abc[v & 63], 1), 0);
	}
}

/* HEADER.<payload>.sig with the payload's n bytes encoded. */
static void make_jwt(const char *payload, size_t n, struct pb_buf *tok)
{
	assert_int_equal(pb_buf_adds(tok, HEADER "."), 0);
	b64url(payload, n, tok);
	assert_int_equal(pb_buf_adds(tok, ".c2ln"), 0);
}

/* pb_jwt_exp on a token made from payload JSON; returns rc, fills exp and err. */
static int exp_of(const char *payload, int64_t *exp, struct pb_err *err)
{
	struct pb_buf tok = { 0 };
	int rc;

	make_jwt(payload, strlen(payload), &tok);
	pb_err_clear(err);
	rc = pb_jwt_exp(tok.data, exp, err);
	pb_buf_wipe(&tok);
	return rc;
}

static void expect_exp(const char *payload, int64_t want)
{
	struct pb_err err;
	int64_t exp = -1;

	assert_int_equal(exp_of(payload, &exp, &err), 0);
	assert_int_equal(exp, want);
}

static void expect_exp_error(const char *payload, const char *msg)
{
	struct pb_err err;
	int64_t exp = 42;

	assert_int_equal(exp_of(payload, &exp, &err), -1);
	assert_int_equal(err.code, PB_E_TEMP);
	assert_string_equal(err.msg, msg);
	assert_int_equal(exp, 42);
}

static void expect_token_error(const char *token, const char *msg)
{
	struct pb_err err;
	int64_t exp = 42;

	pb_err_clear(&err);
	assert_int_equal(pb_jwt_exp(token, &exp, &err), -1);
	assert_int_equal(err.code, PB_E_TEMP);
	assert_string_equal(err.msg, msg);
	assert_int_equal(exp, 42);
}

/* ------------------------------------------------------------ base64url */

static void expect_decode(const char *in, const char *want, size_t wantlen)
{
	struct pb_buf out = { 0 };

	assert_int_equal(pb_base64url_decode(in, strlen(in), &out), 0);
	assert_int_equal(out.len, wantlen);
	if (wantlen > 0)
		assert_memory_equal(out.data, want, wantlen);
	pb_buf_wipe(&out);
}

static void expect_decode_error(const char *in, size_t len)
{
	struct pb_buf out = { 0 };

	assert_int_equal(pb_base64url_decode(in, len, &out), -1);
	assert_int_equal(out.len, 0);
	pb_buf_wipe(&out);
}

/* RFC 4648 section 10 vectors, unpadded and padded */
static void test_b64_rfc4648_vectors(void **state)
{
	expect_decode("", "", 0);
	expect_decode("Zg", "f", 1);
	expect_decode("Zg==", "f", 1);
	expect_decode("Zm8", "fo", 2);
	expect_decode("Zm8=", "fo", 2);
	expect_decode("Zm9v", "foo", 3);
	expect_decode("Zm9vYg", "foob", 4);
	expect_decode("Zm9vYmE", "fooba", 5);
	expect_decode("Zm9vYmE=", "fooba", 5);
	expect_decode("Zm9vYmFy", "foobar", 6);
}

/* both alphabets, for the two characters where they differ */
static void test_b64_both_alphabets(void **state)
{
	expect_decode("-_8", "\xfb\xff", 2);
	expect_decode("+/8", "\xfb\xff", 2);
	expect_decode("+_8=", "\xfb\xff", 2);
}

/* binary output, NUL bytes included, is returned with its length */
static void test_b64_binary(void **state)
{
	expect_decode("AAEA", "\x00\x01\x00", 3);
}

static void test_b64_bad_characters(void **state)
{
	expect_decode_error("Zm9v!", 5);
	expect_decode_error("Zm 9v", 5);
	expect_decode_error("Zm9v\n", 5);
	expect_decode_error("Zm.v", 4);
	expect_decode_error("Zm9\xc3\xa9", 5);
	expect_decode_error("Zm\0v", 4);	/* a NUL inside the given length */
}

static void test_b64_bad_lengths_and_padding(void **state)
{
	expect_decode_error("Z", 1);
	expect_decode_error("Zm9vY", 5);	/* len % 4 == 1 */
	expect_decode_error("Zg=", 3);		/* padding present but short */
	expect_decode_error("Zm9v=", 5);
	expect_decode_error("Zm9v==", 6);
	expect_decode_error("Zg===", 5);
	expect_decode_error("Z===", 4);
	expect_decode_error("Zg==Zg==", 8);	/* padding in the middle */
	expect_decode_error("=", 1);
}

/* the decoder appends to what the buffer already holds */
static void test_b64_appends(void **state)
{
	struct pb_buf out = { 0 };

	assert_int_equal(pb_buf_adds(&out, "x:"), 0);
	assert_int_equal(pb_base64url_decode("Zm9v", 4, &out), 0);
	assert_string_equal(out.data, "x:foo");
	pb_buf_wipe(&out);
}

/* ------------------------------------------------------------ exp */

/* a real-shaped token: header, payload with exp among other claims, signature */
static void test_exp_integer(void **state)
{
	/* payload: {"sub":"alice","exp":1767225600,"iat":1767222000} */
	static const char token[] = HEADER
		".eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NzIyNTYwMCwiaWF0IjoxNzY3MjIyMDAwfQ"
		".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
	struct pb_err err;
	int64_t exp = 0;

	pb_err_clear(&err);
	assert_int_equal(pb_jwt_exp(token, &exp, &err), 0);
	assert_int_equal(exp, 1767225600);
}

/* '_' in the payload (base64url) and the same payload in standard base64, padded */
static void test_exp_url_and_std_alphabet(void **state)
{
	struct pb_err err;
	int64_t exp = 0;

	pb_err_clear(&err);
	assert_int_equal(pb_jwt_exp(HEADER ".eyJzdWIiOiI_Pj8iLCJleHAiOjE3MDAwMDAwMDB9.sig",
				    &exp, &err), 0);
	assert_int_equal(exp, 1700000000);
	exp = 0;
	assert_int_equal(pb_jwt_exp(HEADER ".eyJzdWIiOiI/Pj8iLCJleHAiOjE3MDAwMDAwMDB9.sig",
				    &exp, &err), 0);
	assert_int_equal(exp, 1700000000);
	exp = 0;
	assert_int_equal(pb_jwt_exp(HEADER ".eyJleHAiOjE3NjcyMjU2MDAuOX0=.sig", &exp, &err), 0);
	assert_int_equal(exp, 1767225600);
}

/* alg "none" tokens have an empty signature */
static void test_exp_empty_signature(void **state)
{
	struct pb_err err;
	int64_t exp = 0;

	pb_err_clear(&err);
	assert_int_equal(pb_jwt_exp("eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDB9.", &exp, &err),
			 0);
	assert_int_equal(exp, 1700000000);
}

static void test_exp_double_truncated(void **state)
{
	expect_exp("{\"exp\":1767225600.9}", 1767225600);
	expect_exp("{\"exp\":1.7e9}", 1700000000);
	expect_exp("{\"exp\":0}", 0);
	expect_exp("{\"exp\":253402300799}", INT64_C(253402300799));	/* 9999-12-31T23:59:59Z */
}

static void test_exp_missing_or_not_a_number(void **state)
{
	expect_exp_error("{\"sub\":\"alice\"}", "JWT has no numeric exp claim");
	expect_exp_error("{\"exp\":\"1767225600\"}", "JWT has no numeric exp claim");
	expect_exp_error("{\"exp\":true}", "JWT has no numeric exp claim");
	expect_exp_error("{\"exp\":null}", "JWT has no numeric exp claim");
	expect_exp_error("{\"exp\":[1767225600]}", "JWT has no numeric exp claim");
	expect_exp_error("{\"exp\":{\"v\":1}}", "JWT has no numeric exp claim");
	expect_exp_error("{\"data\":{\"exp\":1767225600}}", "JWT has no numeric exp claim");
}

static void test_exp_negative(void **state)
{
	expect_exp_error("{\"exp\":-1}", "JWT exp claim is out of range");
	expect_exp_error("{\"exp\":-0.5e3}", "JWT exp claim is out of range");
	expect_exp_error("{\"exp\":-9223372036854775809}", "JWT exp claim is out of range");
}

static void test_exp_huge(void **state)
{
	expect_exp_error("{\"exp\":253402300800}", "JWT exp claim is out of range");
	expect_exp_error("{\"exp\":1767225600000}", "JWT exp claim is out of range"); /* ms */
	expect_exp_error("{\"exp\":9223372036854775807}", "JWT exp claim is out of range");
	expect_exp_error("{\"exp\":18446744073709551615}", "JWT exp claim is out of range");
	expect_exp_error("{\"exp\":99999999999999999999999999}", "JWT exp claim is out of range");
	expect_exp_error("{\"exp\":1.5e300}", "JWT exp claim is out of range");
}

static void test_exp_not_finite(void **state)
{
	expect_exp_error("{\"exp\":1e400}", "JWT exp claim is out of range");
	expect_exp_error("{\"exp\":-1e400}", "JWT exp claim is out of range");
	expect_exp_error("{\"exp\":NaN}", "JWT exp claim is out of range");
	expect_exp_error("{\"exp\":Infinity}", "JWT exp claim is out of range");
}

static void test_not_a_jwt(void **state)
{
	expect_token_error(NULL, "token is not a JWT");
	expect_token_error("", "token is not a JWT");
	expect_token_error("opaque-token-without-dots", "token is not a JWT");
	expect_token_error(HEADER ".eyJleHAiOjF9", "token is not a JWT");
	expect_token_error(HEADER ".eyJleHAiOjF9.sig.extra", "token is not a JWT");
	expect_token_error(".eyJleHAiOjF9.sig", "token is not a JWT");
	expect_token_error(HEADER "..sig", "token is not a JWT");
	expect_token_error("..", "token is not a JWT");
	expect_token_error("...", "token is not a JWT");
}

static void test_payload_not_base64(void **state)
{
	expect_token_error(HEADER ".eyJleHAi!jF9.sig", "JWT payload is not base64url");
	expect_token_error(HEADER ".eyJleHAiO.sig", "JWT payload is not base64url");
	expect_token_error(HEADER ".eyJl eHAiOjF9.sig", "JWT payload is not base64url");
}

static void test_payload_not_object(void **state)
{
	expect_exp_error("not json", "JWT payload is not a JSON object");
	expect_exp_error("[{\"exp\":1}]", "JWT payload is not a JSON object");
	expect_exp_error("1767225600", "JWT payload is not a JSON object");
	expect_exp_error("{\"exp\":1767225600", "JWT payload is not a JSON object");
	expect_exp_error("{\"exp\":1}{\"exp\":2}", "JWT payload is not a JSON object");
}

/* a NUL byte inside the decoded payload makes it invalid, not shorter */
static void test_payload_with_nul(void **state)
{
	static const char payload[] = "{\"exp\":1}\0{\"x\":1}";
	struct pb_buf tok = { 0 };
	struct pb_err err;
	int64_t exp = 42;

	make_jwt(payload, sizeof(payload) - 1, &tok);
	pb_err_clear(&err);
	assert_int_equal(pb_jwt_exp(tok.data, &exp, &err), -1);
	assert_string_equal(err.msg, "JWT payload is not a JSON object");
	pb_buf_wipe(&tok);
}

static void test_payload_deep_nesting(void **state)
{
	struct pb_buf json = { 0 };
	struct pb_err err;
	int64_t exp = 42;

	assert_int_equal(pb_buf_adds(&json, "{\"exp\":1,\"x\":"), 0);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(pb_buf_adds(&json, "["), 0);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(pb_buf_adds(&json, "]"), 0);
	assert_int_equal(pb_buf_adds(&json, "}"), 0);
	assert_int_equal(exp_of(json.data, &exp, &err), -1);
	assert_string_equal(err.msg, "JWT payload is not a JSON object");
	pb_buf_wipe(&json);
}

static void test_token_too_long(void **state)
{
	struct pb_buf tok = { 0 }, json = { 0 };
	struct pb_err err;
	int64_t exp = 42;

	/* a well-formed JWT whose payload pads it past 16 KiB */
	assert_int_equal(pb_buf_adds(&json, "{\"exp\":1700000000,\"pad\":\""), 0);
	for (int i = 0; i < 13000; i++)
		assert_int_equal(pb_buf_add(&json, "x", 1), 0);
	assert_int_equal(pb_buf_adds(&json, "\"}"), 0);
	make_jwt(json.data, json.len, &tok);
	assert_true(tok.len > 16384);
	pb_err_clear(&err);
	assert_int_equal(pb_jwt_exp(tok.data, &exp, &err), -1);
	assert_string_equal(err.msg, "token is not a JWT (longer than 16384 bytes)");
	assert_int_equal(exp, 42);
	pb_buf_wipe(&tok);
	pb_buf_wipe(&json);
}

/* no error message quotes any part of the token */
static void test_errors_never_quote_token(void **state)
{
	static const char *const bad[] = {
		"SECRETa.SECRETb!.SECRETc",
		"SECRETa.SECRETb",
		"SECRETa.U0VDUkVUeA.SECRETc",		/* "SECRETx": not JSON */
		"SECRETa.eyJTRUNSRVQiOiJTRUNSRVQifQ.SECRETc",	/* {"SECRET":"SECRET"} */
	};
	struct pb_err err;
	int64_t exp;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pb_err_clear(&err);
		assert_int_equal(pb_jwt_exp(bad[i], &exp, &err), -1);
		assert_null(strstr(err.msg, "SECRET"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_rfc4648_vectors),
		cmocka_unit_test(test_b64_both_alphabets),
		cmocka_unit_test(test_b64_binary),
		cmocka_unit_test(test_b64_bad_characters),
		cmocka_unit_test(test_b64_bad_lengths_and_padding),
		cmocka_unit_test(test_b64_appends),
		cmocka_unit_test(test_exp_integer),
		cmocka_unit_test(test_exp_url_and_std_alphabet),
		cmocka_unit_test(test_exp_empty_signature),
		cmocka_unit_test(test_exp_double_truncated),
		cmocka_unit_test(test_exp_missing_or_not_a_number),
		cmocka_unit_test(test_exp_negative),
		cmocka_unit_test(test_exp_huge),
		cmocka_unit_test(test_exp_not_finite),
		cmocka_unit_test(test_not_a_jwt),
		cmocka_unit_test(test_payload_not_base64),
		cmocka_unit_test(test_payload_not_object),
		cmocka_unit_test(test_payload_with_nul),
		cmocka_unit_test(test_payload_deep_nesting),
		cmocka_unit_test(test_token_too_long),
		cmocka_unit_test(test_errors_never_quote_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
