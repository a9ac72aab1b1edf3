/* SPDX-License-Identifier: MIT */
/*
 * worker.c - start bearer-fetch for a batch of exchanges, hand it the
 * secrets on a pipe, and read each profile's answer back as it comes (see
 * worker.h; the pipe is in proto.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"
#include "worker.h"

/* A reply holds at most a token, a refresh token and a line or two. */
#define MAX_REPLY (PB_TOKEN_MAX + 2 * PB_PROTO_MAX_SECRET + 4 * PB_PROTO_MAX_LINE)

/*
 * In the child: it dies with its parent (checked once more after the
 * prctl, in case the parent died first); stdin and stdout become the
 * pipes, every other fd but stderr is closed, and no signal mask or
 * ignored SIGPIPE of ours (the refresher blocks SIGTERM for its signalfd)
 * goes along.
 */
static void exec_worker(int in, int out, const char *config_path, const char *deadline,
			pid_t parent)
{
	const char *const args[] = { "bearer-fetch", "--config", config_path, "--deadline", deadline,
				     NULL };
	const char *const env[] = { NULL };
	/* execve() takes char *const[] for historical reasons; it writes through neither */
	union { const char *const *in; char *const *out; } argv = { .in = args }, envp = { .in = env };
	sigset_t none;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* above 2 first, so that neither dup2() can overwrite the other pipe */
	if ((in = fcntl(in, F_DUPFD, 3)) < 0 || (out = fcntl(out, F_DUPFD, 3)) < 0 ||
	    dup2(in, 0) < 0 || dup2(out, 1) < 0)
		_exit(127);
	close_range(3, ~0U, 0);
	execve(PB_FETCH_PATH, argv.out, envp.out);
	_exit(127);
}

/* A batch under way. */
struct run {
	const struct pb_worker_job *jobs;
	size_t n;
	bool *answered;
	pb_token_done done;
	void *arg;
	long long kill_at;          /* CLOCK_MONOTONIC ms: the worker is killed then */
	long long login_deadline;   /* the earliest job deadline_ms (0: none), for bearer-fetch */
	pid_t pid;
	int to, from;
};

/*
 * When the worker must be done: a refresh and an exchange of the slowest
 * job, each within its timeout, plus starting up; never past a job's
 * deadline (the worker keeps to that one itself).
 */
static void plan_deadlines(struct run *r)
{
	long long now = pb_monotonic_ms(), longest = 0;

	r->login_deadline = 0;
	for (size_t i = 0; i < r->n; i++) {
		long long ms = (long long)(2.0 * r->jobs[i].p->timeout * 1000.0) + 2000;
		long long dl = r->jobs[i].p->deadline_ms;

		if (ms > longest)
			longest = ms;
		if (dl > 0 && (r->login_deadline == 0 || dl < r->login_deadline))
			r->login_deadline = dl;
	}
	r->kill_at = now + longest;
	if (r->login_deadline > 0 && r->login_deadline < r->kill_at)
		r->kill_at = r->login_deadline;
}

/* Report job i (once): tok, or err. */
static void answer(struct run *r, size_t i, struct pb_token *tok, const struct pb_err *err)
{
	if (r->answered[i])
		return;
	r->answered[i] = true;
	r->done(r->arg, i, tok, err);
}

/* The job for profile, among those not yet answered; n if none. */
static size_t job_of(const struct run *r, const char *profile)
{
	for (size_t i = 0; i < r->n; i++)
		if (!r->answered[i] && strcmp(r->jobs[i].p->name, profile) == 0)
			return i;
	return r->n;
}

/* Start bearer-fetch with its pipes (0), or -1 with err. */
static int start(struct run *r, const char *config_path, struct pb_err *err)
{
	int to[2] = { -1, -1 }, from[2] = { -1, -1 };
	pid_t self = getpid();
	char deadline[32];

	snprintf(deadline, sizeof(deadline), "%lld", r->login_deadline);
	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0 || (r->pid = fork()) < 0) {
		pb_fail(err, PB_E_INTERNAL, "cannot start the HTTP worker: %m");
		for (int i = 0; i < 2; i++) {
			if (to[i] >= 0)
				close(to[i]);
			if (from[i] >= 0)
				close(from[i]);
		}
		return -1;
	}
	if (r->pid == 0)
		exec_worker(to[0], from[1], config_path, deadline, self);
	close(to[0]);
	close(from[1]);
	r->to = to[1];
	r->from = from[0];
	fcntl(r->to, F_SETFL, O_NONBLOCK);
	fcntl(r->from, F_SETFL, O_NONBLOCK);
	return 0;
}

/* Wait for fd to be ready for events, until kill_at: 1, or 0 at the deadline. */
static int ready(const struct run *r, int fd, short events)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		long long left = r->kill_at - pb_monotonic_ms();

		if (left <= 0)
			return 0;
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) > 0)
			return 1;
	}
}

