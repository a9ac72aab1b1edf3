/* SPDX-License-Identifier: MIT */
/*
 * broker.c - `bearer-token broker`, the service account's daemon: it hands
 * out bearer tokens of credentials = system profiles to the users they
 * apply to, so that a user's refresher renews them during a session
 * without ever holding the secret or a refresh token (see system.h).
 *
 *   bearer-token [--config FILE] broker [--foreground] [--idle-exit SECONDS]
 *
 * Socket-activated (bearer-token-broker.socket): systemd hands it the
 * listening socket (LISTEN_FDS) and runs it as the service account; it
 * exits after --idle-exit seconds without a connection (default 120),
 * and systemd starts it again on the next one. Started as root: it binds
 * broker_socket (mode 0666: callers are told apart by SO_PEERCRED, not by
 * the file mode), makes its state dir, then drops to the service account
 * for good (setgroups, setgid, setuid, each checked) and runs until
 * stopped (no idle exit unless asked).
 *
 * The parent only accepts and counts: it never reads from a client. Each
 * connection is served by a child of its own, which reads one request
 * within a deadline, answers it and exits, so one slow vendor delays no
 * other request, and a silent client holds only its own child, for at
 * most REQUEST_MS. A uid gets at most PER_UID children at once and a
 * bucket of BUCKET requests refilled at REFILL per second; beyond either
 * its connection is closed at once. What a vendor sees is paced further
 * by pb_system_token().
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "cli.h"
#include "proto.h"
#include "system.h"

#define MAX_CHILDREN 64         /* connections served at once, all users */
#define PER_UID 4               /* ... by one uid */
#define BUCKET 30.0             /* requests a uid may make in a burst */
#define REFILL 10.0             /* ... and per second after it */
#define MAX_UIDS 256            /* uids whose bucket we remember */
#define REQUEST_MS 2000         /* a client sends its request within this */
#define REPLY_MS 2000           /* ... and takes the answer within this */
#define ACCEPT_PAUSE_MS 200     /* after accept() fails for want of fds or memory */
#define DEFAULT_IDLE_S 120      /* socket-activated: exit after this long without a request */

struct uid_slot {
	uid_t uid;
	unsigned children;
	double tokens;              /* the request bucket */
	long long seen_ms;          /* last refill */
};

struct broker {
	struct cli *c;
	int listen_fd, signal_fd;
	struct { pid_t pid; uid_t uid; } children[MAX_CHILDREN];
	size_t nchildren;
	struct uid_slot uids[MAX_UIDS];
	size_t nuids;
	long idle_ms;               /* 0: never exit for idleness */
	long long last_ms;          /* last connection */
	bool quit;
};

/* ---------------------------------------------------------------- the child */

/* Read one request line from fd (non-blocking) within REQUEST_MS. 0, or -1. */
static int read_request(int fd, char *buf, size_t size, size_t *len)
{
	long long deadline = pb_monotonic_ms() + REQUEST_MS;

	*len = 0;
	while (*len == 0 || buf[*len - 1] != '\n') {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - pb_monotonic_ms();
		ssize_t n;

		if (left <= 0 || *len == size || poll(&p, 1, (int)left) <= 0)
			return -1;
		n = recv(fd, buf + *len, size - *len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (n > 0)
			*len += (size_t)n;
	}
	return 0;
}

/* Write all of reply to fd (non-blocking) within REPLY_MS. */
static void send_reply(int fd, const struct pb_buf *reply)
{
	long long deadline = pb_monotonic_ms() + REPLY_MS;
	size_t sent = 0;

	while (sent < reply->len) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		long long left = deadline - pb_monotonic_ms();
		ssize_t n = send(fd, reply->data + sent, reply->len - sent,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if ((errno != EAGAIN && errno != EINTR) || left <= 0 || poll(&p, 1, (int)left) <= 0)
			return;
	}
}

/*
 * The token `req` asks for, for the uid it may ask for: its own, or any
 * when the caller is root.
 */
static int answer_token(struct cli *c, uid_t peer, const struct pb_broker_request *req,
			struct pb_token *tok, struct pb_err *err)
{
	uid_t uid = req->uid < 0 ? peer : (uid_t)req->uid;
	struct pb_system_user u = { .uid = uid };
	struct passwd pw, *res = NULL;
	char pwbuf[4096];
	gid_t *gids = NULL;
	int rc = -1;

	if (uid != peer && peer != 0) {
		syslog(LOG_NOTICE, "uid %u asked for the tokens of uid %u: refused",
		       (unsigned)peer, (unsigned)uid);
		return pb_fail(err, PB_E_CONFIG, "uid %u may ask only for its own tokens",
			       (unsigned)peer);
	}
	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) != 0 || res == NULL)
		return pb_fail(err, PB_E_CONFIG, "uid %u has no passwd entry", (unsigned)uid);
	if (pb_user_groups(pw.pw_name, pw.pw_gid, &gids, &u.ngids, err) < 0)
		return -1;
	u.name = pw.pw_name;
	u.gids = gids;
	if (cli_load_config(c, err) == 0) {
		rc = pb_system_token(&c->cfg, &u, req->profile, req->min_valid, 0, tok, err);
		pb_config_free(&c->cfg);
		c->cfg_loaded = false;
	}
	if (rc < 0)
		syslog(err->code == PB_E_TEMP ? LOG_WARNING : LOG_ERR, "uid %u (%s): %s",
		       (unsigned)uid, pw.pw_name, err->msg);
	free(gids);
	return rc;
}

