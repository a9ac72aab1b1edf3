/*
 * renew.h - the one place that decides whether a profile's token on disk is
 * good enough, and otherwise gets a new one and stores it (or records why
 * it could not). `get`, `refresh` and the PAM session all go through here.
 */
#ifndef PB_RENEW_H
#define PB_RENEW_H

#include <stdbool.h>
#include <sys/types.h>
#include "config.h"
#include "creds.h"
#include "store.h"
#include "token.h"

/*
 * Who we are working for, and what we have loaded so far. Two kinds of
 * process renew: the user's own bearer-token (its store is the user's
 * token dir; a credentials = system profile is renewed by asking the
 * broker), and the service account (the broker, or the login's one-shot:
 * its store is its own state dir, and system_creds holds the admin
 * store's secrets of the one user it works for).
 */
struct pb_ctx {
	const struct pb_config *cfg;
	struct pb_store store;
	uid_t uid;
	const char *user;
	gid_t *gids;                 /* the user's groups, for users =/groups = */
	size_t ngids;
	char user_creds_path[4096];  /* the user store, read afresh for each renewal */
	struct pb_creds *system_creds; /* the service account only: the admin store's secrets */
	long retry_floor;            /* seconds no new attempt follows a failure (0: none) */
};

enum pb_outcome {
	PB_CACHED,      /* the token on disk was still good: no request made */
	PB_OBTAINED,    /* a full exchange */
	PB_REFRESHED,   /* renewed with the refresh token */
	PB_KEPT_NEWER,  /* someone else stored a newer token meanwhile; that one stays */
};

/*
 * Make sure `p` has a token on disk that stays valid for min_valid more
 * seconds (and past the refresh margin). force: renew even if it does.
 * On failure the reason is recorded in P.json (the token files are left
 * alone; next_attempt_at no sooner than retry_floor or the vendor's
 * Retry-After) and returned in err. A P.json that cannot be parsed is no
 * dead end: the renewal goes ahead and rewrites it.
 */
int pb_renew(struct pb_ctx *ctx, const struct pb_profile *p, long min_valid, bool force,
	     enum pb_outcome *outcome, struct pb_err *err);

/*
 * Store a token of credentials = system profile p that a login brought
 * (the service account's one-shot obtained it; see system.h): under the
 * profile's lock, waiting at most lock_timeout seconds, never over a newer
 * token, and with no refresh token kept in the user's dir. outcome is
 * PB_OBTAINED, or PB_KEPT_NEWER when a newer one was there.
 */
int pb_renew_accept(struct pb_ctx *ctx, const struct pb_profile *p, const struct pb_token *tok,
		    double lock_timeout, enum pb_outcome *outcome, struct pb_err *err);

/*
 * How a successful renewal went, for a person: "obtained, expires
 * 2026-11-23T12:00:00Z", "still valid, never expires", ... (CLI output,
 * the module's log line, the refresher's log line).
 */
void pb_renew_describe(const struct pb_ctx *ctx, const struct pb_profile *p,
		       enum pb_outcome outcome, char *out, size_t len);

/* Is p's token on disk good for min_valid more seconds, and past the refresh margin? */
bool pb_token_good(const struct pb_ctx *ctx, const struct pb_profile *p, long min_valid);

/*
 * If p's token on disk has run out, remove its .token and .header and mark
 * .json expired. True when it did.
 */
bool pb_expire_if_due(struct pb_ctx *ctx, const struct pb_profile *p);

/*
 * Is a broker there to ask for the tokens of credentials = system
 * profiles? (Its socket exists: with socket activation the broker itself
 * may not run yet.) What P.json's "renewal" says: "broker" or "next login".
 */
bool pb_broker_present(const struct pb_config *cfg);
const char *pb_system_renewal(const struct pb_config *cfg);

/* Does the profile apply to the user this context works for? */
bool pb_ctx_applies(const struct pb_ctx *ctx, const struct pb_profile *p);

void pb_ctx_free(struct pb_ctx *ctx);

#endif
