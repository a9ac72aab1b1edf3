/* SPDX-License-Identifier: MIT */
/*
 * refresher.c - the refresher's jobs (see refresher.h): one per profile,
 * planned from the token on disk by schedule.c's rules, renewed by child
 * processes, expired on time.
 *
 * A renewal process is a fork of the refresher that runs pb_renew_batch()
 * (renew.h) for the profiles due together: their exchanges go to one
 * bearer-fetch, side by side. It dies with the refresher
 * (PR_SET_PDEATHSIG), leads a process group of its own (its worker is in
 * it; the refresher kills the group when it stops), holds none of the
 * refresher's sockets, never logs (every log line is the refresher's,
 * with its PID) and reports each profile on a pipe as soon as it is over
 * (lib/ctl.h, "done"). It plans a failure's retry itself, from the same
 * job state, so that P.json says when the next attempt is.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "expiry.h"
#include "proto.h"
#include "refresher.h"

#define MAX_REPORTS (PB_PROTO_MAX_BATCH * 1024)

/* A uniform random number in [0, 1). */
static double draw(void)
{
	unsigned long long r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (unsigned long long)pb_monotonic_ms() * 6364136223846793005ULL;
	return (double)(r >> 11) / 9007199254740992.0;     /* 53 bits */
}

/* A failure retrying will not mend: the refresher waits for a reload or a request. */
static bool permanent(int code)
{
	return code == PB_E_PERM || code == PB_E_CONFIG;
}

bool job_can_renew(struct daemon *d, const struct job *j)
{
	return j->p->credentials == PB_CRED_USER || pb_broker_present(&d->c->cfg);
}

struct job *job_find(struct daemon *d, const char *profile)
{
	for (size_t i = 0; i < d->njobs; i++)
		if (strcmp(d->jobs[i].p->name, profile) == 0)
			return &d->jobs[i];
	return NULL;
}

/* The token on disk, as schedule.h sees it: false when there is none to use or renew from. */
static bool token_life(struct daemon *d, const struct job *j, struct pb_life *life)
{
	struct pb_meta m;

	if (pb_store_read_meta(&d->c->ctx.store, j->p->name, &m, NULL) != 0 ||
	    m.state != PB_STATE_VALID || m.obtained_ms == 0 ||
	    !pb_store_token_present(&d->c->ctx.store, j->p->name))
		return false;
	*life = (struct pb_life){ .obtained_ms = m.obtained_ms, .has_expiry = m.has_expiry,
				  .expires_ms = m.expires_ms };
	return true;
}

/*
 * When j's token files must go: its expiry, while they are there. Once
 * that time has passed and they are still there (they could not be
 * removed), again after min_interval, never sooner: no loop on a failing
 * disk.
 */
static void plan_expiry(struct daemon *d, struct job *j, bool tried)
{
	struct pb_life life;
	long long now = pb_wall_ms();

	j->expire_ms = token_life(d, j, &life) && life.has_expiry ? life.expires_ms : 0;
	if (tried && j->expire_ms != 0 && j->expire_ms <= now)
		j->expire_ms = now + j->sched.min_interval_ms;
}

/* Plan j's next renewal from the token on disk (after a success, at start, on reload). */
static void plan(struct daemon *d, struct job *j)
{
	struct pb_life life;
	long long now = pb_wall_ms();
	bool have = token_life(d, j, &life);

	plan_expiry(d, j, false);
	j->next_ms = 0;
	if (!job_can_renew(d, j) || j->stopped)
		return;
	if (!have || (life.has_expiry && life.expires_ms <= now))
		j->next_ms = pb_sched_floor(now, j->last_request_ms, j->sched.min_interval_ms);
	else
		j->next_ms = pb_sched_refresh(&j->sched, &life, j->first,
					      j->first ? pb_sched_spread(d->spread_offset,
									 d->spread_next++) : 0,
					      draw(), j->last_request_ms);
}

/*
 * The retry after j's next failure (its failures-th in a row, counting
 * this one), whose request went out at last_request_ms.
 */
static long long plan_retry(struct daemon *d, const struct job *j, long long last_request_ms,
			    long retry_after)
{
	struct pb_life life;
	bool have = token_life(d, j, &life);

	return pb_sched_retry(&j->sched, have ? &life : NULL, pb_wall_ms(), j->failures + 1,
			      retry_after, draw(), last_request_ms);
}

/* A lifetime the floor makes too short to renew in time: say so, once per job. */
static void warn_short(struct daemon *d, struct job *j)
{
	struct pb_life life;
	long long life_ms;

	if (j->warned_short || !token_life(d, j, &life) || !life.has_expiry)
		return;
	life_ms = life.expires_ms - life.obtained_ms;
	if (life_ms >= 2 * j->sched.min_interval_ms)
		return;
	j->warned_short = true;
	syslog(LOG_WARNING, "%s: the vendor's tokens live %.1f s, shorter than twice "
	       "min_interval (%.1f s): it is asked at most every %.1f s, so tokens may run out "
	       "before their renewal", j->p->name, (double)life_ms / 1000.0,
	       (double)j->sched.min_interval_ms / 1000.0,
	       (double)j->sched.min_interval_ms / 1000.0);
}

