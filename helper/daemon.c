/*
 * daemon.c - `bearer-token daemon`, the refresher: keeps each profile's
 * token fresh for as long as the user has a session.
 *
 * One per user: daemon.lock in the token dir is flock()ed for its whole
 * life, and a second start hands its session to the running one over
 * daemon.sock instead of racing it. It never holds a system secret: a
 * credentials = system profile is renewed by asking the broker (renew.c),
 * and when no broker runs, only expired on time until the next login. It sleeps in one poll() until
 * the earliest deadline (a CLOCK_BOOTTIME timerfd, so a suspend counts,
 * and wall-clock expiry is re-checked on every wake-up), a request on the
 * socket, a signal (signalfd: HUP reloads, TERM/INT stop), the end of a
 * session (a pidfd per session process) or the token dir going away
 * (inotify). There are no periodic wake-ups.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "expiry.h"
#include "proto.h"

#define BACKOFF_BASE_MS 1000L
#define BACKOFF_CAP_MS (300 * 1000L)
#define MAX_SESSIONS 256
#define MAX_REQUEST 65536
#define HANDOVER_MS 15000L      /* a second start waits this long for the one that runs */

/* One profile's schedule. */
struct job {
	const struct pb_profile *p;
	long long next_ms;      /* wall clock, ms; 0: nothing planned */
	unsigned failures;      /* in a row */
	bool stopped;           /* a permanent error: no retries until reload or refresh */
};

/* One session of the user: the PAM host process it lives in, and its cookie. */
struct session {
	pid_t pid;
	char cookie[40];
	int pidfd;
};

struct daemon {
	struct cli *c;
	struct job *jobs;
	size_t njobs;
	struct session sessions[MAX_SESSIONS];
	size_t nsessions;
	bool track_sessions;    /* started for a session: exit after the last one */
	int lock_fd, listen_fd, timer_fd, signal_fd, inotify_fd;
	bool quit;
};

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A uniform random number in [0, n). */
static long long random_below(long long n)
{
	unsigned long long r = 0;

	if (n <= 0)
		return 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (unsigned long long)wall_ms() * 6364136223846793005ULL;
	return (long long)(r % (unsigned long long)n);
}

/*
 * When to renew a token obtained at `obtained` that expires at `expires`:
 * refresh_at of its lifetime, minus a random part of up to a tenth of the
 * lifetime so that many users with the same lifetime do not all come at
 * once; never later than the margin before expiry (pb_refresh_due).
 * obtained_at is kept in whole seconds; when this process made the
 * request itself, anchor_ms is when, to the millisecond (else 0), so that
 * short tokens are not renewed up to a second early.
 */
static long long plan_refresh(const struct pb_profile *p, const struct pb_meta *m,
			      long long anchor_ms)
{
	long long lifetime_ms = (long long)(m->expires_at - m->obtained_at) * 1000;
	long long latest = (long long)pb_refresh_due(m->obtained_at, m->expires_at, 1.0) * 1000;
	long long start = anchor_ms > m->obtained_at * 1000LL ? anchor_ms : m->obtained_at * 1000LL;
	long long due = start + (long long)((double)lifetime_ms * p->refresh_at);

	if (due > latest)
		due = latest;
	return due - random_below(lifetime_ms / 10);
}

/*
 * Exponential backoff with full jitter, honouring a vendor's Retry-After.
 * While the token on disk is still valid, a retry never waits past half of
 * what is left of it, so a short outage does not outlast a short token.
 */
static long long plan_retry(struct job *j, const struct pb_meta *m, long retry_after)
{
	long long ceiling = BACKOFF_BASE_MS << (j->failures < 9 ? j->failures : 9);
	long long delay, left;

	if (ceiling > BACKOFF_CAP_MS)
		ceiling = BACKOFF_CAP_MS;
	if (m != NULL && m->state == PB_STATE_VALID && m->has_expiry) {
		left = (long long)m->expires_at * 1000 - wall_ms();
		if (left / 2 < ceiling)
			ceiling = left / 2 > BACKOFF_BASE_MS ? left / 2 : BACKOFF_BASE_MS;
	}
	delay = BACKOFF_BASE_MS / 2 + random_below(ceiling);
	/* retry_after comes clamped to a day (proto.c, http.c): no overflow here */
	retry_after = pb_clamp_retry_after(retry_after);
	if (retry_after >= 0 && retry_after * 1000LL > delay)
		delay = retry_after * 1000LL;
	return pb_add_sat(wall_ms(), delay);
}

