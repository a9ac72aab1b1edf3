/* SPDX-License-Identifier: MIT */
/*
 * storefile.c - safe file I/O in a store dir (see storefile.h): what the
 * token files mean is store.c's.
 *
 * This code runs as the user (bearer-token), as the service account (its
 * state dir) and as root with the fs uid set to the user (the PAM
 * module's fast path), in a dir the user controls. So:
 * - every file is reached relative to the dir fd, itself opened
 *   O_NOFOLLOW from a parent dir fd opened O_NOFOLLOW; no symlink is ever
 *   followed, no path is ever resolved twice;
 * - every file we open is fstat()ed before we trust it: a regular file,
 *   owned by the dir's owner, no group/other bits, size-capped;
 * - every write goes to a fresh O_EXCL temp file in the same dir, which is
 *   renamed over the old file, so a reader sees the old file or the new one
 *   and never a partial or empty one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storefile.h"

#define LOCK_POLL_NS (10 * 1000 * 1000L)

/*
 * "WHAT PATH[/NAME] is owned by HAVE, must be owned by WANT (chown WANT
 * ...)": owners by name, with the command that fixes it. -1 (PB_E_STORE).
 */
static int fail_owner(struct pb_err *err, const char *what, const char *path, const char *name,
		      uid_t have, uid_t want)
{
	char who[64], whom[64];

	pb_user_name(have, who, sizeof(who));
	pb_user_name(want, whom, sizeof(whom));
	return pb_fail(err, PB_E_STORE, "%s%s%s%s is owned by %s, must be owned by %s "
		       "(chown %s %s%s%s)", what, path, name ? "/" : "", name ? name : "", who,
		       whom, whom, path, name ? "/" : "", name ? name : "");
}

/* "WHAT PATH has mode M, must be WANT (chmod WANT PATH)". -1 (PB_E_STORE). */
static int fail_mode(struct pb_err *err, const char *what, const char *path, const char *name,
		     mode_t have, mode_t want)
{
	return pb_fail(err, PB_E_STORE, "%s%s%s%s has mode %04o, must be %04o (chmod %o %s%s%s)",
		       what, path, name ? "/" : "", name ? name : "", (unsigned)(have & 07777),
		       (unsigned)want, (unsigned)want, path, name ? "/" : "", name ? name : "");
}

/*
 * See storefile.h. Each check is made on an fd (fstat), never on a path that
 * could be swapped between the check and the use.
 */
int pb_store_open(const char *runtime_dir, uid_t uid, bool create, struct pb_store *st,
		  struct pb_err *err)
{
	return pb_store_open_at(runtime_dir, "bearer", uid, create, st, err);
}

int pb_store_open_at(const char *runtime_dir, const char *name, uid_t uid, bool create,
		     struct pb_store *st, struct pb_err *err)
{
	char dir[PATH_MAX];
	struct stat sb;
	int rfd = -1, fd = -1, rc = -1, saved_errno = 0;
	size_t n;

	st->dirfd = -1;
	st->uid = uid;
	st->path[0] = '\0';
	if (runtime_dir == NULL || runtime_dir[0] != '/') {
		pb_fail(err, PB_E_STORE, "runtime dir %s is not an absolute path",
			runtime_dir != NULL ? runtime_dir : "(unset)");
		goto done;
	}
	/*
	 * Trailing slashes go: "dir/" would make the kernel follow a symlink
	 * named dir despite O_NOFOLLOW.
	 */
	n = strlen(runtime_dir);
	while (n > 1 && runtime_dir[n - 1] == '/')
		n--;
	if (n + strlen(name) + 2 > sizeof(dir) || strchr(name, '/') != NULL) {
		pb_fail(err, PB_E_STORE, "runtime dir %.64s... is too long", runtime_dir);
		goto done;
	}
	memcpy(dir, runtime_dir, n);
	dir[n] = '\0';
	/* (fits: checked above) */
	memcpy(st->path, dir, n == 1 ? 0 : n);
	st->path[n == 1 ? 0 : n] = '/';
	memcpy(st->path + (n == 1 ? 1 : n + 1), name, strlen(name) + 1);

