/*
 * renew.c - keep one profile's token on disk good: cached, refreshed, or
 * obtained anew, under the profile's lock so two bearer-token processes
 * never fetch the same profile at once.
 *
 * Where a new token comes from: bearer-fetch (the HTTP worker) with the
 * user's own credentials, or, for a credentials = system profile, the
 * broker, which alone holds the secret and the refresh token. In the
 * service account itself (the broker, the login's one-shot) a system
 * profile goes to bearer-fetch with the admin store's secrets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ctl.h"
#include "expiry.h"
#include "proto.h"
#include "renew.h"
#include "worker.h"

bool pb_ctx_applies(const struct pb_ctx *ctx, const struct pb_profile *p)
{
	return pb_profile_applies(p, ctx->user, ctx->gids, ctx->ngids);
}

bool pb_broker_present(const struct pb_config *cfg)
{
	struct stat st;

	return lstat(cfg->broker_socket, &st) == 0 && S_ISSOCK(st.st_mode);
}

const char *pb_system_renewal(const struct pb_config *cfg)
{
	return pb_broker_present(cfg) ? "broker" : "next login";
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

/* Is this a system profile renewed by asking the broker (we are the user, not the service account)? */
static bool via_broker(const struct pb_ctx *ctx, const struct pb_profile *p)
{
	return p->credentials == PB_CRED_SYSTEM && ctx->system_creds == NULL;
}

/*
 * The credentials for p: the user's own store, read afresh (so a key the
 * user just fixed is the one used, and secrets sit in memory only for the
 * length of a renewal; *loaded says the caller must free them), or, in the
 * service account, the admin store's. NULL with err when there are none.
 */
static const struct pb_creds *credentials_for(struct pb_ctx *ctx, const struct pb_profile *p,
					      struct pb_creds *loaded, struct pb_err *err)
{
	if (p->credentials == PB_CRED_SYSTEM)
		return ctx->system_creds;
	if (pb_creds_load(ctx->user_creds_path, ctx->uid, loaded, err) < 0)
		return NULL;
	return loaded;
}

/* How long a broker call may take: a lock wait and two exchanges, and never past a login's deadline. */
static long broker_timeout_ms(const struct pb_profile *p)
{
	long long ms = (long long)(3.0 * p->timeout * 1000.0) + 5000;

	if (p->deadline_ms > 0) {
		long long left = p->deadline_ms - pb_monotonic_ms();

		ms = left < ms ? (left > 1 ? left : 1) : ms;
	}
	return (long)ms;
}

/*
 * A token for system profile p from the broker: one that outlives the
 * token on disk (disk; so the broker renews rather than hands back the
 * same one) and min_valid. A refresh token never comes this way, and
 * none is kept. The broker answering with no newer token than ours is a
 * temporary failure, so nothing loops on it.
 */
static int ask_broker(struct pb_ctx *ctx, const struct pb_profile *p, const struct pb_meta *disk,
		      long min_valid, struct pb_token *tok, struct pb_err *err)
{
	struct pb_buf req = { 0 }, reply = { 0 };
	long long now = pb_wall_ms();
	long want = min_valid;
	int rc = -1;

	if (disk->state == PB_STATE_VALID && disk->has_expiry && disk->expires_ms > now &&
	    (disk->expires_ms - now) / 1000 + 1 > want)
		want = (long)((disk->expires_ms - now) / 1000 + 1);
	if (want > PB_MAX_LIFETIME)
		want = PB_MAX_LIFETIME;
	if (pb_proto_put_broker_request(&req, -1, p->name, want) < 0) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto done;
	}
	if (pb_socket_call(ctx->cfg->broker_socket, req.data, req.len, broker_timeout_ms(p),
			   &reply) < 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			pb_fail(err, PB_E_CONFIG, "%s: the credentials are held by the system and no "
				"broker runs (%s): the next login renews this token", p->name,
				ctx->cfg->broker_socket);
		else
			pb_fail(err, PB_E_TEMP, "%s: the broker (%s) did not answer: %s", p->name,
				ctx->cfg->broker_socket, strerror(errno));
		goto done;
	}
	if (pb_proto_read_reply(reply.data != NULL ? reply.data : "", reply.len, "the broker", tok,
				err) < 0)
		goto done;
	pb_wipe_free(tok->refresh_token);       /* (never sent; never kept if it were) */
	tok->refresh_token = NULL;
	if (disk->state == PB_STATE_VALID && tok->obtained_ms <= disk->obtained_ms) {
		pb_fail(err, PB_E_TEMP, "%s: the broker has no newer token yet", p->name);
		pb_token_free(tok);
		goto done;
	}
	rc = 0;
done:
	pb_buf_wipe(&req);
	pb_buf_wipe(&reply);
	return rc;
}

/* A new token for p: from the broker, or from bearer-fetch with credentials or a refresh token. */
static int obtain(struct pb_ctx *ctx, const struct pb_profile *p, const struct pb_meta *disk,
		  long min_valid, struct pb_token *tok, struct pb_err *err)
{
	const struct pb_creds *creds;
	struct pb_creds user_creds = { 0 };
	struct pb_err cred_err;
	char *refresh_token = NULL;
	int rc = -1;

	if (via_broker(ctx, p))
		return ask_broker(ctx, p, disk, min_valid, tok, err);
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
	if (creds == NULL && (refresh_token == NULL || p->refresh.url == NULL)) {
		pb_fail(err, PB_E_CONFIG, "%s: no credentials", p->name);
		goto done;
	}
	rc = pb_worker_fetch(ctx->cfg->path, p, creds, refresh_token, tok, err);
done:
	pb_wipe_free(refresh_token);
	pb_creds_free(&user_creds);
	return rc;
}

