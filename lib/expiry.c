/* SPDX-License-Identifier: MIT */
/*
 * expiry.c - how long a new token lives, and when to renew it.
 */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "expiry.h"
#include "jwt.h"

#define JWT_EXP_SLACK_MS 2000   /* see jwt_exp_trims() */

/* One `lifetime` alternative, trimmed, into out; *next moves past its '|'. */
static int next_alternative(const char **next, char out[32])
{
	const char *p = *next, *end = strchr(p, '|');
	size_t n;

	if (end == NULL)
		end = p + strlen(p);
	*next = *end == '|' ? end + 1 : NULL;
	while (p < end && isspace((unsigned char)*p))
		p++;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	n = (size_t)(end - p);
	if (n == 0 || n >= 32)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* A fixed lifetime alternative: all digits, 1 .. PB_MAX_LIFETIME. */
static bool seconds_value(const char *s, long *secs)
{
	for (const char *c = s; *c != '\0'; c++)
		if (!isdigit((unsigned char)*c))
			return false;
	return pb_parse_long(s, secs) == 0 && *secs >= 1 && *secs <= PB_MAX_LIFETIME;
}

bool pb_lifetime_valid(const char *spec)
{
	const char *next = spec;
	char alt[32];
	long secs;

	if (spec == NULL)
		return false;
	while (next != NULL) {
		if (next_alternative(&next, alt) < 0)
			return false;
		if (strcmp(alt, "jwt") != 0 && strcmp(alt, "none") != 0 && !seconds_value(alt, &secs))
			return false;
	}
	return true;
}

bool pb_lifetime_only_words(const char *spec)
{
	const char *next = spec;
	char alt[32];

	while (next != NULL && next_alternative(&next, alt) == 0)
		if (strcmp(alt, "jwt") != 0 && strcmp(alt, "none") != 0)
			return false;
	return true;
}

bool pb_lifetime_has(const char *spec, const char *word)
{
	const char *next = spec;
	char alt[32];

	while (next != NULL && next_alternative(&next, alt) == 0)
		if (strcmp(alt, word) == 0)
			return true;
	return false;
}

/*
 * The vendor's expires_in as seconds: a JSON integer, an integral number
 * (3600.0; a fraction is cut), or a string of one ("3600"). 0 or -1 with err.
 */
static int expires_in_seconds(struct json_object *v, long *secs, struct pb_err *err)
{
	double d;

	switch (json_object_get_type(v)) {
	case json_type_int: {
		int64_t i = json_object_get_int64(v);

		if (i < 1)
			return pb_fail(err, PB_E_TEMP,
				       "expires_in %lld is not a positive number of seconds",
				       (long long)i);
		if (i > PB_MAX_LIFETIME)
			return pb_fail(err, PB_E_TEMP, "expires_in %lld is more than 10 years",
				       (long long)i);
		*secs = (long)i;
		return 0;
	}
	case json_type_double:
		d = json_object_get_double(v);
		break;
	case json_type_string: {
		const char *s = json_object_get_string(v);

		/* decimal only: no hex, no "inf", no white space */
		if (s[0] == '\0' || strspn(s, "0123456789+-.eE") != strlen(s) ||
		    pb_parse_double(s, &d) < 0)
			return pb_fail(err, PB_E_TEMP, "expires_in is not a number");
		break;
	}
	default:
		return pb_fail(err, PB_E_TEMP, "expires_in is not a number");
	}
	if (!isfinite(d))
		return pb_fail(err, PB_E_TEMP, "expires_in is not a number");
	/* whole seconds, rounded down (for d >= 1 a cast does that, without libm) */
	if (d < 1)
		return pb_fail(err, PB_E_TEMP, "expires_in %g is not a positive number of seconds",
			       d);
	if (d >= (double)PB_MAX_LIFETIME + 1)
		return pb_fail(err, PB_E_TEMP, "expires_in %g is more than 10 years", d);
	*secs = (long)d;
	return 0;
}

int pb_expiry_resolve(const char *lifetime, struct json_object *expires_in, const char *token,
		      time_t now, bool *has_expiry, time_t *expires_at, struct pb_err *err)
{
	long long ms;
	int rc = pb_expiry_resolve_ms(lifetime, expires_in, token, (long long)now * 1000, has_expiry,
				      &ms, err);

	*expires_at = (time_t)(ms / 1000);
	return rc;
}

/*
 * A JWT's exp is whole seconds, most often the vendor's clock cut down
 * plus the lifetime, so it may fall up to a second before the time
 * expires_in gives: the API refuses the token from exp on, and with a
 * short token that second matters. An exp at most JWT_EXP_SLACK_MS
 * before *expires_ms (and still ahead) replaces it. One further off is
 * the two clocks disagreeing: expires_in, which needs no clock, stays.
 */
static void jwt_exp_trims(const char *token, long long now_ms, long long *expires_ms)
{
	struct pb_err ignored;
	int64_t exp;

	pb_err_clear(&ignored);
	if (token == NULL || pb_jwt_exp(token, &exp, &ignored) < 0)
		return;
	if (exp * 1000 < *expires_ms && exp * 1000 >= *expires_ms - JWT_EXP_SLACK_MS &&
	    exp * 1000 > now_ms)
		*expires_ms = exp * 1000;
}

int pb_expiry_resolve_ms(const char *lifetime, struct json_object *expires_in, const char *token,
			 long long now_ms, bool *has_expiry, long long *expires_ms,
			 struct pb_err *err)
{
	time_t now = (time_t)(now_ms / 1000);
	struct pb_buf why = { 0 };   /* why each alternative did not apply */
	const char *next = lifetime;
	char alt[32], when[32];
	struct pb_err jerr;
	int64_t exp;
	long secs = 0;
	int rc = -1;

	*has_expiry = false;
	*expires_ms = 0;
	/* json-c gives a JSON null as NULL: no expires_in either */
	if (expires_in != NULL) {
		if (expires_in_seconds(expires_in, &secs, err) < 0)
			goto done;
		*has_expiry = true;
		*expires_ms = now_ms + secs * 1000LL;
		jwt_exp_trims(token, now_ms, expires_ms);
		rc = 0;
		goto done;
	}
	if (lifetime == NULL || lifetime[0] == '\0')
		next = NULL;
	while (next != NULL) {
		if (next_alternative(&next, alt) < 0) {
			pb_fail(err, PB_E_CONFIG, "lifetime '%s' has an empty alternative", lifetime);
			goto done;
		}
		if (strcmp(alt, "none") == 0) {
			rc = 0;
			goto done;
		}
		if (strcmp(alt, "jwt") != 0) {
			if (!seconds_value(alt, &secs)) {
				pb_fail(err, PB_E_CONFIG,
					"lifetime: '%s' is not jwt, none or a number of seconds", alt);
				goto done;
			}
			*has_expiry = true;
			*expires_ms = now_ms + secs * 1000LL;
			rc = 0;
			goto done;
		}
		pb_err_clear(&jerr);
		if (token == NULL || pb_jwt_exp(token, &exp, &jerr) < 0) {
			/* not a JWT, or no exp: the next alternative may know */
			if (pb_buf_addf(&why, "%sjwt: %s", why.len ? "; " : "",
					token == NULL ? "no token" : jerr.msg) < 0)
				goto oom;
			continue;
		}
		if (exp <= (int64_t)now) {
			/* a dead token: the vendor sent nonsense, no fallback makes it live */
			pb_time_format((time_t)exp, when);
			pb_fail(err, PB_E_TEMP, "token expired at %s", when);
			goto done;
		}
		if (exp - (int64_t)now > PB_MAX_LIFETIME) {
			if (pb_buf_addf(&why, "%sjwt: exp %lld is more than 10 years ahead",
					why.len ? "; " : "", (long long)exp) < 0)
				goto oom;
			continue;
		}
		*has_expiry = true;
		*expires_ms = exp * 1000;
		rc = 0;
		goto done;
	}
	pb_fail(err, PB_E_TEMP, "cannot tell when the token expires (%s)",
		why.len ? why.data : "no expires_in in the response and no lifetime");
	goto done;
oom:
	pb_fail(err, PB_E_INTERNAL, "out of memory");
done:
	if (rc < 0) {
		*has_expiry = false;
		*expires_ms = 0;
	}
	pb_buf_wipe(&why);
	return rc;
}

time_t pb_refresh_margin(time_t lifetime)
{
	time_t m = lifetime / 10;

	if (m > 60)
		m = 60;
	return m < 1 ? 1 : m;
}

time_t pb_refresh_due(time_t obtained, time_t expires, double refresh_at)
{
	time_t lifetime = expires - obtained, due, latest;

	if (lifetime <= 0)
		return expires;
	if (isnan(refresh_at) || refresh_at > 1)    /* NaN: rely on the margin alone */
		refresh_at = 1;
	if (refresh_at < 0)
		refresh_at = 0;
	due = obtained + (time_t)(refresh_at * (double)lifetime);
	latest = expires - pb_refresh_margin(lifetime);
	if (due > latest)
		due = latest;
	return due < obtained ? obtained : due;
}

bool pb_token_fresh(bool has_expiry, time_t obtained, time_t expires, time_t now,
		    long min_valid)
{
	time_t left = expires - now;

	if (!has_expiry)
		return true;
	return left > pb_refresh_margin(expires - obtained) && left > (time_t)min_valid;
}

long long pb_refresh_margin_ms(long long lifetime_ms)
{
	long long m = lifetime_ms / 10, least = lifetime_ms / 2 < 1000 ? lifetime_ms / 2 : 1000;

	if (m > 60000)
		m = 60000;
	/* as in whole seconds: never less than a second (or half of a shorter life) */
	if (m < least)
		m = least;
	return m < 1 ? 1 : m;
}

bool pb_token_fresh_ms(bool has_expiry, long long obtained_ms, long long expires_ms,
		       long long now_ms, long min_valid)
{
	long long left = expires_ms - now_ms;

	if (!has_expiry)
		return true;
	return left > pb_refresh_margin_ms(expires_ms - obtained_ms) && left > min_valid * 1000LL;
}
