/*
 * renew.c - keep one profile's token on disk good: cached, refreshed, or
 * obtained anew, under the profile's lock so two bearer-token processes
 * never fetch the same profile at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expiry.h"
#include "renew.h"
#include "worker.h"

bool pb_ctx_applies(const struct pb_ctx *ctx, const struct pb_profile *p)
{
	return pb_profile_applies(p, ctx->user, ctx->gids, ctx->ngids);
}

void pb_renew_describe(const struct pb_ctx *ctx, const struct pb_profile *p,
		       enum pb_outcome outcome, char *out, size_t len)
{
	static const char *const said[] = {
		[PB_CACHED] = "still valid", [PB_OBTAINED] = "obtained",
		[PB_REFRESHED] = "refreshed", [PB_KEPT_NEWER] = "renewed elsewhere",
	};
	struct pb_meta m;
	char when[32];

	if (pb_store_read_meta(&ctx->store, p->name, &m, NULL) == 0 && m.has_expiry) {
		pb_time_format(m.expires_at, when);
		snprintf(out, len, "%s, expires %s", said[outcome], when);
	} else {
		snprintf(out, len, "%s, never expires", said[outcome]);
	}
}

bool pb_token_good(const struct pb_ctx *ctx, const struct pb_profile *p, long min_valid)
{
	return pb_store_token_fresh(&ctx->store, p->name, min_valid);
}

/*
 * The credentials for p: the user's own store, read afresh (so a key the
 * user just fixed is the one used, and secrets sit in memory only for the
 * length of a renewal; *loaded says the caller must free them), or what
 * the PAM module sent for a credentials = system profile. NULL with err
 * when there are none; for a system profile run by hand that is expected
 * (only a refresh token can renew it), so err says so.
 */
static const struct pb_creds *credentials_for(struct pb_ctx *ctx, const struct pb_profile *p,
					      struct pb_creds *loaded, struct pb_err *err)
{
	if (p->credentials == PB_CRED_SYSTEM) {
		if (ctx->system_creds == NULL)
			pb_fail(err, PB_E_CONFIG, "%s: the credentials are held by the system; "
				"the next login renews this token", p->name);
		return ctx->system_creds;
	}
	if (pb_creds_load(ctx->user_creds_path, ctx->uid, loaded, err) < 0)
		return NULL;
	return loaded;
}

/* Fetch and store while holding the lock. */
static int renew_locked(struct pb_ctx *ctx, const struct pb_profile *p,
			enum pb_outcome *outcome, struct pb_err *err)
{
	const struct pb_creds *creds;
	struct pb_creds user_creds = { 0 };
	struct pb_token tok = { 0 };
	struct pb_store_token st = { 0 };
	struct pb_err cred_err;
	char *refresh_token = NULL;
	int rc = -1, saved;

	pb_err_clear(&cred_err);
	creds = credentials_for(ctx, p, &user_creds, &cred_err);
	/*
	 * A user's credentials file that cannot be used (unsafe mode, a
	 * symlink, gone) is an error to report even when a refresh token
	 * would do: a world-readable secret must not go unnoticed.
	 */
	if (creds == NULL && p->credentials == PB_CRED_USER) {
		*err = cred_err;
		goto done;
	}
	if (pb_store_read_refresh(&ctx->store, p->name, &refresh_token, err) < 0)
		goto done;
	/* system credentials not at hand: a refresh token is the only way left */
	if (creds == NULL && (refresh_token == NULL || p->refresh.url == NULL)) {
		*err = cred_err;
		goto done;
	}
	if (pb_worker_fetch(ctx->cfg->path, p, creds, refresh_token, &tok, err) < 0)
		goto done;
	st.profile = p->name;
	st.vendor = p->vendor;
	st.scheme = p->scheme;
	st.token = tok.token;
	st.refresh_token = tok.refresh_token;
	st.obtained_at = tok.obtained_at;
	st.has_expiry = tok.has_expiry;
	st.expires_at = tok.expires_at;
	saved = pb_store_save(&ctx->store, &st, err);
	if (saved < 0)
		goto done;
	*outcome = saved == 1 ? PB_KEPT_NEWER : tok.refreshed ? PB_REFRESHED : PB_OBTAINED;
	rc = 0;
done:
	pb_token_free(&tok);
	pb_wipe_free(refresh_token);
	pb_creds_free(&user_creds);
	return rc;
}

bool pb_expire_if_due(struct pb_ctx *ctx, const struct pb_profile *p)
{
	struct pb_meta m;

	/* valid, or error after a failed attempt: either way its time may be up */
	if (pb_store_read_meta(&ctx->store, p->name, &m, NULL) != 0 || m.obtained_at == 0 ||
	    m.state == PB_STATE_EXPIRED || !m.has_expiry || m.expires_at > pb_now())
		return false;
	return pb_store_expire(&ctx->store, p->name, NULL) == 0;
}

/*
 * Write the failure into P.json so `status` and scripts can see it, and
 * if the token on disk has run out meanwhile, remove it: scripts must fail
 * fast rather than send a dead token.
 */
static void record_failure(struct pb_ctx *ctx, const struct pb_profile *p,
			   const struct pb_err *why)
{
	time_t next = why->retry_after >= 0 ? time(NULL) + why->retry_after : 0;

	if (why->code == PB_E_STORE)
		return;    /* the store itself is the problem: nothing to write into */
	pb_store_save_error(&ctx->store, p->name, p->vendor, p->scheme, why->msg, next, NULL);
	pb_expire_if_due(ctx, p);
}

int pb_renew(struct pb_ctx *ctx, const struct pb_profile *p, long min_valid, bool force,
	     enum pb_outcome *outcome, struct pb_err *err)
{
	struct pb_meta before, m;
	int lockfd = -1, rc = -1;

	pb_err_clear(err);
	if (!force && pb_token_good(ctx, p, min_valid)) {
		*outcome = PB_CACHED;
		return 0;
	}
	if (pb_store_read_meta(&ctx->store, p->name, &before, err) < 0)
		return -1;
	/* a concurrent fetch can take up to its own timeout; wait a little longer */
	if (pb_store_lock(&ctx->store, p->name, p->timeout + 1.0, &lockfd, err) < 0)
		return -1;
	/* whoever held the lock may have just done our work */
	if (pb_store_read_meta(&ctx->store, p->name, &m, err) < 0)
		goto done;
	if (m.obtained_at > before.obtained_at && pb_token_good(ctx, p, min_valid)) {
		*outcome = PB_CACHED;
		rc = 0;
		goto done;
	}
	rc = renew_locked(ctx, p, outcome, err);
	if (rc < 0)
		record_failure(ctx, p, err);
done:
	pb_store_unlock(lockfd);
	return rc;
}

void pb_ctx_free(struct pb_ctx *ctx)
{
	free(ctx->gids);
	ctx->gids = NULL;
	pb_store_close(&ctx->store);
}