int jobs_build(struct daemon *d)
{
	struct pb_config *cfg = &d->c->cfg;
	struct job *old = d->jobs, *jobs = calloc(cfg->nprofiles + 1, sizeof(*jobs));
	size_t nold = d->njobs, n = 0;

	if (jobs == NULL)
		return -1;
	for (size_t i = 0; i < cfg->nprofiles; i++) {
		const struct pb_profile *p = &cfg->profiles[i];
		struct job *j = &jobs[n];

		if (!pb_ctx_applies(&d->c->ctx, p))
			continue;
		j->p = p;
		j->sched = (struct pb_sched){ .refresh_at = p->refresh_at,
			.first_from = p->first_refresh_from,
			.min_interval_ms = (long long)(p->min_interval * 1000.0) };
		j->first = true;
		/* the floor outlives a reload */
		for (size_t k = 0; k < nold; k++)
			if (strcmp(old[k].p->name, p->name) == 0)
				j->last_request_ms = old[k].last_request_ms;
		n++;
	}
	d->jobs = jobs;
	d->njobs = n;
	free(old);
	for (size_t i = 0; i < n; i++)
		plan(d, &d->jobs[i]);
	return 0;
}

void jobs_repair(struct daemon *d)
{
	for (size_t i = 0; i < d->njobs; i++) {
		if (pb_renew_mend(&d->c->ctx, d->jobs[i].p))
			syslog(LOG_WARNING, "%s: its files disagreed (a crash?); repaired",
			       d->jobs[i].p->name);
		plan(d, &d->jobs[i]);
	}
}

void job_want(struct daemon *d, struct job *j, bool force, long min_valid)
{
	(void)d;
	if (j->running_ms != 0)
		return;         /* the renewal under way is the one it waits for */
	j->wanted = true;
	j->force = j->force || force;
	if (min_valid > j->min_valid)
		j->min_valid = min_valid;
}

/* ------------------------------------------------------------------ a renewal process */

/* What a renewal process knows of its batch. */
struct child {
	struct daemon *d;
	int out;
};

/* Report one profile on the pipe. */
static void child_report(void *arg, const struct pb_renewal *r)
{
	struct child *ch = arg;
	struct pb_ctl_done done = { .code = r->rc == 0 ? PB_OK : r->err.code,
				    .outcome = (int)r->outcome, .asked_ms = r->asked_ms,
				    .next_attempt_ms = r->rc < 0 ? r->next_attempt_ms : 0 };
	struct pb_buf line = { 0 };

	snprintf(done.profile, sizeof(done.profile), "%s", r->p->name);
	if (r->rc == 0)
		pb_renew_describe(&ch->d->c->ctx, r->p, r->outcome, done.text, sizeof(done.text));
	else
		snprintf(done.text, sizeof(done.text), "%s", r->err.msg);
	if (pb_ctl_put_done(&line, &done) == 0)
		(void)pb_write_all(ch->out, line.data, line.len);
	pb_buf_wipe(&line);
}

/* pb_renew_batch's question: when to try again after r failed (and what P.json says). */
static long long child_plan_retry(void *arg, struct pb_renewal *r)
{
	struct child *ch = arg;
	struct job *j = job_find(ch->d, r->p->name);
	char msg[sizeof(r->err.msg) + 128];

	if (j == NULL)
		return 0;
	if (permanent(r->err.code)) {
		snprintf(msg, sizeof(msg), "%s; not retrying until the credentials are fixed "
			 "(then: bearer-token refresh %s)", r->err.msg, r->p->name);
		pb_fail(&r->err, r->err.code, "%s", msg);
		return 0;
	}
	return plan_retry(ch->d, j, r->asked_ms > 0 ? r->asked_ms : j->last_request_ms,
			  r->err.retry_after);
}

/*
 * The renewal process: dies with the refresher, in a process group of its
 * own, with no signal blocked, and nothing open but stdio, the token dir
 * and its pipe (a client's socket left open here would keep the client
 * waiting). Never returns.
 */
