/* SPDX-License-Identifier: MIT */
/*
 * expiry.h - how long a token lives and when it should be renewed.
 *
 * Lifetime of a new token, first that applies:
 *   1. response.expires_in, when the vendor sent it (must be 1 .. 10 years)
 *   2. the profile's `lifetime`, alternatives left to right:
 *        jwt      the token's JWT `exp` claim (must be in the future and
 *                 at most 10 years ahead)
 *        <secs>   a fixed number of seconds
 *        none     the token never expires
 * A static token (type = static) takes its expiry from, first that applies:
 * its JWT `exp` when lifetime has jwt, the credentials' `expires`, never
 * when lifetime has none; else it is refused (fetch.c, static_token).
 * Renewal: at obtained + refresh_at * lifetime, and never later than
 * expires - margin, margin = min(60 s, lifetime / 10).
 */
#ifndef PB_EXPIRY_H
#define PB_EXPIRY_H

#include <stdbool.h>
#include <time.h>
#include <json-c/json.h>
#include "util.h"

#define PB_MAX_LIFETIME (10L * 366 * 24 * 3600)

/* Is a `lifetime` value well formed? (for config validation) */
bool pb_lifetime_valid(const char *spec);
/* Has a (valid) lifetime only the words jwt and none, no SECONDS? */
bool pb_lifetime_only_words(const char *spec);
/* Is word ("jwt", "none") one of the alternatives of a (valid) lifetime? */
bool pb_lifetime_has(const char *spec, const char *word);

/*
 * Work out the expiry of `token`, obtained at `now`. expires_in is the
 * response's value or NULL. On success *has_expiry says whether it expires
 * and *expires_at when. -1 with err (PB_E_TEMP: the vendor sent nonsense)
 * when expires_in is not a positive number, a JWT exp is past or absurd and
 * no later alternative applies, etc.
 */
int pb_expiry_resolve(const char *lifetime, struct json_object *expires_in,
		      const char *token, time_t now, bool *has_expiry,
		      time_t *expires_at, struct pb_err *err);
/*
 * The same to the millisecond: now_ms is when the request was sent, and
 * *expires_ms that plus expires_in (or a fixed lifetime), or a JWT's exp.
 * With expires_in, a JWT exp up to 2 s earlier (its whole seconds cut
 * down) wins: the API refuses the token from then on.
 */
int pb_expiry_resolve_ms(const char *lifetime, struct json_object *expires_in,
			 const char *token, long long now_ms, bool *has_expiry,
			 long long *expires_ms, struct pb_err *err);

/* min(60, lifetime / 10), at least 1 */
time_t pb_refresh_margin(time_t lifetime);

/*
 * When should a token obtained at `obtained` and expiring at `expires` be
 * renewed? (refresh_at fraction, margin rule above; no jitter here.)
 */
time_t pb_refresh_due(time_t obtained, time_t expires, double refresh_at);

/*
 * The same two, to the millisecond: margin min(60 s, lifetime / 10), at
 * least 1 s (or half the lifetime, when that is shorter).
 */
long long pb_refresh_margin_ms(long long lifetime_ms);
bool pb_token_fresh_ms(bool has_expiry, long long obtained_ms, long long expires_ms,
		       long long now_ms, long min_valid);

/*
 * Is a token still good enough to hand out without renewing? True when it
 * never expires, or when expires - now exceeds both the refresh margin and
 * min_valid seconds.
 */
bool pb_token_fresh(bool has_expiry, time_t obtained, time_t expires,
		    time_t now, long min_valid);

#endif
