/*
 * ctl.c - the client side of pam_bearer's unix sockets (see ctl.h). Used
 * by bearer-token (refresh, get, status, pam-session) and by the PAM
 * module (session open/close), which is why it lives in the core.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

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
