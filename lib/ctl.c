/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - the client side of pam_bearer's unix sockets, and the
 * refresher's protocol, each message with its put and its parse (see
 * ctl.h). Used by bearer-token (refresh, get, status, pam-session, the
 * refresher itself) and by the PAM module (session open/close), which is
 * why it lives in the core.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "expiry.h"

/*
 * Connect a non-blocking stream socket to the socket inode open as path_fd
 * (through /proc/self/fd, so that no path is resolved again and a long
 * path still fits sun_path). A unix listener with a full backlog fails at
 * once with EAGAIN instead of making us wait for its owner. Returns the
 * fd or -1 with errno.
 */
static int connect_inode(int path_fd)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, saved;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d", path_fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	/* unix sockets connect at once or not at all; EINPROGRESS is not theirs */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Open path (or name in dirfd) as an O_PATH fd and check it is a socket, owned by uid unless uid is -1. */
static int connect_socket(int dirfd, const char *name, uid_t uid)
{
	struct stat st;
	int path_fd, fd = -1, saved;

	path_fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (path_fd < 0)
		return -1;
	if (fstat(path_fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    (uid != (uid_t)-1 && st.st_uid != uid))
		errno = EPERM;
	else
		fd = connect_inode(path_fd);
	saved = errno;
	close(path_fd);
	errno = saved;
	return fd;
}

int pb_ctl_connect(int dirfd, uid_t uid)
{
	return connect_socket(dirfd, PB_CTL_SOCKET, uid);
}

/* Wait (at most until deadline) for events on fd; false on timeout or error. */
static bool wait_for(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		long long left = deadline - pb_monotonic_ms();
		int n;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return false;
		}
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR)
			return false;
	}
}

/* Send request, half-close, read the reply until EOF: all before deadline. */
static int exchange(int fd, const char *request, size_t len, long long deadline,
		    struct pb_buf *reply)
{
	size_t sent = 0;
	char buf[1024];

	while (sent < len) {
		ssize_t n = send(fd, request + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || !wait_for(fd, POLLOUT, deadline))
			return -1;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0)
			return 0;
		if (n > 0) {
			if (reply->len + (size_t)n > PB_CTL_MAX_REPLY ||
			    pb_buf_add(reply, buf, (size_t)n) < 0)
				return -1;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || !wait_for(fd, POLLIN, deadline))
			return -1;
	}
}

int pb_ctl_call(int dirfd, uid_t uid, const char *request, size_t len, long timeout_ms,
		struct pb_buf *reply)
{
	long long deadline = pb_monotonic_ms() + timeout_ms;
	int fd = pb_ctl_connect(dirfd, uid), rc;

	if (fd < 0)
		return -1;
	rc = exchange(fd, request, len, deadline, reply);
	close(fd);
	return rc;
}

int pb_socket_call(const char *path, const char *request, size_t len, long timeout_ms,
		   struct pb_buf *reply)
{
	long long deadline = pb_monotonic_ms() + timeout_ms;
	int fd = connect_socket(AT_FDCWD, path, (uid_t)-1), rc;