	/* O_PATH: no read permission needed, and the fd can be fstat()ed even if it is a link */
	rfd = open(dir, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (rfd < 0 || fstat(rfd, &sb) < 0) {
		saved_errno = errno;
		if (saved_errno == ENOENT)
			pb_fail(err, PB_E_STORE, "runtime dir %s does not exist", dir);
		else
			pb_fail(err, PB_E_STORE, "cannot open runtime dir %s: %s", dir,
				strerror(saved_errno));
		goto done;
	}
	if (S_ISLNK(sb.st_mode)) {
		pb_fail(err, PB_E_STORE, "runtime dir %s is a symlink", dir);
		goto done;
	}
	if (!S_ISDIR(sb.st_mode)) {
		pb_fail(err, PB_E_STORE, "runtime dir %s is not a directory", dir);
		goto done;
	}
	if (sb.st_uid != uid) {
		fail_owner(err, "runtime dir ", dir, NULL, sb.st_uid, uid);
		goto done;
	}
	if (create && mkdirat(rfd, name, 0700) < 0 && errno != EEXIST) {
		pb_fail(err, PB_E_STORE, "cannot create %s: %s", st->path, strerror(errno));
		goto done;
	}
	fd = openat(rfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		saved_errno = errno;
		if (saved_errno == ENOENT)
			pb_fail(err, PB_E_STORE, "token dir %s does not exist", st->path);
		else
			pb_fail(err, PB_E_STORE, "cannot open token dir %s: %s", st->path,
				strerror(saved_errno));
		goto done;
	}
	if (S_ISLNK(sb.st_mode)) {
		pb_fail(err, PB_E_STORE, "token dir %s is a symlink", st->path);
		goto done;
	}
	if (!S_ISDIR(sb.st_mode)) {
		pb_fail(err, PB_E_STORE, "token dir %s is not a directory", st->path);
		goto done;
	}
	if (sb.st_uid != uid) {
		fail_owner(err, "token dir ", st->path, NULL, sb.st_uid, uid);
		goto done;
	}
	if ((sb.st_mode & 0777) != 0700) {
		fail_mode(err, "token dir ", st->path, NULL, sb.st_mode, 0700);
		goto done;
	}
	st->dirfd = fd;
	fd = -1;
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	if (rfd >= 0)
		close(rfd);
	/* callers may tell "no token dir yet" (ENOENT) from "unsafe" */
	errno = saved_errno;
	return rc;
}

/* Close the dir fd; safe to call twice. */
void pb_store_close(struct pb_store *st)
{
	if (st->dirfd >= 0)
		close(st->dirfd);
	st->dirfd = -1;
}

/*
 * Is the open file fd (st->path/name) safe to believe: a regular file,
 * owned by the store's uid, with no group/other bits? 0 or -1 (PB_E_STORE).
 */
static int check_file(const struct pb_store *st, int fd, const char *name, struct pb_err *err)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return pb_fail(err, PB_E_STORE, "cannot stat %s/%s: %s", st->path, name,
			       strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return pb_fail(err, PB_E_STORE, "%s/%s is not a regular file", st->path, name);
	if (sb.st_uid != st->uid)
		return fail_owner(err, "", st->path, name, sb.st_uid, st->uid);
	if ((sb.st_mode & 077) != 0)
		return fail_mode(err, "", st->path, name, sb.st_mode, 0600);
	if (sb.st_size > STORE_FILE_MAX)
		return pb_fail(err, PB_E_STORE, "%s/%s is too large (%lld bytes)", st->path, name,
			       (long long)sb.st_size);
	return 0;
}

/*
 * Read st->path/name into out (NUL-terminated, wiped by the caller with
 * pb_buf_wipe). 0 ok, 1 no such file, -1 error (symlink, unsafe, too
 * large, I/O). O_NONBLOCK: a FIFO planted under the name cannot hang us.
 */
int pb_file_read(const struct pb_store *st, const char *name, struct pb_buf *out,
		     struct pb_err *err)
{
	char chunk[4096];
	int fd, rc = -1;
	ssize_t n;

