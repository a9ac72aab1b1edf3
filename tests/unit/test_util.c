/* SPDX-License-Identifier: MIT */
/*
 * test_util.c - errors, buffers, names, numbers and RFC 3339 time.
 */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util.h"

/* 2026-11-23T11:13:44Z */
#define T_REF 1795432424L

static time_t parsed(const char *s)
{
	time_t t = 12345;

	assert_int_equal(pb_time_parse(s, &t), 0);
	return t;
}

static void assert_bad_time(const char *s)
{
	time_t t = 12345;

	assert_int_equal(pb_time_parse(s, &t), -1);
	assert_int_equal(t, 12345);    /* untouched */
}

static void test_time_format(void **state)
{
	char buf[32];

	(void)state;
	pb_time_format(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	pb_time_format(T_REF, buf);
	assert_string_equal(buf, "2026-11-23T11:13:44Z");
	pb_time_format(1709164800, buf);
	assert_string_equal(buf, "2024-02-29T00:00:00Z");
}

static void test_time_parse_utc(void **state)
{
	(void)state;
	assert_int_equal(parsed("2026-11-23T11:13:44Z"), T_REF);
	assert_int_equal(parsed("2026-11-23t11:13:44z"), T_REF);
	assert_int_equal(parsed("2026-11-23 11:13:44Z"), T_REF);
	assert_int_equal(parsed("2026-11-23T11:13:44"), T_REF);    /* no zone: UTC */
	assert_int_equal(parsed("2026-11-23T11:13Z"), T_REF - 44);  /* no seconds */
	assert_int_equal(parsed("1970-01-01T00:00:00Z"), 0);
}

static void test_time_parse_roundtrip(void **state)
{
	static const time_t samples[] = { 0, 1, 951782400, 1709164800, T_REF, 4102444799L };
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		pb_time_format(samples[i], buf);
		assert_int_equal(parsed(buf), samples[i]);
	}
}

static void test_time_parse_offsets(void **state)
{
	(void)state;
	/* 13:13:44 at +02:00 is 11:13:44 UTC */
	assert_int_equal(parsed("2026-11-23T13:13:44+02:00"), T_REF);
	assert_int_equal(parsed("2026-11-23T13:13:44+0200"), T_REF);
	assert_int_equal(parsed("2026-11-23T05:43:44-05:30"), T_REF);
	assert_int_equal(parsed("2026-11-23T11:13:44+00:00"), T_REF);
	assert_int_equal(parsed("2026-11-23T11:13:44-00:00"), T_REF);
	/* an offset that crosses midnight */
	assert_int_equal(parsed("2026-11-24T00:13:44+13:00"), T_REF);
	assert_bad_time("2026-11-23T11:13:44+02");
	assert_bad_time("2026-11-23T11:13:44+24:00");
	assert_bad_time("2026-11-23T11:13:44+02:60");
	assert_bad_time("2026-11-23T11:13:44+2:00");
	assert_bad_time("2026-11-23T11:13:44 +02:00");
}

static void test_time_parse_fractions(void **state)
{
	(void)state;
	assert_int_equal(parsed("2026-11-23T11:13:44.123Z"), T_REF);
	assert_int_equal(parsed("2026-11-23T11:13:44.999999999Z"), T_REF);  /* cut, not rounded */
	assert_int_equal(parsed("2026-11-23T11:13:44,5Z"), T_REF);
	assert_int_equal(parsed("2026-11-23T13:13:44.5+02:00"), T_REF);
	assert_bad_time("2026-11-23T11:13:44.Z");
	assert_bad_time("2026-11-23T11:13:44.");
	assert_bad_time("2026-11-23T11:13.5Z");    /* a fraction needs seconds */
}

static void test_time_parse_date_only(void **state)
{
	(void)state;
	assert_int_equal(parsed("2026-11-23"), T_REF - (11 * 3600 + 13 * 60 + 44));
	assert_int_equal(parsed("2024-02-29"), 1709164800);
	assert_bad_time("2026-11-23Z");
	assert_bad_time("2026-11-23T");
	assert_bad_time("2026-11");
	assert_bad_time("2026");
}

static void test_time_parse_invalid_dates(void **state)
{
	(void)state;
	assert_bad_time("2026-02-30");
	assert_bad_time("2026-02-30T00:00:00Z");
	assert_bad_time("2025-02-29");    /* not a leap year */
	assert_bad_time("1900-02-29");    /* neither */
	assert_int_equal(parsed("2000-02-29"), 951782400);  /* but 2000 is */
	assert_bad_time("2026-04-31");
	assert_bad_time("2026-13-01");
	assert_bad_time("2026-00-10");
	assert_bad_time("2026-01-00");
	assert_bad_time("2026-01-32");
	assert_bad_time("2026-01-01T24:00:00Z");
	assert_bad_time("2026-01-01T23:60:00Z");
	assert_bad_time("2026-01-01T23:59:61Z");
}