	if (fd < 0)
		return -1;
	rc = exchange(fd, request, len, deadline, reply);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------ the refresher's protocol */

void pb_ctl_put_session(const struct pb_session_id *id, char out[PB_SESSION_ID_MAX])
{
	snprintf(out, PB_SESSION_ID_MAX, "%ld:%s", (long)id->pid, id->cookie);
}

int pb_ctl_parse_session(const char *s, struct pb_session_id *id)
{
	const char *colon = strchr(s, ':');
	char pid[24];
	long v;

	/* one spelling: decimal digits with no sign or leading zero, a colon, 16 hex digits */
	if (colon == NULL || (size_t)(colon - s) >= sizeof(pid) || s[0] == '0' ||
	    strspn(s, "0123456789") != (size_t)(colon - s) || strlen(colon + 1) != 16 ||
	    strspn(colon + 1, "0123456789abcdef") != 16)
		return -1;
	memcpy(pid, s, (size_t)(colon - s));
	pid[colon - s] = '\0';
	if (pb_parse_long(pid, &v) < 0 || v <= 0 || v > INT_MAX)
		return -1;
	id->pid = (pid_t)v;
	memcpy(id->cookie, colon + 1, 17);
	return 0;
}

/* The words of each request, in enum pb_ctl_cmd's order, and what follows them. */
static const struct {
	const char *word;
	enum { ARG_NONE, ARG_SESSION, ARG_PROFILE } arg;
} commands[] = {
	[PB_CTL_PING] = { "ping", ARG_NONE },
	[PB_CTL_SESSION_OPEN] = { "session-open", ARG_SESSION },
	[PB_CTL_SESSION_CLOSE] = { "session-close", ARG_SESSION },
	[PB_CTL_RELOAD] = { "reload", ARG_NONE },
	[PB_CTL_REFRESH] = { "refresh", ARG_PROFILE },
	[PB_CTL_GET] = { "get", ARG_PROFILE },
	[PB_CTL_SCHEDULE] = { "schedule", ARG_NONE },
};

int pb_ctl_put_request(struct pb_buf *out, const struct pb_ctl_request *req)
{
	char session[PB_SESSION_ID_MAX];

	if ((unsigned)req->cmd >= sizeof(commands) / sizeof(commands[0]))
		return -1;
	switch (commands[req->cmd].arg) {
	case ARG_NONE:
		return pb_buf_addf(out, "%s\n", commands[req->cmd].word);
	case ARG_SESSION:
		pb_ctl_put_session(&req->session, session);
		return pb_buf_addf(out, "%s %s\n", commands[req->cmd].word, session);
	case ARG_PROFILE:
		if (!pb_valid_name(req->profile) || req->min_valid < 0 ||
		    req->min_valid > PB_MAX_LIFETIME)
			return -1;
		return pb_buf_addf(out, "%s %s %ld\n", commands[req->cmd].word, req->profile,
				   req->min_valid);
	}
	return -1;
}

int pb_ctl_ask(int dirfd, uid_t uid, const struct pb_ctl_request *req, long timeout_ms,
	       struct pb_buf *reply)
{
	struct pb_buf line = { 0 };
	int rc = -1;

	if (pb_ctl_put_request(&line, req) == 0)
		rc = pb_ctl_call(dirfd, uid, line.data, line.len, timeout_ms, reply);
	else
		errno = EINVAL;
	pb_buf_wipe(&line);
	return rc;
}

/*
 * Split a copy of line at spaces: at most max words (no empty ones).
 * Returns how many, or -1 when there are more, or a NUL or a second newline.
 */
static int split_words(const char *line, size_t len, char *copy, size_t size, char **word,
		       int max)
{
	int n = 0;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len >= size || memchr(line, '\0', len) != NULL || memchr(line, '\n', len) != NULL)
		return -1;
	memcpy(copy, line, len);
	copy[len] = '\0';
	for (char *p = copy; *p != '\0'; n++) {
		if (n == max || *p == ' ')
			return -1;
		word[n] = p;
		if ((p = strchr(p, ' ')) == NULL)
			return n + 1;
		*p++ = '\0';
		if (*p == '\0')
			return -1;      /* a trailing space */
	}
	return n;
}

int pb_ctl_parse_request(const char *line, size_t len, struct pb_ctl_request *req)
{
	char copy[256], *word[4];
	int n = split_words(line, len, copy, sizeof(copy), word, 4);

	memset(req, 0, sizeof(*req));
	if (n < 1)
		return -1;
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(word[0], commands[c].word) != 0)
			continue;
		req->cmd = (enum pb_ctl_cmd)c;
		switch (commands[c].arg) {
		case ARG_NONE:
			return n == 1 ? 0 : -1;
		case ARG_SESSION:
			return n == 2 ? pb_ctl_parse_session(word[1], &req->session) : -1;
		case ARG_PROFILE:
			if (n < 2 || n > 3 || !pb_valid_name(word[1]) ||
			    (n == 3 && (pb_parse_long(word[2], &req->min_valid) < 0 ||
					req->min_valid < 0 || req->min_valid > PB_MAX_LIFETIME)))
				return -1;
			snprintf(req->profile, sizeof(req->profile), "%s", word[1]);
			return 0;
		}
	}
	return -1;
}

