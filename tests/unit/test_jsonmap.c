/* SPDX-License-Identifier: MIT */
/*
 * test_jsonmap.c - response parsing, dot paths with alternatives, and
 * one-line summaries of vendor error bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jsonmap.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o = pb_json_parse_object(s, strlen(s));

	assert_non_null(o);
	return o;
}

/* The string at paths in body, or NULL; asserts the value is a string when found. */
static void expect_path(const char *body, const char *paths, const char *want)
{
	struct json_object *root = parse(body), *v = pb_json_path(root, paths);

	if (want == NULL) {
		assert_null(v);
	} else {
		assert_non_null(v);
		assert_true(json_object_is_type(v, json_type_string));
		assert_string_equal(json_object_get_string(v), want);
	}
	json_object_put(root);
}

/* ------------------------------------------------------------ pb_json_path */

static void test_path_top_level(void **state)
{
	expect_path("{\"access_token\":\"t1\",\"expires_in\":3600}", "access_token", "t1");
}

static void test_path_nested(void **state)
{
	expect_path("{\"data\":{\"bearer\":{\"value\":\"b\"}}}", "data.bearer.value", "b");
}

static void test_path_missing(void **state)
{
	expect_path("{\"token\":\"t\"}", "access_token", NULL);
	expect_path("{\"data\":{}}", "data.token", NULL);
	expect_path("{}", "a.b.c", NULL);
}

/* the UNITH preset: token, else data.bearer, else data.token */
static void test_path_alternatives_fallback(void **state)
{
	static const char paths[] = "token | data.bearer | data.token";

	expect_path("{\"token\":\"first\",\"data\":{\"bearer\":\"second\"}}", paths, "first");
	expect_path("{\"data\":{\"bearer\":\"second\",\"token\":\"third\"}}", paths, "second");
	expect_path("{\"data\":{\"token\":\"third\"}}", paths, "third");
	expect_path("{\"data\":\"x\"}", paths, NULL);
	expect_path("{\"data\":{\"token\":\"t\"}}", "token|data.token", "t");
	expect_path("{\"data\":{\"token\":\"t\"}}", "  token\t|\tdata.token  ", "t");
}

/* JSON null counts as absent, so the next alternative is tried */
static void test_path_null_skipped(void **state)
{
	expect_path("{\"token\":null,\"data\":{\"token\":\"x\"}}", "token | data.token", "x");
	expect_path("{\"token\":null}", "token", NULL);
	expect_path("{\"data\":null}", "data.token", NULL);
	expect_path("{\"a\":[null,\"y\"]}", "a.0 | a.1", "y");
}

/* a non-string value is returned as it is: the caller checks the type */
static void test_path_any_type(void **state)
{
	struct json_object *root = parse("{\"expires_in\":3600,\"ok\":false,\"o\":{}}"), *v;

	v = pb_json_path(root, "expires_in");
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int64(v), 3600);
	v = pb_json_path(root, "ok");
	assert_true(json_object_is_type(v, json_type_boolean));
	v = pb_json_path(root, "o");
	assert_true(json_object_is_type(v, json_type_object));
	json_object_put(root);
}

/* the result is borrowed from root, not a copy */
static void test_path_borrowed(void **state)
{
	struct json_object *root = parse("{\"data\":{\"token\":\"t\"}}"), *data, *tok;

	assert_true(json_object_object_get_ex(root, "data", &data));
	assert_true(json_object_object_get_ex(data, "token", &tok));
	assert_ptr_equal(pb_json_path(root, "data.token"), tok);
	json_object_put(root);
}

static void test_path_array_index(void **state)
{
	static const char body[] =
		"{\"data\":[{\"t\":\"a\"},{\"t\":\"b\"}],\"list\":[\"x\",\"y\"]}";

	expect_path(body, "data.0.t", "a");
	expect_path(body, "data.1.t", "b");
	expect_path(body, "list.1", "y");
	expect_path(body, "data.2.t", NULL);
	expect_path(body, "data.x.t", NULL);
	expect_path(body, "data.-1.t", NULL);
	expect_path(body, "data.01.t", "b");
	expect_path(body, "data.99999999999999999999.t", NULL);
	expect_path(body, "data.4294967296.t", NULL);
}

/* digits name a member when the value is an object */
static void test_path_digit_key_in_object(void **state)
{
	expect_path("{\"0\":\"zero\",\"a\":{\"12\":\"twelve\"}}", "0", "zero");
	expect_path("{\"0\":\"zero\",\"a\":{\"12\":\"twelve\"}}", "a.12", "twelve");
}

