/* SPDX-License-Identifier: MIT */
/*
 * schedule.h - when the refresher asks a vendor next: pure functions of
 * times in milliseconds and a random draw in [0, 1), with no clock, file
 * or vendor of their own, so that every rule is tested, and simulated for
 * a fleet, in tests/unit/test_schedule.c.
 *
 * The rules:
 *  - Renew at refresh_at of the token's life (counted from when the
 *    request that got it went out), less up to a tenth of the life at
 *    random, and never later than the margin before expiry.
 *  - The first renewal of a token this refresher did not plan itself (one
 *    a login obtained, or one it found or fetched when it started) falls at
 *    a random point between first_from of that time and that time, so
 *    that tokens obtained together, by one refresher or by a fleet that
 *    logged in at once, do not stay in step. Drawn from a low-discrepancy
 *    sequence (pb_sched_spread), N such tokens of one refresher are spaced
 *    evenly.
 *  - After a failure: exponential backoff with full jitter from 1 s, at
 *    most 5 min; at most 60 s once the token has expired (or there is
 *    none): a session needs it; at most half of what is left while it is
 *    still valid; never sooner than the vendor's Retry-After (at most a
 *    day).
 *  - Nothing sooner than min_interval after the last request for the
 *    profile, whatever the vendor's lifetime, Retry-After or error.
 */
#ifndef PB_SCHEDULE_H
#define PB_SCHEDULE_H

#include <stdbool.h>

/* A profile's rules (config.h: refresh_at, first_refresh_from, min_interval). */
struct pb_sched {
	double refresh_at;          /* 0 < x < 1 */
	double first_from;          /* 0 <= x < 1 */
	long long min_interval_ms;  /* > 0 */
};

/* A token's life, as P.json has it. */
struct pb_life {
	long long obtained_ms;
	bool has_expiry;
	long long expires_ms;
};

#define PB_SCHED_BACKOFF_BASE_MS 1000LL
#define PB_SCHED_BACKOFF_CAP_MS 300000LL
#define PB_SCHED_EXPIRED_CAP_MS 60000LL

/* when, or min_interval after last_request_ms if that is later (last 0: none). */
long long pb_sched_floor(long long when_ms, long long last_request_ms, long long min_interval_ms);

/*
 * The renewal of token t: 0 when it never expires (nothing to renew).
 * first: the first renewal of a token this refresher did not plan; draw in
 * [0, 1) places it; jitter in [0, 1) takes up to a tenth of the life off a
 * planned one. Floored by last_request_ms.
 */
long long pb_sched_refresh(const struct pb_sched *s, const struct pb_life *t, bool first,
			   double draw, double jitter, long long last_request_ms);

/*
 * The next attempt after the failures-th failure in a row (>= 1) at now_ms:
 * t is the token on disk (NULL: none); retry_after_s the vendor's (-1: none);
 * draw in [0, 1). Floored by last_request_ms.
 */
long long pb_sched_retry(const struct pb_sched *s, const struct pb_life *t, long long now_ms,
			 unsigned failures, long retry_after_s, double draw,
			 long long last_request_ms);

/*
 * The k-th draw of a low-discrepancy sequence starting at offset (in [0,
 * 1)): frac(offset + k * golden ratio). Any N consecutive ones are spread
 * evenly over [0, 1); a refresher starts at a random offset, so that two
 * refreshers do not draw alike.
 */
double pb_sched_spread(double offset, unsigned long k);

#endif
