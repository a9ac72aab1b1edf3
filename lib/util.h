/* SPDX-License-Identifier: MIT */
/*
 * util.h - small things every part of pam_bearer uses: the one error type,
 * a growable buffer that wipes itself, secret wiping, and RFC 3339 time.
 */
#ifndef PB_UTIL_H
#define PB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/*
 * Error classes. bearer-token exits with the class number, so these values
 * are part of the documented interface (bearer-token(1), EXIT STATUS).
 */
enum pb_code {
	PB_OK = 0,
	PB_E_TEMP = 1,      /* vendor or network trouble: retrying later may work */
	PB_E_USAGE = 2,     /* bad command line */
	PB_E_CONFIG = 3,    /* config, preset or credentials file is wrong */
	PB_E_PERM = 4,      /* the vendor refused the credentials: retrying won't help */
	PB_E_STORE = 5,     /* token dir missing, unsafe or unwritable */
	PB_E_INTERNAL = 6,  /* out of memory, broken pipe protocol, bug */
};

/* One-line, secret-free reason for a failure, filled by pb_fail(). */
struct pb_err {
	int code;              /* enum pb_code */
	long retry_after;      /* seconds a vendor asked us to wait, -1 if none */
	char msg[512];
};

/*
 * Record a failure: format msg (control characters become '?', so a vendor
 * body can never inject a second log line), set code, and return -1 so
 * callers can write `return pb_fail(err, PB_E_CONFIG, "...")`.
 * err may be NULL. Never pass a secret or token in the arguments.
 */
int pb_fail(struct pb_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pb_err_clear(struct pb_err *err);

/* Growable byte buffer, always NUL-terminated; wiped before it is freed. */
struct pb_buf {
	char *data;
	size_t len, cap;
};
int pb_buf_add(struct pb_buf *b, const void *p, size_t n);   /* 0 or -1 (ENOMEM) */
int pb_buf_adds(struct pb_buf *b, const char *s);
int pb_buf_addf(struct pb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pb_buf_wipe(struct pb_buf *b);                          /* zero + free, reusable */

/*
 * Append everything fd gives until end of file, at most max bytes, giving
 * up at deadline (pb_monotonic_ms(); -1: none). 0, or -1 with errno
 * (EFBIG: over max, ETIMEDOUT: past the deadline). What was read stays in
 * out either way; the caller wipes it.
 */
int pb_read_all(int fd, size_t max, long long deadline, struct pb_buf *out);
/* Write all of data to fd (a pipe), retrying short writes: 0, or -1 with errno. */
int pb_write_all(int fd, const void *data, size_t len);

/*
 * Open a file for reading the careful way: never through a symlink
 * (O_NOFOLLOW), never blocking on a FIFO, close-on-exec, and only if it is
 * a regular file; *st gets its fstat() for the caller's owner/mode policy.
 * Returns the fd, or -1 with err (PB_E_CONFIG, naming path) and errno kept
 * (ENOENT: there is no such file).
 */
struct stat;
int pb_open_regular(const char *path, struct stat *st, struct pb_err *err);

/* Zero then free a NUL-terminated secret; NULL is fine. */
void pb_wipe_free(char *s);
/* strdup that returns NULL for NULL */
char *pb_strdup(const char *s);

/*
 * The wall clock, in seconds, read precisely: time() reads the coarse
 * clock, which can lag a timer that just fired by a tick, and then a token
 * whose second has come would not yet count as expired.
 */
time_t pb_now(void);

/* Milliseconds on the monotonic clock, for deadlines and timeouts. */
long long pb_monotonic_ms(void);

/*
 * The most a vendor may make us wait (Retry-After, X-RateLimit-Retry-After):
 * a day. Anything longer is taken as a day, so that no number a vendor
 * sends can push a retry past what a date can hold or a timer can count.
 */
#define PB_RETRY_AFTER_MAX 86400L

/* Seconds a vendor asked us to wait, clamped to [0, PB_RETRY_AFTER_MAX]; -1 stays -1 (none). */
long pb_clamp_retry_after(long long seconds);

/* a + b, saturating at LLONG_MIN / LLONG_MAX instead of overflowing. */
long long pb_add_sat(long long a, long long b);

/* "2026-11-23T11:13:44Z" into out (>= 21 bytes). */
void pb_time_format(time_t t, char out[32]);
/* The same to the millisecond: "2026-11-23T11:13:44.250Z" (".000" left out). */
void pb_time_format_ms(long long ms, char out[32]);
/* The wall clock in milliseconds. */
long long pb_wall_ms(void);
/*
 * Parse ISO 8601 / RFC 3339: YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.frac]] with
 * Z, +HH:MM, -HH:MM or +HHMM (no zone means UTC; a space may stand for T).
 * 0 on success, -1 if s is not such a time.
 */
int pb_time_parse(const char *s, time_t *out);
/* The same, in milliseconds since the epoch (a fraction's first three places count). */
int pb_time_parse_ms(const char *s, long long *out);

/* Strict decimal parse of a whole string: 0 ok, -1 otherwise. */
int pb_parse_double(const char *s, double *out);
int pb_parse_long(const char *s, long *out);

/* true if s holds a control character (< 0x20 or 0x7f) */
bool pb_has_ctrl(const char *s);

/*
 * Every group of user (primary group gid included), as getgrouplist()
 * gives them, in a malloc()ed array however many there are. 0, or -1 with
 * err (out of memory).
 */
int pb_user_groups(const char *user, gid_t gid, gid_t **gids, size_t *ngids,
		   struct pb_err *err);

/*
 * The one uid besides root whose files a privileged reader trusts: the
 * effective uid this process was started with, from the kernel's
 * auxiliary vector, whatever a preloaded test wrapper (uid_wrapper)
 * pretends. For sshd, login, gdm and su (setuid root) that is root; for
 * bearer-token run by a user, the user.
 */
uid_t pb_trusted_uid(void);

/* A user's name for messages: "alice", else "uid 1000" (no passwd entry). */
void pb_user_name(uid_t uid, char *out, size_t len);
/* A group's name for messages: "staff", else "gid 50". */
void pb_group_name(gid_t gid, char *out, size_t len);

/*
 * "Did you mean": the candidate closest to word (edit distance, case and
 * '-' / '_' ignored), when it is close enough to be a slip (at most a
 * third of the word's length, at least 1); NULL when none is.
 */
const char *pb_closest(const char *word, const char *const *candidates, size_t n);

/* Profile / vendor / field names: [A-Za-z0-9_.-], 1..64 chars, no leading '.' */
bool pb_valid_name(const char *s);

/* Trim ASCII white space at both ends, in place; returns s. */
char *pb_trim(char *s);

#endif