/* Serve one connection of uid peer, then exit: the child's whole life. */
static void serve(struct cli *c, int fd, uid_t peer)
{
	struct pb_broker_request req;
	struct pb_buf reply = { 0 };
	struct pb_token tok = { 0 };
	struct pb_err err;
	char buf[256];
	size_t len;

	pb_err_clear(&err);
	if (read_request(fd, buf, sizeof(buf), &len) < 0)
		_exit(0);
	if (pb_proto_read_broker_request(buf, len, &req) < 0) {
		pb_fail(&err, PB_E_USAGE, "not a broker request");
		pb_proto_put_fetch_reply(&reply, NULL, &err);
	} else if (req.ping) {
		pb_buf_addf(&reply, "ok %ld\n", (long)getppid());   /* the broker's pid */
	} else {
		int rc = answer_token(c, peer, &req, &tok, &err);

		pb_proto_put_fetch_reply(&reply, &tok, rc == 0 ? NULL : &err);
	}
	send_reply(fd, &reply);
	pb_token_free(&tok);
	pb_buf_wipe(&reply);
	_exit(0);
}

/* ---------------------------------------------------------------- the parent */

/* The slot of uid, made (or taken from an idle uid) when there is none. */
static struct uid_slot *uid_slot(struct broker *b, uid_t uid, long long now)
{
	struct uid_slot *oldest = NULL;

	for (size_t i = 0; i < b->nuids; i++) {
		if (b->uids[i].uid == uid)
			return &b->uids[i];
		if (b->uids[i].children == 0 && (oldest == NULL || b->uids[i].seen_ms < oldest->seen_ms))
			oldest = &b->uids[i];
	}
	if (b->nuids < MAX_UIDS)
		oldest = &b->uids[b->nuids++];
	if (oldest != NULL)
		*oldest = (struct uid_slot){ .uid = uid, .tokens = BUCKET, .seen_ms = now };
	return oldest;
}

/* May uid start one more request now? Takes a token from its bucket when it may. */
static bool admit(struct broker *b, struct uid_slot *s, long long now)
{
	if (s == NULL || b->nchildren == MAX_CHILDREN || s->children >= PER_UID)
		return false;
	s->tokens += (double)(now - s->seen_ms) / 1000.0 * REFILL;
	if (s->tokens > BUCKET)
		s->tokens = BUCKET;
	s->seen_ms = now;
	if (s->tokens < 1.0)
		return false;
	s->tokens -= 1.0;
	return true;
}

