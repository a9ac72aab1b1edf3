/* SPDX-License-Identifier: MIT */
/*
 * pbfault.c - a fault-injection shim for the bad-input tests only (never
 * installed). Loaded with LD_PRELOAD into bearer-token, it makes the kernel
 * seem to say what a test cannot arrange as an unprivileged user:
 *
 *   PB_FAULT_ENOSPC_DIR=DIR   every write to a file under DIR fails with
 *                             ENOSPC, as on a full tmpfs (the file itself
 *                             can still be created, as there).
 *   PB_FAULT_ENOSPC_WHEN=FILE with the above: only while FILE exists, so a
 *                             test can fill the disk under a running
 *                             refresher, and empty it again.
 *   PB_FAULT_FOREIGN=PATH     fstat()/fstatat()/stat() of PATH report it
 *                             owned by another uid (0, or 65534 for root),
 *                             as if someone else had chowned it.
 *   PB_FAULT_SLOW_EXEC=FILE   the next execve() (a renewal starting its
 *                             bearer-fetch) first sleeps as many ms as FILE
 *                             holds, and removes FILE: one worker slow to
 *                             start, as on a loaded machine.
 *
 * Paths are compared with what /proc/self/fd says for the descriptor, so
 * the shim sees the same file the program opened, however it was named.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* The next definition of a symbol (libc's, or a sanitizer's in front of it). */
static void *next_sym(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/* The path behind fd into out; 0 or -1. */
static int fd_path(int fd, char *out, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, len - 1);
	if (n < 0)
		return -1;
	out[n] = '\0';
	return 0;
}

/* Is fd a regular file somewhere under $PB_FAULT_ENOSPC_DIR? */
static int full_disk(int fd)
{
	const char *dir = getenv("PB_FAULT_ENOSPC_DIR"), *when = getenv("PB_FAULT_ENOSPC_WHEN");
	char path[PATH_MAX];
	size_t n;
	struct stat sb;
	int (*real_fstat)(int, struct stat *) = (int (*)(int, struct stat *))next_sym("fstat");

	if (dir == NULL || dir[0] == '\0' || fd_path(fd, path, sizeof(path)) < 0)
		return 0;
	if (when != NULL && when[0] != '\0' && access(when, F_OK) < 0)
		return 0;
	n = strlen(dir);
	if (strncmp(path, dir, n) != 0 || path[n] != '/')
		return 0;
	return real_fstat != NULL && real_fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Give st another owner when it describes $PB_FAULT_FOREIGN. */
static void disown(const char *path, struct stat *st)
{
	const char *foreign = getenv("PB_FAULT_FOREIGN");

	if (foreign != NULL && path != NULL && strcmp(path, foreign) == 0)
		st->st_uid = getuid() == 0 ? 65534 : 0;
}

/* The same, for a file known by descriptor. */
static void disown_fd(int fd, struct stat *st)
{
	char path[PATH_MAX];

	if (getenv("PB_FAULT_FOREIGN") != NULL && fd_path(fd, path, sizeof(path)) == 0)
		disown(path, st);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	ssize_t (*real)(int, const void *, size_t) =
		(ssize_t (*)(int, const void *, size_t))next_sym("write");

	if (n > 0 && full_disk(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t (*real)(int, const void *, size_t, off_t) =
		(ssize_t (*)(int, const void *, size_t, off_t))next_sym("pwrite");

	if (n > 0 && full_disk(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	ssize_t (*real)(int, const struct iovec *, int) =
		(ssize_t (*)(int, const struct iovec *, int))next_sym("writev");

	if (cnt > 0 && full_disk(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, iov, cnt);
}

int fstat(int fd, struct stat *st)
{
	int (*real)(int, struct stat *) = (int (*)(int, struct stat *))next_sym("fstat");
	int rc = real(fd, st);

	if (rc == 0)
		disown_fd(fd, st);
	return rc;
}

int fstat64(int fd, struct stat64 *st)
{
	int (*real)(int, struct stat64 *) = (int (*)(int, struct stat64 *))next_sym("fstat64");
	int rc = real(fd, st);
	char path[PATH_MAX];
	const char *foreign = getenv("PB_FAULT_FOREIGN");

	if (rc == 0 && foreign != NULL && fd_path(fd, path, sizeof(path)) == 0 &&
	    strcmp(path, foreign) == 0)
		st->st_uid = getuid() == 0 ? 65534 : 0;
	return rc;
}

/* fstatat: a path relative to dirfd is resolved through /proc for the check. */
int fstatat(int dirfd, const char *name, struct stat *st, int flags)
{
	int (*real)(int, const char *, struct stat *, int) =
		(int (*)(int, const char *, struct stat *, int))next_sym("fstatat");
	int rc = real(dirfd, name, st, flags);
	char path[PATH_MAX], full[PATH_MAX + NAME_MAX + 2];

	if (rc != 0 || getenv("PB_FAULT_FOREIGN") == NULL)
		return rc;
	if (name[0] == '/') {
		disown(name, st);
	} else if (name[0] == '\0' && (flags & AT_EMPTY_PATH)) {
		disown_fd(dirfd, st);
	} else if (dirfd != AT_FDCWD && fd_path(dirfd, path, sizeof(path)) == 0) {
		snprintf(full, sizeof(full), "%s/%s", path, name);
		disown(full, st);
	}
	return rc;
}

int stat(const char *path, struct stat *st)
{
	int (*real)(const char *, struct stat *) =
		(int (*)(const char *, struct stat *))next_sym("stat");
	int rc = real(path, st);

	if (rc == 0)
		disown(path, st);
	return rc;
}

int lstat(const char *path, struct stat *st)
{
	int (*real)(const char *, struct stat *) =
		(int (*)(const char *, struct stat *))next_sym("lstat");
	int rc = real(path, st);

	if (rc == 0)
		disown(path, st);
	return rc;
}

/* PB_FAULT_SLOW_EXEC: the sleep FILE asks for, once (whoever removes FILE sleeps). */
static void slow_exec(void)
{
	const char *file = getenv("PB_FAULT_SLOW_EXEC");
	char buf[32] = "";
	long ms;
	FILE *f;

	if (file == NULL || (f = fopen(file, "re")) == NULL)
		return;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	ms = strtol(buf, NULL, 10);
	if (unlink(file) == 0 && ms > 0 && ms < 60000) {
		struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
}

int execve(const char *path, char *const argv[], char *const envp[])
{
	int (*real)(const char *, char *const[], char *const[]) =
		(int (*)(const char *, char *const[], char *const[]))next_sym("execve");

	slow_exec();
	return real(path, argv, envp);
}
