/* SPDX-License-Identifier: MIT */
/*
 * session.c - `bearer-token pam-session`, what pam_bearer.so runs as the
 * user when a session opens. Not meant to be run by hand:
 *
 *   bearer-token --config FILE pam-session --deadline MS
 *                [--session PID:COOKIE] [--nodaemon] -- PROFILE...
 *
 * MS is the module's deadline on the CLOCK_MONOTONIC clock, in
 * milliseconds: an absolute time, so that starting this program and its
 * workers is not added to the session's timeout.
 *
 * The PROFILEs are the user's own (credentials = user): they are renewed
 * together, in a child process, by one HTTP worker whose exchanges run side
 * by side (so one slow vendor does not eat the others' time, and a login
 * with seven profiles costs about one exchange); each result goes to the
 * module as soon as it is in, and no request outlives the module's
 * deadline. Meanwhile
 * stdin brings the tokens of credentials = system profiles that the
 * service account obtained for this login (an outcome stream of token
 * records, lib/proto.h; never a secret, never a refresh token), which are
 * stored as they are, and the failures of the others, which are recorded in
 * their P.json. stdout gets one result line per profile. Then,
 * unless --nodaemon, the user's refresher is started (or, if one runs,
 * told of the new session and the config).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "proto.h"

#define MAX_TOKENS_IN (1024 * 1024)

/* Write one result line to the module in a single write (atomic below PIPE_BUF). */
static void send_result(const char *profile, int code, const char *text)
{
	struct pb_buf line = { 0 };

	if (pb_proto_put_result(&line, profile, code, text) == 0 && line.len <= PB_PROTO_MAX_LINE)
		(void)!write(1, line.data, line.len);
	pb_buf_wipe(&line);
}

/* Report one renewal of the batch to the module. */
static void report(void *arg, const struct pb_renewal *r)
{
	struct cli *c = arg;
	char text[128];

	if (r->rc < 0) {
		send_result(r->p->name, r->err.code, r->err.msg);
		return;
	}
	pb_renew_describe(&c->ctx, r->p, r->outcome, text, sizeof(text));
	send_result(r->p->name, PB_OK, text);
}

/*
 * Renew the n profiles together, none past the module's deadline (nor a
 * wait for a lock), and report each as it is done.
 */
static void renew_all(struct cli *c, const struct pb_profile **profiles, size_t n,
		      long long deadline)
{
	struct pb_profile *copy = calloc(n + 1, sizeof(*copy));
	struct pb_renewal *v = calloc(n + 1, sizeof(*v));
	double left = (double)(deadline - pb_monotonic_ms()) / 1000.0;

	if (copy == NULL || v == NULL) {
		for (size_t i = 0; i < n; i++)
			send_result(profiles[i]->name, PB_E_INTERNAL, "out of memory");
		goto done;
	}
	if (left < 0.1)
		left = 0.1;
	for (size_t i = 0; i < n; i++) {
		copy[i] = *profiles[i];
		copy[i].deadline_ms = deadline;
		if (copy[i].timeout > left)
			copy[i].timeout = left;
		v[i] = (struct pb_renewal){ .p = &copy[i] };
	}
	pb_renew_batch(&c->ctx, v, n, report, c);
done:
	free(v);
	free(copy);
}

/* Start `bearer-token daemon --session S` detached; stdio never on the module's pipe. */
static void spawn_refresher(struct cli *c, const char *session)
{
	pid_t pid = fork();

	if (pid == 0) {
		const char *argv[] = { "bearer-token", "--config", c->config_path, "daemon",
				       "--session", session, NULL };
		union { const char **in; char *const *out; } args = { .in = argv };
		int devnull = open("/dev/null", O_RDWR);

		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
		    dup2(devnull, 2) < 0)
			_exit(127);
		execv("/proc/self/exe", args.out);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);      /* it forks again and exits at once */
}

/* Milliseconds left before the deadline, at most cap (and at least 1). */
static long left_ms(long long deadline, long cap)
{
	long long left = deadline - pb_monotonic_ms();

	return left < 1 ? 1 : left > cap ? cap : (long)left;
}

/*
 * Make sure the user's refresher runs and knows this session and the
 * current config. Bounded by the module's deadline; a refresher that
 * cannot be reached is only logged by the refresher itself: the tokens
 * are in place either way.
 */
static void start_refresher(struct cli *c, const char *session, long long deadline)
{
	struct pb_ctl_request ping = { .cmd = PB_CTL_PING }, open = { .cmd = PB_CTL_SESSION_OPEN },
			      reload = { .cmd = PB_CTL_RELOAD };
	struct pb_buf reply = { 0 };
	int dirfd = c->ctx.store.dirfd;
	uid_t uid = c->ctx.uid;
	bool running;

	if (pb_ctl_parse_session(session, &open.session) < 0)
		return;
	running = pb_ctl_ask(dirfd, uid, &ping, left_ms(deadline, 500), &reply) == 0;
	pb_buf_wipe(&reply);
	if (!running) {
		spawn_refresher(c, session);
		while (pb_monotonic_ms() < deadline &&
		       pb_ctl_ask(dirfd, uid, &ping, left_ms(deadline, 200), &reply) < 0)
			usleep(10000);
		pb_buf_wipe(&reply);
	}
	pb_ctl_ask(dirfd, uid, &open, left_ms(deadline, 1000), &reply);
	pb_buf_wipe(&reply);
	if (running)
		pb_ctl_ask(dirfd, uid, &reload, left_ms(deadline, 2000), &reply);
	pb_buf_wipe(&reply);
}

