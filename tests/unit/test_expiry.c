/* SPDX-License-Identifier: MIT */
/*
 * test_expiry.c - lifetime specs, expires_in, JWT exp and the renewal
 * arithmetic, with exact numbers.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "expiry.h"

#define NOW 1795432424L    /* 2026-11-23T11:13:44Z */

/* ------------------------------------------------------------ helpers */

/* base64url without padding, as JWTs use it */
static void b64url(const char *in, size_t n, char *out)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)(unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = abc[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = abc[v & 63];
	}
	out[o] = '\0';
}

/* A JWT (header.payload.signature) whose payload is the given JSON. */
static char *jwt(const char *payload)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char *out = malloc(64 + 2 * strlen(payload) + 64);
	char *p;

	assert_non_null(out);
	b64url(header, strlen(header), out);
	p = out + strlen(out);
	*p++ = '.';
	b64url(payload, strlen(payload), p);
	strcat(out, ".c2lnbmF0dXJlLW5vdC1jaGVja2Vk");
	return out;
}

/* A JWT with "exp": exp. */
static char *jwt_exp(long long exp)
{
	char payload[128];

	snprintf(payload, sizeof(payload), "{\"sub\":\"user@example.com\",\"iat\":%ld,\"exp\":%lld}",
		 NOW - 5, exp);
	return jwt(payload);
}

struct outcome {
	int rc;
	bool has_expiry;
	time_t expires_at;
	struct pb_err err;
};

static struct outcome resolve(const char *lifetime, struct json_object *expires_in,
			      const char *token)
{
	struct outcome o;

	pb_err_clear(&o.err);
	o.has_expiry = true;
	o.expires_at = 12345;
	o.rc = pb_expiry_resolve(lifetime, expires_in, token, NOW, &o.has_expiry, &o.expires_at,
				 &o.err);
	return o;
}

/* expires_in from a JSON text, as the vendor sent it */
static struct outcome resolve_json(const char *lifetime, const char *expires_in_json,
				   const char *token)
{
	struct json_object *v = json_tokener_parse(expires_in_json);
	struct outcome o;

	o = resolve(lifetime, v, token);
	json_object_put(v);
	return o;
}

static void assert_expires(struct outcome o, time_t at)
{
	if (o.rc != 0)
		fail_msg("unexpected failure: %s", o.err.msg);
	assert_true(o.has_expiry);
	assert_int_equal(o.expires_at, at);
}

static void assert_never(struct outcome o)
{
	if (o.rc != 0)
		fail_msg("unexpected failure: %s", o.err.msg);
	assert_false(o.has_expiry);
}

