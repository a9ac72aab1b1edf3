/* SPDX-License-Identifier: MIT */
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
 * A failure as the user's P.json tells it: for a system profile, a problem
 * with its credentials (missing, unusable, refused) is the admin's to fix,
 * and says so.
 */
static void user_failure_text(const struct pb_ctx *ctx, const struct pb_profile *p, int code,
			      const char *msg, char *out, size_t len)
{
	bool in_user_dir = via_broker(ctx, p);

	if (in_user_dir && code == PB_E_CONFIG)
		snprintf(out, len, "system credential missing or unusable: ask your admin (%s)", msg);
	else if (in_user_dir && code == PB_E_PERM)
		snprintf(out, len, "the vendor refused the system credential: ask your admin (%s)",
			 msg);
	else
		snprintf(out, len, "%s", msg);
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

int pb_renew_accept_failure(struct pb_ctx *ctx, const struct pb_profile *p, int code,
			    const char *msg, double lock_timeout)
{
	char text[PB_PROTO_MAX_LINE + 96];
	struct pb_err err;
	int lockfd = -1, rc;

	if (p->credentials != PB_CRED_SYSTEM || !via_broker(ctx, p) ||
	    pb_store_lock(&ctx->store, p->name, lock_timeout, &lockfd, &err) < 0)
		return -1;
	user_failure_text(ctx, p, code, msg, text, sizeof(text));
	rc = pb_store_save_error(&ctx->store, p->name, p->vendor, p->scheme, text, 0,
				 pb_system_renewal(ctx->cfg), &err);
	pb_store_unlock(lockfd);
	return rc;
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
 * fast rather than send a dead token. The next attempt is when the
 * context's plan_retry says, else no sooner than the vendor's Retry-After
 * (already clamped to a day) or the context's floor, whichever is later.
 */
static void record_failure(struct pb_ctx *ctx, struct pb_renewal *r)
{
	const struct pb_profile *p = r->p;
	long wait = r->err.retry_after > ctx->retry_floor ? r->err.retry_after : ctx->retry_floor;
	char text[sizeof(r->err.msg) + 96];

	r->next_attempt_ms = wait > 0 ? pb_add_sat(pb_wall_ms(), wait * 1000LL) : 0;
	if (ctx->plan_retry != NULL)
		r->next_attempt_ms = ctx->plan_retry(ctx->plan_arg, r);
	if (r->err.code == PB_E_STORE)
		return;    /* the store itself is the problem: nothing to write into */
	user_failure_text(ctx, p, r->err.code, r->err.msg, text, sizeof(text));
	pb_store_save_error(&ctx->store, p->name, p->vendor, p->scheme, text,
			    (time_t)((r->next_attempt_ms + 999) / 1000),
			    via_broker(ctx, p) ? pb_system_renewal(ctx->cfg) : NULL, NULL);
	pb_expire_if_due(ctx, p);
}

/* P.json as far as it helps a renewal: an unsafe file stops it, a corrupt one counts as none. */
static int read_meta(struct pb_ctx *ctx, const struct pb_profile *p, struct pb_meta *m,
		     struct pb_err *err)
{
	return pb_store_read_meta(&ctx->store, p->name, m, err) == -1 ? -1 : 0;
}

/* ------------------------------------------------------------------ a batch */

/* A batch under way: what finishing one of its renewals needs. */
struct batch {
	struct pb_ctx *ctx;
	struct pb_renewal *v;
	size_t *index;              /* worker job -> renewal */
	pb_renew_report report;
	void *arg;
};

/* Renewal r is over (tok, or r->err): store or record, let go of the lock, report. */
static void finish(struct batch *b, struct pb_renewal *r, struct pb_token *tok)
{
	int saved;

	if (tok != NULL) {
		if (tok->obtained_ms > 0)
			r->asked_ms = tok->obtained_ms;
		saved = store(b->ctx, r->p, tok, &r->err);
		if (saved >= 0) {
			r->outcome = saved == 1 ? PB_KEPT_NEWER : tok->refreshed ? PB_REFRESHED
				: PB_OBTAINED;
			r->rc = 0;
		}
	}
	if (r->rc < 0) {
		if (r->asked_ms > 0 || r->err.code == PB_E_TEMP || r->err.code == PB_E_PERM)
			r->asked_ms = pb_wall_ms();
		record_failure(b->ctx, r);
	}
	pb_store_unlock(r->lockfd);
	r->lockfd = -1;
	b->report(b->arg, r);
}

/* The same, for a renewal that ends before any request (cached, or an error). */
static void finish_now(struct batch *b, struct pb_renewal *r, bool ok, enum pb_outcome outcome)
{
	if (ok) {
		r->rc = 0;
		r->outcome = outcome;
	}
	pb_store_unlock(r->lockfd);
	r->lockfd = -1;
	b->report(b->arg, r);
}

/* How long the holder of p's lock may legitimately keep it: its worker's or broker call's limit. */
static double hold_max(const struct pb_ctx *ctx, const struct pb_profile *p)
{
	return via_broker(ctx, p) ? 3.0 * p->timeout + 6.0 : 2.0 * p->timeout + 3.0;
}

/*
 * Take r's lock, waiting at most `wait` seconds (cut to r's deadline), and
 * see whether the holder did our work: 1 (the lock held, a renewal
 * needed), 0 (done: reported), or -1 when someone holds the lock and
 * `later` says to come back for it rather than fail.
 */
static int take(struct batch *b, struct pb_renewal *r, double wait, bool later)
{
	struct pb_ctx *ctx = b->ctx;
	struct pb_meta m;

	if (r->p->deadline_ms > 0) {
		double left = (double)(r->p->deadline_ms - pb_monotonic_ms()) / 1000.0;

		wait = left < wait ? (left > 0 ? left : 0) : wait;
	}
	if (pb_store_lock(&ctx->store, r->p->name, wait, &r->lockfd, &r->err) < 0) {
		if (later && r->err.code == PB_E_TEMP)
			return -1;
		finish_now(b, r, false, PB_CACHED);
		return 0;
	}
	/* a crash may have left its files disagreeing, and temp files: made right first */
	pb_store_repair(&ctx->store, r->p->name, r->p->scheme);
	if (read_meta(ctx, r->p, &m, &r->err) < 0) {
		finish_now(b, r, false, PB_CACHED);
		return 0;
	}
	/* whoever held the lock may have just done our work */
	if (m.obtained_ms > r->before.obtained_ms && pb_token_good(ctx, r->p, r->min_valid)) {
		finish_now(b, r, true, PB_CACHED);
		return 0;
	}
	r->before = m;
	return 1;
}

/* A worker's answer for one of its jobs. */
static void on_answer(void *arg, size_t job, struct pb_token *tok, const struct pb_err *err)
{
	struct batch *b = arg;
	struct pb_renewal *r = &b->v[b->index[job]];

	if (tok == NULL)
		r->err = *err;
	finish(b, r, tok);
}

/*
 * Renew the k renewals of b->v listed in `which` (their locks held): the
 * system ones by asking the broker, one by one; the rest in one worker.
 */
static void renew_locked(struct batch *b, const size_t *which, size_t k)
{
	struct pb_ctx *ctx = b->ctx;
	struct pb_worker_job *jobs = calloc(k + 1, sizeof(*jobs));
	char **refresh = calloc(k + 1, sizeof(*refresh));
	struct pb_creds user_creds = { 0 };
	struct pb_err cred_err;
	bool loaded = false;
	size_t njobs = 0;

	b->index = calloc(k + 1, sizeof(*b->index));
	pb_err_clear(&cred_err);
	for (size_t i = 0; i < k; i++) {
		struct pb_renewal *r = &b->v[which[i]];
		const struct pb_creds *creds = NULL;
		struct pb_token tok = { 0 };

		if (jobs == NULL || refresh == NULL || b->index == NULL) {
			pb_fail(&r->err, PB_E_INTERNAL, "out of memory");
			finish(b, r, NULL);
			continue;
		}
		if (via_broker(ctx, r->p)) {
			r->asked_ms = pb_wall_ms();
			finish(b, r, ask_broker(ctx, r->p, &r->before, r->min_valid, &tok,
						&r->err) == 0 ? &tok : NULL);
			pb_token_free(&tok);
			continue;
		}
		/* the user's store, read once for the batch and afresh for each batch */
		if (r->p->credentials == PB_CRED_USER && !loaded) {
			loaded = true;
			pb_creds_load(ctx->user_creds_path, ctx->uid, &user_creds, &cred_err);
		}
		creds = r->p->credentials == PB_CRED_SYSTEM ? ctx->system_creds
			: cred_err.code == PB_OK ? &user_creds : NULL;
		/*
		 * A user's credentials file that cannot be used (unsafe mode, a
		 * symlink, gone) is an error to report even when a refresh token
		 * would do: a world-readable secret must not go unnoticed.
		 */
		if (creds == NULL && r->p->credentials == PB_CRED_USER) {
			r->err = cred_err;
			finish(b, r, NULL);
			continue;
		}
		if (pb_store_read_refresh(&ctx->store, r->p->name, &refresh[njobs], &r->err) < 0) {
			finish(b, r, NULL);
			continue;
		}
		if (creds == NULL && (refresh[njobs] == NULL || r->p->refresh.url == NULL)) {
			pb_fail(&r->err, PB_E_CONFIG, "%s: no credentials", r->p->name);
			finish(b, r, NULL);
			continue;
		}
		/*
		 * An exchange for sure (no refresh token to try first): a
		 * missing or misspelt field is said here, where the file's
		 * sections and lines are known, and no worker starts for it.
		 */
		if ((refresh[njobs] == NULL || r->p->refresh.url == NULL) &&
		    pb_creds_check(creds, r->p, &r->err) < 0) {
			pb_wipe_free(refresh[njobs]);
			refresh[njobs] = NULL;
			finish(b, r, NULL);
			continue;
		}
		r->asked_ms = pb_wall_ms();
		b->index[njobs] = which[i];
		jobs[njobs] = (struct pb_worker_job){ .p = r->p, .creds = creds,
						      .refresh_token = refresh[njobs] };
		njobs++;
	}
	if (njobs > 0)
		pb_worker_run(ctx->cfg->path, jobs, njobs, on_answer, b);
	for (size_t i = 0; refresh != NULL && i < njobs; i++)
		pb_wipe_free(refresh[i]);
	pb_creds_free(&user_creds);
	free(refresh);
	free(jobs);
	free(b->index);
	b->index = NULL;
}

void pb_renew_batch(struct pb_ctx *ctx, struct pb_renewal *v, size_t n, pb_renew_report report,
		    void *arg)
{
	struct batch b = { .ctx = ctx, .v = v, .report = report, .arg = arg };
	size_t *locked = calloc(n + 1, sizeof(*locked)), k = 0;

	for (size_t i = 0; i < n; i++) {
		struct pb_renewal *r = &v[i];

		r->rc = -1;
		r->lockfd = -1;
		r->asked_ms = 0;
		r->next_attempt_ms = 0;
		pb_err_clear(&r->err);
		memset(&r->before, 0, sizeof(r->before));
		r->busy = false;
		if (locked == NULL) {
			pb_fail(&r->err, PB_E_INTERNAL, "out of memory");
			finish_now(&b, r, false, PB_CACHED);
		} else if (!r->force && pb_token_good(ctx, r->p, r->min_valid)) {
			finish_now(&b, r, true, PB_CACHED);
		} else if (read_meta(ctx, r->p, &r->before, &r->err) < 0) {
			finish_now(&b, r, false, PB_CACHED);
		} else {
			/* a lock someone holds is waited for after the rest are under way */
			int got = take(&b, r, 0, true);

			if (got == 1)
				locked[k++] = i;
			r->busy = got < 0;
		}
	}
	if (k > 0)
		renew_locked(&b, locked, k);
	/* those someone else was renewing: wait as long as the holder may take, then see */
	for (size_t i = 0; locked != NULL && i < n; i++) {
		if (!v[i].busy)
			continue;
		pb_err_clear(&v[i].err);
		if (take(&b, &v[i], hold_max(ctx, v[i].p), false) == 1)
			renew_locked(&b, &i, 1);
	}
	free(locked);
}

bool pb_renew_mend(struct pb_ctx *ctx, const struct pb_profile *p)
{
	int lockfd;
	bool mended;

	if (pb_store_lock(&ctx->store, p->name, 0, &lockfd, NULL) < 0)
		return false;   /* being renewed: the renewal mends it (take()) */
	mended = pb_store_repair(&ctx->store, p->name, p->scheme) == 1;
	pb_store_unlock(lockfd);
	return mended;
}

/* pb_renew's catch of its one renewal. */
static void catch_one(void *arg, const struct pb_renewal *r)
{
	*(const struct pb_renewal **)arg = r;
}

int pb_renew(struct pb_ctx *ctx, const struct pb_profile *p, long min_valid, bool force,
	     enum pb_outcome *outcome, struct pb_err *err)
{
	struct pb_renewal r = { .p = p, .min_valid = min_valid, .force = force };
	const struct pb_renewal *done = NULL;

	pb_renew_batch(ctx, &r, 1, catch_one, &done);
	*err = r.err;
	*outcome = r.outcome;
	return done != NULL ? r.rc : -1;
}

void pb_ctx_free(struct pb_ctx *ctx)
{
	free(ctx->gids);
	ctx->gids = NULL;
	pb_store_close(&ctx->store);
}