static const char *const plan_words[] = {
	[PB_PLAN_RENEW] = "renew", [PB_PLAN_EXPIRE] = "expire", [PB_PLAN_RENEWING] = "renewing",
};

int pb_ctl_put_plan(struct pb_buf *out, const struct pb_ctl_plan *plan)
{
	if (!pb_valid_name(plan->profile) || plan->at < 0 ||
	    (unsigned)plan->what >= sizeof(plan_words) / sizeof(plan_words[0]))
		return -1;
	return pb_buf_addf(out, "%s %lld %s\n", plan->profile, plan->at, plan_words[plan->what]);
}

int pb_ctl_parse_plan(const char *line, size_t len, struct pb_ctl_plan *plan)
{
	char copy[256], *word[3];
	long long at;
	char *end;

	memset(plan, 0, sizeof(*plan));
	if (split_words(line, len, copy, sizeof(copy), word, 3) != 3 || !pb_valid_name(word[0]))
		return -1;
	errno = 0;
	at = strtoll(word[1], &end, 10);
	if (errno != 0 || end == word[1] || *end != '\0' || at < 0 || word[1][0] == '-')
		return -1;
	for (size_t w = 0; w < sizeof(plan_words) / sizeof(plan_words[0]); w++)
		if (strcmp(word[2], plan_words[w]) == 0) {
			snprintf(plan->profile, sizeof(plan->profile), "%s", word[0]);
			plan->at = at;
			plan->what = (enum pb_ctl_plan_what)w;
			return 0;
		}
	return -1;
}

int pb_ctl_put_done(struct pb_buf *out, const struct pb_ctl_done *done)
{
	size_t start = out->len;

	if (!pb_valid_name(done->profile) || done->asked_ms < 0 || done->next_attempt_ms < 0 ||
	    pb_buf_addf(out, "done %s %d %d %lld %lld %s\n", done->profile, done->code,
			done->outcome, done->asked_ms, done->next_attempt_ms, done->text) < 0)
		return -1;
	/* the text is one line, whatever it held */
	for (size_t i = start; i + 1 < out->len; i++)
		if (out->data[i] == '\n' || out->data[i] == '\0')
			out->data[i] = ' ';
	return 0;
}

/* A whole decimal word within [min, max] into *v: 0, or -1. */
static int number(const char *s, long long min, long long max, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *v >= min && *v <= max ? 0 : -1;
}

int pb_ctl_parse_done(const char *line, size_t len, struct pb_ctl_done *done)
{
	char copy[1024], *word[7];
	long long code, outcome, asked, next;

	memset(done, 0, sizeof(*done));
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len >= sizeof(copy) || memchr(line, '\0', len) != NULL ||
	    memchr(line, '\n', len) != NULL)
		return -1;
	memcpy(copy, line, len);
	copy[len] = '\0';
	/* six words, then the text (which has spaces) */
	word[0] = copy;
	for (int i = 1; i < 7; i++) {
		char *sp = strchr(word[i - 1], ' ');

		if (sp == NULL)
			return -1;
		*sp = '\0';
		word[i] = sp + 1;
	}
	if (strcmp(word[0], "done") != 0 || !pb_valid_name(word[1]) ||
	    number(word[2], 0, 255, &code) < 0 || number(word[3], 0, 16, &outcome) < 0 ||
	    number(word[4], 0, LLONG_MAX, &asked) < 0 || number(word[5], 0, LLONG_MAX, &next) < 0)
		return -1;
	snprintf(done->profile, sizeof(done->profile), "%s", word[1]);
	done->code = (int)code;
	done->outcome = (int)outcome;
	done->asked_ms = asked;
	done->next_attempt_ms = next;
	snprintf(done->text, sizeof(done->text), "%s", word[6]);
	return 0;
}
