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

/* Renew in the store (the lock, refresh token or exchange, bearer-fetch), then read it back. */
static int renew(struct pb_ctx *ctx, const struct pb_profile *p, struct pb_token *out,
		 struct pb_err *err)
{
	enum pb_outcome outcome;
	struct pb_meta m;

	if (pb_renew(ctx, p, 0, true, &outcome, err) < 0)
		return -1;
	if (pb_store_read_meta(&ctx->store, p->name, &m, err) != 0 ||
	    !take_cached(&ctx->store, p, &m, pb_wall_ms(), out))
		return pb_fail(err, PB_E_STORE, "%s: renewed, but not readable in %s", p->name,
			       ctx->store.path);
	return 0;
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

/* The admin store's file of u, read as the service account; on failure forget what we hold. */
static int load_admin_creds(const struct pb_config *cfg, const struct pb_system_user *u,
			    struct pb_store *st, const char *profile, struct pb_creds *creds,
			    struct pb_err *err)
{
	char path[4096];

	if (pb_creds_system_path(cfg->system_credentials_dir, u->name, path, sizeof(path),
				 err) == 0 &&
	    pb_creds_load_admin(path, getegid(), PB_SERVICE_USER, creds, err) == 0)
		return 0;
	/* access taken away: no cached token, no refresh token outlives it */
	pb_store_forget(st, profile, NULL);
	return -1;
}

int pb_system_token(const struct pb_config *cfg, const struct pb_system_user *u,
		    const char *name, long min_valid, long long deadline_ms,
		    struct pb_token *out, struct pb_err *err)
{
	struct pb_ctx ctx = { .cfg = cfg, .uid = u->uid, .user = u->name,
			      .retry_floor = FAIL_FLOOR, .store = { .dirfd = -1 } };
	struct pb_creds creds = { 0 };
	const struct pb_profile *found;
	struct pb_profile p;
	struct pb_meta m;
	char dir[4096], uid[16];
	bool have;
	long long now;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if ((found = allowed(cfg, u, name, err)) == NULL)
		return -1;
	p = *found;
	p.deadline_ms = deadline_ms;
	snprintf(uid, sizeof(uid), "%u", (unsigned)u->uid);
	if (pb_config_state_dir(cfg, dir, sizeof(dir), err) < 0 ||
	    pb_store_open_at(dir, uid, geteuid(), true, &ctx.store, err) < 0 ||
	    load_admin_creds(cfg, u, &ctx.store, p.name, &creds, err) < 0 ||
	    pb_creds_check(&creds, &p, err) < 0)
		goto done;
	ctx.system_creds = &creds;
	now = pb_wall_ms();
	if (pb_store_read_meta(&ctx.store, p.name, &m, err) == -1)
		goto done;
	have = take_cached(&ctx.store, &p, &m, now, out);
	if (cached_will_do(&p, &m, have, min_valid, now)) {
		rc = 0;
		goto done;
	}
	/* a failure not long ago: no new request before its time */
	if (m.last_error[0] != '\0' && m.next_attempt_at * 1000LL > now) {
		if (have && outlives(&m, min_valid, now)) {
			rc = 0;
			goto done;
		}
		pb_fail(err, PB_E_TEMP, "%s", m.last_error);
		err->retry_after = (long)(m.next_attempt_at - now / 1000);
		goto done;
	}
	pb_token_free(out);
	if (renew(&ctx, &p, out, err) == 0) {
		rc = 0;
		goto done;
	}
	/* the vendor failed (and said so in the store): a cached token that still does, does */
	if (have && outlives(&m, min_valid, now) && take_cached(&ctx.store, &p, &m, now, out)) {
		pb_err_clear(err);
		rc = 0;
	}
done:
	if (rc < 0)
		pb_token_free(out);
	pb_creds_free(&creds);
	pb_ctx_free(&ctx);
	return rc;
}

/* ---------------------------------------------------------------- pam-system */

/* One profile's record for the outcome stream: its token, or why there is none. */
static void one_record(const struct pb_config *cfg, const struct pb_system_user *u,
		       const char *profile, long long deadline, struct pb_buf *out)
{
	struct pb_token tok;
	struct pb_err err;

	size_t n = strlen(profile);
	char text[sizeof(err.msg) + 80];
	bool named;

	pb_err_clear(&err);
	if (pb_system_token(cfg, u, profile, 0, deadline, &tok, &err) < 0 ||
	    pb_proto_put_token(out, profile, &tok) < 0) {
		if (err.code == PB_OK)
			pb_fail(&err, PB_E_INTERNAL, "out of memory");
		/* every failure names its profile, as the vendor engine's do */
		named = strncmp(err.msg, profile, n) == 0 && err.msg[n] == ':';
		snprintf(text, sizeof(text), "%s%s%s", named ? "" : profile, named ? "" : ": ",
			 err.msg);
		pb_proto_put_result(out, profile, err.code, text);
	}
	pb_token_free(&tok);
}

/* A child per profile, each with a pipe of its own (a record may exceed PIPE_BUF). */
struct job {
	const char *profile;
	pid_t pid;
	int fd;
	struct pb_buf out;
};

static void start_job(const struct pb_config *cfg, const struct pb_system_user *u,
		      struct job *j, long long deadline)
{
	int p[2];

