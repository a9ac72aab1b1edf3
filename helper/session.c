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
 * stdin carries the secrets of credentials = system profiles and stdout
 * one result line per profile (lib/proto.h). The profiles are renewed in
 * parallel, one child process each, so that one slow vendor does not eat
 * the others' time, and no request outlives the module's deadline. Then,
 * unless --nodaemon, the user's refresher is started (or, if one runs,
 * told of the new session, the config and the hand-off secrets).
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

#define MAX_SECRETS_IN (1024 * 1024)

/* All of stdin (the module closes it after the secrets), capped. */
static int read_input(struct pb_buf *in, struct pb_err *err)
{
	if (pb_read_all(0, MAX_SECRETS_IN, -1, in) == 0)
		return 0;
	return errno == EFBIG ? pb_fail(err, PB_E_INTERNAL, "too many secrets from the PAM module")
			      : pb_fail(err, PB_E_INTERNAL, "reading the secrets: %m");
}

/* Write one result line to the module in a single write (atomic below PIPE_BUF). */
static void send_result(const char *profile, int code, const char *text)
{
	struct pb_buf line = { 0 };

	if (pb_proto_put_result(&line, profile, code, text) == 0 && line.len <= PB_PROTO_MAX_LINE)
		(void)!write(1, line.data, line.len);
	pb_buf_wipe(&line);
}

/* Renew one profile (in its own process) and report on it. */
static void renew_one(struct cli *c, const struct pb_profile *orig, long long deadline)
{
	struct pb_profile p = *orig;
	enum pb_outcome outcome;
	struct pb_err err;
	char text[128];
	double left = (double)(deadline - pb_monotonic_ms()) / 1000.0;

	/* no exchange may outlive the module's deadline, nor a wait for the lock */
	p.deadline_ms = deadline;
	if (left < 0.1)
		left = 0.1;
	if (p.timeout > left)
		p.timeout = left;
	if (pb_renew(&c->ctx, &p, 0, false, &outcome, &err) < 0) {
		send_result(p.name, err.code, err.msg);
		return;
	}
	pb_renew_describe(&c->ctx, &p, outcome, text, sizeof(text));
	send_result(p.name, PB_OK, text);
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

/*
 * Make sure the user's refresher runs and knows this session, the current
 * config, and the secrets of handoff = yes profiles. Bounded by the
 * module's deadline; a refresher that cannot be reached is only logged by
 * the refresher itself: the tokens are in place either way.
 */
/* Milliseconds left before the deadline, at most cap (and at least 1). */
static long left_ms(long long deadline, long cap)
{
	long long left = deadline - pb_monotonic_ms();

	return left < 1 ? 1 : left > cap ? cap : (long)left;
}

static void start_refresher(struct cli *c, const char *session, const struct pb_creds *secrets,
			    long long deadline)
{
	struct pb_buf req = { 0 }, reply = { 0 };
	int dirfd = c->ctx.store.dirfd;
	uid_t uid = c->ctx.uid;
	bool running = pb_ctl_call(dirfd, uid, "ping\n", 5, left_ms(deadline, 500), &reply) == 0;

	pb_buf_wipe(&reply);
	if (!running) {
		spawn_refresher(c, session);
		while (pb_monotonic_ms() < deadline &&
		       pb_ctl_call(dirfd, uid, "ping\n", 5, left_ms(deadline, 200), &reply) < 0)
			usleep(10000);
		pb_buf_wipe(&reply);
	}
	pb_buf_addf(&req, "session-open %s\n", session);
	pb_ctl_call(dirfd, uid, req.data, req.len, left_ms(deadline, 1000), &reply);
	pb_buf_wipe(&req);
	pb_buf_wipe(&reply);
	if (running)
		pb_ctl_call(dirfd, uid, "reload\n", 7, left_ms(deadline, 2000), &reply);
	pb_buf_wipe(&reply);
	/* hand-off: only the fields of handoff = yes profiles, never the others' */
	pb_buf_adds(&req, "secrets\n");
	for (size_t i = 0; i < secrets->n; i++) {
		const struct pb_profile *p = pb_config_profile(&c->cfg, secrets->v[i].profile);

		if (p != NULL && p->handoff)
			pb_proto_put_secret(&req, secrets->v[i].profile, secrets->v[i].field,
					    secrets->v[i].value);
	}
	if (pb_proto_put_end(&req) == 0 && req.len > strlen("secrets\nend\n"))
		pb_ctl_call(dirfd, uid, req.data, req.len, left_ms(deadline, 1000), &reply);
	pb_buf_wipe(&req);
	pb_buf_wipe(&reply);
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
	struct pb_creds secrets = { .path = NULL };
	struct pb_buf input = { 0 };
	struct pb_err err;
	long deadline = 0;
	const char *session = NULL;
	bool nodaemon = false;
	int first = 1, children = 0;

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
	if (read_input(&input, &err) < 0 ||
	    pb_proto_read_secrets(input.data != NULL ? input.data : "", input.len, &secrets,
				  &err) < 0 ||
	    cli_load_config(c, &err) < 0 || cli_open_store(c, &err) < 0) {
		pb_buf_wipe(&input);
		pb_creds_free(&secrets);
		return fail_all(argc, argv, &err);
	}
	pb_buf_wipe(&input);
	c->ctx.system_creds = &secrets;
	for (int i = 0; i < argc; i++) {
		const struct pb_profile *p = pb_config_profile(&c->cfg, argv[i]);
		pid_t pid;

		if (p == NULL) {
			pb_fail(&err, PB_E_CONFIG, "%s: no such profile in %s", argv[i],
				c->config_path);
			send_result(argv[i], err.code, err.msg);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			renew_one(c, p, deadline);
			_exit(0);
		}
		if (pid < 0)
			renew_one(c, p, deadline);   /* no process to spare: do it here */
		else
			children++;
	}
	while (children > 0) {
		if (wait(NULL) > 0)
			children--;
		else if (errno != EINTR)
			break;
	}
	if (!nodaemon && session != NULL)
		start_refresher(c, session, &secrets, deadline);
	pb_creds_free(&secrets);
	return 0;
}
