/* SPDX-License-Identifier: MIT */
/*
 * test_schedule.c - the refresher's planning (helper/schedule.c): each rule
 * on its own, the floors that keep any vendor answer from looping, and a
 * simulation of a fleet that logged in within one minute.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "schedule.h"

static const struct pb_sched usual = { .refresh_at = 0.75, .first_from = 0.0,
				       .min_interval_ms = 2000 };

static struct pb_life life_of(long long obtained, long long lifetime)
{
	struct pb_life t = { .obtained_ms = obtained, .has_expiry = lifetime > 0,
			     .expires_ms = obtained + lifetime };

	return t;
}

/* An hour token: at 75 %, less up to a tenth; never expiring: nothing. */
static void test_refresh_point(void **state)
{
	struct pb_life t = life_of(1000000, 3600000), forever = { .obtained_ms = 5 };

	(void)state;
	assert_true(pb_sched_refresh(&usual, &t, false, 0.0, 0.0, 0) == 1000000 + 2700000);
	assert_true(pb_sched_refresh(&usual, &t, false, 0.0, 0.999, 0) > 1000000 + 2340000);
	assert_true(pb_sched_refresh(&usual, &t, false, 0.0, 0.999, 0) < 1000000 + 2341000);
	assert_true(pb_sched_refresh(&usual, &forever, false, 0.5, 0.5, 0) == 0);
}

/* A 4-s token is renewed between 60 % and 80 % of its life, to the millisecond. */
static void test_short_token(void **state)
{
	struct pb_life t = life_of(100900, 4000);

	(void)state;
	for (double j = 0.0; j < 1.0; j += 0.05) {
		long long at = pb_sched_refresh(&usual, &t, false, 0.0, j, 0);

		assert_true(at >= 100900 + 2400 && at <= 100900 + 3200);
	}
	/* an hour token's margin: the renewal is never later than 60 s before expiry */
	{
		struct pb_sched late = usual;
		struct pb_life h = life_of(0, 3600000);

		late.refresh_at = 0.999;
		assert_true(pb_sched_refresh(&late, &h, false, 0.0, 0.0, 0) == 3600000 - 60000);
	}
}

/*
 * The first renewal after a login: anywhere between first_from and the
 * usual point, spread as renewals in steady state are (flat up to 65 % of
 * the life, thinning to 75 %).
 */
static void test_first_renewal(void **state)
{
	struct pb_life t = life_of(0, 3600000);
	struct pb_sched from40 = usual;

	(void)state;
	assert_true(pb_sched_refresh(&usual, &t, true, 0.0, 0.0, 0) == 0);
	assert_true(pb_sched_refresh(&usual, &t, true, 0.5, 0.0, 0) == 1260000);
	from40.first_from = 0.4;
	assert_true(pb_sched_refresh(&from40, &t, true, 0.0, 0.0, 0) == 1080000);
	assert_true(pb_sched_refresh(&from40, &t, true, 0.999999, 0.0, 0) >= 2698000);
	/* the floor still holds: never sooner than min_interval after the request */
	assert_true(pb_sched_refresh(&usual, &t, true, 0.0, 0.0, 0 + 1) == 2001);
}

/* Nothing loops hot: a 1-s lifetime, expires_in 1, is asked no more than every 2 s. */
static void test_floor(void **state)
{
	struct pb_life t = life_of(50000, 1000);

	(void)state;
	assert_true(pb_sched_floor(10, 0, 2000) == 10);
	assert_true(pb_sched_floor(10, 5, 2000) == 2005);
	assert_true(pb_sched_floor(9000, 5, 2000) == 9000);
	assert_true(pb_sched_refresh(&usual, &t, false, 0.0, 0.0, 50000) == 52000);
	assert_true(pb_sched_retry(&usual, &t, 50000, 1, -1, 0.0, 50000) == 52000);
	assert_true(pb_sched_floor(0x7fffffffffffff00LL, 0x7fffffffffffff00LL, 2000) ==
		    0x7fffffffffffffffLL);
}

/* Backoff: doubling from 1 s with full jitter, at most 5 min. */
static void test_backoff(void **state)
{
	struct pb_life forever = { .obtained_ms = 1 };
	long long now = 10000000;

	(void)state;
	assert_true(pb_sched_retry(&usual, &forever, now, 1, -1, 0.0, 0) == now + 500);
	assert_true(pb_sched_retry(&usual, &forever, now, 1, -1, 0.999, 0) < now + 2500);
	assert_true(pb_sched_retry(&usual, &forever, now, 3, -1, 0.999, 0) < now + 8500);
	assert_true(pb_sched_retry(&usual, &forever, now, 3, -1, 0.999, 0) > now + 7900);
	assert_true(pb_sched_retry(&usual, &forever, now, 40, -1, 0.999, 0) <= now + 300500);
	assert_true(pb_sched_retry(&usual, &forever, now, 40, -1, 0.999, 0) > now + 299000);
}