/* Store tok as p's token (the lock held): 0 or 1 (a newer one stays), or -1. */
static int store(struct pb_ctx *ctx, const struct pb_profile *p, const struct pb_token *tok,
		 struct pb_err *err)
{
	struct pb_store_token st = { 0 };

	st.profile = p->name;
	st.vendor = p->vendor;
	st.scheme = p->scheme;
	st.token = tok->token;
	st.refresh_token = tok->refresh_token;
	/* a system profile's refresh token is the service account's: none in the user's dir, ever */
	st.forget_refresh = via_broker(ctx, p);
	st.renewal = via_broker(ctx, p) ? pb_system_renewal(ctx->cfg) : NULL;
	st.obtained_ms = tok->obtained_ms;
	st.has_expiry = tok->has_expiry;
	st.expires_ms = tok->expires_ms;
	return pb_store_save(&ctx->store, &st, err);
}

/* Fetch and store while holding the lock. */
static int renew_locked(struct pb_ctx *ctx, const struct pb_profile *p, const struct pb_meta *disk,
			long min_valid, enum pb_outcome *outcome, struct pb_err *err)
{
	struct pb_token tok = { 0 };
	int rc = -1, saved;

	if (obtain(ctx, p, disk, min_valid, &tok, err) < 0)
		goto done;
	saved = store(ctx, p, &tok, err);
	if (saved < 0)
		goto done;
	*outcome = saved == 1 ? PB_KEPT_NEWER : tok.refreshed ? PB_REFRESHED : PB_OBTAINED;
	rc = 0;
done:
	pb_token_free(&tok);
	return rc;
}

int pb_renew_accept(struct pb_ctx *ctx, const struct pb_profile *p, const struct pb_token *tok,
		    double lock_timeout, enum pb_outcome *outcome, struct pb_err *err)
{
	struct pb_token copy = *tok;
	int lockfd = -1, saved;

	pb_err_clear(err);
	copy.refresh_token = NULL;
	if (p->credentials != PB_CRED_SYSTEM || !via_broker(ctx, p))
		return pb_fail(err, PB_E_INTERNAL, "%s: not a system profile", p->name);
	if (pb_store_lock(&ctx->store, p->name, lock_timeout, &lockfd, err) < 0)
		return -1;
	saved = store(ctx, p, &copy, err);
	pb_store_unlock(lockfd);
	if (saved < 0)
		return -1;
	*outcome = saved == 1 ? PB_KEPT_NEWER : PB_OBTAINED;
	return 0;
}

bool pb_expire_if_due(struct pb_ctx *ctx, const struct pb_profile *p)
{
	struct pb_meta m;

	/* valid, or error after a failed attempt: either way its time may be up */
	if (pb_store_read_meta(&ctx->store, p->name, &m, NULL) != 0 || m.obtained_ms == 0 ||
	    m.state == PB_STATE_EXPIRED || !m.has_expiry || m.expires_ms > pb_wall_ms())
		return false;
	return pb_store_expire(&ctx->store, p->name, NULL) == 0;
}

/*
 * Write the failure into P.json so `status` and scripts can see it, and
 * if the token on disk has run out meanwhile, remove it: scripts must fail
 * fast rather than send a dead token. The next attempt is no sooner than
 * the vendor's Retry-After (already clamped to a day) or the context's
 * floor, whichever is later.
 */
static void record_failure(struct pb_ctx *ctx, const struct pb_profile *p,
			   const struct pb_err *why)
{
	long wait = why->retry_after > ctx->retry_floor ? why->retry_after : ctx->retry_floor;
	time_t next = wait > 0 ? (time_t)pb_add_sat((long long)pb_now(), wait) : 0;

	if (why->code == PB_E_STORE)
		return;    /* the store itself is the problem: nothing to write into */
	pb_store_save_error(&ctx->store, p->name, p->vendor, p->scheme, why->msg, next,
			    via_broker(ctx, p) ? pb_system_renewal(ctx->cfg) : NULL, NULL);
	pb_expire_if_due(ctx, p);
}

/* P.json as far as it helps a renewal: an unsafe file stops it, a corrupt one counts as none. */
static int read_meta(struct pb_ctx *ctx, const struct pb_profile *p, struct pb_meta *m,
		     struct pb_err *err)
{
	return pb_store_read_meta(&ctx->store, p->name, m, err) == -1 ? -1 : 0;
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
	if (read_meta(ctx, p, &before, err) < 0)
		return -1;
	/* a concurrent fetch can take up to its own timeout; wait a little longer */
	if (pb_store_lock(&ctx->store, p->name, p->timeout + 1.0, &lockfd, err) < 0)
		return -1;
	/* whoever held the lock may have just done our work */
	if (read_meta(ctx, p, &m, err) < 0)
		goto done;
	if (m.obtained_ms > before.obtained_ms && pb_token_good(ctx, p, min_valid)) {
		*outcome = PB_CACHED;
		rc = 0;
		goto done;
	}
	rc = renew_locked(ctx, p, &m, min_valid, outcome, err);
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
