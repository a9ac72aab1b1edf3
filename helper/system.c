/* SPDX-License-Identifier: MIT */
/*
 * system.c - tokens of credentials = system profiles, as the service
 * account gets them (see system.h), and `bearer-token pam-system`, the
 * one-shot the PAM module runs as the service account at login:
 *
 *   bearer-token --config FILE pam-system --user NAME --uid UID
 *                --deadline MS -- PROFILE...
 *
 * MS is the login's deadline on the CLOCK_MONOTONIC clock, in
 * milliseconds. It writes an outcome stream (proto.h) on stdout: a token
 * record or a result line per profile, then "end". It reads nothing from
 * the module: the secrets are in the admin store, which only the service
 * account can read, and the module never touches them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "expiry.h"
#include "proto.h"
#include "system.h"

#define FAIL_FLOOR 10           /* seconds without a vendor request after a failure */
#define MIN_AGE_MIN 1           /* a token younger than its min age is handed out as is */
#define MIN_AGE_MAX 300
#define OUTPUT_MARGIN_MS 200    /* pam-system answers this long before the login's deadline */
#define MAX_RECORD (PB_TOKEN_MAX + 2 * PB_PROTO_MAX_LINE)

/*
 * How old a token must be before a caller may make us renew it: a share
 * of its lifetime (half of refresh_at's), between 1 s and 5 min. A user
 * asking again and again, with any min_valid, reaches the vendor at most
 * once in that time; the refresher, asking at refresh_at, is never held.
 */
static long long min_age_ms(const struct pb_profile *p, const struct pb_meta *m)
{
	double age = (double)(m->expires_ms - m->obtained_ms) * p->refresh_at / 2.0;

	return age < MIN_AGE_MIN * 1000.0 ? MIN_AGE_MIN * 1000LL
		: age > MIN_AGE_MAX * 1000.0 ? MIN_AGE_MAX * 1000LL : (long long)age;
}

/* The token in the store, and its times, into out; false when there is no usable one. */
static bool take_cached(const struct pb_store *st, const struct pb_profile *p,
			const struct pb_meta *m, long long now_ms, struct pb_token *out)
{
	if (m->state != PB_STATE_VALID || m->obtained_ms == 0 ||
	    (m->has_expiry && m->expires_ms <= now_ms) ||
	    pb_store_read_token(st, p->name, &out->token, NULL) != 0)
		return false;
	out->obtained_ms = m->obtained_ms;
	out->has_expiry = m->has_expiry;
	out->expires_ms = m->expires_ms;
	return true;
}

/* Hand out the cached token rather than renew it? (have: there is a usable one) */
static bool cached_will_do(const struct pb_profile *p, const struct pb_meta *m, bool have,
			   long min_valid, long long now_ms)
{
	if (!have)
		return false;
	if (!m->has_expiry || now_ms - m->obtained_ms < min_age_ms(p, m))
		return true;
	return pb_token_fresh_ms(m->has_expiry, m->obtained_ms, m->expires_ms, now_ms, min_valid);
}

/* Does the cached token still outlive min_valid? (what a failed renewal may fall back on) */
static bool outlives(const struct pb_meta *m, long min_valid, long long now_ms)
{
	return !m->has_expiry || m->expires_ms - now_ms > min_valid * 1000LL;
}

/* The profile, if u may have its tokens: credentials = system, and it applies. */
static const struct pb_profile *allowed(const struct pb_config *cfg,
					const struct pb_system_user *u, const char *name,
					struct pb_err *err)
{
	const struct pb_profile *p = pb_config_profile(cfg, name);

	if (p == NULL)
		pb_fail(err, PB_E_CONFIG, "%s: no profile named '%s'", cfg->path, name);
	else if (p->credentials != PB_CRED_SYSTEM)
		pb_fail(err, PB_E_CONFIG, "%s: profile '%s' is credentials = user: its user renews "
			"it", cfg->path, name);
	else if (!u->vouched && !pb_profile_applies(p, u->name, u->gids, u->ngids))
		pb_fail(err, PB_E_CONFIG, "%s: profile '%s' does not apply to user %s (uid %u)",
			cfg->path, name, u->name, (unsigned)u->uid);
	else
		return p;
	return NULL;
}

