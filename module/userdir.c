/* SPDX-License-Identifier: MIT */
/*
 * userdir.c - the token dir of a host without logind (see userdir.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <security/pam_ext.h>
#include <security/pam_modutil.h>

#include "userdir.h"

/* How long a login waits for another login or logout of the same host to finish with USERS. */
#define LOCK_WAIT_MS 2000
/* The most entries removed from a dir at logout: a user cannot make root's logout slow. */
#define MAX_ENTRIES 10000

int pb_root_dir(pam_handle_t *pamh, const char *path)
{
	struct stat st;

	/* (chmod: the host's umask, pam_umask's 077 say, must not make it unreachable) */
	if (mkdir(path, 0755) == 0 ? chmod(path, 0755) < 0 : errno != EEXIST) {
		pam_syslog(pamh, LOG_ERR, "cannot make %s: %m", path);
		return -1;
	}
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != pb_trusted_uid()) || (st.st_mode & 022)) {
		pam_syslog(pamh, LOG_ERR, "%s must be a directory of root's, not writable by "
			   "others", path);
		return -1;
	}
	return 0;
}

/* USERS (made, checked) opened and locked against other logins and logouts: the fd, or -1. */
static int open_users(pam_handle_t *pamh, const char *users, bool make)
{
	char base[PATH_MAX];
	const char *slash = strrchr(users, '/');
	int fd;

	if (make) {
		snprintf(base, sizeof(base), "%.*s", (int)(slash - users), users);
		if (pb_root_dir(pamh, base) < 0 || pb_root_dir(pamh, users) < 0)
			return -1;
	}
	fd = open(users, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		pam_syslog(pamh, LOG_ERR, "cannot open %s: %m", users);
		return -1;
	}
	/* only root's logins and logouts take it, each for a few syscalls: bounded all the same */
	for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited += 10) {
		struct timespec ten = { 0, 10 * 1000 * 1000 };

		if (errno != EWOULDBLOCK || waited >= LOCK_WAIT_MS) {
			pam_syslog(pamh, LOG_ERR, "cannot lock %s: %m", users);
			close(fd);
			return -1;
		}
		nanosleep(&ten, NULL);
	}
	return fd;
}

/* The dir of session markers, USERS/.<uid>.sessions, root's: its fd, or -1 (logged when make). */
static int open_marks(pam_handle_t *pamh, int usersfd, const struct passwd *pw, bool make)
{
	char name[32];
	struct stat st;
	int fd;

	snprintf(name, sizeof(name), ".%u.sessions", (unsigned)pw->pw_uid);
	if (make && mkdirat(usersfd, name, 0700) < 0 && errno != EEXIST) {
		pam_syslog(pamh, LOG_ERR, "cannot make %s: %m", name);
		return -1;
	}
	fd = openat(usersfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, &st) < 0 || (st.st_uid != 0 && st.st_uid != pb_trusted_uid()) ||
			(st.st_mode & 077))) {
		pam_syslog(pamh, LOG_ERR, "%s must be a directory of root's, mode 0700", name);
		close(fd);
		return -1;
	}
	return fd;
}