/*
 * Can this refresher renew p? A user profile, always; a system profile
 * only through the broker, when its socket is there.
 */
static bool can_renew(struct daemon *d, const struct pb_profile *p)
{
	return p->credentials == PB_CRED_USER || pb_broker_present(&d->c->cfg);
}

/* Plan a job from what is on disk now (anchor_ms: see plan_refresh). */
static void schedule_from_disk(struct daemon *d, struct job *j, long long anchor_ms)
{
	struct pb_meta m;

	j->next_ms = 0;
	if (pb_store_read_meta(&d->c->ctx.store, j->p->name, &m, NULL) != 0 ||
	    m.state != PB_STATE_VALID) {
		if (!j->stopped && can_renew(d, j->p))
			j->next_ms = wall_ms();     /* nothing good on disk: now */
		return;
	}
	if (!m.has_expiry)
		return;                         /* never expires: nothing to do */
	if (!can_renew(d, j->p))
		j->next_ms = (long long)m.expires_at * 1000;   /* only to expire it */
	else
		j->next_ms = plan_refresh(j->p, &m, anchor_ms);
}

/* Remove the token files of a token that has run out, and say so. */
static void expire_if_due(struct daemon *d, const struct pb_profile *p)
{
	if (pb_expire_if_due(&d->c->ctx, p))
		syslog(LOG_WARNING, "%s: token expired; its files are removed", p->name);
}

/* What P.json says renews p: NULL for a user profile (nothing to say). */
static const char *renewal_of(struct daemon *d, const struct pb_profile *p)
{
	return p->credentials == PB_CRED_SYSTEM ? pb_system_renewal(&d->c->cfg) : NULL;
}

/* Renew one profile now, log the outcome, plan the next attempt. */
static void run_job(struct daemon *d, struct job *j, bool force, long min_valid,
		    struct pb_err *err)
{
	enum pb_outcome outcome;
	struct pb_meta m;
	char text[128], msg[600];
	long long started = wall_ms();

	expire_if_due(d, j->p);
	if (!can_renew(d, j->p)) {
		pb_fail(err, PB_E_CONFIG, "%s: the credentials are held by the system and no "
			"broker runs: the next login renews this token", j->p->name);
		schedule_from_disk(d, j, 0);
		return;
	}
	if (pb_renew(&d->c->ctx, j->p, min_valid, force, &outcome, err) == 0) {
		j->failures = 0;
		j->stopped = false;
		schedule_from_disk(d, j, outcome == PB_CACHED ? 0 : started);
		if (outcome == PB_CACHED)
			return;
		pb_renew_describe(&d->c->ctx, j->p, outcome, text, sizeof(text));
		syslog(LOG_INFO, "%s: token %s", j->p->name, text);
		return;
	}
	if (err->code == PB_E_PERM || err->code == PB_E_CONFIG) {
		j->stopped = true;
		j->next_ms = 0;
		snprintf(msg, sizeof(msg), "%s; not retrying until the credentials are fixed "
			 "(then: bearer-token refresh %s)", err->msg, j->p->name);
		pb_store_save_error(&d->c->ctx.store, j->p->name, j->p->vendor, j->p->scheme,
				    msg, 0, renewal_of(d, j->p), NULL);
		syslog(LOG_ERR, "%s", msg);
	} else {
		bool known = pb_store_read_meta(&d->c->ctx.store, j->p->name, &m, NULL) == 0;

		j->failures++;
		j->next_ms = plan_retry(j, known ? &m : NULL, err->retry_after);
		pb_store_save_error(&d->c->ctx.store, j->p->name, j->p->vendor, j->p->scheme,
				    err->msg, (time_t)(j->next_ms / 1000), renewal_of(d, j->p), NULL);
		syslog(LOG_WARNING, "%s; retrying in %lld s", err->msg,
		       (j->next_ms - wall_ms() + 999) / 1000);
	}
	/* a token that runs out before the next attempt must still be expired on time */
	if (pb_store_read_meta(&d->c->ctx.store, j->p->name, &m, NULL) == 0 &&
	    m.state == PB_STATE_VALID && m.has_expiry &&
	    (j->next_ms == 0 || (long long)m.expires_at * 1000 < j->next_ms))
		j->next_ms = (long long)m.expires_at * 1000;
}

