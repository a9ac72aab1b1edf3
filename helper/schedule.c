/* SPDX-License-Identifier: MIT */
/*
 * schedule.c - when the refresher asks a vendor next (see schedule.h).
 * Pure: every function is a computation on its arguments.
 */
#include "expiry.h"
#include "schedule.h"
#include "util.h"

long long pb_sched_floor(long long when_ms, long long last_request_ms, long long min_interval_ms)
{
	long long earliest;

	if (last_request_ms <= 0)
		return when_ms;
	earliest = pb_add_sat(last_request_ms, min_interval_ms);
	return when_ms > earliest ? when_ms : earliest;
}

/*
 * The first renewal of a token the refresher did not plan. Renewals come
 * every P, P uniform in [a, b] (refresh_at of the life, less up to a tenth
 * of it). A token first renewed at the same random point x of [0, P] as
 * the others would make the first round a wave: steady state has x with
 * density P(period > x) / E[P] (flat up to a, falling to 0 at b). draw in
 * [0, 1) is mapped there through the inverse of that distribution, so
 * that the first round already comes at the steady rate: for draws from
 * one refresher's even spread (pb_sched_spread), evenly; for a fleet's
 * independent draws, as evenly as chance allows.
 */
/* The square root of r >= 0 by Newton's method (no libm for one root). */
static double root(double r)
{
	double x = r > 1 ? r : 1;

	if (r <= 0)
		return 0;
	for (int i = 0; i < 64; i++)
		x = (x + r / x) / 2;
	return x;
}

static double steady(double a, double b, double draw)
{
	double m = (a + b) / 2.0, w = b - a, r;

	if (m <= 0)
		return 0;
	if (w <= 0 || draw * m <= a)
		return draw * m;
	r = w * w - 2.0 * w * (draw * m - a);
	return b - root(r);
}

long long pb_sched_refresh(const struct pb_sched *s, const struct pb_life *t, bool first,
			   double draw, double jitter, long long last_request_ms)
{
	long long life, due, latest;

	if (!t->has_expiry)
		return 0;
	life = t->expires_ms - t->obtained_ms;
	if (life <= 0)
		return pb_sched_floor(t->expires_ms, last_request_ms, s->min_interval_ms);
	latest = t->expires_ms - pb_refresh_margin_ms(life);
	if (first) {
		/* where a renewal of a token in steady state would fall: see steady() */
		double b = s->refresh_at * (double)life, a = b - (double)life / 10.0;

		if (b > (double)(latest - t->obtained_ms))
			b = (double)(latest - t->obtained_ms);
		if (a < 0)
			a = 0;
		due = t->obtained_ms + (long long)(s->first_from * b + (1.0 - s->first_from) *
						   steady(a, b, draw));
	} else {
		due = t->obtained_ms + (long long)((s->refresh_at - jitter / 10.0) * (double)life);
		if (due > latest)
			due = latest;
	}
	if (due < t->obtained_ms)
		due = t->obtained_ms;
	return pb_sched_floor(due, last_request_ms, s->min_interval_ms);
}

long long pb_sched_retry(const struct pb_sched *s, const struct pb_life *t, long long now_ms,
			 unsigned failures, long retry_after_s, double draw,
			 long long last_request_ms)
{
	unsigned shift = failures < 1 ? 0 : failures - 1 < 9 ? failures - 1 : 9;
	long long ceiling = PB_SCHED_BACKOFF_BASE_MS << (shift + 1), delay;
	bool valid = t != NULL && t->obtained_ms > 0 && (!t->has_expiry || t->expires_ms > now_ms);

	if (ceiling > PB_SCHED_BACKOFF_CAP_MS)
		ceiling = PB_SCHED_BACKOFF_CAP_MS;
	/* no token, or a dead one: a session needs it, so it is tried again within a minute */
	if (!valid && ceiling > PB_SCHED_EXPIRED_CAP_MS)
		ceiling = PB_SCHED_EXPIRED_CAP_MS;
	/* a short outage must not outlast a short token: half of what is left, at most */
	if (valid && t->has_expiry) {
		long long half = (t->expires_ms - now_ms) / 2;

		if (half < PB_SCHED_BACKOFF_BASE_MS)
			half = PB_SCHED_BACKOFF_BASE_MS;
		if (ceiling > half)
			ceiling = half;
	}
	delay = PB_SCHED_BACKOFF_BASE_MS / 2 + (long long)(draw * (double)ceiling);
	retry_after_s = pb_clamp_retry_after(retry_after_s);
	if (retry_after_s >= 0 && retry_after_s * 1000LL > delay)
		delay = retry_after_s * 1000LL;
	return pb_sched_floor(pb_add_sat(now_ms, delay), last_request_ms, s->min_interval_ms);
}

double pb_sched_spread(double offset, unsigned long k)
{
	const double golden = 0.6180339887498949;
	double x = offset + golden * (double)(k % 1000003UL);

	return x - (double)(long long)x;
}