/* Accept one connection and hand it to a child, or turn it away. False: pause accepting. */
static bool accept_one(struct broker *b)
{
	struct ucred peer;
	socklen_t plen = sizeof(peer);
	long long now = pb_monotonic_ms();
	struct uid_slot *s;
	pid_t pid;
	int fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		/* out of fds or memory: the connection stays queued; stop polling for a moment */
		return errno == EAGAIN || errno == EINTR || errno == ECONNABORTED || errno == EPROTO;
	b->last_ms = now;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0 ||
	    !admit(b, s = uid_slot(b, peer.uid, now), now)) {
		close(fd);      /* busy, or this uid asks too much: it sees the connection close */
		return true;
	}
	pid = fork();
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		close(b->listen_fd);
		close(b->signal_fd);
		serve(b->c, fd, peer.uid);
	}
	close(fd);
	if (pid > 0) {
		b->children[b->nchildren].pid = pid;
		b->children[b->nchildren].uid = peer.uid;
		b->nchildren++;
		s->children++;
	}
	return true;
}

/* Reap every child that has ended and give its uid its slot back. */
static void reap(struct broker *b)
{
	pid_t pid;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
		for (size_t i = 0; i < b->nchildren; i++) {
			if (b->children[i].pid != pid)
				continue;
			for (size_t k = 0; k < b->nuids; k++)
				if (b->uids[k].uid == b->children[i].uid && b->uids[k].children > 0)
					b->uids[k].children--;
			b->children[i] = b->children[--b->nchildren];
			break;
		}
	}
}

/* A signal: CHLD reaps, TERM and INT stop, HUP is nothing (the config is read per request). */
static void on_signal(struct broker *b)
{
	struct signalfd_siginfo si;

	while (read(b->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap(b);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			b->quit = true;
	}
}

static void run(struct broker *b)
{
	long long paused_until = 0;

	b->last_ms = pb_monotonic_ms();
	while (!b->quit) {
		long long now = pb_monotonic_ms(), idle_left = -1;
		int timeout = -1;
		bool listening = now >= paused_until;
		struct pollfd fds[2] = {
			{ .fd = b->signal_fd, .events = POLLIN },
			{ .fd = listening ? b->listen_fd : -1, .events = POLLIN },
		};

		if (b->idle_ms > 0 && b->nchildren == 0) {
			idle_left = b->last_ms + b->idle_ms - now;
			if (idle_left <= 0) {
				syslog(LOG_INFO, "idle for %ld s: exiting (the socket starts it again)",
				       b->idle_ms / 1000);
				return;
			}
			timeout = (int)(idle_left < INT_MAX ? idle_left : INT_MAX);
		}
		if (!listening && (timeout < 0 || paused_until - now < timeout))
			timeout = (int)(paused_until - now);
		if (poll(fds, 2, timeout) < 0 && errno != EINTR)
			return;
		if (fds[0].revents & POLLIN)
			on_signal(b);
		if ((fds[1].revents & POLLIN) && !accept_one(b)) {
			syslog(LOG_WARNING, "accept: %m; pausing %d ms", ACCEPT_PAUSE_MS);
			paused_until = pb_monotonic_ms() + ACCEPT_PAUSE_MS;
		}
	}
}

/* ---------------------------------------------------------------- setup */

/* The socket systemd passed (LISTEN_FDS), or -1 when we were not socket-activated. */
static int activated_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long p, n;
	int accepting = 0;
	socklen_t len = sizeof(accepting);

	if (pid == NULL || fds == NULL || pb_parse_long(pid, &p) < 0 || p != (long)getpid() ||
	    pb_parse_long(fds, &n) < 0 || n != 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0 || !accepting)
		return -1;
	fcntl(3, F_SETFD, FD_CLOEXEC);
	fcntl(3, F_SETFL, O_NONBLOCK);
	return 3;
}

/* Make dir (mode, owner) unless it is there; it must then be a real dir owned by owner. */
static int own_dir(const char *dir, mode_t mode, uid_t owner, gid_t group, struct pb_err *err)
{
	struct stat st;

	if (mkdir(dir, mode) == 0 && (chown(dir, owner, group) < 0 || chmod(dir, mode) < 0))
		return pb_fail(err, PB_E_INTERNAL, "%s: %m", dir);
	if (lstat(dir, &st) < 0)
		return pb_fail(err, PB_E_INTERNAL, "cannot make %s: %m", dir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != owner || (st.st_mode & 022))
		return pb_fail(err, PB_E_INTERNAL, "%s must be a directory owned by uid %u, not "
			       "writable by others", dir, (unsigned)owner);
	return 0;
}

