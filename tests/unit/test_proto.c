/*
 * test_proto.c - the two pipe protocols: what the module sends the helper,
 * and what bearer-token and its HTTP worker say to each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto.h"

/* A worker request for profile p, as bearer-token builds it. */
static void request_for(struct pb_buf *buf, const struct pb_creds *creds, const char *refresh)
{
	assert_int_equal(pb_proto_put_fetch_request(buf, "p", creds, refresh), 0);
}

static void test_secrets_stream(void **state)
{
	static const char good[] = "secret p api_key 3\nabc\nsecret q key 0\n\nend\n";
	struct pb_creds c = { 0 };
	struct pb_err err;

	(void)state;
	assert_int_equal(pb_proto_read_secrets(good, sizeof(good) - 1, &c, &err), 0);
	assert_string_equal(pb_creds_get(&c, "p", "api_key"), "abc");
	assert_string_equal(pb_creds_get(&c, "q", "key"), "");
	pb_creds_free(&c);
}

static void test_secrets_refused(void **state)
{
	static const char *const bad[] = {
		"secret p api_key 3\nabc\n",                 /* no end */
		"secret p api_key 4\nabc\nend\n",            /* length past the value */
		"secret p api_key 2\nabc\nend\n",            /* no newline after the value */
		"secret ../p api_key 3\nabc\nend\n",         /* not a name */
		"secret p api_key -1\n\nend\n",
		"secret p api_key 99999999\nabc\nend\n",     /* over the cap */
		"refresh 3\nabc\nend\n",                     /* the module sends no refresh token */
		"secret p api_key 3\nabc\nend\nend\n",       /* anything after end */
		"end",
		"",
	};
	struct pb_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pb_creds c = { 0 };

		assert_int_equal(pb_proto_read_secrets(bad[i], strlen(bad[i]), &c, &err), -1);
		assert_int_equal(err.code, PB_E_INTERNAL);
		assert_string_equal(err.msg, "malformed secrets from the PAM module");
		pb_creds_free(&c);
	}
	{
		/* a NUL inside a value */
		static const char nul[] = "secret p k 3\na\0c\nend\n";
		struct pb_creds c = { 0 };

		assert_int_equal(pb_proto_read_secrets(nul, sizeof(nul) - 1, &c, &err), -1);
		pb_creds_free(&c);
	}
}

/* Only the profile's own secrets go to the worker, with where they came from. */
static void test_request_roundtrip(void **state)
{
	struct pb_creds creds = { 0 }, got = { 0 };
	struct pb_buf buf = { 0 };
	struct pb_err err;
	char *refresh = NULL;

	(void)state;
	creds.path = strdup("/home/u/.config/pam_bearer/credentials");
	assert_int_equal(pb_creds_add(&creds, "p", "api_key", "k e y", &err), 0);
	assert_int_equal(pb_creds_add(&creds, "other", "api_key", "not-for-p", &err), 0);
	request_for(&buf, &creds, "r-t");
	assert_null(strstr(buf.data, "not-for-p"));
	assert_int_equal(pb_proto_read_fetch_request(buf.data, buf.len, &got, &refresh, &err), 0);
	assert_string_equal(pb_creds_get(&got, "p", "api_key"), "k e y");
	assert_null(pb_creds_get(&got, "other", "api_key"));
	assert_string_equal(got.path, creds.path);
	assert_string_equal(refresh, "r-t");
	pb_wipe_free(refresh);
	pb_creds_free(&got);
	pb_buf_wipe(&buf);

	/* no credentials at all (a system profile renewed by its refresh token) */
	request_for(&buf, NULL, "r-t");
	assert_int_equal(pb_proto_read_fetch_request(buf.data, buf.len, &got, &refresh, &err), 0);
	assert_null(got.path);
	assert_int_equal(got.n, 0);
	pb_wipe_free(refresh);
	pb_creds_free(&got);
	pb_buf_wipe(&buf);

	/* credentials, no refresh token */
	request_for(&buf, &creds, NULL);
	assert_int_equal(pb_proto_read_fetch_request(buf.data, buf.len, &got, &refresh, &err), 0);
	assert_null(refresh);
	assert_non_null(got.path);
	pb_creds_free(&got);
	pb_buf_wipe(&buf);
	pb_creds_free(&creds);
}