static void test_time_parse_leap_second(void **state)
{
	(void)state;
	/* 2016-12-31T23:59:60Z is the second before 2017-01-01T00:00:00Z ends */
	assert_int_equal(parsed("2016-12-31T23:59:60Z"), 1483228800);
	assert_int_equal(parsed("2016-12-31T23:59:59Z"), 1483228799);
}

static void test_time_parse_garbage(void **state)
{
	(void)state;
	assert_bad_time("");
	assert_bad_time("soon");
	assert_bad_time("2026-1-01");
	assert_bad_time("26-01-01");
	assert_bad_time("2026/01/01");
	assert_bad_time("2026-01-01T1:00:00Z");
	assert_bad_time("2026-01-01T10:00:00ZZ");
	assert_bad_time("2026-01-01T10:00:00Z ");
	assert_bad_time(" 2026-01-01");
	assert_bad_time("2026-01-01X10:00:00");
	assert_bad_time("1795432424");
}

static void test_parse_double(void **state)
{
	double d = -1;

	(void)state;
	assert_int_equal(pb_parse_double("0.75", &d), 0);
	assert_true(d == 0.75);
	assert_int_equal(pb_parse_double("5", &d), 0);
	assert_true(d == 5.0);
	assert_int_equal(pb_parse_double("-2.5", &d), 0);
	assert_true(d == -2.5);
	assert_int_equal(pb_parse_double("1e3", &d), 0);
	assert_true(d == 1000.0);
	assert_int_equal(pb_parse_double(".5", &d), 0);
	assert_true(d == 0.5);

	d = 42;
	assert_int_equal(pb_parse_double(NULL, &d), -1);
	assert_int_equal(pb_parse_double("", &d), -1);
	assert_int_equal(pb_parse_double(" 1", &d), -1);
	assert_int_equal(pb_parse_double("1 ", &d), -1);
	assert_int_equal(pb_parse_double("1x", &d), -1);
	assert_int_equal(pb_parse_double("0,75", &d), -1);
	assert_int_equal(pb_parse_double("0x10", &d), -1);
	assert_int_equal(pb_parse_double("inf", &d), -1);
	assert_int_equal(pb_parse_double("-infinity", &d), -1);
	assert_int_equal(pb_parse_double("nan", &d), -1);
	assert_int_equal(pb_parse_double("1e400", &d), -1);
	assert_int_equal(pb_parse_double("-", &d), -1);
	assert_int_equal(pb_parse_double(".", &d), -1);
	assert_true(d == 42);    /* untouched on failure */
}

/*
 * The PAM module parses the config inside gdm/login, which may have called
 * setlocale(): "0.75" must still be 0.75 where the decimal point is ','.
 * Skipped when no such locale is installed (LOCPATH may point at one).
 */
static void test_parse_double_locale(void **state)
{
	static const char *const names[] = { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8",
					     "ru_RU.UTF-8", "nl_NL.UTF-8" };
	const char *set = NULL;
	double d = 0;

	(void)state;
	for (size_t i = 0; set == NULL && i < sizeof(names) / sizeof(names[0]); i++)
		set = setlocale(LC_NUMERIC, names[i]);
	if (set == NULL || strcmp(localeconv()->decimal_point, ".") == 0) {
		setlocale(LC_NUMERIC, "C");
		skip();
	}
	assert_int_equal(pb_parse_double("0.75", &d), 0);
	setlocale(LC_NUMERIC, "C");
	assert_true(d == 0.75);
}

