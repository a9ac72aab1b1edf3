/* SPDX-License-Identifier: MIT */
/*
 * spawn.c - fork, drop to the user or the service account, exec, feed the
 * child its input, collect its answer, and never wait past the deadline.
 *
 * The host may be multithreaded (gdm), may ignore SIGPIPE (sshd) or reap
 * children behind our back (a SIGCHLD handler): so everything that
 * allocates happens before fork(), the child calls only
 * async-signal-safe functions, and SIGCHLD is set to SIG_DFL around the
 * run and put back after. Every pipe is non-blocking on our side: a child
 * that stops reading or writing costs us nothing past the deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
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
#define MAX_CHILDREN 4

/* The child: never returns. Exit 126: could not drop privileges; 127: could not exec. */
static void child(const struct pb_child *c, int in_fd, int out_fd)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	/* execve() takes char *const[] for historical reasons; it writes through neither */
	union { const char *const *in; char *const *out; } argv = { .in = c->argv },
		envp = { .in = c->envp };
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
	if (setgroups(c->ngroups, c->groups) < 0 || setgid(c->pw->pw_gid) < 0 ||
	    setuid(c->pw->pw_uid) < 0)
		_exit(126);
	if (c->pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		_exit(126);   /* root must be gone for good */
	umask(077);
	execve(c->argv[0], argv.out, envp.out);
	_exit(127);
}

void pb_spawn_begin(struct sigaction *saved)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	/* our children must not be reaped by the host's SIGCHLD handler */
	sigaction(SIGCHLD, &dfl, saved);
}

void pb_spawn_end(const struct sigaction *saved)
{
	sigaction(SIGCHLD, saved, NULL);
}

int pb_child_start(pam_handle_t *pamh, struct pb_child *c)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	sigset_t all, old_mask;

	c->pid = -1;
	c->pidfd = c->in_fd = c->out_fd = -1;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		pam_syslog(pamh, LOG_ERR, "pipe: %m");
		goto fail;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old_mask);   /* no host handler runs in the child */
	c->pid = fork();
	if (c->pid == 0)
		child(c, in[0], out[1]);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	close(in[0]);
	close(out[1]);
	if (c->pid < 0) {
		pam_syslog(pamh, LOG_ERR, "fork: %m");
		close(in[1]);
		close(out[0]);
		return -1;
	}
	c->in_fd = in[1];
	c->out_fd = out[0];
	fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
	c->pidfd = pidfd_open(c->pid, 0);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return -1;
}

int pb_child_write(struct pb_child *c, const char *data, size_t len, bool last)
{
	c->input_last = last;
	return len > 0 ? pb_buf_add(&c->input, data, len) : 0;
}

/* Write what is queued; close stdin once it is all out and the last of it. */
static void feed(struct pb_child *c)
{
	while (c->in_fd >= 0 && c->written < c->input.len) {
		ssize_t n = write(c->in_fd, c->input.data + c->written, c->input.len - c->written);

		if (n > 0) {
			c->written += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			if (n < 0 && errno != EAGAIN)
				c->written = c->input.len;     /* it went away: stop feeding */
			break;
		}
	}
	if (c->in_fd >= 0 && c->input_last && c->written == c->input.len) {
		close(c->in_fd);     /* EOF: the input is complete */
		c->in_fd = -1;
	}
}

/* Read what is there into the output (capped); false at EOF or error. */
static bool drain(struct pb_child *c)
{
	char buf[4096];
	ssize_t n = read(c->out_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	if (c->output.len + (size_t)n <= MAX_OUTPUT)
		pb_buf_add(&c->output, buf, (size_t)n);
	return true;
}

/* Has c ended: exited (pidfd readable, or no pidfd) and its stdout closed? */
static bool ended(const struct pb_child *c)
{
	return c->pid < 0 || (c->out_fd < 0 && c->exited);
}

bool pb_children_run(struct pb_child *const *cs, size_t n, size_t until, long long deadline)
{
	struct pollfd fds[3 * MAX_CHILDREN];

	if (n > MAX_CHILDREN)
		return true;
	for (;;) {
		long long left = deadline - pb_monotonic_ms();
		bool done = true;

		for (size_t i = 0; i < until; i++)
			done &= ended(cs[i]);
		if (done)
			return false;
		if (left <= 0)
			return true;
		for (size_t i = 0; i < n; i++) {
			struct pb_child *c = cs[i];
			bool want_in = c->in_fd >= 0 && (c->written < c->input.len || c->input_last);

			fds[3 * i] = (struct pollfd){ .fd = c->out_fd, .events = POLLIN };
			fds[3 * i + 1] = (struct pollfd){ .fd = want_in ? c->in_fd : -1, .events = POLLOUT };
			fds[3 * i + 2] = (struct pollfd){ .fd = c->exited ? -1 : c->pidfd, .events = POLLIN };
		}
		if (poll(fds, 3 * n, left > INT_MAX ? INT_MAX : (int)left) < 0 && errno != EINTR)
			return true;
		for (size_t i = 0; i < n; i++) {
			struct pb_child *c = cs[i];

			if (fds[3 * i + 1].revents & (POLLOUT | POLLERR | POLLHUP))
				feed(c);
			if ((fds[3 * i].revents & (POLLIN | POLLHUP | POLLERR)) && !drain(c)) {
				close(c->out_fd);
				c->out_fd = -1;
			}
			if ((fds[3 * i + 2].revents & POLLIN) || (c->pidfd < 0 && c->out_fd < 0))
				c->exited = true;   /* (without a pidfd, EOF on its stdout has to do) */
		}
	}
}

void pb_child_finish(struct pb_child *c)
{
	if (c->pid > 0) {
		if (!c->exited) {
			c->timed_out = true;
			kill(-c->pid, SIGKILL);  /* the child and anything it started in its session */
			kill(c->pid, SIGKILL);   /* in case it had not reached setsid() yet */
		}
		while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
			;
	}
	c->pid = -1;
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->in_fd = c->out_fd = c->pidfd = -1;
	pb_buf_wipe(&c->input);
}
