/* SPDX-License-Identifier: MIT */
/*
 * fetch.h - the vendor engine: get a token for a profile, as data only.
 *
 * For an exchange vendor: expand token.body with the profile's fields, POST
 * it to base_url + token.url, map the response (response.token,
 * response.expires_in, response.refresh_token) and work out the expiry.
 * Given a refresh token and a refresh.url, refresh first, and when the
 * vendor refuses it (any 4xx but 429) fall back to a full exchange, or,
 * with no credentials, fail for good (PB_E_PERM). A static vendor's token is
 * the credentials' `token` with expiry `expires`.
 * Non-2xx answers become one line: "<profile>: HTTP 401 from <url>: <reason>".
 */
#ifndef PB_FETCH_H
#define PB_FETCH_H

#include "conf.h"
#include "creds.h"
#include "token.h"
#include "util.h"

/*
 * Get a token. creds holds the profile's fields (may be NULL when only a
 * refresh is possible); refresh_token may be NULL. On failure err->code is
 * PB_E_TEMP (network, 5xx, 429 with err->retry_after, malformed answer),
 * PB_E_PERM (400/401/403 on the exchange: the credentials are refused; a
 * refused refresh token and no credentials) or
 * PB_E_CONFIG (a missing field, a refused URL).
 */
int pb_fetch_token(const struct pb_profile *p, const struct pb_creds *creds,
		   const char *refresh_token, struct pb_token *out, struct pb_err *err);

/* One profile's fetch in a batch: pb_fetch_token's arguments. */
struct pb_fetch_job {
	const struct pb_profile *p;
	const struct pb_creds *creds;
	const char *refresh_token;
};

/*
 * pb_fetch_token for n jobs at once, side by side on one libcurl multi
 * handle (http.h): connections, name lookups and TLS sessions to one
 * vendor are shared. done reports each job as soon as it is over (once).
 */
void pb_fetch_many(const struct pb_fetch_job *jobs, size_t n, pb_token_done done, void *arg);

#endif