int pb_userdir_open(pam_handle_t *pamh, const struct pb_config *cfg, const struct passwd *pw,
		    const char *session, char *out, size_t outlen)
{
	char users[PATH_MAX], name[16];
	struct pb_err err;
	struct stat st;
	int usersfd = -1, dirfd = -1, marksfd = -1, markfd, rc = -1;
	bool made;

	pb_err_clear(&err);
	if (pb_config_users_dir(cfg, users, sizeof(users), &err) < 0) {
		pam_syslog(pamh, LOG_ERR, "%s", err.msg);
		return -1;
	}
	if ((usersfd = open_users(pamh, users, true)) < 0)
		return -1;
	snprintf(name, sizeof(name), "%u", (unsigned)pw->pw_uid);
	made = mkdirat(usersfd, name, 0700) == 0;
	if (!made && errno != EEXIST) {
		pam_syslog(pamh, LOG_ERR, "cannot make %s/%s: %m", users, name);
		goto done;
	}
	dirfd = openat(usersfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0 || (made && (fchown(dirfd, pw->pw_uid, pw->pw_gid) < 0 ||
				   fchmod(dirfd, 0700) < 0)) ||
	    fstat(dirfd, &st) < 0) {
		pam_syslog(pamh, LOG_ERR, "cannot set up %s/%s: %m", users, name);
		goto done;
	}
	if (st.st_uid != pw->pw_uid) {
		pam_syslog(pamh, LOG_ERR, "%s/%s is not %s's", users, name, pw->pw_name);
		goto done;
	}
	if ((marksfd = open_marks(pamh, usersfd, pw, true)) < 0)
		goto done;
	markfd = openat(marksfd, session, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (markfd < 0) {
		pam_syslog(pamh, LOG_ERR, "cannot mark the session in %s/.%s.sessions: %m", users,
			   name);
		goto done;
	}
	close(markfd);
	snprintf(out, outlen, "%s/%s", users, name);
	rc = 0;
done:
	if (marksfd >= 0)
		close(marksfd);
	if (dirfd >= 0)
		close(dirfd);
	close(usersfd);     /* and the lock with it */
	return rc;
}

/*
 * Remove what dirfd holds (not recursing, but into bearer/ once): files,
 * sockets, links, each unlinked by name, so no link is ever followed.
 * What cannot go stays. Run with the user's identity.
 */
static void empty_dir(int dirfd, bool top)
{
	int copy = dup(dirfd);
	DIR *d = copy >= 0 ? fdopendir(copy) : NULL;
	struct dirent *e;
	int n = 0;

	if (d == NULL) {
		if (copy >= 0)
			close(copy);
		return;
	}
	/* readdir_r is the deprecated one; one stream, one thread */
	/* cppcheck-suppress readdirCalled */
	while ((e = readdir(d)) != NULL && n++ < MAX_ENTRIES) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (e->d_type == DT_DIR) {
			int sub = top && strcmp(e->d_name, "bearer") == 0
				? openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC) : -1;

			if (sub >= 0) {
				empty_dir(sub, false);
				close(sub);
			}
			unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
		} else {
			unlinkat(dirfd, e->d_name, 0);
		}
	}
	closedir(d);
}

/* Are other sessions still using the dir? Markers of PAM hosts that died are swept. */
static bool others_left(int marksfd)
{
	int copy = dup(marksfd);
	DIR *d = copy >= 0 ? fdopendir(copy) : NULL;
	struct dirent *e;
	bool left = false;

	if (d == NULL) {
		if (copy >= 0)
			close(copy);
		return true;    /* cannot tell: keep the dir */
	}
	/* cppcheck-suppress readdirCalled */
	while ((e = readdir(d)) != NULL) {
		long pid = strtol(e->d_name, NULL, 10);

		if (e->d_name[0] == '.')
			continue;
		if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			unlinkat(marksfd, e->d_name, 0);
		else
			left = true;
	}
	closedir(d);
	return left;
}

void pb_userdir_close(pam_handle_t *pamh, const char *dir, const struct passwd *pw,
		      const char *session)
{
	PAM_MODUTIL_DEF_PRIVS(privs);
	char users[PATH_MAX], name[32];
	const char *slash = strrchr(dir, '/');
	int usersfd, marksfd, dirfd;

	if (slash == NULL)
		return;
	snprintf(users, sizeof(users), "%.*s", (int)(slash - dir), dir);
	if ((usersfd = open_users(pamh, users, false)) < 0)
		return;
	if ((marksfd = open_marks(pamh, usersfd, pw, false)) < 0)
		goto done;
	unlinkat(marksfd, session, 0);
	if (others_left(marksfd)) {
		close(marksfd);
		goto done;
	}
	close(marksfd);
	/* the last one: the dir's contents are the user's, removed as the user */
	if (pam_modutil_drop_priv(pamh, &privs, pw) == 0) {
		dirfd = openat(usersfd, slash + 1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dirfd >= 0) {
			empty_dir(dirfd, true);
			close(dirfd);
		}
		if (pam_modutil_regain_priv(pamh, &privs) != 0) {
			pam_syslog(pamh, LOG_CRIT, "cannot regain privileges");
			goto done;
		}
	}
	if (unlinkat(usersfd, slash + 1, AT_REMOVEDIR) < 0 && errno != ENOENT)
		pam_syslog(pamh, LOG_NOTICE, "%s stays after the last session: %m", dir);
	snprintf(name, sizeof(name), ".%u.sessions", (unsigned)pw->pw_uid);
	unlinkat(usersfd, name, AT_REMOVEDIR);
done:
	close(usersfd);
}
