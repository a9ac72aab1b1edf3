/* SPDX-License-Identifier: MIT */
/*
 * control.c - the refresher's control socket, daemon.sock (protocol in
 * lib/ctl.h): connections read and answered without ever blocking the
 * refresher, each request run from a table of commands.
 *
 * A `get` or `refresh` of a profile whose token will not do waits, as a
 * parked connection, for that profile's renewal only; everything else is
 * answered at once. Only the user's own processes and root may connect
 * (SO_PEERCRED; the socket's 0600 mode says the same). A client that sends
 * nothing, or reads nothing, is dropped after a second or two; one that
 * hangs up while it waits is forgotten. When accept() itself fails (out of
 * file descriptors), the connection stays queued and poll() would report
 * it again at once: the listener is taken out of poll() for a moment.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "proto.h"
#include "refresher.h"

#define REQUEST_MAX 1024        /* one request line */
#define READ_MS 1000            /* to send it */
#define WRITE_MS 2000           /* to read the answer */
#define ACCEPT_PAUSE_MS 200     /* the listener rests after accept() failed */

/* Drop client cl (its slot is reused by control_sweep). */
static void drop(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
	pb_buf_wipe(&cl->in);
	pb_buf_wipe(&cl->out);
}

/* Send what is left of cl's answer; drop it once all is sent, or it cannot be. */
static void flush(struct client *cl)
{
	while (cl->out.len > 0) {
		ssize_t n = send(cl->fd, cl->out.data, cl->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;         /* poll() says when it can take more */
		if (n <= 0)
			break;
		memmove(cl->out.data, cl->out.data + n, cl->out.len - (size_t)n);
		cl->out.len -= (size_t)n;
	}
	drop(cl);
}

/* Answer cl with what is in cl->out now. */
static void answer(struct client *cl)
{
	cl->state = CLIENT_WRITING;
	cl->deadline = pb_monotonic_ms() + WRITE_MS;
	flush(cl);
}

/* Answer with a result line (proto.h) for profile. */
static void answer_result(struct client *cl, const char *profile, int code, const char *text)
{
	pb_proto_put_result(&cl->out, profile, code, text);
	answer(cl);
}

/* ------------------------------------------------------------------ the commands */

static void do_ping(struct daemon *d, struct client *cl)
{
	(void)d;
	pb_buf_addf(&cl->out, "ok %ld\n", (long)getpid());
	answer(cl);
}

static void do_session_open(struct daemon *d, struct client *cl)
{
	daemon_session_add(d, &cl->req.session);
	pb_buf_adds(&cl->out, "ok\n");
	answer(cl);
}

static void do_session_close(struct daemon *d, struct client *cl)
{
	daemon_session_close(d, &cl->req.session);
	pb_buf_adds(&cl->out, "ok\n");
	answer(cl);
}

/* The reload itself waits until no renewal is under way (daemon.c). */
static void do_reload(struct daemon *d, struct client *cl)
{
	d->reload_pending = true;
	pb_buf_adds(&cl->out, "ok\n");
	answer(cl);
}

/*
 * get (a token good for min_valid more seconds) and refresh (a new one):
 * answered at once when the token on disk will do or cannot be renewed
 * here, else parked until the profile's renewal is over.
 */
static void do_renew(struct daemon *d, struct client *cl)
{
	struct job *j = job_find(d, cl->req.profile);
	bool force = cl->req.cmd == PB_CTL_REFRESH;
	char msg[256];

	if (j == NULL) {
		snprintf(msg, sizeof(msg), "%s: no such profile for this user", cl->req.profile);
		answer_result(cl, cl->req.profile, PB_E_CONFIG, msg);
	} else if (!job_can_renew(d, j)) {
		snprintf(msg, sizeof(msg), "%s: the credentials are held by the system and no "
			 "broker runs: the next login renews this token", j->p->name);
		answer_result(cl, j->p->name, PB_E_CONFIG, msg);
	} else if (!force && j->running_ms == 0 &&
		   pb_token_good(&d->c->ctx, j->p, cl->req.min_valid)) {
		answer_result(cl, j->p->name, PB_OK, "ok");
	} else {
		job_want(d, j, force, cl->req.min_valid);
		cl->state = CLIENT_WAITING;
	}
}

/* What each job will do next: a plan line per profile (ctl.h), then ".". */
static void do_schedule(struct daemon *d, struct client *cl)
{
	for (size_t i = 0; i < d->njobs; i++) {
		const struct job *j = &d->jobs[i];
		struct pb_ctl_plan plan = { .what = PB_PLAN_RENEW };

		snprintf(plan.profile, sizeof(plan.profile), "%s", j->p->name);
		if (j->running_ms != 0) {
			plan.what = PB_PLAN_RENEWING;
			plan.at = j->running_ms / 1000;
		} else if (!job_can_renew(d, j)) {
			plan.what = PB_PLAN_EXPIRE;
			plan.at = j->expire_ms / 1000;
		} else {
			plan.at = j->stopped ? 0 : j->next_ms / 1000;
		}
		pb_ctl_put_plan(&cl->out, &plan);
	}
	pb_buf_adds(&cl->out, ".\n");
	answer(cl);
}

static void (*const commands[])(struct daemon *, struct client *) = {
	[PB_CTL_PING] = do_ping,
	[PB_CTL_SESSION_OPEN] = do_session_open,
	[PB_CTL_SESSION_CLOSE] = do_session_close,
	[PB_CTL_RELOAD] = do_reload,
	[PB_CTL_REFRESH] = do_renew,
	[PB_CTL_GET] = do_renew,
	[PB_CTL_SCHEDULE] = do_schedule,
};

/* A whole request is in: run it. */
static void run_request(struct daemon *d, struct client *cl)
{
	char *nl = memchr(cl->in.data, '\n', cl->in.len);
	size_t len = nl != NULL ? (size_t)(nl - cl->in.data) + 1 : cl->in.len;

	if (pb_ctl_parse_request(cl->in.data, len, &cl->req) < 0 ||
	    (size_t)cl->req.cmd >= sizeof(commands) / sizeof(commands[0])) {
		pb_buf_adds(&cl->out, "error bad request\n");
		answer(cl);
	} else {
		commands[cl->req.cmd](d, cl);
	}
	pb_buf_wipe(&cl->in);
}

/* ------------------------------------------------------------------ connections */

void control_accept(struct daemon *d)
{
	for (int k = 0; k < 16 && d->nclients < PB_MAX_CLIENTS; k++) {
		struct ucred peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0 && (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED))
			return;
		if (fd < 0) {
			if (d->listen_paused_until == 0)
				syslog(LOG_WARNING, "cannot accept a connection: %m; the socket rests "
				       "%d ms at a time until it can", ACCEPT_PAUSE_MS);
			d->listen_paused_until = pb_monotonic_ms() + ACCEPT_PAUSE_MS;
			return;
		}
		d->listen_paused_until = 0;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0 ||
		    (peer.uid != d->c->ctx.uid && peer.uid != 0)) {
			close(fd);
			continue;
		}
		d->clients[d->nclients++] = (struct client){ .fd = fd, .state = CLIENT_READING,
			.deadline = pb_monotonic_ms() + READ_MS };
	}
}