	fd = openat(st->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			rc = 1;
		else if (errno == ELOOP)
			pb_fail(err, PB_E_STORE, "%s/%s is a symlink", st->path, name);
		else
			pb_fail(err, PB_E_STORE, "cannot open %s/%s: %s", st->path, name,
				strerror(errno));
		goto done;
	}
	if (check_file(st, fd, name, err) < 0)
		goto done;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pb_fail(err, PB_E_STORE, "cannot read %s/%s: %s", st->path, name,
				strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > STORE_FILE_MAX) {
			pb_fail(err, PB_E_STORE, "%s/%s is too large", st->path, name);
			goto done;
		}
		if (pb_buf_add(out, chunk, (size_t)n) < 0) {
			pb_fail(err, PB_E_INTERNAL, "out of memory");
			goto done;
		}
	}
	if (pb_buf_add(out, "", 0) < 0) {    /* an empty file still gets a "" */
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto done;
	}
	rc = 0;
done:
	explicit_bzero(chunk, sizeof(chunk));
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		pb_buf_wipe(out);
	return rc;
}

/* Random hex for temp names; the O_EXCL open, not this, is what makes them safe. */
static uint64_t temp_suffix(unsigned attempt)
{
	struct timespec ts;
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
	       attempt;
}

/*
 * Replace st->path/name with data, atomically: write a new 0600 temp file
 * ".<name>.<random>" (O_CREAT|O_EXCL|O_NOFOLLOW, so never through a link),
 * then renameat() it over name. rename replaces a symlink planted under
 * name, it never writes through it. On any failure the temp file is
 * removed and name is left as it was. No fsync: the dir is a tmpfs, and
 * its content does not outlive a reboot anyway.
 */
int pb_file_write(const struct pb_store *st, const char *name, const char *data,
			size_t len, struct pb_err *err)
{
	char tmp[STORE_NAME_MAX + 32];
	bool have_tmp = false;
	struct stat sb;
	int fd = -1, rc = -1;
	size_t off = 0;
	ssize_t n;

	if (len > STORE_FILE_MAX) {
		pb_fail(err, PB_E_INTERNAL, "%s/%s: refusing to write %zu bytes", st->path, name,
			len);
		goto done;
	}
	for (unsigned attempt = 0; fd < 0; attempt++) {
		snprintf(tmp, sizeof(tmp), ".%s.%016llx", name,
			 (unsigned long long)temp_suffix(attempt));
		fd = openat(st->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
			    O_NOCTTY, 0600);
		if (fd < 0 && (errno != EEXIST || attempt >= 16)) {
			pb_fail(err, PB_E_STORE, "cannot create a file in %s: %s", st->path,
				strerror(errno));
			goto done;
		}
	}
	have_tmp = true;
	/* a file the user would not own (we run as someone else) is of no use to them */
	if (fstat(fd, &sb) < 0 || sb.st_uid != st->uid) {
		char whom[64];

		pb_user_name(st->uid, whom, sizeof(whom));
		pb_fail(err, PB_E_STORE, "%s: new files would not be owned by %s", st->path, whom);
		goto done;
	}
	if (fchmod(fd, 0600) < 0) {    /* 0600 whatever the umask */
		pb_fail(err, PB_E_STORE, "cannot chmod %s/%s: %s", st->path, tmp, strerror(errno));
		goto done;
	}
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pb_fail(err, PB_E_STORE, "cannot write %s/%s: %s", st->path, name,
				n < 0 ? strerror(errno) : "short write");
			goto done;
		}
		off += (size_t)n;
	}
	n = close(fd);
	fd = -1;
	if (n < 0) {
		pb_fail(err, PB_E_STORE, "cannot write %s/%s: %s", st->path, name, strerror(errno));
		goto done;
	}
	if (renameat(st->dirfd, tmp, st->dirfd, name) < 0) {
		pb_fail(err, PB_E_STORE, "cannot replace %s/%s: %s", st->path, name,
			strerror(errno));
		goto done;
	}
	have_tmp = false;
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	if (have_tmp)
		unlinkat(st->dirfd, tmp, 0);
	return rc;
}

