/* SPDX-License-Identifier: MIT */
/*
 * util.c - errors, wiping buffers, time and number parsing.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int pb_fail(struct pb_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* one line, always: a vendor body or a file name cannot start a new log line */
	for (char *c = err->msg; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return -1;
}

void pb_err_clear(struct pb_err *err)
{
	if (err == NULL)
		return;
	err->code = PB_OK;
	err->retry_after = -1;
	err->msg[0] = '\0';
}

/* Grow b so that n more bytes and a NUL fit; the old block is wiped, not realloc()ed. */
static int buf_reserve(struct pb_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > SIZE_MAX / 2 - b->len - 1)
		return -1;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	p = malloc(cap);
	if (p == NULL)
		return -1;
	if (b->data != NULL) {
		memcpy(p, b->data, b->len);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	b->data[b->len] = '\0';
	return 0;
}

int pb_buf_add(struct pb_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int pb_buf_adds(struct pb_buf *b, const char *s)
{
	return pb_buf_add(b, s, strlen(s));
}

int pb_buf_addf(struct pb_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void pb_buf_wipe(struct pb_buf *b)
{
	if (b->data != NULL) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
}

int pb_read_all(int fd, size_t max, long long deadline, struct pb_buf *out)
{
	char chunk[4096];
	ssize_t n = -1;
	int rc = -1;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline < 0 ? -1 : deadline - pb_monotonic_ms();

		if (deadline >= 0 && left <= 0) {
			errno = ETIMEDOUT;
			goto done;
		}
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) < 0) {
			if (errno == EINTR)
				continue;
			goto done;
		}
		if (pfd.revents == 0)
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n == 0)
			break;
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			goto done;
		if (out->len + (size_t)n > max) {
			errno = EFBIG;
			goto done;
		}
		if (pb_buf_add(out, chunk, (size_t)n) < 0)
			goto done;
	}
	rc = 0;
done:
	explicit_bzero(chunk, sizeof(chunk));
	return rc;
}

int pb_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pb_open_regular(const char *path, struct stat *st, struct pb_err *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int saved;

	if (fd < 0) {
		saved = errno;
		if (saved == ELOOP)
			pb_fail(err, PB_E_CONFIG, "%s: is a symlink, refusing it", path);
		else
			pb_fail(err, PB_E_CONFIG, "%s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		saved = errno;
		pb_fail(err, PB_E_CONFIG, "%s: not a regular file", path);
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void pb_wipe_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

char *pb_strdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

time_t pb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

long long pb_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int pb_user_groups(const char *user, gid_t gid, gid_t **gids, size_t *ngids,
		   struct pb_err *err)
{
	int n = 32;

	*gids = NULL;
	*ngids = 0;
	for (;;) {
		gid_t *grown = realloc(*gids, (size_t)n * sizeof(**gids));
		int want = n;

		if (grown == NULL) {
			free(*gids);
			*gids = NULL;
			return pb_fail(err, PB_E_INTERNAL, "out of memory");
		}
		*gids = grown;
		if (getgrouplist(user, gid, grown, &want) >= 0) {
			*ngids = (size_t)want;
			return 0;
		}
		n = want > n ? want : n * 2;   /* glibc says how many; others may not */
	}
}

uid_t pb_trusted_uid(void)
{
	return (uid_t)getauxval(AT_EUID);
}

void pb_user_name(uid_t uid, char *out, size_t len)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		snprintf(out, len, "%s", pw.pw_name);
	else
		snprintf(out, len, "uid %u", (unsigned)uid);
}

void pb_group_name(gid_t gid, char *out, size_t len)
{
	struct group gr, *res = NULL;
	char buf[1024];

	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &res) == 0 && res != NULL)
		snprintf(out, len, "%s", gr.gr_name);
	else
		snprintf(out, len, "gid %u", (unsigned)gid);
}

/* One character as "did you mean" compares them: case and '-' / '_' aside. */
static int fold(char c)
{
	return c == '-' ? '_' : tolower((unsigned char)c);
}