static void assert_fails(struct outcome o, int code, const char *msg)
{
	assert_int_equal(o.rc, -1);
	assert_int_equal(o.err.code, code);
	if (strstr(o.err.msg, msg) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", o.err.msg, msg);
}

/* ------------------------------------------------------------ lifetime spec */

static void test_lifetime_valid(void **state)
{
	(void)state;
	assert_true(pb_lifetime_valid("jwt"));
	assert_true(pb_lifetime_valid("none"));
	assert_true(pb_lifetime_valid("3600"));
	assert_true(pb_lifetime_valid("1"));
	assert_true(pb_lifetime_valid("316224000"));    /* PB_MAX_LIFETIME */
	assert_true(pb_lifetime_valid("jwt|3600"));
	assert_true(pb_lifetime_valid("jwt | 604800"));
	assert_true(pb_lifetime_valid(" jwt | 3600 | none "));
	assert_true(pb_lifetime_valid("jwt|none"));

	assert_false(pb_lifetime_valid(NULL));
	assert_false(pb_lifetime_valid(""));
	assert_false(pb_lifetime_valid("  "));
	assert_false(pb_lifetime_valid("0"));
	assert_false(pb_lifetime_valid("-5"));
	assert_false(pb_lifetime_valid("+5"));
	assert_false(pb_lifetime_valid("1.5"));
	assert_false(pb_lifetime_valid("316224001"));
	assert_false(pb_lifetime_valid("99999999999999999999999"));
	assert_false(pb_lifetime_valid("3600s"));
	assert_false(pb_lifetime_valid("36 00"));
	assert_false(pb_lifetime_valid("JWT"));
	assert_false(pb_lifetime_valid("forever"));
	assert_false(pb_lifetime_valid("jwt||none"));
	assert_false(pb_lifetime_valid("jwt|"));
	assert_false(pb_lifetime_valid("|jwt"));
	assert_false(pb_lifetime_valid("jwt, 3600"));
}

/* ------------------------------------------------------------ expires_in */

static void test_expires_in_integer(void **state)
{
	(void)state;
	assert_expires(resolve_json("none", "3600", NULL), NOW + 3600);
	assert_expires(resolve_json(NULL, "1", NULL), NOW + 1);
	assert_expires(resolve_json(NULL, "316224000", NULL), NOW + PB_MAX_LIFETIME);
	assert_fails(resolve_json(NULL, "-5", NULL), PB_E_TEMP,
		     "expires_in -5 is not a positive number of seconds");
	assert_fails(resolve_json(NULL, "0", NULL), PB_E_TEMP,
		     "expires_in 0 is not a positive number of seconds");
	assert_fails(resolve_json(NULL, "316224001", NULL), PB_E_TEMP,
		     "expires_in 316224001 is more than 10 years");
	assert_fails(resolve_json(NULL, "99999999999999999999999", NULL), PB_E_TEMP,
		     "more than 10 years");
}

static void test_expires_in_double(void **state)
{
	struct json_object *nan_value = json_object_new_double(NAN);

	(void)state;
	assert_expires(resolve_json(NULL, "3600.0", NULL), NOW + 3600);
	assert_expires(resolve_json(NULL, "3599.9", NULL), NOW + 3599);    /* cut, never later */
	assert_expires(resolve_json(NULL, "3.6e3", NULL), NOW + 3600);
	assert_fails(resolve_json(NULL, "0.5", NULL), PB_E_TEMP,
		     "is not a positive number of seconds");
	assert_fails(resolve_json(NULL, "-1.5", NULL), PB_E_TEMP,
		     "expires_in -1.5 is not a positive number of seconds");
	assert_fails(resolve_json(NULL, "1e300", NULL), PB_E_TEMP, "more than 10 years");
	assert_fails(resolve(NULL, nan_value, NULL), PB_E_TEMP, "expires_in is not a number");
	json_object_put(nan_value);
}

static void test_expires_in_string(void **state)
{
	(void)state;
	assert_expires(resolve_json(NULL, "\"3600\"", NULL), NOW + 3600);
	assert_expires(resolve_json(NULL, "\"86400\"", NULL), NOW + 86400);
	assert_fails(resolve_json(NULL, "\"-5\"", NULL), PB_E_TEMP,
		     "expires_in -5 is not a positive number of seconds");
	assert_fails(resolve_json(NULL, "\"0\"", NULL), PB_E_TEMP, "not a positive number");
	assert_fails(resolve_json(NULL, "\"soon\"", NULL), PB_E_TEMP, "expires_in is not a number");
	assert_fails(resolve_json(NULL, "\"\"", NULL), PB_E_TEMP, "expires_in is not a number");
	assert_fails(resolve_json(NULL, "\" 3600\"", NULL), PB_E_TEMP, "expires_in is not a number");
	assert_fails(resolve_json(NULL, "\"3600s\"", NULL), PB_E_TEMP, "expires_in is not a number");
	assert_fails(resolve_json(NULL, "\"0x10\"", NULL), PB_E_TEMP, "expires_in is not a number");
	assert_fails(resolve_json(NULL, "\"inf\"", NULL), PB_E_TEMP, "expires_in is not a number");
}

static void test_expires_in_other_types(void **state)
{
	(void)state;
	assert_fails(resolve_json("3600", "true", NULL), PB_E_TEMP, "expires_in is not a number");
	assert_fails(resolve_json("3600", "{\"s\": 1}", NULL), PB_E_TEMP,
		     "expires_in is not a number");
	assert_fails(resolve_json("3600", "[3600]", NULL), PB_E_TEMP,
		     "expires_in is not a number");
	/* JSON null is no expires_in at all: the lifetime decides */
	assert_expires(resolve_json("600", "null", NULL), NOW + 600);
}

static void test_expires_in_wins_over_lifetime(void **state)
{
	char *t = jwt_exp(NOW + 999);

	(void)state;
	assert_expires(resolve_json("jwt", "60", t), NOW + 60);
	assert_expires(resolve_json("none", "60", t), NOW + 60);
	/* a bad expires_in is an error even when the lifetime could answer */
	assert_fails(resolve_json("jwt | 3600", "-5", t), PB_E_TEMP, "expires_in -5");
	free(t);
}

/*
 * A JWT's whole-second exp just before what expires_in gives wins (the
 * API refuses the token from then on); one later, or earlier by more than
 * 2 s (the clocks disagree), does not.
 */
static void test_expires_in_trimmed_by_jwt_exp(void **state)
{
	long long sent = (long long)NOW * 1000 + 700, at;
	struct json_object *four = json_object_new_int(4);
	char *cut = jwt_exp(NOW + 4), *later = jwt_exp(NOW + 5), *skewed = jwt_exp(NOW + 1);
	struct pb_err err;
	bool has;

	(void)state;
	pb_err_clear(&err);
	assert_int_equal(pb_expiry_resolve_ms(NULL, four, cut, sent, &has, &at, &err), 0);
	assert_true(has);
	assert_true(at == (long long)(NOW + 4) * 1000);
	assert_int_equal(pb_expiry_resolve_ms(NULL, four, later, sent, &has, &at, &err), 0);
	assert_true(at == sent + 4000);
	assert_int_equal(pb_expiry_resolve_ms(NULL, four, skewed, sent, &has, &at, &err), 0);
	assert_true(at == sent + 4000);
	assert_int_equal(pb_expiry_resolve_ms(NULL, four, "opaque", sent, &has, &at, &err), 0);
	assert_true(at == sent + 4000);
	json_object_put(four);
	free(cut);
	free(later);
	free(skewed);
}

/* ------------------------------------------------------------ lifetime alternatives */

static void test_lifetime_fixed_and_none(void **state)
{
	(void)state;
	assert_expires(resolve("3600", NULL, "opaque"), NOW + 3600);
	assert_expires(resolve(" 604800 ", NULL, "opaque"), NOW + 604800);
	assert_never(resolve("none", NULL, "opaque"));
	assert_int_equal(resolve("none", NULL, "opaque").expires_at, 0);
	assert_fails(resolve(NULL, NULL, "opaque"), PB_E_TEMP, "cannot tell when the token expires");
	assert_fails(resolve("", NULL, "opaque"), PB_E_TEMP, "cannot tell when the token expires");
	assert_fails(resolve("forever", NULL, "opaque"), PB_E_CONFIG, "forever");
	assert_fails(resolve("0", NULL, "opaque"), PB_E_CONFIG, "lifetime");
	assert_fails(resolve("jwt||none", NULL, "opaque"), PB_E_CONFIG, "empty alternative");
}

static void test_jwt_exp(void **state)
{
	char *t = jwt_exp(NOW + 1800);
	char *edge = jwt_exp(NOW + PB_MAX_LIFETIME);

	(void)state;
	assert_expires(resolve("jwt", NULL, t), NOW + 1800);
	assert_expires(resolve("jwt | 3600", NULL, t), NOW + 1800);
	assert_expires(resolve("jwt", NULL, edge), NOW + PB_MAX_LIFETIME);
	free(t);
	free(edge);
}

static void test_jwt_past(void **state)
{
	char *t = jwt_exp(NOW - 10);
	char *now = jwt_exp(NOW);
	char want[64];

	(void)state;
	/* a dead token is an error, and no later alternative rescues it */
	assert_fails(resolve("jwt", NULL, t), PB_E_TEMP, "token expired at 2026-11-23T11:13:34Z");
	assert_fails(resolve("jwt | 3600", NULL, t), PB_E_TEMP, "token expired at");
	assert_fails(resolve("jwt | none", NULL, t), PB_E_TEMP, "token expired at");
	/* exp == now: dead already */
	snprintf(want, sizeof(want), "token expired at 2026-11-23T11:13:44Z");
	assert_fails(resolve("jwt | 3600", NULL, now), PB_E_TEMP, want);
	/* ... and the failure reports no expiry */
	assert_false(resolve("jwt", NULL, t).has_expiry);
	/* the message never quotes the token */
	assert_null(strstr(resolve("jwt", NULL, t).err.msg, "eyJ"));
	free(t);
	free(now);
}

static void test_jwt_absurd(void **state)
{
	char *t = jwt_exp(NOW + PB_MAX_LIFETIME + 1);
	char *ms = jwt_exp(NOW * 1000LL);    /* milliseconds by mistake */

	(void)state;
	assert_fails(resolve("jwt", NULL, t), PB_E_TEMP, "cannot tell when the token expires (jwt:");
	assert_fails(resolve("jwt", NULL, t), PB_E_TEMP, "more than 10 years");
	assert_expires(resolve("jwt | 3600", NULL, t), NOW + 3600);
	assert_never(resolve("jwt | none", NULL, t));
	assert_fails(resolve("jwt", NULL, ms), PB_E_TEMP, "cannot tell when the token expires");
	assert_expires(resolve("jwt|120", NULL, ms), NOW + 120);
	free(t);
	free(ms);
}

static void test_jwt_missing_exp(void **state)
{
	char *noexp = jwt("{\"sub\":\"x\",\"iat\":1795432424}");
	char *strexp = jwt("{\"exp\":\"tomorrow\"}");

	(void)state;
	assert_fails(resolve("jwt", NULL, noexp), PB_E_TEMP, "cannot tell when the token expires");
	assert_expires(resolve("jwt | 600", NULL, noexp), NOW + 600);
	assert_never(resolve("jwt | none", NULL, noexp));
	assert_expires(resolve("jwt | 600", NULL, strexp), NOW + 600);
	/* not a JWT at all: the same */
	assert_expires(resolve("jwt | 600", NULL, "opaque-api-token"), NOW + 600);
	assert_expires(resolve("jwt | 600", NULL, "a.b"), NOW + 600);
	assert_fails(resolve("jwt", NULL, "opaque-api-token"), PB_E_TEMP,
		     "cannot tell when the token expires (jwt:");
	assert_fails(resolve("jwt", NULL, NULL), PB_E_TEMP, "cannot tell when the token expires");
	free(noexp);
	free(strexp);
}

static void test_alternatives_in_order(void **state)
{
	char *t = jwt_exp(NOW + 1800);

	(void)state;
	/* left to right; the first that applies wins */
	assert_expires(resolve("3600 | jwt", NULL, t), NOW + 3600);
	assert_expires(resolve("jwt | 3600", NULL, t), NOW + 1800);
	assert_never(resolve("none | jwt", NULL, t));
	assert_expires(resolve("jwt | 60 | none", NULL, "opaque"), NOW + 60);
	assert_never(resolve("jwt | none | 60", NULL, "opaque"));
	free(t);
}

/* ------------------------------------------------------------ renewal arithmetic */

static void test_refresh_margin(void **state)
{
	(void)state;
	assert_int_equal(pb_refresh_margin(3600), 60);
	assert_int_equal(pb_refresh_margin(100), 10);
	assert_int_equal(pb_refresh_margin(600), 60);
	assert_int_equal(pb_refresh_margin(599), 59);
	assert_int_equal(pb_refresh_margin(7 * 86400), 60);
	assert_int_equal(pb_refresh_margin(20), 2);
	assert_int_equal(pb_refresh_margin(10), 1);
	assert_int_equal(pb_refresh_margin(4), 1);
	assert_int_equal(pb_refresh_margin(1), 1);
	assert_int_equal(pb_refresh_margin(0), 1);
	assert_int_equal(pb_refresh_margin(-5), 1);
}

static void test_refresh_due(void **state)
{
	(void)state;
	/* a 4-second token is renewed at 3 s, an hour token at 45 min */
	assert_int_equal(pb_refresh_due(NOW, NOW + 4, 0.75), NOW + 3);
	assert_int_equal(pb_refresh_due(NOW, NOW + 3600, 0.75), NOW + 2700);
	assert_int_equal(pb_refresh_due(NOW, NOW + 7 * 86400, 0.75), NOW + 453600);
	assert_int_equal(pb_refresh_due(NOW, NOW + 3600, 0.5), NOW + 1800);
	/* never later than expires - margin */
	assert_int_equal(pb_refresh_due(NOW, NOW + 3600, 0.99), NOW + 3540);
	assert_int_equal(pb_refresh_due(NOW, NOW + 3600, 1.0), NOW + 3540);
	assert_int_equal(pb_refresh_due(NOW, NOW + 100, 0.95), NOW + 90);
	assert_int_equal(pb_refresh_due(NOW, NOW + 4, 1.0), NOW + 3);
	assert_int_equal(pb_refresh_due(NOW, NOW + 2, 0.75), NOW + 1);
	/* nonsense fractions are clamped */
	assert_int_equal(pb_refresh_due(NOW, NOW + 3600, 1.5), NOW + 3540);
	assert_int_equal(pb_refresh_due(NOW, NOW + 3600, NAN), NOW + 3540);
	assert_int_equal(pb_refresh_due(NOW, NOW + 3600, 0), NOW);
	assert_int_equal(pb_refresh_due(NOW, NOW + 3600, -1), NOW);
	/* a token with no lifetime left: due at once */
	assert_int_equal(pb_refresh_due(NOW, NOW, 0.75), NOW);
	assert_int_equal(pb_refresh_due(NOW, NOW - 10, 0.75), NOW - 10);
	assert_int_equal(pb_refresh_due(NOW, NOW + 1, 0.75), NOW);
}

static void test_token_fresh(void **state)
{
	(void)state;
	assert_true(pb_token_fresh(false, NOW, 0, NOW + 1000000, 0));
	assert_true(pb_token_fresh(false, NOW, 0, NOW, 999999));
	/* 4-second token: margin 1 */
	assert_true(pb_token_fresh(true, NOW, NOW + 4, NOW + 2, 0));
	assert_false(pb_token_fresh(true, NOW, NOW + 4, NOW + 3, 0));
	assert_false(pb_token_fresh(true, NOW, NOW + 4, NOW + 4, 0));
	assert_false(pb_token_fresh(true, NOW, NOW + 4, NOW + 9, 0));
	/* hour token: margin 60 */
	assert_true(pb_token_fresh(true, NOW, NOW + 3600, NOW + 3539, 0));
	assert_false(pb_token_fresh(true, NOW, NOW + 3600, NOW + 3540, 0));
	/* --min-valid */
	assert_true(pb_token_fresh(true, NOW, NOW + 3600, NOW, 3599));
	assert_false(pb_token_fresh(true, NOW, NOW + 3600, NOW, 3600));
	assert_false(pb_token_fresh(true, NOW, NOW + 3600, NOW + 3000, 600));
	assert_true(pb_token_fresh(true, NOW, NOW + 3600, NOW + 2999, 600));
}

/* The margin in ms: a tenth of the life, between 1 s (half a shorter life) and 60 s. */
static void test_margin_ms(void **state)
{
	(void)state;
	assert_true(pb_refresh_margin_ms(3600000) == 60000);
	assert_true(pb_refresh_margin_ms(100000) == 10000);
	assert_true(pb_refresh_margin_ms(4000) == 1000);
	assert_true(pb_refresh_margin_ms(1000) == 500);
	assert_true(pb_refresh_margin_ms(1) == 1);
	/* a 4-s token from t=0: fresh until 1 s is left (and min_valid) */
	assert_true(pb_token_fresh_ms(true, 0, 4000, 2999, 0));
	assert_false(pb_token_fresh_ms(true, 0, 4000, 3000, 0));
	assert_false(pb_token_fresh_ms(true, 0, 4000, 1000, 3));
	assert_true(pb_token_fresh_ms(false, 0, 0, 99999999, 3600));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifetime_valid),
		cmocka_unit_test(test_expires_in_integer),
		cmocka_unit_test(test_expires_in_double),
		cmocka_unit_test(test_expires_in_string),
		cmocka_unit_test(test_expires_in_other_types),
		cmocka_unit_test(test_expires_in_wins_over_lifetime),
		cmocka_unit_test(test_expires_in_trimmed_by_jwt_exp),
		cmocka_unit_test(test_lifetime_fixed_and_none),
		cmocka_unit_test(test_jwt_exp),
		cmocka_unit_test(test_jwt_past),
		cmocka_unit_test(test_jwt_absurd),
		cmocka_unit_test(test_jwt_missing_exp),
		cmocka_unit_test(test_alternatives_in_order),
		cmocka_unit_test(test_refresh_margin),
		cmocka_unit_test(test_refresh_due),
		cmocka_unit_test(test_token_fresh),
		cmocka_unit_test(test_margin_ms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
