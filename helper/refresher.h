/* SPDX-License-Identifier: MIT */
/*
 * refresher.h - `bearer-token daemon`, the refresher, in three parts that
 * share struct daemon:
 *   refresher.c  the profiles' jobs: when each is renewed or expired, the
 *                renewal processes that do it, and what they report;
 *   control.c    the control socket (lib/ctl.h): clients read and answered
 *                without ever blocking, a request for a profile under
 *                renewal answered when that renewal is over;
 *   daemon.c     start-up, sessions, signals and the event loop.
 * The planning itself is schedule.c's (pure functions).
 *
 * Nothing here waits: renewals run in child processes (each a batch of the
 * profiles due together, in one HTTP worker) whose reports come back on
 * pipes watched by the same poll() as the socket, so the socket answers
 * within milliseconds while any exchange is in flight.
 */
#ifndef PB_REFRESHER_H
#define PB_REFRESHER_H

#include <stdbool.h>
#include <sys/types.h>
#include "cli.h"
#include "ctl.h"
#include "schedule.h"

#define PB_MAX_RENEWALS 4       /* renewal processes at once */
#define PB_MAX_CLIENTS 64       /* control connections at once */
#define PB_MAX_SESSIONS 256

/* One profile's job. Times are wall-clock milliseconds; 0 means none. */
struct job {
	const struct pb_profile *p;
	struct pb_sched sched;
	long long next_ms;          /* the next renewal */
	long long expire_ms;        /* when the token on disk runs out: its files go then */
	long long last_request_ms;  /* the last request to the vendor: the floor counts from it */
	long long running_ms;       /* a renewal under way, since then */
	pid_t renewal;              /* ... in this process */
	bool cold;                  /* ... for a profile with no token to renew from */
	unsigned failures;          /* in a row */
	bool stopped;               /* a permanent error: no retries until a reload or a request */
	bool first;                 /* the token on disk is one it did not plan (a login's, ...) */
	bool wanted;                /* a client waits: renew as soon as the floor allows */
	bool force;                 /* ... even if the token is good (refresh) */
	long min_valid;             /* ... for this long (get) */
	bool warned_short;          /* the vendor's lifetime is under 2 x min_interval: said once */
};

/* A renewal process and its report pipe. */
struct renewal {
	pid_t pid;
	int fd;
	struct pb_buf in;
};

/* A control connection. */
struct client {
	int fd;
	enum { CLIENT_READING, CLIENT_WAITING, CLIENT_WRITING } state;
	struct pb_buf in, out;
	long long deadline;         /* CLOCK_MONOTONIC ms: reading or writing gives up then */
	struct pb_ctl_request req;  /* CLIENT_WAITING: what it waits for */
};

/* A session of the user: the PAM host process it lives in, and its cookie. */
struct session {
	struct pb_session_id id;
	int pidfd;
};

struct daemon {
	struct cli *c;
	struct job *jobs;
	size_t njobs;
	struct renewal renewals[PB_MAX_RENEWALS];
	size_t nrenewals;
	struct client clients[PB_MAX_CLIENTS];
	size_t nclients;
	struct session sessions[PB_MAX_SESSIONS];
	size_t nsessions;
	bool track_sessions;        /* started for a session: exit after the last one */
	bool reload_pending;        /* a reload waits for the renewals under way */
	long long listen_paused_until;  /* CLOCK_MONOTONIC ms: accept() failed, back off */
	bool poll_failing;              /* poll() fails (fd limit lowered): logged once */
	double spread_offset;       /* this refresher's offset in the spread of first renewals */
	unsigned long spread_next;
	int lock_fd, listen_fd, timer_fd, signal_fd, inotify_fd;
	bool quit;
};

/* ---- refresher.c */

/* (Re)build the jobs from the config: every profile that applies to the user. */
int jobs_build(struct daemon *d);
struct job *job_find(struct daemon *d, const char *profile);
/* Can this refresher renew p? (a system profile only through the broker) */
bool job_can_renew(struct daemon *d, const struct job *j);
/* At start-up: mend each profile's files after a crash (pb_store_repair). */
void jobs_repair(struct daemon *d);
/* Expire what has run out, start the renewals that are due. */
void jobs_run_due(struct daemon *d);
/* When something is next due (wall ms), 0 if nothing. */
long long jobs_next_wakeup(struct daemon *d);
/* A client wants j renewed (or made good for min_valid): as soon as the floor allows. */
void job_want(struct daemon *d, struct job *j, bool force, long min_valid);
/* Read a renewal's reports; at its end, reap it. */
void renewal_read(struct daemon *d, size_t i);
/* Stop every renewal process and its workers. */
void renewals_kill(struct daemon *d);

/* ---- control.c */

/* Accept what waits on the listener (backing off when accept() fails). */
void control_accept(struct daemon *d);
/* Go on with client i (revents from poll, maybe 0): read, run, answer, or time out. */
void control_client(struct daemon *d, size_t i, short revents);
/* What poll() should watch for on a client. */
short control_events(const struct client *cl);
/* Forget the clients that are done (after a round of poll()). */
void control_sweep(struct daemon *d);
/* After a reload: the waiting clients wait on the new jobs (or get an error). */
void control_reloaded(struct daemon *d);
/* Answer the clients waiting on profile: code and text from its renewal. */
void control_renewed(struct daemon *d, const char *profile, int code, const char *text);
/* Close every client (stopping). */
void control_close_all(struct daemon *d);
/* The earliest client deadline (CLOCK_MONOTONIC ms), 0 if none. */
long long control_next_deadline(struct daemon *d);

/* ---- daemon.c */

void daemon_session_add(struct daemon *d, const struct pb_session_id *id);
void daemon_session_close(struct daemon *d, const struct pb_session_id *id);
/* Re-read the config (once no renewal runs; keep the old one if the new is broken). */
void daemon_reload(struct daemon *d);

#endif
