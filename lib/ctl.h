/*
 * ctl.h - talking to the running refresher (`bearer-token daemon`) over
 * its socket, <token dir>/daemon.sock: one request line (and for `secrets`
 * the proto.h secret records) per connection, one or more reply lines.
 *
 *   ping                         -> "ok <pid>"
 *   session-open <pid> <cookie>  -> "ok"      a session began in process <pid>
 *   session-close <pid> <cookie> -> "ok"      it ended
 *   reload                       -> "ok"      re-read the config
 *   secrets\n<records>end\n      -> "ok"      hand-off secrets (handoff = yes)
 *   refresh <profile>            -> a proto.h result line
 *   get <profile> <min_valid>    -> a proto.h result line
 *   schedule                     -> "<profile> <epoch> renew|expire" lines, then "."
 * Only the user's own processes and root may connect (SO_PEERCRED).
 */
#ifndef PB_CTL_H
#define PB_CTL_H

#include <stddef.h>
#include "util.h"

#define PB_CTL_SOCKET "daemon.sock"
#define PB_CTL_LOCK "daemon.lock"

/*
 * Connect to the daemon's socket in the token dir open as dirfd. The socket
 * is opened O_PATH|O_NOFOLLOW, checked to be a socket owned by uid, and
 * connected through /proc/self/fd, so it is exactly the inode that was
 * checked. Returns the fd, or -1 (errno ENOENT/ECONNREFUSED: none runs).
 */
int pb_ctl_connect(int dirfd, uid_t uid);

/*
 * Send request (len bytes) and read the whole reply into reply (until the
 * daemon closes), waiting at most timeout_ms in all. 0 or -1.
 */
int pb_ctl_call(int dirfd, uid_t uid, const char *request, size_t len, long timeout_ms,
		struct pb_buf *reply);

#endif