static void renewal_child(struct daemon *d, struct pb_renewal *v, size_t n, int out,
			  pid_t parent)
{
	struct child ch = { .d = d };
	struct pb_ctx *ctx = &d->c->ctx;
	sigset_t none;
	int dir;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(0);
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* the two fds it keeps, as 3 and 4, and nothing above */
	if ((out = fcntl(out, F_DUPFD_CLOEXEC, 5)) < 0 ||
	    (dir = fcntl(ctx->store.dirfd, F_DUPFD_CLOEXEC, 5)) < 0 ||
	    dup3(out, 3, O_CLOEXEC) < 0 || dup3(dir, 4, O_CLOEXEC) < 0)
		_exit(0);
	close_range(5, ~0U, 0);
	closelog();
	ch.out = 3;
	ctx->store.dirfd = 4;
	ctx->plan_retry = child_plan_retry;
	ctx->plan_arg = &ch;
	pb_renew_batch(ctx, v, n, child_report, &ch);
	_exit(0);
}

/* A job is over (done, from its renewal process): plan what follows, log it, answer its clients. */
static void job_done(struct daemon *d, struct job *j, const struct pb_ctl_done *done)
{
	long long now = pb_wall_ms();

	/* the floor counts from when the request went out, not from when the renewal began */
	if (done->asked_ms > 0)
		j->last_request_ms = done->asked_ms < j->running_ms ? j->running_ms
			: done->asked_ms > now ? now : done->asked_ms;
	j->running_ms = 0;
	j->renewal = 0;
	if (done->code == PB_OK) {
		j->failures = 0;
		j->stopped = false;
		/* a token someone else renewed, or the first of a profile, is one we did not plan */
		j->first = done->outcome == PB_CACHED || done->outcome == PB_KEPT_NEWER || j->cold;
		plan(d, j);
		warn_short(d, j);
		if (done->outcome != PB_CACHED)
			syslog(LOG_INFO, "%s: token %s", j->p->name, done->text);
	} else if (permanent(done->code)) {
		j->stopped = true;
		j->next_ms = 0;
		plan_expiry(d, j, false);
		syslog(LOG_ERR, "%s", done->text);
	} else {
		j->failures++;
		j->next_ms = pb_sched_floor(done->next_attempt_ms > now ? done->next_attempt_ms : now,
					    j->last_request_ms, j->sched.min_interval_ms);
		plan_expiry(d, j, false);
		syslog(LOG_WARNING, "%s; retrying in %lld s", done->text,
		       (j->next_ms - now + 999) / 1000);
	}
	control_renewed(d, j->p->name, done->code, done->code == PB_OK ? "ok" : done->text);
}