/* Hand over the batch and close the worker's stdin: 0, or -1 (the worker went or hangs). */
static int send_batch(struct run *r, const struct pb_buf *batch)
{
	size_t off = 0;

	while (off < batch->len) {
		ssize_t n = write(r->to, batch->data + off, batch->len - off);

		if (n > 0)
			off += (size_t)n;
		else if (!(n < 0 && (errno == EINTR || (errno == EAGAIN && ready(r, r->to, POLLOUT)))))
			break;      /* the worker went, or its time is up */
	}
	close(r->to);
	r->to = -1;
	return off == batch->len ? 0 : -1;
}

/*
 * Read the replies as they come and report each: until the worker closes
 * its stdout (0), or its time is up (-1), or it says something malformed
 * (-1, with why in err).
 */
static int read_replies(struct run *r, struct pb_err *err)
{
	struct pb_buf in = { 0 };
	size_t pos = 0;
	char chunk[4096], profile[65];
	int rc = -1;

	for (;;) {
		struct pb_token tok;
		struct pb_err why;
		bool ok;
		int got;
		ssize_t n = read(r->from, chunk, sizeof(chunk));

		if (n == 0) {
			rc = 0;
			break;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && ready(r, r->from, POLLIN))
			continue;
		if (n < 0)
			break;      /* its time is up (pb_worker_run tells), or a broken pipe */
		if (in.len + (size_t)n > r->n * MAX_REPLY || pb_buf_add(&in, chunk, (size_t)n) < 0) {
			pb_fail(err, PB_E_INTERNAL, "the HTTP worker says too much");
			break;
		}
		pb_err_clear(&why);
		while ((got = pb_proto_next_batch_reply(in.data, in.len, &pos, profile, &ok, &tok,
							&why)) == 1) {
			size_t i = job_of(r, profile);

			if (i < r->n)
				answer(r, i, ok ? &tok : NULL, &why);
			pb_token_free(&tok);
			pb_err_clear(&why);
		}
		if (got < 0) {
			*err = why;
			break;
		}
	}
	explicit_bzero(chunk, sizeof(chunk));
	pb_buf_wipe(&in);
	return rc;
}

/* Why the worker left jobs unanswered, from how it ended. */
static void worker_failed(int status, bool timed_out, long long allowed_ms, struct pb_err *err)
{
	if (timed_out)
		pb_fail(err, PB_E_TEMP, "no answer within %lld ms; the vendor or its name server "
			"hangs", allowed_ms);
	else if (WIFSIGNALED(status))
		pb_fail(err, PB_E_INTERNAL, "%s died of signal %d", PB_FETCH_PATH, WTERMSIG(status));
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		pb_fail(err, PB_E_INTERNAL, "%s failed (exit %d)", PB_FETCH_PATH,
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	else if (err->msg[0] == '\0')
		pb_fail(err, PB_E_INTERNAL, "%s gave no answer", PB_FETCH_PATH);
}

void pb_worker_run(const char *config_path, const struct pb_worker_job *jobs, size_t n,
		   pb_token_done done, void *arg)
{
	struct run r = { .jobs = jobs, .n = n, .done = done, .arg = arg, .pid = -1, .to = -1,
			 .from = -1 };
	struct pb_buf batch = { 0 };
	struct pb_err err;
	long long started = pb_monotonic_ms();
	bool timed_out = false;
	int status = 0;

	pb_err_clear(&err);
	r.answered = calloc(n + 1, sizeof(*r.answered));
	if (r.answered == NULL)
		return;     /* (nothing can be reported without memory either) */
	plan_deadlines(&r);
	for (size_t i = 0; i < n; i++)
		if (pb_proto_put_batch_item(&batch, jobs[i].p->name, jobs[i].creds,
					    jobs[i].refresh_token) < 0)
			pb_fail(&err, PB_E_INTERNAL, "out of memory");
	if (err.msg[0] != '\0' || pb_proto_put_end(&batch) < 0 || start(&r, config_path, &err) < 0)
		goto done;
	if (send_batch(&r, &batch) < 0 || read_replies(&r, &err) < 0) {
		timed_out = pb_monotonic_ms() >= r.kill_at;
		kill(r.pid, SIGKILL);
	}
	while (waitpid(r.pid, &status, 0) < 0 && errno == EINTR)
		;
	worker_failed(status, timed_out, r.kill_at - started, &err);
done:
	if (r.to >= 0)
		close(r.to);
	if (r.from >= 0)
		close(r.from);
	for (size_t i = 0; i < n; i++) {
		struct pb_err mine;

		pb_fail(&mine, err.code, "%s: %s", jobs[i].p->name, err.msg);
		answer(&r, i, NULL, &mine);
	}
	pb_buf_wipe(&batch);
	free(r.answered);
}