/* (Re)build the job list from the config: every profile that applies to the user. */
static int build_jobs(struct daemon *d)
{
	struct pb_config *cfg = &d->c->cfg;

	free(d->jobs);
	d->njobs = 0;
	d->jobs = calloc(cfg->nprofiles + 1, sizeof(*d->jobs));
	if (d->jobs == NULL)
		return -1;
	for (size_t i = 0; i < cfg->nprofiles; i++) {
		if (!pb_ctx_applies(&d->c->ctx, &cfg->profiles[i]))
			continue;
		d->jobs[d->njobs].p = &cfg->profiles[i];
		schedule_from_disk(d, &d->jobs[d->njobs], 0);
		d->njobs++;
	}
	return 0;
}

/* SIGHUP or "reload": read the config again; keep running on the old one if it is broken. */
static void reload(struct daemon *d)
{
	struct pb_config fresh, old = d->c->cfg;
	struct pb_err err;

	pb_err_clear(&err);
	if (pb_config_load(d->c->config_path, PB_VENDOR_DIR, PB_SYSTEM_CREDS_DIR, &fresh,
			   &err) < 0) {
		syslog(LOG_ERR, "reload: %s; keeping the old configuration", err.msg);
		return;
	}
	d->c->cfg = fresh;
	if (build_jobs(d) < 0) {
		d->quit = true;
		return;
	}
	pb_config_free(&old);
	syslog(LOG_INFO, "configuration reloaded: %zu profile(s)", d->njobs);
}

static struct job *find_job(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->njobs; i++)
		if (strcmp(d->jobs[i].p->name, name) == 0)
			return &d->jobs[i];
	return NULL;
}

/* ---------------------------------------------------------------- sessions */

static void session_add(struct daemon *d, pid_t pid, const char *cookie)
{
	int pidfd;

	for (size_t i = 0; i < d->nsessions; i++)
		if (d->sessions[i].pid == pid && strcmp(d->sessions[i].cookie, cookie) == 0)
			return;         /* told twice (started for it, then told): once is enough */
	pidfd = pidfd_open(pid, 0);

	if (pidfd < 0 || d->nsessions == MAX_SESSIONS) {
		if (pidfd >= 0)
			close(pidfd);
		return;                 /* already gone: nothing to track */
	}
	d->sessions[d->nsessions].pid = pid;
	snprintf(d->sessions[d->nsessions].cookie, sizeof(d->sessions[0].cookie), "%s", cookie);
	d->sessions[d->nsessions].pidfd = pidfd;
	d->nsessions++;
}

static void session_remove_at(struct daemon *d, size_t i)
{
	close(d->sessions[i].pidfd);
	d->sessions[i] = d->sessions[--d->nsessions];
}

static void session_close(struct daemon *d, pid_t pid, const char *cookie)
{
	for (size_t i = 0; i < d->nsessions; i++)
		if (d->sessions[i].pid == pid && strcmp(d->sessions[i].cookie, cookie) == 0) {
			session_remove_at(d, i);
			return;
		}
}

/* "PID:COOKIE" or "PID COOKIE" into its parts; -1 if malformed. */
static int parse_session(const char *s, pid_t *pid, char *cookie, size_t len)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || (*end != ':' && *end != ' ') || v <= 0 || strlen(end + 1) == 0 ||
	    strlen(end + 1) >= len || strspn(end + 1, "0123456789abcdef") != strlen(end + 1))
		return -1;
	*pid = (pid_t)v;
	memcpy(cookie, end + 1, strlen(end + 1) + 1);   /* fits: checked above */
	return 0;
}

/* ---------------------------------------------------------------- control socket */