/*
 * Store one token the module passed on, for a credentials = system
 * profile that applies to us, and report on it.
 */
static void accept_token(struct cli *c, const struct pb_record *rec, long long deadline)
{
	const struct pb_profile *p = pb_config_profile(&c->cfg, rec->profile);
	enum pb_outcome outcome;
	struct pb_err err;
	char text[128];

	pb_err_clear(&err);
	if (p == NULL || p->credentials != PB_CRED_SYSTEM || !pb_ctx_applies(&c->ctx, p)) {
		pb_fail(&err, PB_E_INTERNAL, "%s: not a credentials = system profile of %s in %s",
			rec->profile, c->ctx.user, c->config_path);
		send_result(rec->profile, err.code, err.msg);
		return;
	}
	if (pb_renew_accept(&c->ctx, p, &rec->tok, (double)left_ms(deadline, 5000) / 1000.0,
			    &outcome, &err) < 0) {
		send_result(p->name, err.code, err.msg);
		return;
	}
	pb_renew_describe(&c->ctx, p, outcome, text, sizeof(text));
	send_result(p->name, PB_OK, text);
}

/*
 * Record in P.json why the service account got no token for a system
 * profile of ours (the module has judged and logged it already: no
 * result line goes back).
 */
static void accept_failure(struct cli *c, const struct pb_record *rec, long long deadline)
{
	const struct pb_profile *p = pb_config_profile(&c->cfg, rec->profile);

	if (p != NULL && p->credentials == PB_CRED_SYSTEM && pb_ctx_applies(&c->ctx, p) &&
	    rec->code != PB_OK)
		pb_renew_accept_failure(&c->ctx, p, rec->code, rec->text,
					(double)left_ms(deadline, 5000) / 1000.0);
}

/*
 * The tokens on stdin (until the module closes it, or the deadline): each
 * stored, or, when the store could not be opened (err), reported failed.
 */
static void accept_tokens(struct cli *c, long long deadline, const struct pb_err *store_err)
{
	struct pb_buf in = { 0 };
	struct pb_record rec;
	struct pb_err err;
	size_t pos = 0;

	pb_err_clear(&err);
	if (pb_read_all(0, MAX_TOKENS_IN, deadline, &in) < 0 && errno != ETIMEDOUT) {
		pb_buf_wipe(&in);
		return;
	}
	while (pb_proto_next_record(in.data != NULL ? in.data : "", in.len, &pos, &rec, &err) > 0) {
		if (rec.kind == PB_REC_TOKEN && store_err != NULL)
			send_result(rec.profile, store_err->code, store_err->msg);
		else if (rec.kind == PB_REC_TOKEN)
			accept_token(c, &rec, deadline);
		else if (store_err == NULL)
			accept_failure(c, &rec, deadline);
		pb_record_free(&rec);
	}
	pb_buf_wipe(&in);
}

/* Tell the module every profile failed the same way (nothing could start). */
static int fail_all(int argc, char **argv, const struct pb_err *err)
{
	for (int i = 0; i < argc; i++)
		send_result(argv[i], err->code, err->msg);
	return 0;
}

int cmd_pam_session(struct cli *c, int argc, char **argv)
{
	struct pb_err err;
	long deadline = 0;
	const char *session = NULL;
	const struct pb_profile **profiles;
	bool nodaemon = false, ready;
	int first = 1;
	size_t n = 0;
	pid_t worker;

	pb_err_clear(&err);
	for (; first < argc && strcmp(argv[first], "--") != 0; first++) {
		if (strcmp(argv[first], "--deadline") == 0 && first + 1 < argc &&
		    pb_parse_long(argv[first + 1], &deadline) == 0 && deadline > 0)
			first++;
		else if (strcmp(argv[first], "--session") == 0 && first + 1 < argc)
			session = argv[++first];
		else if (strcmp(argv[first], "--nodaemon") == 0)
			nodaemon = true;
		else
			return cli_usage_error("pam-session: bad arguments");
	}
	first++;
	argc -= first;
	argv += first;
	if (deadline <= 0)
		return cli_usage_error("pam-session: no --deadline");
	ready = cli_load_config(c, &err) == 0 && cli_open_store(c, &err) == 0;
	if (!ready) {
		fail_all(argc, argv, &err);
		accept_tokens(c, deadline, &err);
		return 0;
	}
	profiles = calloc((size_t)(argc > 0 ? argc : 0) + 1, sizeof(const struct pb_profile *));
	if (profiles == NULL)
		fail_all(argc, argv, (pb_fail(&err, PB_E_INTERNAL, "out of memory"), &err));
	for (int i = 0; profiles != NULL && i < argc; i++) {
		const struct pb_profile *p = pb_config_profile(&c->cfg, argv[i]);

		if (p == NULL || p->credentials != PB_CRED_USER) {
			pb_fail(&err, PB_E_CONFIG, "%s: no credentials = user profile of that name "
				"in %s", argv[i], c->config_path);
			send_result(argv[i], err.code, err.msg);
			continue;
		}
		profiles[n++] = p;
	}
	/* the renewals in a child, while this process stores what the module passes on */
	worker = n > 0 ? fork() : -1;
	if (worker == 0) {
		renew_all(c, profiles, n, deadline);
		_exit(0);
	}
	if (worker < 0 && n > 0)
		renew_all(c, profiles, n, deadline);     /* no process to spare: do it here */
	accept_tokens(c, deadline, NULL);
	while (worker > 0 && waitpid(worker, NULL, 0) < 0 && errno == EINTR)
		;
	free(profiles);
	if (!nodaemon && session != NULL)
		start_refresher(c, session, deadline);
	return 0;
}