static void test_request_refused(void **state)
{
	static const char *const bad[] = {
		"refresh 1\na\nrefresh 1\nb\nend\n",        /* two refresh tokens */
		"credentials 1\na\ncredentials 1\nb\nend\n",
		"token 1\na\nend\n",                          /* unknown record */
		"refresh x\na\nend\n",
		"refresh 3\na\nend\n",
	};
	struct pb_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pb_creds c = { 0 };
		char untouched[] = "untouched", *refresh = untouched;

		assert_int_equal(pb_proto_read_fetch_request(bad[i], strlen(bad[i]), &c, &refresh,
							     &err), -1);
		assert_null(refresh);
		assert_string_equal(err.msg, "malformed secrets from bearer-token");
		pb_creds_free(&c);
	}
}

static void test_reply_token(void **state)
{
	struct pb_token tok = { 0 }, got;
	struct pb_buf buf = { 0 };
	struct pb_err err;

	(void)state;
	tok.token = strdup("eyJ.abc-_~+/=");
	tok.obtained_at = 1795432424;
	tok.has_expiry = true;
	tok.expires_at = 1795436024;
	tok.refreshed = true;
	tok.refresh_token = strdup("rt with spaces");
	assert_int_equal(pb_proto_put_fetch_reply(&buf, &tok, NULL), 0);
	assert_int_equal(pb_proto_read_fetch_reply(buf.data, buf.len, &got, &err), 0);
	assert_string_equal(got.token, tok.token);
	assert_string_equal(got.refresh_token, tok.refresh_token);
	assert_int_equal(got.obtained_at, tok.obtained_at);
	assert_true(got.has_expiry);
	assert_int_equal(got.expires_at, tok.expires_at);
	assert_true(got.refreshed);
	pb_token_free(&got);
	pb_buf_wipe(&buf);

	/* never expires, no refresh token */
	pb_wipe_free(tok.refresh_token);
	tok.refresh_token = NULL;
	tok.has_expiry = tok.refreshed = false;
	assert_int_equal(pb_proto_put_fetch_reply(&buf, &tok, NULL), 0);
	assert_int_equal(pb_proto_read_fetch_reply(buf.data, buf.len, &got, &err), 0);
	assert_false(got.has_expiry);
	assert_false(got.refreshed);
	assert_null(got.refresh_token);
	pb_token_free(&got);
	pb_buf_wipe(&buf);
	pb_token_free(&tok);
}

static void test_reply_error(void **state)
{
	struct pb_err sent, err;
	struct pb_token got;
	struct pb_buf buf = { 0 };

	(void)state;
	pb_fail(&sent, PB_E_TEMP, "apivideo: HTTP 429 from https://x/auth: slow down");
	sent.retry_after = 30;
	assert_int_equal(pb_proto_put_fetch_reply(&buf, NULL, &sent), 0);
	assert_int_equal(pb_proto_read_fetch_reply(buf.data, buf.len, &got, &err), -1);
	assert_int_equal(err.code, PB_E_TEMP);
	assert_int_equal(err.retry_after, 30);
	assert_string_equal(err.msg, sent.msg);
	assert_null(got.token);
	pb_buf_wipe(&buf);
}

static void test_reply_refused(void **state)
{
	static const char *const bad[] = {
		"token 1 2 0 3\nabc\n",                       /* no end */
		"token 1 2 2 3\nabc\nend\n",                  /* refreshed is 0 or 1 */
		"token 1 x 0 3\nabc\nend\n",
		"token 1 2 0 3\na c\nend\n",                  /* a space in the token */
		"token 1 2 0 0\n\nend\n",                     /* empty token */
		"token 1 2 0 3\nabc\nrefresh 1\nr\n",         /* no end after the refresh token */
		"token 1 2 0 3\nabc\nend\njunk",
		"error 0 -1 ok is no error\n",
		"error 7 -1 beyond the codes\n",
		"error 1 -2 bad retry\n",
		"error 1\n",
		"bogus\n",
		"",
	};
	struct pb_token got;
	struct pb_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pb_proto_read_fetch_reply(bad[i], strlen(bad[i]), &got, &err), -1);
		assert_null(got.token);
		assert_null(got.refresh_token);
		assert_true(err.code == PB_E_INTERNAL || err.code == PB_E_TEMP);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secrets_stream),
		cmocka_unit_test(test_secrets_refused),
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_request_refused),
		cmocka_unit_test(test_reply_token),
		cmocka_unit_test(test_reply_error),
		cmocka_unit_test(test_reply_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