/* Bind broker_socket, mode 0666, in a dir of root's (or ours, when not root). */
static int bind_socket(const char *path, struct pb_err *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char dir[sizeof(addr.sun_path)];
	struct stat st;
	mode_t old;
	int fd;

	if (snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path) >= (int)sizeof(addr.sun_path))
		return pb_fail(err, PB_E_CONFIG, "broker_socket %s: path too long", path);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';   /* (pb_config_state_dir has checked there is one) */
	if (own_dir(dir, 0755, geteuid(), getegid(), err) < 0)
		return -1;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);       /* a broker's that died */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	old = umask(0111);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 128) < 0) {
		umask(old);
		pb_fail(err, PB_E_INTERNAL, "cannot listen on %s: %m", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

/* Become the service account for good: groups, gid, uid, each checked. */
static int drop_to_service_account(const char *state_dir, struct pb_err *err)
{
	static char buf[4096];
	struct passwd entry, *pw = NULL;

	if (getpwnam_r(PB_SERVICE_USER, &entry, buf, sizeof(buf), &pw) != 0 || pw == NULL)
		return pb_fail(err, PB_E_CONFIG, "the service account " PB_SERVICE_USER " does not "
			       "exist (useradd --system --user-group --home-dir /nonexistent "
			       "--shell /usr/sbin/nologin " PB_SERVICE_USER ")");
	if (own_dir(state_dir, 0700, pw->pw_uid, pw->pw_gid, err) < 0)
		return -1;
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0 ||
	    setuid(0) == 0 || getegid() != pw->pw_gid)
		return pb_fail(err, PB_E_INTERNAL, "cannot become " PB_SERVICE_USER ": %m");
	return 0;
}

int cmd_broker(struct cli *c, int argc, char **argv)
{
	struct broker b = { .c = c, .listen_fd = -1, .signal_fd = -1 };
	bool foreground = false, activated;
	char state_dir[4096], sock[4096];
	struct pb_err err;
	sigset_t set;
	long idle = -1;

	pb_err_clear(&err);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--foreground") == 0)
			foreground = true;
		else if (strcmp(argv[i], "--idle-exit") == 0 && i + 1 < argc &&
			 pb_parse_long(argv[i + 1], &idle) == 0 && idle >= 0 && idle <= 86400)
			i++;
		else
			return cli_usage_error("broker takes --foreground and --idle-exit SECONDS");
	}
	if (cli_load_config(c, &err) < 0 ||
	    pb_config_state_dir(&c->cfg, state_dir, sizeof(state_dir), &err) < 0)
		return cli_report(&err);
	b.listen_fd = activated_socket();
	activated = b.listen_fd >= 0;
	if (!activated && (b.listen_fd = bind_socket(c->cfg.broker_socket, &err)) < 0)
		return cli_report(&err);
	if (geteuid() == 0 ? drop_to_service_account(state_dir, &err) < 0
			   : own_dir(state_dir, 0700, geteuid(), getegid(), &err) < 0) {
		close(b.listen_fd);
		return cli_report(&err);
	}
	snprintf(sock, sizeof(sock), "%s", c->cfg.broker_socket);
	pb_config_free(&c->cfg);     /* each request reads it afresh */
	c->cfg_loaded = false;
	b.idle_ms = (idle >= 0 ? idle : activated ? DEFAULT_IDLE_S : 0) * 1000L;
	if (!foreground && !activated && cli_detach() < 0)
		return cli_report((pb_fail(&err, PB_E_INTERNAL, "cannot detach: %m"), &err));
	openlog("bearer-token-broker", LOG_PID | (foreground ? LOG_PERROR : 0), LOG_AUTHPRIV);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	b.signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (b.signal_fd < 0) {
		syslog(LOG_ERR, "signalfd: %m");
		close(b.listen_fd);
		return PB_E_INTERNAL;
	}
	syslog(LOG_INFO, "serving %s for %s as uid %u, state in %s%s", sock, c->config_path,
	       (unsigned)geteuid(), state_dir, activated ? " (socket-activated)" : "");
	run(&b);
	while (b.nchildren > 0 && waitpid(-1, NULL, 0) > 0)
		b.nchildren--;
	close(b.listen_fd);
	close(b.signal_fd);
	return 0;
}