/* The Levenshtein distance of a and b, both at most 64 characters (else a large number). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (fold(a[i - 1]) != fold(b[j - 1]));

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

const char *pb_closest(const char *word, const char *const *candidates, size_t n)
{
	size_t limit = strlen(word) / 3, best_d = SIZE_MAX;
	const char *best = NULL;

	if (limit < 1)
		limit = 1;
	for (size_t i = 0; i < n; i++) {
		size_t d = candidates[i] != NULL ? edit_distance(word, candidates[i]) : SIZE_MAX;

		if (d <= limit && d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best;
}

long pb_clamp_retry_after(long long seconds)
{
	if (seconds < 0)
		return -1;
	return seconds > PB_RETRY_AFTER_MAX ? PB_RETRY_AFTER_MAX : (long)seconds;
}

long long pb_add_sat(long long a, long long b)
{
	long long sum;

	if (__builtin_add_overflow(a, b, &sum))
		return b > 0 ? LLONG_MAX : LLONG_MIN;
	return sum;
}

void pb_time_format(time_t t, char out[32])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

/* Read exactly n digits at *p into *v and advance. */
static int digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

void pb_time_format_ms(long long ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	int frac = (int)(ms % 1000);
	struct tm tm;

	if (ms < 0 || gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(out, 32, "1970-01-01T00:00:00Z");
	else if (frac == 0)
		snprintf(out + strlen(out), 32 - strlen(out), "Z");
	else
		snprintf(out + strlen(out), 32 - strlen(out), ".%03dZ", frac);
}

long long pb_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int pb_time_parse(const char *s, time_t *out)
{
	long long ms;

	if (pb_time_parse_ms(s, &ms) < 0)
		return -1;
	/* whole seconds, rounded down whatever the sign */
	*out = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
	return 0;
}

int pb_time_parse_ms(const char *s, long long *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, zh, zm, ms = 0, places = 0;
	long offset = 0;
	const char *p = s;
	time_t t;

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return -1;
			if (*p == '.' || *p == ',') {
				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				/* milliseconds: the first three places, the rest cut */
				for (; isdigit((unsigned char)*p); p++, places++)
					if (places < 3)
						ms = ms * 10 + (*p - '0');
				for (; places < 3; places++)
					ms *= 10;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1;
			if (digits(&p, 2, &zh))
				return -1;
			if (*p == ':')
				p++;
			if (digits(&p, 2, &zm) || zh > 23 || zm > 59)
				return -1;
			offset = sign * (zh * 3600L + zm * 60L);
		}
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec;   /* a leap second: 23:59:60 must not roll the day */
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d)   /* timegm normalises Feb 30 to Mar 2 */
		return -1;
	*out = ((long long)t - offset + (sec == 60)) * 1000 + ms;
	return 0;
}

int pb_parse_double(const char *s, double *out)
{
	locale_t c;
	char *end;
	double v;
	int e;

	/* decimal only (strtod also takes hex, "inf", "nan(...)") */
	if (s == NULL || *s == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
		return -1;
	/* "0.75" whatever the host's locale (gdm runs us under de_DE: "0,75") */
	c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (c == (locale_t)0)
		return -1;
	errno = 0;
	v = strtod_l(s, &end, c);
	e = errno;
	freelocale(c);
	if (e != 0 || *end != '\0' || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int pb_parse_long(const char *s, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

bool pb_has_ctrl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

bool pb_valid_name(const char *s)
{
	size_t n = 0;

	if (s == NULL || *s == '\0' || *s == '.')
		return false;
	/* ASCII ranges, not isalnum(): in a Latin-1 locale that takes bytes >= 0x80 */
	for (; s[n] != '\0'; n++)
		if (!(s[n] >= 'a' && s[n] <= 'z') && !(s[n] >= 'A' && s[n] <= 'Z') &&
		    !(s[n] >= '0' && s[n] <= '9') && s[n] != '_' && s[n] != '.' && s[n] != '-')
			return false;
	return n <= 64;
}

char *pb_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}