/* stepping into a string or number finds nothing */
static void test_path_through_scalar(void **state)
{
	expect_path("{\"a\":\"str\",\"n\":5}", "a.b", NULL);
	expect_path("{\"a\":\"str\",\"n\":5}", "a.0", NULL);
	expect_path("{\"a\":\"str\",\"n\":5}", "n.0", NULL);
}

/* malformed expressions simply do not match (the config rejects them earlier) */
static void test_path_malformed_no_match(void **state)
{
	struct json_object *root = parse("{\"a\":{\"b\":\"x\"},\"\":\"empty\"}");

	assert_null(pb_json_path(root, ""));
	assert_null(pb_json_path(root, "a..b"));
	assert_null(pb_json_path(root, "a.b."));
	assert_null(pb_json_path(root, "|"));
	assert_null(pb_json_path(root, NULL));
	assert_null(pb_json_path(NULL, "a"));
	assert_string_equal(json_object_get_string(pb_json_path(root, " | a.b")), "x");
	json_object_put(root);
}

static void test_path_valid(void **state)
{
	assert_true(pb_json_path_valid("token"));
	assert_true(pb_json_path_valid("data.token"));
	assert_true(pb_json_path_valid("token | data.bearer | data.token"));
	assert_true(pb_json_path_valid("a|b"));
	assert_true(pb_json_path_valid("  a.0.b_c-d  "));
	assert_true(pb_json_path_valid("data.0"));
}

