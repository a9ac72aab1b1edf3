/* SPDX-License-Identifier: MIT */
/*
 * test_proto.c - the protocols: the token stream of a login (pam-system ->
 * module -> helper), what bearer-token and its HTTP worker say to each
 * other, and what a client asks the broker.
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

/* A token record and a result line, as pam-system writes them and the module reads them. */
static void test_token_stream(void **state)
{
	char token[] = "eyJ.abc", refresh[] = "never-sent";
	struct pb_token tok = { .token = token, .obtained_ms = 1795432424123LL,
				.has_expiry = true, .expires_ms = 1795436024123LL,
				.refresh_token = refresh };
	struct pb_buf buf = { 0 };
	struct pb_record rec;
	struct pb_err err;
	size_t pos = 0;

	(void)state;
	assert_int_equal(pb_proto_put_token(&buf, "sysvideo", &tok), 0);
	tok.has_expiry = false;
	assert_int_equal(pb_proto_put_token(&buf, "forever", &tok), 0);
	assert_int_equal(pb_proto_put_result(&buf, "unith", PB_E_PERM, "unith: HTTP 401"), 0);
	assert_int_equal(pb_proto_put_end(&buf), 0);
	assert_null(strstr(buf.data, "never-sent"));   /* a refresh token never travels here */

	assert_int_equal(pb_proto_next_record(buf.data, buf.len, &pos, &rec, &err), 1);
	assert_int_equal(rec.kind, PB_REC_TOKEN);
	assert_string_equal(rec.profile, "sysvideo");
	assert_string_equal(rec.tok.token, "eyJ.abc");
	assert_true(rec.tok.obtained_ms == 1795432424123LL);
	assert_true(rec.tok.has_expiry);
	assert_true(rec.tok.expires_ms == 1795436024123LL);
	assert_null(rec.tok.refresh_token);
	pb_record_free(&rec);
	assert_int_equal(pb_proto_next_record(buf.data, buf.len, &pos, &rec, &err), 1);
	assert_string_equal(rec.profile, "forever");
	assert_false(rec.tok.has_expiry);
	pb_record_free(&rec);
	assert_int_equal(pb_proto_next_record(buf.data, buf.len, &pos, &rec, &err), 1);
	assert_int_equal(rec.kind, PB_REC_RESULT);
	assert_string_equal(rec.profile, "unith");
	assert_int_equal(rec.code, PB_E_PERM);
	assert_string_equal(rec.text, "unith: HTTP 401");
	assert_int_equal(pb_proto_next_record(buf.data, buf.len, &pos, &rec, &err), 0);
	pb_buf_wipe(&buf);
}

static void test_token_stream_refused(void **state)
{
	static const char *const bad[] = {
		"token p 10 20 3\nabc\n",                 /* no end */
		"token p 10 20 4\nabc\nend\n",            /* length past the value */
		"token ../p 10 20 3\nabc\nend\n",         /* not a name */
		"token p 10 20 3\na c\nend\n",            /* a space in the token */
		"token p 10 20 0\n\nend\n",               /* empty */
		"token p 20 10 3\nabc\nend\n",            /* expires before it was obtained */
		"token p 0 10 3\nabc\nend\n",             /* obtained at the epoch */
		"token p 10 999999999999 3\nabc\nend\n",  /* a lifetime past ten years (ms) */
		"token p 10 20 3\nabc\nend\nend\n",      /* anything after end */
		"secret p api_key 3\nabc\nend\n",         /* a secret never comes this way */
		"refresh 3\nabc\nend\n",
		"result p 9 beyond the codes\nend\n",
		"end",
		"",
	};
	struct pb_record rec;
	struct pb_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t pos = 0;
		int r;

		while ((r = pb_proto_next_record(bad[i], strlen(bad[i]), &pos, &rec, &err)) == 1)
			pb_record_free(&rec);
		if (r != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_null(rec.tok.token);
		assert_int_equal(err.code, PB_E_INTERNAL);
	}
}

/* What a client asks the broker, and what the broker takes from it. */
static void test_broker_request(void **state)
{
	static const char *const bad[] = {
		"token - p 0",                  /* no newline */
		"token - p 0\nping\n",          /* one request only */
		"token -1 p 0\n",
		"token 4294967295 p 0\n",        /* (uid_t)-1 */
		"token - ../p 0\n",
		"token - p -1\n",
		"token - p 999999999999\n",      /* past ten years */
		"token - p\n",
		"token x p 0\n",
		"secrets\n",
		"\n",
	};
	struct pb_broker_request req;
	struct pb_buf buf = { 0 };

	(void)state;
	assert_int_equal(pb_proto_put_broker_request(&buf, -1, "sysvideo", 300), 0);
	assert_string_equal(buf.data, "token - sysvideo 300\n");
	assert_int_equal(pb_proto_read_broker_request(buf.data, buf.len, &req), 0);
	assert_false(req.ping);
	assert_int_equal(req.uid, -1);
	assert_string_equal(req.profile, "sysvideo");
	assert_int_equal(req.min_valid, 300);
	pb_buf_wipe(&buf);
	assert_int_equal(pb_proto_put_broker_request(&buf, 1000, "p", 0), 0);
	assert_int_equal(pb_proto_read_broker_request(buf.data, buf.len, &req), 0);
	assert_int_equal(req.uid, 1000);
	pb_buf_wipe(&buf);
	assert_int_equal(pb_proto_read_broker_request("ping\n", 5, &req), 0);
	assert_true(req.ping);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pb_proto_read_broker_request(bad[i], strlen(bad[i]), &req) != -1)
			fail_msg("accepted: %s", bad[i]);
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
		assert_string_equal(err.msg, "malformed request from bearer-token");
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
	tok.obtained_ms = 1795432424123LL;
	tok.has_expiry = true;
	tok.expires_ms = 1795436024123LL;
	tok.refreshed = true;
	tok.refresh_token = strdup("rt with spaces");
	assert_int_equal(pb_proto_put_fetch_reply(&buf, &tok, NULL), 0);
	assert_int_equal(pb_proto_read_fetch_reply(buf.data, buf.len, &got, &err), 0);
	assert_string_equal(got.token, tok.token);
	assert_string_equal(got.refresh_token, tok.refresh_token);
	assert_true(got.obtained_ms == tok.obtained_ms);
	assert_true(got.has_expiry);
	assert_true(got.expires_ms == tok.expires_ms);
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

	/* a Retry-After past a day is a day, whatever the sender says */
	assert_int_equal(pb_proto_read_fetch_reply("error 1 9000000000000 slow\n", 27, &got, &err),
			 -1);
	assert_int_equal(err.retry_after, PB_RETRY_AFTER_MAX);
	assert_string_equal(err.msg, "slow");
	/* named in the message: whoever sent a malformed reply */
	assert_int_equal(pb_proto_read_reply("bogus\n", 6, "the broker", &got, &err), -1);
	assert_string_equal(err.msg, "malformed reply from the broker");
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
		"token 0 2 0 3\nabc\nend\n",               /* obtained at the epoch */
		"token 5 4 0 3\nabc\nend\n",               /* expires before that */
		"token 1 999999999999 0 3\nabc\nend\n",    /* a lifetime past ten years */
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
		cmocka_unit_test(test_token_stream),
		cmocka_unit_test(test_token_stream_refused),
		cmocka_unit_test(test_broker_request),
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_request_refused),
		cmocka_unit_test(test_reply_token),
		cmocka_unit_test(test_reply_error),
		cmocka_unit_test(test_reply_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