/* Answer one request; reply is what goes back. */
static void handle_request(struct daemon *d, char *req, size_t len, struct pb_buf *reply)
{
	char *nl = memchr(req, '\n', len), *arg;
	struct pb_err err;
	struct job *j;
	pid_t pid;
	char cookie[40], profile[80];
	long min_valid;
	int off;

	pb_err_clear(&err);
	if (nl == NULL)
		goto bad;
	*nl = '\0';
	arg = strchr(req, ' ');
	if (arg != NULL)
		*arg++ = '\0';
	if (strcmp(req, "ping") == 0) {
		pb_buf_addf(reply, "ok %ld\n", (long)getpid());
	} else if (strcmp(req, "session-open") == 0 && arg != NULL &&
		   parse_session(arg, &pid, cookie, sizeof(cookie)) == 0) {
		session_add(d, pid, cookie);
		pb_buf_adds(reply, "ok\n");
	} else if (strcmp(req, "session-close") == 0 && arg != NULL &&
		   parse_session(arg, &pid, cookie, sizeof(cookie)) == 0) {
		session_close(d, pid, cookie);
		pb_buf_adds(reply, "ok\n");
	} else if (strcmp(req, "reload") == 0) {
		reload(d);
		pb_buf_adds(reply, "ok\n");
	} else if ((strcmp(req, "refresh") == 0 || strcmp(req, "get") == 0) && arg != NULL) {
		/* "PROFILE [MIN_VALID]"; strtol, not sscanf, for MIN_VALID: an out
		 * of range number must be refused, not undefined */
		min_valid = 0;
		off = 0;
		profile[0] = '\0';   /* named in the error below even when sscanf fails */
		if (sscanf(arg, "%79s%n", profile, &off) < 1 ||
		    (arg[off] == ' ' && pb_parse_long(arg + off + 1, &min_valid) < 0) ||
		    (j = find_job(d, profile)) == NULL) {
			pb_fail(&err, PB_E_CONFIG, "%s: no such profile for this user", arg);
			pb_proto_put_result(reply, pb_valid_name(profile) ? profile : "-", err.code,
					    err.msg);
			return;
		}
		run_job(d, j, strcmp(req, "refresh") == 0, min_valid, &err);
		pb_proto_put_result(reply, j->p->name, err.code, err.code == PB_OK ? "ok" : err.msg);
	} else if (strcmp(req, "schedule") == 0) {
		/* "<profile> <epoch> renew|expire": what the next wake-up will do */
		for (size_t i = 0; i < d->njobs; i++)
			pb_buf_addf(reply, "%s %lld %s\n", d->jobs[i].p->name,
				    d->jobs[i].next_ms / 1000,
				    can_renew(d, d->jobs[i].p) ? "renew" : "expire");
		pb_buf_adds(reply, ".\n");
	} else {
		goto bad;
	}
	return;
bad:
	pb_buf_adds(reply, "error bad request\n");
}

/* Accept one connection, check who it is, read the request, answer it. */
static void serve_one(struct daemon *d)
{
	struct ucred peer;
	socklen_t plen = sizeof(peer);
	struct pb_buf req = { 0 }, reply = { 0 };
	/* our clients send at once and half-close; one that does neither (only
	 * the user or root can connect) holds the refresher this long at most */
	struct timeval tv = { .tv_usec = 500000 };
	char buf[4096];
	ssize_t n;
	int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* only the user and root; the socket's 0600 mode says the same */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0 ||
	    (peer.uid != d->c->ctx.uid && peer.uid != 0))
		goto done;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		if (req.len + (size_t)n > MAX_REQUEST || pb_buf_add(&req, buf, (size_t)n) < 0)
			goto done;
	if (req.data == NULL)
		goto done;
	handle_request(d, req.data, req.len, &reply);
	if (reply.data != NULL)
		(void)!send(fd, reply.data, reply.len, MSG_NOSIGNAL);
done:
	explicit_bzero(buf, sizeof(buf));
	pb_buf_wipe(&req);
	pb_buf_wipe(&reply);
	close(fd);
}

/* ---------------------------------------------------------------- setup */