static void test_path_invalid(void **state)
{
	static const char *const bad[] = {
		"", " ", "|", "a|", "|a", "a||b", "a | | b", ".a", "a.", "a..b", "a b",
		"a.b c", "a$b", "a/b", "a[0]", "a\tb", "t\xc3\xa9", "a.|b",
	};

	assert_false(pb_json_path_valid(NULL));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pb_json_path_valid(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
}

/* ------------------------------------------------------------ pb_json_parse_object */

static void test_parse_object(void **state)
{
	struct json_object *o = parse(" \r\n{\"a\": [1, 2, {\"b\": null}]}\r\n\t ");

	assert_true(json_object_is_type(o, json_type_object));
	json_object_put(o);
}

/* len is honoured: the buffer need not be NUL-terminated */
static void test_parse_uses_len(void **state)
{
	static const char buf[] = "{\"a\":1}garbage";
	struct json_object *o = pb_json_parse_object(buf, 7);

	assert_non_null(o);
	json_object_put(o);
	assert_null(pb_json_parse_object(buf, 6));
	assert_null(pb_json_parse_object(buf, sizeof(buf) - 1));
}

static void test_parse_rejects_non_objects(void **state)
{
	static const char *const bad[] = {
		"[1]", "\"s\"", "1", "null", "true", "", "   ",
		"<html><body>502 Bad Gateway</body></html>",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(pb_json_parse_object(bad[i], strlen(bad[i])));
	assert_null(pb_json_parse_object(NULL, 0));
}

static void test_parse_rejects_broken_json(void **state)
{
	static const char *const bad[] = {
		"{", "{\"a\":", "{\"a\":1", "{\"a\":1,}", "{\"a\":1}x", "{}{}", "{} {}",
		"{\"a\":1}}", "{\"a\" 1}", "{a:1}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pb_json_parse_object(bad[i], strlen(bad[i])) != NULL)
			fail_msg("'%s' accepted", bad[i]);
}

/* a NUL byte is invalid wherever it is, never an early end of input */
static void test_parse_rejects_nul(void **state)
{
	static const char in_string[] = "{\"a\":\"x\0y\"}";
	static const char after[] = "{\"a\":1}\0";
	static const char before[] = "\0{\"a\":1}";

	assert_null(pb_json_parse_object(in_string, sizeof(in_string) - 1));
	assert_null(pb_json_parse_object(after, sizeof(after) - 1));
	assert_null(pb_json_parse_object(before, sizeof(before) - 1));
}

/* Parse n nested objects {"a":{"a":...1...}}. */
static struct json_object *parse_nested(int n)
{
	struct pb_buf b = { 0 };
	struct json_object *o;

	for (int i = 0; i < n; i++)
		assert_int_equal(pb_buf_adds(&b, "{\"a\":"), 0);
	assert_int_equal(pb_buf_adds(&b, "1"), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(pb_buf_adds(&b, "}"), 0);
	o = pb_json_parse_object(b.data, b.len);
	pb_buf_wipe(&b);
	return o;
}

static void test_parse_depth_limit(void **state)
{
	struct json_object *o = parse_nested(31);

	assert_non_null(o);
	json_object_put(o);
	assert_null(parse_nested(32));
	assert_null(parse_nested(100000));
}

/* ------------------------------------------------------------ pb_json_error_summary */

static void expect_summary(const char *body, const char *want, const char *want_oauth)
{
	char out[256], oauth[64];

	memset(out, 'X', sizeof(out));
	memset(oauth, 'X', sizeof(oauth));
	pb_json_error_summary(body, strlen(body), out, sizeof(out), oauth, sizeof(oauth));
	assert_string_equal(out, want);
	assert_string_equal(oauth, want_oauth);
}

static void test_summary_oauth2(void **state)
{
	expect_summary("{\"error\":\"invalid_client\","
		       "\"error_description\":\"Client authentication failed\"}",
		       "invalid_client: Client authentication failed", "invalid_client");
	expect_summary("{\"error\":\"invalid_grant\"}", "invalid_grant", "invalid_grant");
	expect_summary("{\"error\":\"invalid_grant\",\"error_description\":\"\"}",
		       "invalid_grant", "invalid_grant");
	expect_summary("{\"error\":\"invalid_scope\",\"error_description\":null,"
		       "\"message\":\"scope x is unknown\"}", "invalid_scope: scope x is unknown",
		       "invalid_scope");
}

static void test_summary_rfc7807(void **state)
{
	expect_summary("{\"type\":\"https://docs.api.video/x\",\"title\":\"Invalid API key\","
		       "\"status\":401,\"detail\":\"The key was revoked.\"}",
		       "Invalid API key: The key was revoked.", "");
	expect_summary("{\"title\":\"Unauthorized\",\"status\":401}", "Unauthorized", "");
}

static void test_summary_drf_detail(void **state)
{
	expect_summary("{\"detail\":\"Incorrect authentication credentials.\"}",
		       "Incorrect authentication credentials.", "");
}

static void test_summary_drf_standardized(void **state)
{
	expect_summary("{\"type\":\"validation_error\",\"errors\":[{\"code\":\"required\","
		       "\"detail\":\"This field is required.\",\"attr\":\"email\"},"
		       "{\"detail\":\"second\"}]}",
		       "email: This field is required.", "");
	expect_summary("{\"type\":\"client_error\",\"errors\":[{\"code\":\"not_authenticated\","
		       "\"detail\":\"Not logged in.\",\"attr\":null}]}",
		       "not_authenticated: Not logged in.", "");
	expect_summary("{\"errors\":[{\"status\":\"401\",\"title\":\"Unauthorized\"}]}",
		       "Unauthorized", "");
}

/* FastAPI's validation errors: detail is a list of objects with msg */
static void test_summary_detail_list(void **state)
{
	expect_summary("{\"detail\":[{\"loc\":[\"body\",\"email\"],\"msg\":\"field required\","
		       "\"type\":\"value_error.missing\"}]}", "field required", "");
}

static void test_summary_drf_field_errors(void **state)
{
	expect_summary("{\"email\":[\"This field is required.\"],"
		       "\"password\":[\"This field is required.\"]}",
		       "email: This field is required.", "");
	/* a generic member's name says nothing: the message alone */
	expect_summary("{\"non_field_errors\":[\"Unable to log in with provided credentials.\"]}",
		       "Unable to log in with provided credentials.", "");
	/* arrays of other things are not field errors */
	expect_summary("{\"ids\":[1,2],\"tags\":[],\"email\":[\"Enter a valid email address.\"]}",
		       "email: Enter a valid email address.", "");
}

static void test_summary_message(void **state)
{
	expect_summary("{\"message\":\"Invalid credentials\",\"code\":401}",
		       "Invalid credentials", "");
	expect_summary("{\"error\":{\"code\":403,\"message\":\"Forbidden for this key\"}}",
		       "Forbidden for this key", "");
	/* a string or a list of them (NestJS's ValidationPipe answers a list) */
	expect_summary("{\"statusCode\":400,\"message\":[\"email must be an email\","
		       "\"password should not be empty\"],\"error\":\"Bad Request\"}",
		       "Bad Request: email must be an email", "Bad Request");
	expect_summary("{\"message\":[\"email must be an email\"]}", "email must be an email", "");
}

/* rules apply in the documented order */
static void test_summary_precedence(void **state)
{
	expect_summary("{\"error\":\"invalid_request\",\"title\":\"T\",\"detail\":\"D\","
		       "\"message\":\"M\"}", "invalid_request: M", "invalid_request");
	expect_summary("{\"title\":\"T\",\"detail\":\"D\",\"message\":\"M\"}", "T: D", "");
	expect_summary("{\"message\":\"M\",\"detail\":\"D\"}", "D", "");
	expect_summary("{\"message\":\"M\",\"errors\":{\"email\":[\"bad\"]}}", "M", "");
}

static void test_summary_nothing_useful(void **state)
{
	expect_summary("{}", "", "");
	expect_summary("{\"status\":500,\"ok\":false}", "", "");
	expect_summary("{\"error\":null,\"message\":42,\"detail\":{}}", "", "");
	expect_summary("{\"error\":{\"code\":500}}", "", "");
}

static void test_summary_not_json(void **state)
{
	expect_summary("<html><head><title>502 Bad Gateway</title></head></html>", "", "");
	expect_summary("Service Unavailable", "", "");
	expect_summary("", "", "");
	expect_summary("[{\"error\":\"x\"}]", "", "");
}

static void test_summary_nul_in_body(void **state)
{
	static const char body[] = "{\"error\":\"invalid_client\"}\0{\"x\":1}";
	char out[64] = "X", oauth[32] = "X";

	pb_json_error_summary(body, sizeof(body) - 1, out, sizeof(out), oauth, sizeof(oauth));
	assert_string_equal(out, "");
	assert_string_equal(oauth, "");
}

/* control characters never reach a log line; white space runs become one space */
static void test_summary_one_line(void **state)
{
	expect_summary("{\"error\":\"bad\\r\\nInjected: yes\","
		       "\"error_description\":\"  line one\\n\\n\\tline two\\u001b[31m\\u007f \"}",
		       "bad Injected: yes: line one line two?[31m?", "bad Injected: yes");
}

static void test_summary_truncated(void **state)
{
	static const char body[] = "{\"detail\":\"0123456789abcdef\"}";
	char out[11], oauth[4];

	pb_json_error_summary(body, strlen(body), out, sizeof(out), NULL, 0);
	assert_string_equal(out, "0123456789");
	pb_json_error_summary("{\"error\":\"invalid_client\"}", 26, out, sizeof(out),
			      oauth, sizeof(oauth));
	assert_string_equal(out, "invalid_cl");
	assert_string_equal(oauth, "inv");
	pb_json_error_summary(body, strlen(body), out, 1, NULL, 0);
	assert_string_equal(out, "");
}

/* a UTF-8 character cut by the limit is dropped, not left half-written */
static void test_summary_truncated_utf8(void **state)
{
	/* "ab" and two euro signs, three bytes each */
	static const char body[] = "{\"detail\":\"ab\xe2\x82\xac\xe2\x82\xac\"}";
	char out[8];

	pb_json_error_summary(body, strlen(body), out, 6, NULL, 0);
	assert_string_equal(out, "ab\xe2\x82\xac");
	pb_json_error_summary(body, strlen(body), out, 7, NULL, 0);
	assert_string_equal(out, "ab\xe2\x82\xac");
	pb_json_error_summary(body, strlen(body), out, 8, NULL, 0);
	assert_string_equal(out, "ab\xe2\x82\xac");
	pb_json_error_summary(body, strlen(body), out, 5, NULL, 0);
	assert_string_equal(out, "ab");
	pb_json_error_summary(body, strlen(body), out, 3, NULL, 0);
	assert_string_equal(out, "ab");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_top_level),
		cmocka_unit_test(test_path_nested),
		cmocka_unit_test(test_path_missing),
		cmocka_unit_test(test_path_alternatives_fallback),
		cmocka_unit_test(test_path_null_skipped),
		cmocka_unit_test(test_path_any_type),
		cmocka_unit_test(test_path_borrowed),
		cmocka_unit_test(test_path_array_index),
		cmocka_unit_test(test_path_digit_key_in_object),
		cmocka_unit_test(test_path_through_scalar),
		cmocka_unit_test(test_path_malformed_no_match),
		cmocka_unit_test(test_path_valid),
		cmocka_unit_test(test_path_invalid),
		cmocka_unit_test(test_parse_object),
		cmocka_unit_test(test_parse_uses_len),
		cmocka_unit_test(test_parse_rejects_non_objects),
		cmocka_unit_test(test_parse_rejects_broken_json),
		cmocka_unit_test(test_parse_rejects_nul),
		cmocka_unit_test(test_parse_depth_limit),
		cmocka_unit_test(test_summary_oauth2),
		cmocka_unit_test(test_summary_rfc7807),
		cmocka_unit_test(test_summary_drf_detail),
		cmocka_unit_test(test_summary_drf_standardized),
		cmocka_unit_test(test_summary_detail_list),
		cmocka_unit_test(test_summary_drf_field_errors),
		cmocka_unit_test(test_summary_message),
		cmocka_unit_test(test_summary_precedence),
		cmocka_unit_test(test_summary_nothing_useful),
		cmocka_unit_test(test_summary_not_json),
		cmocka_unit_test(test_summary_nul_in_body),
		cmocka_unit_test(test_summary_one_line),
		cmocka_unit_test(test_summary_truncated),
		cmocka_unit_test(test_summary_truncated_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
