/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - talking to pam_bearer's own daemons over unix sockets, never
 * waiting on them: every connect, send and receive is non-blocking under
 * one deadline, so a listener that never accepts (a full backlog), never
 * reads or never answers costs the caller at most its timeout. The PAM
 * module talks to the user's refresher this way from inside sshd, su and
 * login; nothing a user plants can hold them.
 *
 * The refresher (`bearer-token daemon`) listens on <token dir>/daemon.sock:
 * one request line per connection, one or more reply lines.
 *   ping                         -> "ok <pid>"
 *   session-open <session>       -> "ok"      a session began
 *   session-close <session>      -> "ok"      it ended
 *   reload                       -> "ok"      re-read the config (once no renewal runs)
 *   refresh <profile> [0]        -> a proto.h result line, once renewed
 *   get <profile> <min_valid>    -> a proto.h result line, once good for min_valid s
 *   schedule                     -> plan lines, then "."
 * A <session> is spelt <pid>:<cookie>: the PAM host process it lives in
 * and 16 hex digits. A plan line is "<profile> <epoch> <what>": the next
 * renewal ("renew"), only the expiry of a token it cannot renew
 * ("expire"; epoch 0: nothing planned), or a renewal under way
 * ("renewing", with the epoch it began).
 * Only the user's own processes and root may connect (SO_PEERCRED).
 *
 * Inside the refresher, each renewal process reports on a pipe, a line per
 * profile as soon as it is over:
 *   done <profile> <code> <outcome> <asked_ms> <next_attempt_ms> <text>
 * (asked_ms: when the request to the vendor went out, 0: none did).
 *
 * The broker (`bearer-token broker`) listens on the config's broker_socket
 * (/run/pam_bearer/broker.sock); its protocol is in proto.h.
 */
#ifndef PB_CTL_H
#define PB_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "util.h"

#define PB_CTL_SOCKET "daemon.sock"
#define PB_CTL_LOCK "daemon.lock"
#define PB_CTL_MAX_REPLY 65536

/*
 * Connect to the daemon's socket in the token dir open as dirfd. The socket
 * is opened O_PATH|O_NOFOLLOW, checked to be a socket owned by uid, and
 * connected through /proc/self/fd, so it is exactly the inode that was
 * checked. Non-blocking: a listener with a full backlog is EAGAIN at once.
 * Returns the fd (O_NONBLOCK), or -1 (errno ENOENT/ECONNREFUSED: none runs).
 */
int pb_ctl_connect(int dirfd, uid_t uid);

/*
 * Send request (len bytes), half-close, and read the whole reply into
 * reply (until the daemon closes, at most PB_CTL_MAX_REPLY), all within
 * timeout_ms. 0 or -1 (errno ETIMEDOUT past the deadline).
 */
int pb_ctl_call(int dirfd, uid_t uid, const char *request, size_t len, long timeout_ms,
		struct pb_buf *reply);

/*
 * The same exchange with the socket at path (not through a symlink; any
 * owner): the broker's. 0 or -1 (errno ENOENT or ECONNREFUSED: no broker).
 */
int pb_socket_call(const char *path, const char *request, size_t len, long timeout_ms,
		   struct pb_buf *reply);

/* ------------------------------------------------------------ the refresher's protocol */

/* A session: the PAM host's pid and a cookie, spelt "<pid>:<16 hex digits>". */
struct pb_session_id {
	pid_t pid;
	char cookie[17];
};
#define PB_SESSION_ID_MAX 32    /* its spelling fits, with the NUL */

/* Spell id into out[PB_SESSION_ID_MAX]. */
void pb_ctl_put_session(const struct pb_session_id *id, char out[PB_SESSION_ID_MAX]);
/* Parse exactly that spelling: 0, or -1. */
int pb_ctl_parse_session(const char *s, struct pb_session_id *id);

enum pb_ctl_cmd {
	PB_CTL_PING, PB_CTL_SESSION_OPEN, PB_CTL_SESSION_CLOSE, PB_CTL_RELOAD,
	PB_CTL_REFRESH, PB_CTL_GET, PB_CTL_SCHEDULE,
};

struct pb_ctl_request {
	enum pb_ctl_cmd cmd;
	struct pb_session_id session;  /* SESSION_OPEN, SESSION_CLOSE */
	char profile[65];              /* REFRESH, GET */
	long min_valid;                /* GET: 0 .. PB_MAX_LIFETIME seconds */
};

/* The request line for req, with its newline. 0, or -1 (out of memory, a bad field). */
int pb_ctl_put_request(struct pb_buf *out, const struct pb_ctl_request *req);
/* pb_ctl_call() with req: 0 and the reply, or -1. */
int pb_ctl_ask(int dirfd, uid_t uid, const struct pb_ctl_request *req, long timeout_ms,
	       struct pb_buf *reply);
/*
 * One request line (len bytes, the newline optional) into req: 0, or -1
 * when it is not one (an unknown word, a name that is not pb_valid_name, a
 * number out of range, a stray word, a NUL).
 */
int pb_ctl_parse_request(const char *line, size_t len, struct pb_ctl_request *req);

/* One plan line of the schedule reply. */
enum pb_ctl_plan_what { PB_PLAN_RENEW, PB_PLAN_EXPIRE, PB_PLAN_RENEWING };
struct pb_ctl_plan {
	char profile[65];
	long long at;                  /* epoch seconds; 0: nothing planned */
	enum pb_ctl_plan_what what;
};
int pb_ctl_put_plan(struct pb_buf *out, const struct pb_ctl_plan *plan);
/* One plan line (without its newline): 0, or -1 (the end line "." is -1 too). */
int pb_ctl_parse_plan(const char *line, size_t len, struct pb_ctl_plan *plan);

/* A renewal process's report on one profile. */
struct pb_ctl_done {
	char profile[65];
	int code;                      /* enum pb_code */
	int outcome;                   /* enum pb_outcome, on success */
	long long asked_ms;            /* when the request went out (wall ms; 0: none did) */
	long long next_attempt_ms;     /* after a failure: the planned retry (0: none) */
	char text[512];                /* one line: the failure, or what was done */
};
int pb_ctl_put_done(struct pb_buf *out, const struct pb_ctl_done *done);
/* One done line (without its newline): 0, or -1. */
int pb_ctl_parse_done(const char *line, size_t len, struct pb_ctl_done *done);

#endif
