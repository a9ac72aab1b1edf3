/* SPDX-License-Identifier: MIT */
/*
 * daemon.c - `bearer-token daemon`, the refresher: keeps each profile's
 * token fresh for as long as the user has a session (see refresher.h for
 * its parts). This file: start-up, the user's sessions, reloads, and the
 * event loop.
 *
 * One per user: daemon.lock in the token dir is flock()ed for its whole
 * life, and a second start hands its session to the running one over
 * daemon.sock instead of racing it. It never holds a system secret: a
 * credentials = system profile is renewed by asking the broker (renew.c),
 * and when no broker runs, only expired on time until the next login.
 *
 * It sleeps in one poll() until the earliest deadline (a CLOCK_BOOTTIME
 * timerfd, so a suspend counts, and wall-clock times are re-checked on
 * every wake-up), a connection or a client on the socket, a renewal
 * process reporting, a signal (signalfd: HUP reloads, TERM/INT stop), the
 * end of a session (a pidfd per session process) or the token dir going
 * away (inotify). There are no periodic wake-ups.
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

#include "refresher.h"

#define HANDOVER_MS 5000L       /* a second start waits this long for the one that runs */
#define FIXED_FDS 4             /* listener, timer, signals, inotify */
#define POLL_REST_MS 200        /* poll() failed (EINVAL, ENOMEM): try again after this */

/* ---------------------------------------------------------------- sessions */

void daemon_session_add(struct daemon *d, const struct pb_session_id *id)
{
	int pidfd;

	for (size_t i = 0; i < d->nsessions; i++)
		if (d->sessions[i].id.pid == id->pid && strcmp(d->sessions[i].id.cookie, id->cookie) == 0)
			return;         /* told twice (started for it, then told): once is enough */
	pidfd = pidfd_open(id->pid, 0);
	if (pidfd < 0 || d->nsessions == PB_MAX_SESSIONS) {
		if (pidfd >= 0)
			close(pidfd);
		return;                 /* already gone: nothing to track */
	}
	d->sessions[d->nsessions++] = (struct session){ .id = *id, .pidfd = pidfd };
}

static void session_remove_at(struct daemon *d, size_t i)
{
	close(d->sessions[i].pidfd);
	d->sessions[i] = d->sessions[--d->nsessions];
}

void daemon_session_close(struct daemon *d, const struct pb_session_id *id)
{
	for (size_t i = 0; i < d->nsessions; i++)
		if (d->sessions[i].id.pid == id->pid &&
		    strcmp(d->sessions[i].id.cookie, id->cookie) == 0) {
			session_remove_at(d, i);
			return;
		}
}

/* ---------------------------------------------------------------- reload */

/*
 * SIGHUP or "reload", once no renewal is under way (their jobs point into
 * the config): read the config again; keep running on the old one if it
 * is broken.
 */