	j->pid = -1;
	j->fd = -1;
	if (pipe2(p, O_CLOEXEC) < 0 || (j->pid = fork()) < 0) {
		pb_proto_put_result(&j->out, j->profile, PB_E_INTERNAL, "cannot start: out of processes");
		return;
	}
	if (j->pid == 0) {
		struct pb_buf rec = { 0 };

		close(p[0]);
		one_record(cfg, u, j->profile, deadline, &rec);
		(void)pb_write_all(p[1], rec.data, rec.len);
		pb_buf_wipe(&rec);
		_exit(0);
	}
	close(p[1]);
	j->fd = p[0];
	fcntl(j->fd, F_SETFL, O_NONBLOCK);
}

/* Read one child's pipe: false once it is done (closed, failed, or over the cap). */
static bool drain(struct job *j)
{
	char buf[4096];
	ssize_t r = read(j->fd, buf, sizeof(buf));

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (r > 0 && j->out.len + (size_t)r <= MAX_RECORD && pb_buf_add(&j->out, buf, (size_t)r) == 0)
		return true;
	if (r != 0)
		pb_buf_wipe(&j->out);   /* half a record is none: it is reported as missing */
	return false;
}

/* Read what the children send until each has closed its pipe or the deadline has come. */
static void collect(struct job *jobs, size_t n, long long deadline)
{
	struct pollfd *fds = calloc(n, sizeof(*fds));

	while (fds != NULL) {
		long long left = deadline - pb_monotonic_ms();
		size_t open_fds = 0;

		for (size_t i = 0; i < n; i++) {
			fds[i] = (struct pollfd){ .fd = jobs[i].fd, .events = POLLIN };
			open_fds += jobs[i].fd >= 0;
		}
		if (open_fds == 0 || left <= 0)
			break;
		if (poll(fds, n, (int)left) < 0 && errno != EINTR)
			break;
		for (size_t i = 0; i < n; i++) {
			if (jobs[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    !drain(&jobs[i])) {
				close(jobs[i].fd);
				jobs[i].fd = -1;
			}
		}
	}
	free(fds);
}

int cmd_pam_system(struct cli *c, int argc, char **argv)
{
	struct pb_system_user u = { .vouched = true };
	struct pb_buf out = { 0 };
	struct job *jobs = NULL;
	struct pb_err err;
	long deadline = 0, uid = -1;
	size_t n = 0;
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
	} else if ((jobs = calloc((size_t)argc, sizeof(*jobs))) != NULL) {
		/* answer a little before the login's deadline: the module still has to pass it on */
		long long stop = deadline - OUTPUT_MARGIN_MS > pb_monotonic_ms() + 100
			? deadline - OUTPUT_MARGIN_MS : pb_monotonic_ms() + 100;

		for (n = 0; n < (size_t)argc; n++) {
			jobs[n].profile = argv[n];
			start_job(&c->cfg, &u, &jobs[n], stop);
		}
		collect(jobs, n, stop);
		for (size_t i = 0; i < n; i++) {
			if (jobs[i].fd >= 0 || jobs[i].out.len == 0) {
				if (jobs[i].pid > 0)
					kill(jobs[i].pid, SIGKILL);
				pb_buf_wipe(&jobs[i].out);
				pb_proto_put_result(&jobs[i].out, jobs[i].profile, PB_E_TEMP,
						    "no token within the login's timeout");
			}
			pb_buf_add(&out, jobs[i].out.data, jobs[i].out.len);
		}
	}
	pb_proto_put_end(&out);
	(void)pb_write_all(1, out.data, out.len);
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].fd >= 0)
			close(jobs[i].fd);
		if (jobs[i].pid > 0)
			while (waitpid(jobs[i].pid, NULL, 0) < 0 && errno == EINTR)
				;
		pb_buf_wipe(&jobs[i].out);
	}
	free(jobs);
	pb_buf_wipe(&out);
	return 0;
}