/* The admin store's file of u, read as the service account. */
static int load_admin_creds(const struct pb_config *cfg, const struct pb_system_user *u,
			    struct pb_creds *creds, struct pb_err *err)
{
	char path[4096];

	if (pb_creds_system_path(cfg->system_credentials_dir, u->name, path, sizeof(path),
				 err) < 0)
		return -1;
	return pb_creds_load_admin(path, getegid(), PB_SERVICE_USER, creds, err);
}

/* One profile of a batch, while pb_system_tokens works on it. */
struct item {
	const char *name;
	struct pb_profile p;        /* a copy: the deadline is the caller's */
	struct pb_meta m;           /* P.json before */
	struct pb_token cached;     /* the token in the store, when have */
	bool have;
};

/* What the renewals of a batch report to. */
struct batch {
	struct pb_ctx *ctx;
	struct item *items;
	long min_valid;
	long long now;
	pb_system_done done;
	void *arg;
};

/* Item it is over: its token (tok) or why not. */
static void item_done(struct batch *b, struct item *it, struct pb_token *tok,
		      const struct pb_err *err)
{
	b->done(b->arg, it->name, tok, err);
	pb_token_free(&it->cached);
}

/*
 * Whether item it needs the vendor: 0 when it is over (done: the cached
 * token, or the recorded failure), 1 when it is to be renewed.
 */
static int decide(struct batch *b, struct item *it)
{
	struct pb_err err;

	pb_err_clear(&err);
	if (pb_store_read_meta(&b->ctx->store, it->name, &it->m, &err) == -1) {
		item_done(b, it, NULL, &err);
		return 0;
	}
	it->have = take_cached(&b->ctx->store, &it->p, &it->m, b->now, &it->cached);
	if (cached_will_do(&it->p, &it->m, it->have, b->min_valid, b->now)) {
		item_done(b, it, &it->cached, NULL);
		return 0;
	}
	/* a failure not long ago: no new request before its time */
	if (it->m.last_error[0] != '\0' && it->m.next_attempt_at * 1000LL > b->now) {
		if (it->have && outlives(&it->m, b->min_valid, b->now)) {
			item_done(b, it, &it->cached, NULL);
			return 0;
		}
		pb_fail(&err, PB_E_TEMP, "%s", it->m.last_error);
		err.retry_after = (long)(it->m.next_attempt_at - b->now / 1000);
		item_done(b, it, NULL, &err);
		return 0;
	}
	return 1;
}

/*
 * A renewal is over: the new token read back from the store, or, when the
 * vendor failed (and the store says so), a cached token that still does.
 */
static void on_renewed(void *arg, const struct pb_renewal *r)
{
	struct batch *b = arg;
	struct item *it = b->items;
	struct pb_token fresh = { 0 };
	struct pb_meta m;
	struct pb_err err = r->err;

	while (&it->p != r->p)
		it++;
	if (r->rc == 0) {
		if (pb_store_read_meta(&b->ctx->store, it->name, &m, &err) == 0 &&
		    take_cached(&b->ctx->store, &it->p, &m, pb_wall_ms(), &fresh)) {
			item_done(b, it, &fresh, NULL);
			pb_token_free(&fresh);
			return;
		}
		pb_fail(&err, PB_E_STORE, "%s: renewed, but not readable in %s", it->name,
			b->ctx->store.path);
	}
	if (it->have && outlives(&it->m, b->min_valid, b->now)) {
		item_done(b, it, &it->cached, NULL);
		return;
	}
	item_done(b, it, NULL, &err);
}

