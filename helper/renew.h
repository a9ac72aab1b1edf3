/* SPDX-License-Identifier: MIT */
/*
 * renew.h - the one place that decides whether a profile's token on disk is
 * good enough, and otherwise gets a new one and stores it (or records why
 * it could not). `get`, `refresh` and the PAM session all go through here.
 */
#ifndef PB_RENEW_H
#define PB_RENEW_H

#include <stdbool.h>
#include <sys/types.h>
#include "conf.h"
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
struct pb_renewal;

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
	/* when to try again after a failure (wall ms), if not by retry_floor: the refresher's plan */
	long long (*plan_retry)(void *plan_arg, struct pb_renewal *r);   /* may add to r->err */
	void *plan_arg;
};

enum pb_outcome {
	PB_CACHED,      /* the token on disk was still good: no request made */
	PB_OBTAINED,    /* a full exchange */
	PB_REFRESHED,   /* renewed with the refresh token */
	PB_KEPT_NEWER,  /* someone else stored a newer token meanwhile; that one stays */
};

/* One profile to renew, and how it went. */
struct pb_renewal {
	const struct pb_profile *p;
	long min_valid;
	bool force;
	/* how it went */
	int rc;                     /* 0, or -1 with err */
	enum pb_outcome outcome;
	struct pb_err err;
	/*
	 * a request went out (or may have): when, as best known (wall ms;
	 * 0: none did). The new token's obtained_ms; after a failure, when
	 * the answer came (a vendor's Retry-After counts from then).
	 */
	long long asked_ms;
	long long next_attempt_ms;  /* after a failure: when P.json says the next attempt is */
	/* (pb_renew_batch's own) */
	int lockfd;
	bool busy;
	struct pb_meta before;
};

/* Called once for each renewal of a batch, as soon as it is over. */
typedef void (*pb_renew_report)(void *arg, const struct pb_renewal *r);

/*
 * Make sure each renewal's profile has a token on disk that stays valid
 * for min_valid more seconds (and past the refresh margin); force: renew
 * even if it does. Each under its profile's lock: one held by someone else
 * is waited for as long as its holder may legitimately keep it (its
 * worker's limit), after the others are under way; the holder may have
 * done the work. Before a renewal, the profile's files are repaired
 * (pb_store_repair). The exchanges of the batch run in one bearer-fetch
 * (worker.h); a system profile's renewals ask the broker. Each outcome is
 * stored, and reported, as soon as it is there; a failure is recorded in
 * P.json (the token files are left alone; next_attempt_at as ctx says) and
 * in r->err. A P.json that cannot be parsed is no dead end: the renewal
 * goes ahead and rewrites it.
 */
void pb_renew_batch(struct pb_ctx *ctx, struct pb_renewal *v, size_t n, pb_renew_report report,
		    void *arg);

/*
 * Unless someone holds p's lock (a renewal, which mends them itself), make
 * p's files agree after a crash (pb_store_repair). True when it mended
 * something. Before a token is served as it is.
 */
bool pb_renew_mend(struct pb_ctx *ctx, const struct pb_profile *p);

/* A batch of one: 0 with *outcome, or -1 with err. */
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
 * Record in P.json why a login brought no token for credentials = system
 * profile p (code and msg as the service account reported them; one
 * line, never a secret), under the profile's lock: 0, or -1.
 */
int pb_renew_accept_failure(struct pb_ctx *ctx, const struct pb_profile *p, int code,
			    const char *msg, double lock_timeout);

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