/* Read what cl sent; run the request once its line (or its end) is in. */
static void read_request(struct daemon *d, struct client *cl)
{
	char buf[512];
	ssize_t n;

	while ((n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if (cl->in.len + (size_t)n > REQUEST_MAX || pb_buf_add(&cl->in, buf, (size_t)n) < 0) {
			drop(cl);
			return;
		}
		if (memchr(cl->in.data, '\n', cl->in.len) != NULL)
			break;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR) &&
	    (cl->in.data == NULL || memchr(cl->in.data, '\n', cl->in.len) == NULL))
		return;         /* more to come */
	if (cl->in.len == 0) {
		drop(cl);       /* gone without a word */
		return;
	}
	run_request(d, cl);
}

void control_client(struct daemon *d, size_t i, short revents)
{
	struct client *cl = &d->clients[i];

	if (cl->fd < 0)
		return;
	if (cl->state == CLIENT_READING && (revents & (POLLIN | POLLHUP | POLLERR)))
		read_request(d, cl);
	else if (cl->state == CLIENT_WRITING && (revents & (POLLOUT | POLLHUP | POLLERR)))
		flush(cl);
	else if (cl->state == CLIENT_WAITING && (revents & (POLLHUP | POLLERR)))
		drop(cl);       /* it gave up waiting */
	/* a client that neither sends nor reads in time is dropped; a waiting one waits */
	if (cl->fd >= 0 && cl->state != CLIENT_WAITING && pb_monotonic_ms() >= cl->deadline)
		drop(cl);
}

short control_events(const struct client *cl)
{
	if (cl->state == CLIENT_READING)
		return POLLIN;
	return cl->state == CLIENT_WRITING ? POLLOUT : 0;
}

void control_sweep(struct daemon *d)
{
	for (size_t i = d->nclients; i > 0; i--)
		if (d->clients[i - 1].fd < 0)
			d->clients[i - 1] = d->clients[--d->nclients];
}

void control_renewed(struct daemon *d, const char *profile, int code, const char *text)
{
	for (size_t i = 0; i < d->nclients; i++) {
		struct client *cl = &d->clients[i];

		if (cl->fd >= 0 && cl->state == CLIENT_WAITING &&
		    strcmp(cl->req.profile, profile) == 0)
			answer_result(cl, profile, code, text);
	}
}

void control_reloaded(struct daemon *d)
{
	for (size_t i = 0; i < d->nclients; i++) {
		struct client *cl = &d->clients[i];

		if (cl->fd >= 0 && cl->state == CLIENT_WAITING)
			do_renew(d, cl);        /* its profile is a new job now, or none */
	}
}

long long control_next_deadline(struct daemon *d)
{
	long long first = 0;

	for (size_t i = 0; i < d->nclients; i++) {
		const struct client *cl = &d->clients[i];

		if (cl->fd >= 0 && cl->state != CLIENT_WAITING && (first == 0 || cl->deadline < first))
			first = cl->deadline;
	}
	return first;
}

void control_close_all(struct daemon *d)
{
	for (size_t i = 0; i < d->nclients; i++)
		drop(&d->clients[i]);
	d->nclients = 0;
}