void daemon_reload(struct daemon *d)
{
	struct pb_config fresh, old = d->c->cfg;
	struct pb_err err;

	d->reload_pending = false;
	pb_err_clear(&err);
	if (pb_config_load(d->c->config_path, PB_VENDOR_DIR, PB_SYSTEM_CREDS_DIR, &fresh,
			   &err) < 0) {
		syslog(LOG_ERR, "reload: %s; keeping the old configuration", err.msg);
		return;
	}
	d->c->cfg = fresh;
	if (jobs_build(d) < 0) {
		d->quit = true;
		return;
	}
	pb_config_free(&old);
	control_reloaded(d);
	syslog(LOG_INFO, "configuration reloaded: %zu profile(s)", d->njobs);
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
	long long first = jobs_next_wakeup(d), delay;

	if (first != 0) {
		delay = first - pb_wall_ms();
		if (delay < 1)
			delay = 1;
		its.it_value.tv_sec = delay / 1000;
		its.it_value.tv_nsec = (delay % 1000) * 1000000;
	}
	timerfd_settime(d->timer_fd, 0, &its, NULL);
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

/*
 * The poll() set: the fixed four (the listener left out, as -1, while it
 * rests or no client slot is free), then the renewals, the clients and
 * the sessions. Returns how many.
 */
static size_t poll_set(struct daemon *d, struct pollfd *fds)
{
	bool resting = d->listen_paused_until > pb_monotonic_ms() || d->nclients == PB_MAX_CLIENTS;
	size_t n = FIXED_FDS;

	fds[0] = (struct pollfd){ .fd = resting ? -1 : d->listen_fd, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = d->timer_fd, .events = POLLIN };
	fds[2] = (struct pollfd){ .fd = d->signal_fd, .events = POLLIN };
	fds[3] = (struct pollfd){ .fd = d->inotify_fd, .events = POLLIN };
	for (size_t i = 0; i < d->nrenewals; i++)
		fds[n++] = (struct pollfd){ .fd = d->renewals[i].fd, .events = POLLIN };
	for (size_t i = 0; i < d->nclients; i++)
		fds[n++] = (struct pollfd){ .fd = d->clients[i].fd,
					    .events = control_events(&d->clients[i]) };
	for (size_t i = 0; i < d->nsessions; i++)
		fds[n++] = (struct pollfd){ .fd = d->sessions[i].pidfd, .events = POLLIN };
	return n;
}

/* How long poll() may sleep: until a client's deadline or the listener's rest ends (-1: no limit). */
static int poll_timeout(struct daemon *d)
{
	long long now = pb_monotonic_ms(), first = control_next_deadline(d);

	if (d->listen_paused_until > now && (first == 0 || d->listen_paused_until < first))
		first = d->listen_paused_until;
	if (first == 0)
		return -1;
	return first <= now ? 0 : first - now > INT_MAX ? INT_MAX : (int)(first - now);
}

/*
 * Deal with what woke us; d->quit says when to stop. The sessions, the
 * renewals and the clients as poll() numbered them (each from the end, so
 * that a removal does not move the ones still to come), new connections
 * last.
 */
static void handle_events(struct daemon *d, const struct pollfd *fds, size_t nrenewals,
			  size_t nclients, size_t nsessions)
{
	const struct pollfd *renewal_fds = fds + FIXED_FDS, *client_fds = renewal_fds + nrenewals,
			    *session_fds = client_fds + nclients;
	struct signalfd_siginfo si;
	uint64_t ticks;

	for (size_t i = nsessions; i > 0; i--)
		if (session_fds[i - 1].revents & (POLLIN | POLLHUP))
			session_remove_at(d, i - 1);
	if (fds[1].revents & POLLIN)
		(void)!read(d->timer_fd, &ticks, sizeof(ticks));
	if ((fds[2].revents & POLLIN) && read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			d->reload_pending = true;
		else
			d->quit = true;
	}
	if ((fds[3].revents & POLLIN) && token_dir_gone(d->inotify_fd)) {
		syslog(LOG_INFO, "the token dir is gone (last logout): stopping");
		d->quit = true;
	}
	for (size_t i = nrenewals; i > 0; i--)
		if (renewal_fds[i - 1].revents != 0)
			renewal_read(d, i - 1);
	for (size_t i = nclients; i > 0; i--)
		control_client(d, i - 1, client_fds[i - 1].revents);
	if (fds[0].revents & POLLIN)
		control_accept(d);
	control_sweep(d);
}

/*
 * poll() failed: true to stop. It fails with EINVAL when the open-file
 * soft limit was lowered below the fds it watches (prlimit), and with
 * ENOMEM: both pass, so the refresher rests 200 ms at a time, renewing
 * what falls due, until they do. Anything else is a bug: logged, stop.
 */
static bool poll_failed(struct daemon *d)
{
	struct timespec rest = { 0, POLL_REST_MS * 1000000L };

	if (errno != EINVAL && errno != ENOMEM) {
		syslog(LOG_ERR, "poll: %m: stopping");
		return true;
	}
	if (!d->poll_failing)
		syslog(LOG_WARNING, "cannot wait for events: %m (open-file limit below the fds "
		       "in use?); resting %d ms at a time until it can", POLL_REST_MS);
	d->poll_failing = true;
	nanosleep(&rest, NULL);
	return false;
}

static void run_loop(struct daemon *d)
{
	static struct pollfd fds[FIXED_FDS + PB_MAX_RENEWALS + PB_MAX_CLIENTS + PB_MAX_SESSIONS];

	while (!d->quit) {
		size_t nrenewals, nclients, nsessions, nfds;

		if (d->reload_pending && d->nrenewals == 0)
			daemon_reload(d);
		jobs_run_due(d);
		if (d->track_sessions && d->nsessions == 0) {
			syslog(LOG_INFO, "the last session ended: stopping");
			break;
		}
		arm_timer(d);
		nrenewals = d->nrenewals;
		nclients = d->nclients;
		nsessions = d->nsessions;
		nfds = poll_set(d, fds);
		if (poll(fds, nfds, poll_timeout(d)) < 0) {
			if (errno != EINTR && poll_failed(d))
				break;
			continue;
		}
		d->poll_failing = false;
		handle_events(d, fds, nrenewals, nclients, nsessions);
	}
}

/* One per user: hand our session (or a reload) to the refresher that runs. */
static void hand_over(struct daemon *d, bool foreground, const struct pb_session_id *session)
{
	struct pb_ctl_request req = { .cmd = d->track_sessions ? PB_CTL_SESSION_OPEN : PB_CTL_RELOAD };
	struct pb_buf reply = { 0 };
	int rc;

	if (d->track_sessions)
		req.session = *session;
	rc = pb_ctl_ask(d->c->ctx.store.dirfd, d->c->ctx.uid, &req, HANDOVER_MS, &reply);
	if (foreground)
		fprintf(stderr, "bearer-token: a refresher already runs for this user%s\n",
			rc == 0 ? "; handed over to it" : "");
	if (rc != 0)
		syslog(LOG_WARNING, "the running refresher did not answer within %ld s; %s",
		       HANDOVER_MS / 1000, d->track_sessions ? "it does not know of this session"
		       : "it did not reload");
	pb_buf_wipe(&reply);
}

/* A random offset for this refresher's spread of first renewals (schedule.h). */
static double random_offset(void)
{
	unsigned int r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (unsigned int)getpid() * 2654435761U;
	return (double)r / 4294967296.0;
}

int cmd_daemon(struct cli *c, int argc, char **argv)
{
	struct daemon d = { .c = c, .lock_fd = -1, .listen_fd = -1, .timer_fd = -1,
			    .signal_fd = -1, .inotify_fd = -1 };
	int *const fds[] = { &d.lock_fd, &d.timer_fd, &d.signal_fd, &d.inotify_fd };
	struct pb_session_id session = { 0 };
	bool foreground = false;
	struct pb_err err;
	int rc = PB_E_INTERNAL, locked;

	pb_err_clear(&err);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--foreground") == 0)
			foreground = true;
		else if (strcmp(argv[i], "--session") == 0 && i + 1 < argc &&
			 pb_ctl_parse_session(argv[++i], &session) == 0)
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
		hand_over(&d, foreground, &session);
		rc = 0;
		goto done;
	}
	if (locked < 0 || listen_socket(&d) < 0 || setup_fds(&d) < 0) {
		syslog(LOG_ERR, "cannot start in %s: %m", c->ctx.store.path);
		goto done;
	}
	if (d.track_sessions)
		daemon_session_add(&d, &session);
	d.spread_offset = random_offset();
	if (jobs_build(&d) < 0)
		goto done;
	jobs_repair(&d);
	syslog(LOG_INFO, "started for %s: %zu profile(s)", c->ctx.user, d.njobs);
	run_loop(&d);
	rc = 0;
done:
	renewals_kill(&d);
	control_close_all(&d);
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