void pb_system_tokens(const struct pb_config *cfg, const struct pb_system_user *u,
		      const char *const *names, size_t n, long min_valid, long long deadline_ms,
		      pb_system_done done, void *arg)
{
	struct pb_ctx ctx = { .cfg = cfg, .uid = u->uid, .user = u->name,
			      .retry_floor = FAIL_FLOOR, .store = { .dirfd = -1 } };
	struct item *items = calloc(n + 1, sizeof(*items));
	struct pb_renewal *v = calloc(n + 1, sizeof(*v));
	struct batch b = { .ctx = &ctx, .items = items, .min_valid = min_valid,
			   .now = pb_wall_ms(), .done = done, .arg = arg };
	struct pb_creds creds = { 0 };
	struct pb_err err;
	char dir[4096], uid[16];
	size_t k = 0;
	bool ready;

	pb_err_clear(&err);
	snprintf(uid, sizeof(uid), "%u", (unsigned)u->uid);
	ready = items != NULL && v != NULL &&
		pb_config_state_dir(cfg, dir, sizeof(dir), &err) == 0 &&
		pb_store_open_at(dir, uid, geteuid(), true, &ctx.store, &err) == 0;
	if (items == NULL || v == NULL)
		pb_fail(&err, PB_E_INTERNAL, "out of memory");
	/* the admin store's file, read once for the batch; when access is taken
	 * away, no cached token and no refresh token outlives it */
	if (ready && load_admin_creds(cfg, u, &creds, &err) < 0) {
		for (size_t i = 0; i < n; i++)
			pb_store_forget(&ctx.store, names[i], NULL);
		ready = false;
	}
	ctx.system_creds = &creds;
	for (size_t i = 0; i < n; i++) {
		struct item *it = items != NULL ? &items[k] : NULL;
		const struct pb_profile *found;
		struct pb_err why;

		pb_err_clear(&why);
		if (!ready) {
			done(arg, names[i], NULL, &err);
			continue;
		}
		if ((found = allowed(cfg, u, names[i], &why)) == NULL ||
		    pb_creds_check(&creds, found, &why) < 0) {
			done(arg, names[i], NULL, &why);
			continue;
		}
		it->name = found->name;
		it->p = *found;
		it->p.deadline_ms = deadline_ms;
		if (decide(&b, it) == 1) {
			v[k] = (struct pb_renewal){ .p = &it->p, .force = true };
			k++;
		}
	}
	if (k > 0)
		pb_renew_batch(&ctx, v, k, on_renewed, &b);
	for (size_t i = 0; items != NULL && i < n; i++)
		pb_token_free(&items[i].cached);
	free(items);
	free(v);
	pb_creds_free(&creds);
	pb_ctx_free(&ctx);
}

/* pb_system_token's catch of its one token. */
struct one {
	struct pb_token *out;
	struct pb_err *err;
	int rc;
};

static void catch_one(void *arg, const char *profile, const struct pb_token *tok,
		      const struct pb_err *err)
{
	struct one *o = arg;

	(void)profile;
	if (tok == NULL) {
		*o->err = *err;
		return;
	}
	o->out->token = strdup(tok->token);
	o->out->obtained_ms = tok->obtained_ms;
	o->out->has_expiry = tok->has_expiry;
	o->out->expires_ms = tok->expires_ms;
	o->rc = o->out->token != NULL ? 0 : pb_fail(o->err, PB_E_INTERNAL, "out of memory");
}

int pb_system_token(const struct pb_config *cfg, const struct pb_system_user *u,
		    const char *name, long min_valid, long long deadline_ms,
		    struct pb_token *out, struct pb_err *err)
{
	struct one o = { .out = out, .err = err, .rc = -1 };

	memset(out, 0, sizeof(*out));
	pb_err_clear(err);
	pb_system_tokens(cfg, u, &name, 1, min_valid, deadline_ms, catch_one, &o);
	return o.rc;
}

/* ---------------------------------------------------------------- pam-system */

/* One profile's record for the outcome stream, written to fd: its token, or why there is none. */
static void put_record(void *arg, const char *profile, const struct pb_token *tok,
		       const struct pb_err *why)
{
	int fd = *(const int *)arg;
	struct pb_buf rec = { 0 };
	struct pb_err err;
	size_t n = strlen(profile);
	char text[sizeof(err.msg) + 80];
	bool named;

	pb_err_clear(&err);
	if (tok == NULL || pb_proto_put_token(&rec, profile, tok) < 0) {
		if (why != NULL)
			err = *why;
		if (err.code == PB_OK)
			pb_fail(&err, PB_E_INTERNAL, "out of memory");
		/* every failure names its profile, as the vendor engine's do */
		named = strncmp(err.msg, profile, n) == 0 && err.msg[n] == ':';
		snprintf(text, sizeof(text), "%s%s%s", named ? "" : profile, named ? "" : ": ",
			 err.msg);
		pb_buf_wipe(&rec);
		pb_proto_put_result(&rec, profile, err.code, text);
	}
	(void)pb_write_all(fd, rec.data, rec.len);
	pb_buf_wipe(&rec);
}