/* Remove st->path/name; a file that is not there is fine. */
int pb_file_remove(const struct pb_store *st, const char *name, struct pb_err *err)
{
	if (unlinkat(st->dirfd, name, 0) < 0 && errno != ENOENT)
		return pb_fail(err, PB_E_STORE, "cannot remove %s/%s: %s", st->path, name,
			       strerror(errno));
	return 0;
}

/*
 * A lock file is created once and never removed. Removing it on unlock
 * opens the classic race (one process locks the unlinked inode, the next
 * creates a new file and locks that one: two holders). An empty file in a
 * tmpfs dir that logind removes at the last logout costs nothing. The
 * holder writes its pid into it, so that a waiter that gives up can say
 * who held it (a number read back is only ever printed).
 */
int pb_file_lock(const struct pb_store *st, const char *name, double timeout, int *lockfd,
		 long *holder, struct pb_err *err)
{
	struct stat sb;
	struct timespec pause;
	long long deadline, left;
	char pid[24];
	int fd = -1, rc = -1, n;

	*lockfd = -1;
	*holder = 0;
	fd = openat(st->dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
		    O_NONBLOCK, 0600);
	if (fd < 0) {
		if (errno == ELOOP)
			pb_fail(err, PB_E_STORE, "%s/%s is a symlink", st->path, name);
		else
			pb_fail(err, PB_E_STORE, "cannot open %s/%s: %s", st->path, name,
				strerror(errno));
		goto done;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		pb_fail(err, PB_E_STORE, "%s/%s is not a regular file", st->path, name);
		goto done;
	}
	if (sb.st_uid != st->uid) {
		fail_owner(err, "", st->path, name, sb.st_uid, st->uid);
		goto done;
	}
	if (!(timeout > 0))    /* NaN too */
		timeout = 0;
	deadline = pb_monotonic_ms() + (long long)(timeout * 1000.0);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			pb_fail(err, PB_E_STORE, "cannot lock %s/%s: %s", st->path, name,
				strerror(errno));
			goto done;
		}
		left = deadline - pb_monotonic_ms();
		if (left <= 0) {
			n = (int)pread(fd, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			if (pb_parse_long(pid, holder) < 0 || *holder <= 0)
				*holder = 0;
			rc = pb_fail(err, PB_E_TEMP, "%s/%s is held", st->path, name);
			goto done;
		}
		pause.tv_sec = 0;
		pause.tv_nsec = left * 1000000 < LOCK_POLL_NS ? (long)(left * 1000000) : LOCK_POLL_NS;
		nanosleep(&pause, NULL);
	}
	n = snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, pid, (size_t)n, 0);
	*lockfd = fd;
	fd = -1;
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Release a lock from pb_file_lock(); -1 is ignored. */
void pb_file_unlock(int lockfd)
{
	if (lockfd >= 0)
		close(lockfd);    /* releases the flock() */
}

/* Is name ".<prefix><anything>.<16 hex digits>": one of pb_file_write's temp files? */
static bool temp_of(const char *name, const char *prefix)
{
	size_t n = strlen(name), p = strlen(prefix);

	return name[0] == '.' && strncmp(name + 1, prefix, p) == 0 && n >= p + 18 &&
	       name[n - 17] == '.' && strspn(name + n - 16, "0123456789abcdef") == 16;
}

int pb_file_sweep(const struct pb_store *st, const char *prefix)
{
	struct dirent *e;
	DIR *dir;
	int fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), removed = 0;

	if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	/* readdir_r is the deprecated one; one stream, one thread */
	/* cppcheck-suppress readdirCalled */
	while ((e = readdir(dir)) != NULL)
		if (temp_of(e->d_name, prefix) && unlinkat(st->dirfd, e->d_name, 0) == 0)
			removed++;
	closedir(dir);
	return removed;
}
