/* SPDX-License-Identifier: MIT */
/*
 * test_template.c - `${field}` expansion in the three formats, form pairs
 * dropped when empty, escaping, malformed templates and hostile values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "template.h"

/* A field table for the lookup callback; a NULL value means "no value". */
struct kv {
	const char *name, *value;
};

static const char *lookup(void *ctx, const char *name)
{
	for (struct kv *f = ctx; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			return f->value;
	return NULL;
}

static void expect_expand(const char *tmpl, enum pb_format fmt, struct kv *fields,
			  const char *want)
{
	struct pb_buf out = { 0 };
	struct pb_err err;

	pb_err_clear(&err);
	assert_int_equal(pb_template_expand(tmpl, fmt, lookup, fields, &out, &err), 0);
	assert_non_null(out.data);
	assert_string_equal(out.data, want);
	assert_int_equal(out.len, strlen(want));
	pb_buf_wipe(&out);
}

/* Expansion fails with code and exactly msg, and leaves nothing behind. */
static void expect_error(const char *tmpl, enum pb_format fmt, struct kv *fields, int code,
			 const char *msg)
{
	struct pb_buf out = { 0 };
	struct pb_err err;

	pb_err_clear(&err);
	assert_int_equal(pb_template_expand(tmpl, fmt, lookup, fields, &out, &err), -1);
	assert_int_equal(err.code, code);
	assert_string_equal(err.msg, msg);
	assert_null(out.data);
	assert_int_equal(out.len, 0);
}

static struct kv creds[] = {
	{ "email", "ada@example.com" },
	{ "secret_key", "s3cr3t" },
	{ "client_id", "abc" },
	{ "client_secret", "p@ss w/rd&x=1" },
	{ "empty", "" },
	{ NULL, NULL },
};

/* ------------------------------------------------------------ json */

static void test_json_body(void **state)
{
	expect_expand("{\"email\": \"${email}\", \"secretKey\": \"${secret_key}\"}", PB_FMT_JSON,
		      creds, "{\"email\": \"ada@example.com\", \"secretKey\": \"s3cr3t\"}");
}

static void test_json_escapes_quote_and_backslash(void **state)
{
	struct kv f[] = { { "p", "a\"b\\c\"}, \"admin\": true" }, { NULL, NULL } };

	expect_expand("{\"password\": \"${p}\"}", PB_FMT_JSON, f,
		      "{\"password\": \"a\\\"b\\\\c\\\"}, \\\"admin\\\": true\"}");
}

static void test_json_escapes_control_characters(void **state)
{
	struct kv f[] = { { "p", "\n\r\t\b\f\x01\x1f\x7f." }, { NULL, NULL } };

	expect_expand("\"${p}\"", PB_FMT_JSON, f,
		      "\"\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f.\"");
}

/* slashes and non-ASCII UTF-8 go through as they are */
static void test_json_utf8_passes_through(void **state)
{
	struct kv f[] = { { "p", "p\xc3\xa4ss/\xe2\x9c\x93\xf0\x9f\x98\x80" }, { NULL, NULL } };

	expect_expand("\"${p}\"", PB_FMT_JSON, f, "\"p\xc3\xa4ss/\xe2\x9c\x93\xf0\x9f\x98\x80\"");
}

/* Latin-1, overlong, surrogate, truncated and beyond U+10FFFF are refused */
static void test_json_invalid_utf8_refused(void **state)
{
	static const char *const bad[] = {
		"caf\xe9", "\xc0\xaf", "\xed\xa0\x80", "ok\xe2\x82", "\xf4\x90\x80\x80",
		"\x80", "\xff",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kv f[] = { { "password", bad[i] }, { NULL, NULL } };

		expect_error("{\"p\": \"${password}\"}", PB_FMT_JSON, f, PB_E_CONFIG,
			     "field 'password' is not valid UTF-8");
	}
}

static void test_required_field_missing(void **state)
{
	expect_error("{\"u\": \"${email}\", \"k\": \"${api_key}\"}", PB_FMT_JSON, creds,
		     PB_E_CONFIG, "template needs field 'api_key', which has no value");
	expect_error("a=${api_key}", PB_FMT_FORM, creds, PB_E_CONFIG,
		     "template needs field 'api_key', which has no value");
	expect_error("Key ${api_key}", PB_FMT_RAW, creds, PB_E_CONFIG,
		     "template needs field 'api_key', which has no value");
}

/* an empty value is a value: required fields may be empty */
static void test_required_field_empty(void **state)
{
	expect_expand("{\"x\": \"${empty}\"}", PB_FMT_JSON, creds, "{\"x\": \"\"}");
}

static void test_optional_field_missing(void **state)
{
	expect_expand("{\"scope\": \"${scope?}\", \"e\": \"${email?}\"}", PB_FMT_JSON, creds,
		      "{\"scope\": \"\", \"e\": \"ada@example.com\"}");
}

static void test_dollar_literals(void **state)
{
	expect_expand("$$ costs $5, $ {x} and $$${email}$$", PB_FMT_JSON, creds,
		      "$ costs $5, $ {x} and $ada@example.com$");
	expect_expand("trailing $", PB_FMT_RAW, creds, "trailing $");
	expect_expand("$${email}", PB_FMT_RAW, creds, "${email}");
}

static void test_no_fields_and_empty_template(void **state)
{
	expect_expand("{\"grant\": \"static\"}", PB_FMT_JSON, creds, "{\"grant\": \"static\"}");
	expect_expand("", PB_FMT_JSON, creds, "");
	expect_expand("", PB_FMT_FORM, creds, "");
}

static void test_malformed(void **state)
{
	expect_error("{\"a\": \"${email\"}", PB_FMT_JSON, creds, PB_E_CONFIG,
		     "malformed template: bad field name 'email\"'");
	expect_error("x ${email", PB_FMT_JSON, creds, PB_E_CONFIG,
		     "malformed template: unterminated ${");
	expect_error("${", PB_FMT_RAW, creds, PB_E_CONFIG, "malformed template: unterminated ${");
	expect_error("${}", PB_FMT_JSON, creds, PB_E_CONFIG,
		     "malformed template: empty field name");
	expect_error("${?}", PB_FMT_JSON, creds, PB_E_CONFIG,
		     "malformed template: empty field name");
	expect_error("${a b}", PB_FMT_JSON, creds, PB_E_CONFIG,
		     "malformed template: bad field name 'a b'");
	expect_error("${.hidden}", PB_FMT_JSON, creds, PB_E_CONFIG,
		     "malformed template: bad field name '.hidden'");
	expect_error("${a??}", PB_FMT_JSON, creds, PB_E_CONFIG,
		     "malformed template: bad field name 'a?'");
	expect_error("${a${b}}", PB_FMT_JSON, creds, PB_E_CONFIG,
		     "malformed template: bad field name 'a${b'");
	expect_error("${x&y}", PB_FMT_FORM, creds, PB_E_CONFIG,
		     "malformed template: bad field name 'x&y'");
}

static void test_malformed_long_name(void **state)
{
	char tmpl[100];

	memset(tmpl, 'n', sizeof(tmpl));
	memcpy(tmpl, "${", 2);
	memcpy(tmpl + 2 + 65, "}", 2);	/* 65 chars: one too many */
	expect_error(tmpl, PB_FMT_JSON, creds, PB_E_CONFIG,
		     "malformed template: bad field name "
		     "'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn'");
	tmpl[2 + 64] = '}';		/* 64 chars: fine, but no such field */
	tmpl[2 + 65] = '\0';
	expect_error(tmpl, PB_FMT_JSON, creds, PB_E_CONFIG,
		     "template needs field "
		     "'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn', "
		     "which has no value");
}

/* ------------------------------------------------------------ form */

/* unreserved kept, space as %20, everything else %XX in upper case */
static void test_form_encoding(void **state)
{
	struct kv f[] = { { "v", "a b&c=d+e/\xc3\xa9~-._%\n" }, { NULL, NULL } };

	expect_expand("x=${v}", PB_FMT_FORM, f, "x=a%20b%26c%3Dd%2Be%2F%C3%A9~-._%25%0A");
}

/* Latin-1 bytes are fine in a form body: they are percent-encoded */
static void test_form_any_bytes(void **state)
{
	struct kv f[] = { { "v", "caf\xe9" }, { NULL, NULL } };

	expect_expand("x=${v}", PB_FMT_FORM, f, "x=caf%E9");
}

static void test_form_drops_empty_optional_pair(void **state)
{
	expect_expand("grant_type=client_credentials&client_id=${client_id?}&scope=${scope?}",
		      PB_FMT_FORM, creds, "grant_type=client_credentials&client_id=abc");
}

static void test_form_drops_first_and_middle_pairs(void **state)
{
	expect_expand("scope=${scope?}&a=1&audience=${audience?}&b=2", PB_FMT_FORM, creds,
		      "a=1&b=2");
}

static void test_form_drops_pair_with_empty_value(void **state)
{
	expect_expand("a=1&x=${empty?}", PB_FMT_FORM, creds, "a=1");
}

static void test_form_all_pairs_dropped(void **state)
{
	expect_expand("scope=${scope?}&audience=${audience?}", PB_FMT_FORM, creds, "");
}

/* a pair with a required field, a literal or a non-empty optional field stays */
static void test_form_keeps_pairs(void **state)
{
	expect_expand("a=${empty}&b=x${scope?}&c=${scope?}${email?}&d=", PB_FMT_FORM, creds,
		      "a=&b=x&c=ada%40example.com&d=");
}

/* only the value part counts: an optional field in the key does not save the pair */
static void test_form_pair_without_value_text(void **state)
{
	expect_expand("${scope?}&k${scope?}=${scope?}&z=1", PB_FMT_FORM, creds, "z=1");
}

/* literal text of a form template is the admin's and is copied as written */
static void test_form_literals_verbatim(void **state)
{
	expect_expand("scope=openid+profile%20x&id=${client_id}&&$$=1", PB_FMT_FORM, creds,
		      "scope=openid+profile%20x&id=abc&&$=1");
}

/* the oauth2 preset's body, client_auth = body, no scope, an audience */
static void test_form_oauth2_preset(void **state)
{
	struct kv f[] = {
		{ "client_id", "my app" }, { "client_secret", "s&=+" },
		{ "audience", "https://api.example/" }, { NULL, NULL },
	};

	expect_expand("grant_type=client_credentials&client_id=${client_id?}"
		      "&client_secret=${client_secret?}&scope=${scope?}&audience=${audience?}",
		      PB_FMT_FORM, f,
		      "grant_type=client_credentials&client_id=my%20app&client_secret=s%26%3D%2B"
		      "&audience=https%3A%2F%2Fapi.example%2F");
}

/* ------------------------------------------------------------ raw */

static void test_raw_verbatim(void **state)
{
	struct kv f[] = { { "t", "abc \"d\" &=% \xc3\xa9" }, { NULL, NULL } };

	expect_expand("Token ${t}", PB_FMT_RAW, f, "Token abc \"d\" &=% \xc3\xa9");
}

/* header injection: CR, LF, TAB, DEL and other controls are refused */
static void test_raw_refuses_control_characters(void **state)
{
	static const char *const bad[] = { "v\r\nX-Evil: 1", "v\n", "a\tb", "a\x7f", "\x1b[0m" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kv f[] = { { "api_key", bad[i] }, { NULL, NULL } };

		expect_error("Key ${api_key}", PB_FMT_RAW, f, PB_E_CONFIG,
			     "field 'api_key' has a control character");
	}
}

/* ------------------------------------------------------------ buffers */

/* expansion appends to what the buffer holds (a header name, say) */
static void test_appends(void **state)
{
	struct pb_buf out = { 0 };
	struct pb_err err;

	pb_err_clear(&err);
	assert_int_equal(pb_buf_adds(&out, "X-Api-Key: "), 0);
	assert_int_equal(pb_template_expand("${secret_key}", PB_FMT_RAW, lookup, creds, &out,
					    &err), 0);
	assert_string_equal(out.data, "X-Api-Key: s3cr3t");
	pb_buf_wipe(&out);
}

/* a failure after a secret was written leaves no buffer behind */
static void test_error_wipes_output(void **state)
{
	struct pb_buf out = { 0 };
	struct pb_err err;

	pb_err_clear(&err);
	assert_int_equal(pb_template_expand("{\"k\": \"${secret_key}\", \"x\": \"${nope}\"}",
					    PB_FMT_JSON, lookup, creds, &out, &err), -1);
	assert_string_equal(err.msg, "template needs field 'nope', which has no value");
	assert_null(out.data);
	assert_int_equal(out.len, 0);
	assert_int_equal(out.cap, 0);
}

/* ------------------------------------------------------------ pb_escape */

static void expect_escape(const char *s, enum pb_format fmt, const char *want)
{
	struct pb_buf out = { 0 };

	assert_int_equal(pb_escape(&out, s, fmt), 0);
	assert_string_equal(out.data, want);
	pb_buf_wipe(&out);
}

static void test_escape(void **state)
{
	struct pb_buf out = { 0 };

	/* HTTP Basic per RFC 6749 2.3.1: form-encode id and secret first */
	expect_escape("my client:1", PB_FMT_FORM, "my%20client%3A1");
	expect_escape("a\"\\\n", PB_FMT_JSON, "a\\\"\\\\\\n");
	expect_escape("as is", PB_FMT_RAW, "as is");
	expect_escape("", PB_FMT_FORM, "");
	assert_int_equal(pb_escape(&out, "a\nb", PB_FMT_RAW), -1);
	assert_int_equal(pb_escape(&out, "caf\xe9", PB_FMT_JSON), -1);
	assert_null(out.data);
}

/* ------------------------------------------------------------ pb_template_fields */

/* Records "name" or "name?" for each field, space-separated. */
static int collect(void *ctx, const char *name, bool optional)
{
	struct pb_buf *b = ctx;

	return pb_buf_addf(b, "%s%s%s", b->len > 0 ? " " : "", name, optional ? "?" : "");
}

static void test_fields_lists_every_occurrence(void **state)
{
	struct pb_buf names = { 0 };
	struct pb_err err;

	pb_err_clear(&err);
	assert_int_equal(pb_template_fields("{\"a\": \"${a}\", \"b\": \"${b?}\"} $$ "
					    "${c.d-e_f} ${a}", collect, &names, &err), 0);
	assert_string_equal(names.data, "a b? c.d-e_f a");
	pb_buf_wipe(&names);
}

static void test_fields_none(void **state)
{
	struct pb_buf names = { 0 };
	struct pb_err err;

	pb_err_clear(&err);
	assert_int_equal(pb_template_fields("grant_type=x&$$5", collect, &names, &err), 0);
	assert_null(names.data);
}

static void test_fields_malformed(void **state)
{
	struct pb_buf names = { 0 };
	struct pb_err err;

	pb_err_clear(&err);
	assert_int_equal(pb_template_fields("${a} ${b c}", collect, &names, &err), -1);
	assert_int_equal(err.code, PB_E_CONFIG);
	assert_string_equal(err.msg, "malformed template: bad field name 'b c'");
	pb_err_clear(&err);
	assert_int_equal(pb_template_fields("${a", collect, &names, &err), -1);
	assert_string_equal(err.msg, "malformed template: unterminated ${");
	pb_buf_wipe(&names);
}

static int refuse_b(void *ctx, const char *name, bool optional)
{
	return strcmp(name, "b") == 0 ? -1 : 0;
}

/* the callback's refusal stops the walk; err gets a message if it had none */
static void test_fields_callback_refuses(void **state)
{
	struct pb_err err;

	pb_err_clear(&err);
	assert_int_equal(pb_template_fields("${a}${b}${c}", refuse_b, NULL, &err), -1);
	assert_int_equal(err.code, PB_E_CONFIG);
	assert_string_equal(err.msg, "template field 'b' is not allowed here");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_body),
		cmocka_unit_test(test_json_escapes_quote_and_backslash),
		cmocka_unit_test(test_json_escapes_control_characters),
		cmocka_unit_test(test_json_utf8_passes_through),
		cmocka_unit_test(test_json_invalid_utf8_refused),
		cmocka_unit_test(test_required_field_missing),
		cmocka_unit_test(test_required_field_empty),
		cmocka_unit_test(test_optional_field_missing),
		cmocka_unit_test(test_dollar_literals),
		cmocka_unit_test(test_no_fields_and_empty_template),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_long_name),
		cmocka_unit_test(test_form_encoding),
		cmocka_unit_test(test_form_any_bytes),
		cmocka_unit_test(test_form_drops_empty_optional_pair),
		cmocka_unit_test(test_form_drops_first_and_middle_pairs),
		cmocka_unit_test(test_form_drops_pair_with_empty_value),
		cmocka_unit_test(test_form_all_pairs_dropped),
		cmocka_unit_test(test_form_keeps_pairs),
		cmocka_unit_test(test_form_pair_without_value_text),
		cmocka_unit_test(test_form_literals_verbatim),
		cmocka_unit_test(test_form_oauth2_preset),
		cmocka_unit_test(test_raw_verbatim),
		cmocka_unit_test(test_raw_refuses_control_characters),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_error_wipes_output),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_fields_lists_every_occurrence),
		cmocka_unit_test(test_fields_none),
		cmocka_unit_test(test_fields_malformed),
		cmocka_unit_test(test_fields_callback_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