/*
 * The login's records, by a child that renews them all in one batch and
 * writes each as it is over; read until the child is done or stop comes
 * (then it is killed, its worker with it). Whole records go to out, a
 * result line for each profile with none.
 */
static void run_batch(const struct pb_config *cfg, const struct pb_system_user *u,
		      char **names, size_t n, long long deadline, long long stop,
		      struct pb_buf *out)
{
	struct pb_buf in = { 0 };
	struct pb_record rec;
	struct pb_err err;
	bool *seen = calloc(n + 1, sizeof(*seen));
	size_t pos = 0;
	int fds[2] = { -1, -1 };
	pid_t pid = -1;

	pb_err_clear(&err);
	if (seen != NULL && pipe2(fds, O_CLOEXEC) == 0 && (pid = fork()) == 0) {
		close(fds[0]);
		pb_system_tokens(cfg, u, (const char *const *)names, n, 0, deadline, put_record,
				 &fds[1]);
		_exit(0);
	}
	if (fds[1] >= 0)
		close(fds[1]);
	if (pid > 0) {
		(void)pb_read_all(fds[0], n * MAX_RECORD, stop, &in);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (fds[0] >= 0)
		close(fds[0]);
	/* whole records only: one cut short by the deadline is none */
	while (in.data != NULL && pb_proto_next_record(in.data, in.len, &pos, &rec, &err) == 1) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(names[i], rec.profile) == 0 && !seen[i]) {
				seen[i] = true;
				if (rec.kind == PB_REC_TOKEN)
					pb_proto_put_token(out, rec.profile, &rec.tok);
				else
					pb_proto_put_result(out, rec.profile, rec.code, rec.text);
			}
		pb_record_free(&rec);
	}
	for (size_t i = 0; i < n; i++)
		if (seen == NULL || !seen[i])
			pb_proto_put_result(out, names[i], pid > 0 ? PB_E_TEMP : PB_E_INTERNAL,
					    pid > 0 ? "no token within the login's timeout"
					    : "cannot start: out of processes");
	pb_buf_wipe(&in);
	free(seen);
}

int cmd_pam_system(struct cli *c, int argc, char **argv)
{
	struct pb_system_user u = { .vouched = true };
	struct pb_buf out = { 0 };
	struct pb_err err;
	long deadline = 0, uid = -1;
	int first = 1;

	pb_err_clear(&err);
	for (; first < argc && strcmp(argv[first], "--") != 0; first++) {
		bool more = first + 1 < argc;
		long *number = strcmp(argv[first], "--deadline") == 0 ? &deadline
			     : strcmp(argv[first], "--uid") == 0 ? &uid : NULL;

		if (number != NULL && more && pb_parse_long(argv[first + 1], number) == 0 &&
		    *number >= 0)
			first++;
		else if (strcmp(argv[first], "--user") == 0 && more)
			u.name = argv[++first];
		else
			return cli_usage_error("pam-system: bad arguments");
	}
	if (first >= argc || deadline <= 0 || uid < 0 || u.name == NULL)
		return cli_usage_error("pam-system takes --user, --uid, --deadline, -- and profiles");
	if (geteuid() == 0)
		return cli_usage_error("pam-system runs as the service account " PB_SERVICE_USER
				       ", never as root");
	u.uid = (uid_t)uid;
	argv += first + 1;
	argc -= first + 1;
	if (cli_load_config(c, &err) < 0) {
		for (int i = 0; i < argc; i++)
			pb_proto_put_result(&out, argv[i], err.code, err.msg);
	} else {
		/* answer a little before the login's deadline: the module still has to pass it on */
		long long stop = deadline - OUTPUT_MARGIN_MS > pb_monotonic_ms() + 100
			? deadline - OUTPUT_MARGIN_MS : pb_monotonic_ms() + 100;

		run_batch(&c->cfg, &u, argv, (size_t)argc, deadline, stop, &out);
	}
	pb_proto_put_end(&out);
	(void)pb_write_all(1, out.data, out.len);
	pb_buf_wipe(&out);
	return 0;
}
