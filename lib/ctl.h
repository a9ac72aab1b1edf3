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
 *   session-open <pid> <cookie>  -> "ok"      a session began in process <pid>
 *   session-close <pid> <cookie> -> "ok"      it ended
 *   reload                       -> "ok"      re-read the config
 *   refresh <profile>            -> a proto.h result line
 *   get <profile> <min_valid>    -> a proto.h result line
 *   schedule                     -> "<profile> <epoch> renew|expire" lines, then "."
 * Only the user's own processes and root may connect (SO_PEERCRED).
 *
 * The broker (`bearer-token broker`) listens on the config's broker_socket
 * (/run/pam_bearer/broker.sock); its protocol is in proto.h.
 */
#ifndef PB_CTL_H
#define PB_CTL_H

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

#endif
