/*
 * spawn.c - fork, drop to the user, exec bearer-token, feed it the secrets,
 * collect its answer, and never wait past the deadline.
 *
 * The host may be multithreaded (gdm), may ignore SIGPIPE (sshd) or reap
 * children behind our back (a SIGCHLD handler): so everything that
 * allocates happens before fork(), the child calls only
 * async-signal-safe functions, and SIGCHLD is set to SIG_DFL around the
 * run and put back after.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <security/pam_ext.h>

#include "spawn.h"

#define MAX_OUTPUT (64 * 1024)

/* The child: never returns. Exit 126: could not drop privileges; 127: could not exec. */
static void child(const struct pb_spawn *s, int in_fd, int out_fd)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	/* execve() takes char *const[] for historical reasons; it writes through neither */
	union { const char *const *in; char *const *out; } argv = { .in = s->argv },
		envp = { .in = s->envp };
	sigset_t none;
	int devnull;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);   /* e.g. sshd's SIG_IGN for SIGPIPE */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	devnull = open("/dev/null", O_RDWR);
	if (devnull < 0 || dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(devnull, 2) < 0)
		_exit(127);
	close_range(3, ~0U, 0);
	if (setsid() < 0 || chdir("/") < 0)
		_exit(126);
	if (setgroups(s->ngroups, s->groups) < 0 || setgid(s->pw->pw_gid) < 0 ||
	    setuid(s->pw->pw_uid) < 0)
		_exit(126);
	if (s->pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		_exit(126);   /* root must be gone for good */
	umask(077);
	execve(s->argv[0], argv.out, envp.out);
	_exit(127);
}

/* Read what is there into out (capped); false at EOF or error. */
static bool drain(int fd, struct pb_buf *out)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	if (out->len + (size_t)n <= MAX_OUTPUT)
		pb_buf_add(out, buf, (size_t)n);
	return true;
}

/*
 * The parent's loop: write the input, read the output, notice the exit,
 * all against one deadline. Returns true when the deadline passed.
 */
static bool supervise(const struct pb_spawn *s, int pidfd, int *in_fd, int out_fd,
		      struct pb_buf *out)
{
	long long deadline = pb_monotonic_ms() + s->timeout_ms;
	size_t written = 0;
	bool exited = pidfd < 0;    /* without a pidfd, EOF on its stdout has to do */

	while (out_fd >= 0 || !exited) {
		struct pollfd fds[3] = {
			{ .fd = out_fd, .events = POLLIN },
			{ .fd = *in_fd, .events = POLLOUT },
			{ .fd = exited ? -1 : pidfd, .events = POLLIN },
		};
		long long left = deadline - pb_monotonic_ms();

		if (left <= 0)
			return true;
		if (poll(fds, 3, (int)left) < 0 && errno != EINTR)
			return true;
		if (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
			ssize_t n = write(*in_fd, s->input + written, s->input_len - written);

			if (n > 0)
				written += (size_t)n;
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				written = s->input_len;     /* the helper went away: stop feeding */
		}
		if (*in_fd >= 0 && written == s->input_len) {
			close(*in_fd);     /* EOF tells the helper the secrets are complete */
			*in_fd = -1;
		}
		if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && !drain(out_fd, out))
			out_fd = -1;
		if (fds[2].revents & POLLIN)
			exited = true;
	}
	return false;
}

int pb_spawn_run(pam_handle_t *pamh, const struct pb_spawn *s, struct pb_spawn_result *r)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old_chld;
	sigset_t all, old_mask;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, pidfd = -1, rc = -1;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		pam_syslog(pamh, LOG_ERR, "pipe: %m");
		goto done;
	}
	/* our child must not be reaped by the host's SIGCHLD handler */
	sigaction(SIGCHLD, &dfl, &old_chld);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old_mask);   /* no host handler runs in the child */
	pid = fork();
	if (pid == 0)
		child(s, in[0], out[1]);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	if (pid < 0) {
		pam_syslog(pamh, LOG_ERR, "fork: %m");
		goto restore;
	}
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	pidfd = pidfd_open(pid, 0);
	r->timed_out = supervise(s, pidfd, &in[1], out[0], &r->output);
	if (r->timed_out) {
		kill(-pid, SIGKILL);     /* the helper and anything it started in its session */
		kill(pid, SIGKILL);      /* in case it had not reached setsid() yet */
	}
	while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR)
		;
	rc = 0;
restore:
	sigaction(SIGCHLD, &old_chld, NULL);
done:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	if (pidfd >= 0)
		close(pidfd);
	return rc;
}
