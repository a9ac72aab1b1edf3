/*
 * ctl.c - the client side of the refresher's control socket (see ctl.h).
 * Used by bearer-token (refresh, get, status, pam-session) and by the PAM
 * module (session open/close), which is why it lives in the core.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

int pb_ctl_connect(int dirfd, uid_t uid)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int path_fd, fd = -1;

	path_fd = openat(dirfd, PB_CTL_SOCKET, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (path_fd < 0)
		return -1;
	if (fstat(path_fd, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != uid) {
		errno = EPERM;
		goto done;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d", path_fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		fd = -1;
	}
done:
	close(path_fd);
	return fd;
}

int pb_ctl_call(int dirfd, uid_t uid, const char *request, size_t len, long timeout_ms,
		struct pb_buf *reply)
{
	long long deadline = pb_monotonic_ms() + timeout_ms;
	size_t sent = 0;
	char buf[1024];
	int fd, rc = -1;

	fd = pb_ctl_connect(dirfd, uid);
	if (fd < 0)
		return -1;
	while (sent < len) {
		ssize_t n = send(fd, request + sent, len - sent, MSG_NOSIGNAL);

		if (n < 0 && errno != EINTR)
			goto done;
		if (n > 0)
			sent += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - pb_monotonic_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			goto done;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto done;
		if (n == 0)
			break;
		if (reply->len + (size_t)n > 65536 || pb_buf_add(reply, buf, (size_t)n) < 0)
			goto done;
	}
	rc = 0;
done:
	close(fd);
	return rc;
}