static void test_parse_long(void **state)
{
	long v = -1;

	(void)state;
	assert_int_equal(pb_parse_long("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(pb_parse_long("-7", &v), 0);
	assert_int_equal(v, -7);
	assert_int_equal(pb_parse_long("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pb_parse_long("9223372036854775807", &v), 0);
	assert_int_equal(v, 9223372036854775807L);

	v = 99;
	assert_int_equal(pb_parse_long(NULL, &v), -1);
	assert_int_equal(pb_parse_long("", &v), -1);
	assert_int_equal(pb_parse_long(" 1", &v), -1);
	assert_int_equal(pb_parse_long("1 ", &v), -1);
	assert_int_equal(pb_parse_long("1.0", &v), -1);
	assert_int_equal(pb_parse_long("12a", &v), -1);
	assert_int_equal(pb_parse_long("0x10", &v), -1);
	assert_int_equal(pb_parse_long("9223372036854775808", &v), -1);
	assert_int_equal(pb_parse_long("-", &v), -1);
	assert_int_equal(v, 99);
}

static void test_buf_growth(void **state)
{
	struct pb_buf b = { 0 };
	char chunk[37];

	(void)state;
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)('a' + i % 26);
	/* 1000 * 37 bytes: many doublings from the first 64 */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(pb_buf_add(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, 37000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.data[i], chunk[i % sizeof(chunk)]);
	pb_buf_wipe(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);

	/* reusable after a wipe; an empty add still gives a "" */
	assert_int_equal(pb_buf_add(&b, NULL, 0), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	assert_int_equal(pb_buf_adds(&b, "abc"), 0);
	assert_int_equal(pb_buf_add(&b, "d\0e", 3), 0);   /* binary safe */
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "abcd\0e", 7);
	pb_buf_wipe(&b);
	pb_buf_wipe(&b);    /* twice is fine */
}

static void test_buf_addf(void **state)
{
	struct pb_buf b = { 0 };
	char big[300];

	(void)state;
	assert_int_equal(pb_buf_addf(&b, "%s=%d", "x", 42), 0);
	assert_string_equal(b.data, "x=42");
	assert_int_equal(b.len, 4);
	/* longer than the first allocation */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pb_buf_addf(&b, "[%s]", big), 0);
	assert_int_equal(b.len, 4 + 2 + 299);
	assert_int_equal(strlen(b.data), b.len);
	assert_int_equal(b.data[4], '[');
	assert_int_equal(b.data[b.len - 1], ']');
	assert_int_equal(pb_buf_addf(&b, "%s", ""), 0);
	assert_int_equal(b.len, 305);
	pb_buf_wipe(&b);
}

static void test_valid_name(void **state)
{
	char name[80];

	(void)state;
	assert_true(pb_valid_name("apivideo"));
	assert_true(pb_valid_name("rythmex-jwt"));
	assert_true(pb_valid_name("a.b_c-1"));
	assert_true(pb_valid_name("A"));
	assert_true(pb_valid_name("x.."));
	memset(name, 'n', 64);
	name[64] = '\0';
	assert_true(pb_valid_name(name));
	name[64] = 'n';
	name[65] = '\0';
	assert_false(pb_valid_name(name));

	assert_false(pb_valid_name(NULL));
	assert_false(pb_valid_name(""));
	assert_false(pb_valid_name("."));
	assert_false(pb_valid_name(".."));
	assert_false(pb_valid_name(".hidden"));
	assert_false(pb_valid_name("../etc"));
	assert_false(pb_valid_name("a/b"));
	assert_false(pb_valid_name("a b"));
	assert_false(pb_valid_name("a\nb"));
	assert_false(pb_valid_name("a\tb"));
	assert_false(pb_valid_name("caf\xc3\xa9"));
	assert_false(pb_valid_name("caf\xe9"));
	assert_false(pb_valid_name("a:b"));
	assert_false(pb_valid_name("a$b"));
}

static void test_fail_scrubs(void **state)
{
	struct pb_err err;

	(void)state;
	pb_err_clear(&err);
	assert_int_equal(err.code, PB_OK);
	assert_int_equal(err.retry_after, -1);
	assert_string_equal(err.msg, "");

	assert_int_equal(pb_fail(&err, PB_E_CONFIG, "bad %s: %d", "thing", 7), -1);
	assert_int_equal(err.code, PB_E_CONFIG);
	assert_string_equal(err.msg, "bad thing: 7");

	/* a vendor body cannot start a second log line */
	assert_int_equal(pb_fail(&err, PB_E_TEMP, "vendor said: %s",
				 "oops\nFAKE: root logged in\r\x1b[31m\x7f\ttab"), -1);
	assert_string_equal(err.msg, "vendor said: oops?FAKE: root logged in??[31m??tab");
	assert_false(pb_has_ctrl(err.msg));

	/* UTF-8 is not a control character */
	pb_fail(&err, PB_E_TEMP, "%s", "caf\xc3\xa9");
	assert_string_equal(err.msg, "caf\xc3\xa9");

	/* cut to the buffer */
	{
		char longmsg[2000];

		memset(longmsg, 'm', sizeof(longmsg) - 1);
		longmsg[sizeof(longmsg) - 1] = '\0';
		pb_fail(&err, PB_E_INTERNAL, "%s", longmsg);
		assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
	}

	assert_int_equal(pb_fail(NULL, PB_E_TEMP, "nobody listens"), -1);
	pb_err_clear(NULL);
}

static void test_small_helpers(void **state)
{
	char s1[] = "  \t padded value \r\n";
	char s2[] = "   ";
	char *dup;

	(void)state;
	assert_string_equal(pb_trim(s1), "padded value");
	assert_string_equal(pb_trim(s2), "");
	assert_true(pb_has_ctrl("a\x01"));
	assert_true(pb_has_ctrl("a\x7f"));
	assert_true(pb_has_ctrl("line\n"));
	assert_false(pb_has_ctrl("plain text ~ \xc3\xa9"));
	assert_false(pb_has_ctrl(""));
	assert_null(pb_strdup(NULL));
	dup = pb_strdup("secret");
	assert_string_equal(dup, "secret");
	pb_wipe_free(dup);
	pb_wipe_free(NULL);
}

/* Times to the millisecond: written with a fraction only when there is one, read back the same. */
static void test_time_ms(void **state)
{
	char buf[32];
	long long ms;
	time_t t;

	(void)state;
	pb_time_format_ms(1795432424250LL, buf);
	assert_string_equal(buf, "2026-11-23T11:13:44.250Z");
	pb_time_format_ms(1795432424000LL, buf);
	assert_string_equal(buf, "2026-11-23T11:13:44Z");
	pb_time_format_ms(1795432424007LL, buf);
	assert_string_equal(buf, "2026-11-23T11:13:44.007Z");
	assert_int_equal(pb_time_parse_ms("2026-11-23T11:13:44.250Z", &ms), 0);
	assert_true(ms == 1795432424250LL);
	assert_int_equal(pb_time_parse_ms("2026-11-23T11:13:44.2Z", &ms), 0);
	assert_true(ms == 1795432424200LL);
	assert_int_equal(pb_time_parse_ms("2026-11-23T11:13:44.123456789Z", &ms), 0);
	assert_true(ms == 1795432424123LL);
	assert_int_equal(pb_time_parse_ms("2026-11-23T13:13:44.5+02:00", &ms), 0);
	assert_true(ms == 1795432424500LL);
	/* whole seconds, as before: the fraction cut */
	assert_int_equal(pb_time_parse("2026-11-23T11:13:44.999Z", &t), 0);
	assert_int_equal(t, 1795432424);
	assert_true(pb_wall_ms() / 1000 - pb_now() <= 1);
}

/* Numbers from a vendor: clamped; sums of times: saturating, never wrapping. */
static void test_clamp_and_saturate(void **state)
{
	(void)state;
	assert_int_equal(pb_clamp_retry_after(-1), -1);
	assert_int_equal(pb_clamp_retry_after(0), 0);
	assert_int_equal(pb_clamp_retry_after(30), 30);
	assert_int_equal(pb_clamp_retry_after(86400), 86400);
	assert_int_equal(pb_clamp_retry_after(9000000000000LL), PB_RETRY_AFTER_MAX);
	assert_int_equal(pb_clamp_retry_after(9223372036854775LL), PB_RETRY_AFTER_MAX);
	assert_int_equal(pb_add_sat(1, 2), 3);
	assert_true(pb_add_sat(LLONG_MAX - 1, 5) == LLONG_MAX);
	assert_true(pb_add_sat(1795432424000LL, 9223372036854775LL * 1000) == LLONG_MAX);
	assert_true(pb_add_sat(LLONG_MIN + 1, -5) == LLONG_MIN);
	assert_true(pb_add_sat(-3, 1) == -2);
}

/* Every group of a user, however many: the same lookup for the module and the CLI. */
static void test_user_groups(void **state)
{
	struct pb_err err;
	gid_t *gids = NULL;
	size_t n = 0;

	(void)state;
	pb_err_clear(&err);
	assert_int_equal(pb_user_groups("root", 0, &gids, &n, &err), 0);
	assert_true(n >= 1);
	assert_int_equal(gids[0], 0);
	free(gids);
	/* an unknown user still has the primary group it was given */
	assert_int_equal(pb_user_groups("no-such-user-pb", 4321, &gids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(gids[0], 4321);
	free(gids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_time_parse_utc),
		cmocka_unit_test(test_time_parse_roundtrip),
		cmocka_unit_test(test_time_parse_offsets),
		cmocka_unit_test(test_time_parse_fractions),
		cmocka_unit_test(test_time_parse_date_only),
		cmocka_unit_test(test_time_parse_invalid_dates),
		cmocka_unit_test(test_time_parse_leap_second),
		cmocka_unit_test(test_time_parse_garbage),
		cmocka_unit_test(test_parse_double),
		cmocka_unit_test(test_parse_double_locale),
		cmocka_unit_test(test_parse_long),
		cmocka_unit_test(test_buf_growth),
		cmocka_unit_test(test_buf_addf),
		cmocka_unit_test(test_valid_name),
		cmocka_unit_test(test_fail_scrubs),
		cmocka_unit_test(test_small_helpers),
		cmocka_unit_test(test_clamp_and_saturate),
		cmocka_unit_test(test_time_ms),
		cmocka_unit_test(test_user_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