/* Once the token has expired (or there is none) the ceiling is 60 s, whatever the failures. */
static void test_expired_ceiling(void **state)
{
	struct pb_life dead = life_of(0, 4000);
	long long now = 100000;

	(void)state;
	assert_true(pb_sched_retry(&usual, &dead, now, 30, -1, 0.999, 0) <= now + 60500);
	assert_true(pb_sched_retry(&usual, NULL, now, 30, -1, 0.999, 0) <= now + 60500);
	assert_true(pb_sched_retry(&usual, &dead, now, 30, -1, 0.999, 0) > now + 59000);
	/* and a Retry-After still stands */
	assert_true(pb_sched_retry(&usual, &dead, now, 30, 120, 0.0, 0) == now + 120000);
}

/* While the token is valid, a retry never waits past half of what is left. */
static void test_valid_ceiling(void **state)
{
	struct pb_life t = life_of(1, 20000);

	(void)state;
	assert_true(pb_sched_retry(&usual, &t, 15000, 9, -1, 0.999, 0) <= 15000 + 500 + 2500);
	assert_true(pb_sched_retry(&usual, &t, 19500, 9, -1, 0.999, 0) <= 19500 + 500 + 1000);
}

/* Retry-After: obeyed, clamped to a day, never an overflow. */
static void test_retry_after(void **state)
{
	struct pb_life t = life_of(0, 4000);

	(void)state;
	assert_true(pb_sched_retry(&usual, &t, 3000, 1, 20, 0.0, 0) == 23000);
	assert_true(pb_sched_retry(&usual, &t, 3000, 1, 9000000000000L, 0.0, 0) ==
		    3000 + 86400000LL);
	assert_true(pb_sched_retry(&usual, &t, 3000, 1, 9223372036854775L, 0.5, 0) ==
		    3000 + 86400000LL);
}

/* The spread: any N consecutive draws leave no gap wider than about 2/N. */
static void test_spread(void **state)
{
	int counts[10] = { 0 };

	(void)state;
	for (unsigned long k = 0; k < 100; k++) {
		double d = pb_sched_spread(0.37, k);

		assert_true(d >= 0.0 && d < 1.0);
		counts[(int)(d * 10)]++;
	}
	for (int i = 0; i < 10; i++)
		assert_true(counts[i] >= 8 && counts[i] <= 12);
}

/* A small, seeded generator: the simulation is the same every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

/*
 * The herd: 10,000 hour tokens obtained within one minute (a fleet that
 * logged in at once: one refresher each, so their first renewals are drawn
 * independently), renewed as the refresher plans, for three lifetimes.
 * The busiest minute stays within 1.5 times the mean minute.
 */
static void test_fleet_herd(void **state)
{
	enum { N = 10000, MINUTES = 180 };
	const long long hour = 3600000;
	static int per_minute[MINUTES];
	long long total = 0;
	int busiest = 0;

	(void)state;
	memset(per_minute, 0, sizeof(per_minute));
	for (int i = 0; i < N; i++) {
		/* one window for all: the three lifetimes after the minute of the logins */
		long long t0 = (long long)(rnd() * 60000.0), end = 3 * hour;
		struct pb_life t = life_of(t0, hour);
		long long at = pb_sched_refresh(&usual, &t, true, rnd(), rnd(), t0);

		while (at < end) {
			per_minute[at / 60000]++;
			t = life_of(at, hour);
			at = pb_sched_refresh(&usual, &t, false, 0.0, rnd(), at);
		}
	}
	for (int m = 1; m < MINUTES; m++) {
		total += per_minute[m];
		if (per_minute[m] > busiest)
			busiest = per_minute[m];
	}
	print_message("# fleet of %d: busiest minute %d, mean %.1f: %.2fx\n", N, busiest,
		      (double)total / (MINUTES - 1), busiest / ((double)total / (MINUTES - 1)));
	assert_true(busiest <= 1.5 * (double)total / (MINUTES - 1));
}

/*
 * One refresher with 500 tokens of one lifetime, all fetched at once: its
 * first renewals, drawn from the spread, reach the vendor at an even rate.
 */
static void test_refresher_herd(void **state)
{
	enum { N = 500 };
	const long long life = 240000;
	static int per_second[240];
	int busiest = 0, seconds = 0;
	long long total = 0;

	(void)state;
	memset(per_second, 0, sizeof(per_second));
	for (unsigned long k = 0; k < N; k++) {
		struct pb_life t = life_of(0, life);
		long long at = pb_sched_refresh(&usual, &t, true, pb_sched_spread(0.25, k), rnd(), 0);

		per_second[at / 1000]++;
	}
	/* the window the first renewals span: from the floor to the usual point */
	for (int s = 2; s < 180; s++) {
		total += per_second[s];
		seconds++;
		if (per_second[s] > busiest)
			busiest = per_second[s];
	}
	print_message("# one refresher, %d tokens: busiest second %d, mean %.2f\n", N, busiest,
		      (double)total / seconds);
	assert_true(busiest <= 1.5 * (double)total / seconds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refresh_point),
		cmocka_unit_test(test_short_token),
		cmocka_unit_test(test_first_renewal),
		cmocka_unit_test(test_floor),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_expired_ceiling),
		cmocka_unit_test(test_valid_ceiling),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_fleet_herd),
		cmocka_unit_test(test_refresher_herd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