/* Take daemon.lock; 1 when another daemon holds it, -1 on error. */
static int take_lock(struct daemon *d)
{
	struct stat st;

	d->lock_fd = openat(d->c->ctx.store.dirfd, PB_CTL_LOCK,
			    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (d->lock_fd < 0 || fstat(d->lock_fd, &st) < 0 || st.st_uid != d->c->ctx.uid)
		return -1;
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? 1 : -1;
	return 0;
}

/* Bind daemon.sock (0600) in the token dir, through the dir fd. */
static int listen_socket(struct daemon *d)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	mode_t old = umask(0177);   /* a 0600 socket: connecting needs write */
	int rc = -1;

	unlinkat(d->c->ctx.store.dirfd, PB_CTL_SOCKET, 0);   /* ours, from a daemon that died */
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s",
		 d->c->ctx.store.dirfd, PB_CTL_SOCKET);
	d->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d->listen_fd >= 0 && bind(d->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    listen(d->listen_fd, 16) == 0)
		rc = 0;
	umask(old);
	return rc;
}

/* signalfd for HUP/TERM/INT, timerfd, inotify on the token dir. */
static int setup_fds(struct daemon *d)
{
	sigset_t set;
	char path[PATH_MAX];

	/* (main() has made every bearer-token non-dumpable, with no core limit) */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	d->signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
	d->timer_fd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC);
	/*
	 * The end of the last logout: logind removes the runtime dir. Watch the
	 * runtime dir for the removal of bearer/: the token dir's own
	 * IN_DELETE_SELF would come only after its last reference goes, and
	 * our dir fd and bound socket hold it.
	 */
	d->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (snprintf(path, sizeof(path), "%s", d->c->ctx.store.path) >= (int)sizeof(path) ||
	    strrchr(path, '/') == NULL)
		return -1;
	*strrchr(path, '/') = '\0';
	if (d->signal_fd < 0 || d->timer_fd < 0 || d->inotify_fd < 0 ||
	    inotify_add_watch(d->inotify_fd, path, IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |
			      IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW) < 0)
		return -1;
	return 0;
}

/* Arm the timer for the earliest planned job (disarmed when there is none). */
static void arm_timer(struct daemon *d)
{
	struct itimerspec its = { 0 };
	long long first = 0, delay;

	for (size_t i = 0; i < d->njobs; i++)
		if (d->jobs[i].next_ms != 0 && (first == 0 || d->jobs[i].next_ms < first))
			first = d->jobs[i].next_ms;
	if (first != 0) {
		delay = first - wall_ms();
		if (delay < 1)
			delay = 1;
		its.it_value.tv_sec = delay / 1000;
		its.it_value.tv_nsec = (delay % 1000) * 1000000;
	}
	timerfd_settime(d->timer_fd, 0, &its, NULL);
}

/* Run every job whose time has come (by the wall clock: a suspend may have passed). */
static void run_due(struct daemon *d)
{
	long long now = wall_ms();
	struct pb_err err;

	for (size_t i = 0; i < d->njobs; i++) {
		if (d->jobs[i].next_ms == 0 || d->jobs[i].next_ms > now)
			continue;
		pb_err_clear(&err);
		run_job(d, &d->jobs[i], true, 0, &err);
	}
}

