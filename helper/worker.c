/*
 * worker.c - start bearer-fetch for one exchange, hand it the secrets on
 * a pipe, and read the token back (see worker.h; the pipe is in proto.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"
#include "worker.h"

/* A reply holds at most a token, a refresh token and a line or two. */
#define MAX_REPLY (PB_TOKEN_MAX + PB_PROTO_MAX_SECRET + 2 * PB_PROTO_MAX_LINE)

/*
 * In the child: stdin and stdout become the pipes, every other fd but
 * stderr is closed, and no signal mask or ignored SIGPIPE of ours (the
 * refresher blocks SIGTERM for its signalfd) goes along.
 */
static void exec_worker(int in, int out, const char *config_path, const char *profile,
			const char *deadline)
{
	const char *const args[] = { "bearer-fetch", "--config", config_path, "--deadline", deadline,
				     "--", profile, NULL };
	const char *const env[] = { NULL };
	/* execve() takes char *const[] for historical reasons; it writes through neither */
	union { const char *const *in; char *const *out; } argv = { .in = args }, envp = { .in = env };
	sigset_t none;

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

/* Why the worker gave no usable reply, from how it ended. */
static int worker_failed(const struct pb_profile *p, int status, bool timed_out,
			 long long timeout_ms, struct pb_err *err)
{
	if (timed_out)
		return pb_fail(err, PB_E_TEMP, "%s: no answer within %lld ms; the vendor or "
			       "its name server hangs", p->name, timeout_ms);
	if (WIFSIGNALED(status))
		return pb_fail(err, PB_E_INTERNAL, "%s: %s died of signal %d", p->name,
			       PB_FETCH_PATH, WTERMSIG(status));
	return pb_fail(err, PB_E_INTERNAL, "%s: %s failed (exit %d)", p->name, PB_FETCH_PATH,
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int pb_worker_fetch(const char *config_path, const struct pb_profile *p,
		    const struct pb_creds *creds, const char *refresh_token,
		    struct pb_token *out, struct pb_err *err)
{
	/* a refresh and an exchange, each within p->timeout, plus starting up;
	 * never past the profile's deadline (the worker keeps to it too) */
	long long timeout_ms = (long long)(2.0 * p->timeout * 1000.0) + 2000;
	long long started = pb_monotonic_ms();
	char deadline[32];
	struct pb_buf request = { 0 }, reply = { 0 };
	int to[2] = { -1, -1 }, from[2] = { -1, -1 }, status = 0, rc = -1;
	bool timed_out = false;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	snprintf(deadline, sizeof(deadline), "%lld", p->deadline_ms);
	if (p->deadline_ms > 0 && p->deadline_ms - started < timeout_ms)
		timeout_ms = p->deadline_ms > started ? p->deadline_ms - started : 0;
	if (pb_proto_put_fetch_request(&request, p->name, creds, refresh_token) < 0 ||
	    pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0) {
		pb_fail(err, PB_E_INTERNAL, "%s: cannot start the HTTP worker: %m", p->name);
		goto done;
	}
	if ((pid = fork()) < 0) {
		pb_fail(err, PB_E_INTERNAL, "%s: cannot start the HTTP worker: %m", p->name);
		goto done;
	}
	if (pid == 0)
		exec_worker(to[0], from[1], config_path, p->name, deadline);
	close(to[0]);
	close(from[1]);
	to[0] = from[1] = -1;
	/* the worker reads all of its stdin first, so this cannot deadlock */
	(void)pb_write_all(to[1], request.data, request.len);
	close(to[1]);
	to[1] = -1;
	if (pb_read_all(from[0], MAX_REPLY, started + timeout_ms, &reply) < 0) {
		timed_out = errno == ETIMEDOUT;
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = pb_proto_read_fetch_reply(reply.data, reply.len, out, err);
	else
		worker_failed(p, status, timed_out, timeout_ms, err);
done:
	for (int i = 0; i < 2; i++) {
		if (to[i] >= 0)
			close(to[i]);
		if (from[i] >= 0)
			close(from[i]);
	}
	pb_buf_wipe(&request);
	pb_buf_wipe(&reply);
	return rc;
}