/* Start one renewal process for the n jobs in list (due now). */
static void start_renewal(struct daemon *d, struct job **list, size_t n)
{
	struct pb_renewal *v = calloc(n, sizeof(*v));
	long long now = pb_wall_ms();
	pid_t parent = getpid(), pid = -1;
	int fds[2] = { -1, -1 };

	for (size_t i = 0; v != NULL && i < n; i++) {
		struct job *j = list[i];

		/* planned renewals renew a good token; a `get` alone only a token not good enough */
		v[i] = (struct pb_renewal){ .p = j->p, .min_valid = j->min_valid,
			.force = j->force || !j->wanted || (j->next_ms != 0 && j->next_ms <= now) };
	}
	if (v == NULL || pipe2(fds, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		struct pb_ctl_done failed = { .code = PB_E_INTERNAL };

		snprintf(failed.text, sizeof(failed.text), "cannot start a renewal: %s",
			 strerror(errno));
		for (size_t i = 0; i < n; i++) {
			snprintf(failed.profile, sizeof(failed.profile), "%s", list[i]->p->name);
			list[i]->running_ms = now;
			failed.next_attempt_ms = plan_retry(d, list[i], list[i]->last_request_ms, -1);
			job_done(d, list[i], &failed);
		}
		goto done;
	}
	if (pid == 0) {
		close(fds[0]);
		renewal_child(d, v, n, fds[1], parent);
	}
	close(fds[1]);
	fds[1] = -1;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	d->renewals[d->nrenewals++] = (struct renewal){ .pid = pid, .fd = fds[0] };
	fds[0] = -1;
	for (size_t i = 0; i < n; i++) {
		struct pb_life life;

		list[i]->cold = !token_life(d, list[i], &life);
		list[i]->running_ms = now;
		list[i]->renewal = pid;
		list[i]->wanted = list[i]->force = false;
		list[i]->min_valid = 0;
	}
done:
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(v);
}

/* Is j to be renewed now? */
static bool due(const struct job *j, long long now)
{
	if (j->running_ms != 0)
		return false;
	if (j->wanted)
		return pb_sched_floor(now, j->last_request_ms, j->sched.min_interval_ms) <= now;
	return !j->stopped && j->next_ms != 0 && j->next_ms <= now;
}

/* Remove j's token files if its time is up (even while a renewal of it hangs). */
static void expire(struct daemon *d, struct job *j)
{
	bool had = pb_store_token_present(&d->c->ctx.store, j->p->name);

	pb_expire_if_due(&d->c->ctx, j->p);
	if (had && !pb_store_token_present(&d->c->ctx.store, j->p->name))
		syslog(LOG_WARNING, "%s: token expired; its files are removed", j->p->name);
	plan_expiry(d, j, true);
	if (j->running_ms == 0 && !j->stopped && job_can_renew(d, j) && j->failures == 0)
		plan(d, j);     /* gone, and nothing planned to replace it: now (floored) */
}

void jobs_run_due(struct daemon *d)
{
	struct job *list[PB_PROTO_MAX_BATCH];
	long long now = pb_wall_ms();
	size_t n = 0;

	for (size_t i = 0; i < d->njobs; i++)
		if (d->jobs[i].expire_ms != 0 && d->jobs[i].expire_ms <= now)
			expire(d, &d->jobs[i]);
	if (d->reload_pending || d->nrenewals == PB_MAX_RENEWALS)
		return;
	for (size_t i = 0; i < d->njobs && n < PB_PROTO_MAX_BATCH; i++)
		if (due(&d->jobs[i], now) && job_can_renew(d, &d->jobs[i]))
			list[n++] = &d->jobs[i];
	if (n > 0)
		start_renewal(d, list, n);
}

long long jobs_next_wakeup(struct daemon *d)
{
	bool can_start = !d->reload_pending && d->nrenewals < PB_MAX_RENEWALS;
	long long first = 0;

	for (size_t i = 0; i < d->njobs; i++) {
		const struct job *j = &d->jobs[i];
		long long t[2] = { j->expire_ms, 0 };

		/* when no renewal can start, the end of one (or the reload) wakes us instead */
		if (can_start && j->running_ms == 0 && j->wanted)
			t[1] = pb_sched_floor(1, j->last_request_ms, j->sched.min_interval_ms);
		else if (can_start && j->running_ms == 0 && !j->stopped)
			t[1] = j->next_ms;
		for (int k = 0; k < 2; k++)
			if (t[k] != 0 && (first == 0 || t[k] < first))
				first = t[k];
	}
	return first;
}

/* ------------------------------------------------------------------ reports */

/* The jobs of renewal pid that never reported: their process died. */
static void renewal_died(struct daemon *d, pid_t pid, int status)
{
	struct pb_ctl_done died = { .code = PB_E_INTERNAL, .asked_ms = pb_wall_ms() };
	char why[64];

	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "died of signal %d", WTERMSIG(status));
	else
		snprintf(why, sizeof(why), "ended without a report");
	for (size_t i = 0; i < d->njobs; i++) {
		struct job *j = &d->jobs[i];

		if (j->running_ms == 0 || j->renewal != pid)
			continue;
		snprintf(died.profile, sizeof(died.profile), "%s", j->p->name);
		snprintf(died.text, sizeof(died.text), "%s: the renewal process %s", j->p->name, why);
		died.next_attempt_ms = plan_retry(d, j, died.asked_ms, -1);
		job_done(d, j, &died);
	}
}

/* Act on every whole line in r->in; keep a partial one. */
static void take_reports(struct daemon *d, struct renewal *r)
{
	size_t pos = 0;
	char *nl;

	while (pos < r->in.len && (nl = memchr(r->in.data + pos, '\n', r->in.len - pos)) != NULL) {
		size_t len = (size_t)(nl - (r->in.data + pos)) + 1;
		struct pb_ctl_done done;
		struct job *j;

		if (pb_ctl_parse_done(r->in.data + pos, len, &done) == 0 &&
		    (j = job_find(d, done.profile)) != NULL && j->running_ms != 0 &&
		    j->renewal == r->pid)
			job_done(d, j, &done);
		pos += len;
	}
	memmove(r->in.data, r->in.data + pos, r->in.len - pos);
	r->in.len -= pos;
}

void renewal_read(struct daemon *d, size_t i)
{
	struct renewal *r = &d->renewals[i];
	char buf[4096];
	ssize_t n;
	int status = 0;

	while ((n = read(r->fd, buf, sizeof(buf))) > 0) {
		if (r->in.len + (size_t)n > MAX_REPORTS || pb_buf_add(&r->in, buf, (size_t)n) < 0)
			break;
		take_reports(d, r);
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* the end: all it had to say is said (or it said too much) */
	close(r->fd);
	kill(-r->pid, SIGKILL);
	kill(r->pid, SIGKILL);
	while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
		;
	renewal_died(d, r->pid, status);
	pb_buf_wipe(&r->in);
	d->renewals[i] = d->renewals[--d->nrenewals];
}

void renewals_kill(struct daemon *d)
{
	while (d->nrenewals > 0) {
		struct renewal *r = &d->renewals[d->nrenewals - 1];

		kill(-r->pid, SIGKILL);
		kill(r->pid, SIGKILL);
		while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(r->fd);
		pb_buf_wipe(&r->in);
		d->nrenewals--;
	}
}
