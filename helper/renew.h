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

/* Who we are working for, and what we have loaded so far. */
struct pb_ctx {
	const struct pb_config *cfg;
	struct pb_store store;
	uid_t uid;
	const char *user;
	gid_t *gids;                 /* the user's groups, for users =/groups = */
	size_t ngids;
	char user_creds_path[4096];  /* the user store, read afresh for each renewal */
	struct pb_creds *system_creds; /* secrets the PAM module sent; NULL when run by hand */
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
 * alone) and returned in err.
 */
int pb_renew(struct pb_ctx *ctx, const struct pb_profile *p, long min_valid, bool force,
	     enum pb_outcome *outcome, struct pb_err *err);

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

/* Does the profile apply to the user this context works for? */
bool pb_ctx_applies(const struct pb_ctx *ctx, const struct pb_profile *p);

void pb_ctx_free(struct pb_ctx *ctx);

#endif