/* Do the inotify events say that bearer/ or the runtime dir itself went away? */
static bool token_dir_gone(int inotify_fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	bool gone = false;

	while ((n = read(inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) ||
			    ((ev->mask & (IN_DELETE | IN_MOVED_FROM)) && ev->len > 0 &&
			     strcmp(ev->name, "bearer") == 0))
				gone = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return gone;
}

/* Deal with what woke us; d->quit says when to stop. */
static void handle_events(struct daemon *d, struct pollfd *fds, size_t nfds)
{
	struct signalfd_siginfo si;
	uint64_t ticks;

	/* sessions first, from the end so that indexes stay valid, and before a
	 * request on the socket can add or remove any */
	for (size_t i = nfds; i > 4; i--)
		if (fds[i - 1].revents & (POLLIN | POLLHUP))
			session_remove_at(d, i - 5);
	if (fds[0].revents & POLLIN)
		serve_one(d);
	if (fds[1].revents & POLLIN)
		(void)!read(d->timer_fd, &ticks, sizeof(ticks));
	if ((fds[2].revents & POLLIN) && read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload(d);
		else
			d->quit = true;
	}
	if ((fds[3].revents & POLLIN) && token_dir_gone(d->inotify_fd)) {
		syslog(LOG_INFO, "the token dir is gone (last logout): stopping");
		d->quit = true;
	}
}

static void run_loop(struct daemon *d)
{
	struct pollfd fds[4 + MAX_SESSIONS];

	while (!d->quit) {
		size_t nfds = 4;

		run_due(d);
		if (d->track_sessions && d->nsessions == 0) {
			syslog(LOG_INFO, "the last session ended: stopping");
			break;
		}
		arm_timer(d);
		fds[0] = (struct pollfd){ .fd = d->listen_fd, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = d->timer_fd, .events = POLLIN };
		fds[2] = (struct pollfd){ .fd = d->signal_fd, .events = POLLIN };
		fds[3] = (struct pollfd){ .fd = d->inotify_fd, .events = POLLIN };
		for (size_t i = 0; i < d->nsessions; i++)
			fds[nfds++] = (struct pollfd){ .fd = d->sessions[i].pidfd, .events = POLLIN };
		if (poll(fds, nfds, -1) < 0 && errno != EINTR)
			break;
		handle_events(d, fds, nfds);
	}
}

int cmd_daemon(struct cli *c, int argc, char **argv)
{
	struct daemon d = { .c = c, .lock_fd = -1, .listen_fd = -1, .timer_fd = -1,
			    .signal_fd = -1, .inotify_fd = -1 };
	int *const fds[] = { &d.lock_fd, &d.timer_fd, &d.signal_fd, &d.inotify_fd };
	bool foreground = false;
	struct pb_err err;
	pid_t pid = 0;
	char cookie[40] = "";
	int rc = PB_E_INTERNAL, locked;

	pb_err_clear(&err);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--foreground") == 0)
			foreground = true;
		else if (strcmp(argv[i], "--session") == 0 && i + 1 < argc &&
			 parse_session(argv[++i], &pid, cookie, sizeof(cookie)) == 0)
			d.track_sessions = true;
		else
			return cli_usage_error("daemon takes --foreground and --session PID:COOKIE");
	}
	if (cli_load_config(c, &err) < 0 || cli_open_store(c, &err) < 0)
		return cli_report(&err);
	if (!foreground && cli_detach() < 0)
		return cli_report((pb_fail(&err, PB_E_INTERNAL, "cannot detach: %m"), &err));
	openlog("bearer-token", LOG_PID | (foreground ? LOG_PERROR : 0), LOG_USER);
	locked = take_lock(&d);
	if (locked == 1) {
		/* one per user: hand our session to the one that runs */
		struct pb_buf req = { 0 }, reply = { 0 };

		if (d.track_sessions)
			pb_buf_addf(&req, "session-open %ld %s\n", (long)pid, cookie);
		else
			pb_buf_adds(&req, "reload\n");
		/* it answers between renewals: give it time to finish those due now */
		rc = pb_ctl_call(c->ctx.store.dirfd, c->ctx.uid, req.data, req.len, HANDOVER_MS, &reply);
		if (foreground)
			fprintf(stderr, "bearer-token: a refresher already runs for this user%s\n",
				rc == 0 ? "; handed over to it" : "");
		if (rc != 0)
			syslog(LOG_WARNING, "the running refresher did not answer within %ld s; "
			       "%s", HANDOVER_MS / 1000, d.track_sessions ?
			       "it does not know of this session" : "it did not reload");
		pb_buf_wipe(&req);
		pb_buf_wipe(&reply);
		rc = 0;
		goto done;
	}
	if (locked < 0 || listen_socket(&d) < 0 || setup_fds(&d) < 0) {
		syslog(LOG_ERR, "cannot start in %s: %m", c->ctx.store.path);
		goto done;
	}
	if (d.track_sessions)
		session_add(&d, pid, cookie);
	if (build_jobs(&d) < 0)
		goto done;
	syslog(LOG_INFO, "started for %s: %zu profile(s)", c->ctx.user, d.njobs);
	run_loop(&d);
	rc = 0;
done:
	if (d.listen_fd >= 0) {
		unlinkat(c->ctx.store.dirfd, PB_CTL_SOCKET, 0);
		close(d.listen_fd);
	}
	for (size_t i = d.nsessions; i > 0; i--)
		session_remove_at(&d, i - 1);
	free(d.jobs);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	return rc;      /* the lock goes with its fd: nothing is left held */
}
