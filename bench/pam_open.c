/* SPDX-License-Identifier: MIT */
/*
 * pam_open.c - time pam_open_session() through libpam, many times in one
 * process, and print the median and 99th percentile. Used by the
 * benchmark (bench/sessions.sh) and `make demo-refresher`. Each round gets
 * a fresh handle, as each sshd/login session does (libpam keeps per-handle
 * data that grows with every pam_modutil_getpwnam()).
 *
 *     pam_open SERVICE USER COUNT [HOLD_SECONDS]
 *     pam_open --each SERVICE USER...
 *
 * With HOLD_SECONDS, each session stays open that long before it is
 * closed (the refresher demo holds one session for a minute).
 *
 * --each opens one session for each USER, all at once, each in a child
 * of its own (many users logging in together). pam_wrapper has only 62
 * config dirs (/tmp/pam.X) for all the processes that call its
 * pam_start() at a time, and a hundred would run out (and then read the
 * real /etc/pam.d): the children call libpam's own pam_start_confdir()
 * with $PAM_WRAPPER_SERVICE_DIR, which pam_wrapper leaves alone, while
 * its pam_syslog() still sends the module's log to stderr.
 * Prints "N sessions: O opened, F failed, S pam_start failed".
 *
 * Environment (all optional; the benchmark's knobs):
 *   BENCH_SAMPLES=FILE    append each open's time (microseconds, one a line)
 *   BENCH_CLEAN=DIR[:DIR] before each open, untimed, remove the regular
 *                         files in these dirs (a fresh fetch every time)
 *   BENCH_START_AT=EPOCH  wait until this wall-clock time (seconds, with
 *                         decimals) before the first open: many processes
 *                         started one by one then open at the same moment
 * A failed pam_open_session() is counted, not fatal; the exit status is 1
 * when any open failed, 3 when pam_start() itself failed (a harness
 * problem: under many parallel processes pam_wrapper can run out of its
 * one-letter /tmp/pam.X config dirs).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <security/pam_appl.h>

static int null_conv(int n, const struct pam_message **msg, struct pam_response **resp,
		     void *data)
{
	(void)n; (void)msg; (void)resp; (void)data;
	return PAM_CONV_ERR;    /* pam_bearer never prompts */
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Remove the regular files (not dirs, not sockets) of one dir; a missing dir is fine. */
static void clean_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (e->d_type == DT_REG)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

/* BENCH_CLEAN: each dir of a colon-separated list. */
static void clean_dirs(const char *list)
{
	char *copy, *dir, *save = NULL;

	if (list == NULL || *list == '\0' || (copy = strdup(list)) == NULL)
		return;
	for (dir = strtok_r(copy, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save))
		clean_dir(dir);
	free(copy);
}

/* BENCH_START_AT: sleep until that wall-clock moment (no-op when past). */
static void wait_until(const char *at)
{
	struct timespec ts;
	double target, left;

	if (at == NULL || *at == '\0')
		return;
	target = strtod(at, NULL);
	clock_gettime(CLOCK_REALTIME, &ts);
	left = target - ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
	if (left <= 0)
		return;
	ts.tv_sec = (time_t)left;
	ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* BENCH_SAMPLES: append the samples in one write, so parallel runs do not interleave lines. */
static void save_samples(const char *path, const double *t, int n)
{
	char *buf;
	size_t len = 0, cap = (size_t)n * 24 + 1;
	int fd;

	if (path == NULL || *path == '\0' || (buf = malloc(cap)) == NULL)
		return;
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%.0f\n", t[i]);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, buf, len) != (ssize_t)len)
			perror(path);
		close(fd);
	}
	free(buf);
}

/* One session for user, in a child; its exit status: 0, 1 (open failed) or 3 (pam_start failed). */
static int one_session(const char *service, const char *user, const char *confdir)
{
	struct pam_conv conv = { null_conv, NULL };
	pam_handle_t *ph = NULL;
	double t;
	int rc;

	wait_until(getenv("BENCH_START_AT"));
	if (pam_start_confdir(service, user, &conv, confdir, &ph) != PAM_SUCCESS)
		return 3;
	t = now_us();
	rc = pam_open_session(ph, PAM_SILENT);
	t = now_us() - t;
	if (rc != PAM_SUCCESS)
		fprintf(stderr, "%s: pam_open_session: %s\n", user, pam_strerror(ph, rc));
	pam_close_session(ph, PAM_SILENT);
	pam_end(ph, PAM_SUCCESS);
	save_samples(getenv("BENCH_SAMPLES"), &t, 1);
	return rc == PAM_SUCCESS ? 0 : 1;
}

/* --each: a child per user, all at once; 1 when any open failed, 3 when any pam_start did. */
static int each_user(const char *service, int nusers, char **users)
{
	const char *confdir = getenv("PAM_WRAPPER_SERVICE_DIR");
	int opened = 0, failed = 0, harness = 0, status;

	if (confdir == NULL) {
		fprintf(stderr, "pam_open --each: PAM_WRAPPER_SERVICE_DIR is not set\n");
		return 3;
	}
	for (int i = 0; i < nusers; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(one_session(service, users[i], confdir));
		if (pid < 0) {
			perror("fork");
			harness++;
		}
	}
	while (wait(&status) > 0) {
		int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;

		if (rc == 0)
			opened++;
		else if (rc == 3)
			harness++;
		else
			failed++;
	}
	printf("%d sessions: %d opened, %d failed, %d pam_start failed\n", nusers, opened, failed,
	       harness);
	return harness ? 3 : failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct pam_conv conv = { null_conv, NULL };
	pam_handle_t *ph = NULL;
	const char *clean = getenv("BENCH_CLEAN");
	double *t;
	int n, rc, hold = 0, failed = 0;

	if (argc >= 4 && strcmp(argv[1], "--each") == 0)
		return each_user(argv[2], argc - 3, argv + 3);
	if ((argc != 4 && argc != 5) || (n = atoi(argv[3])) <= 0 ||
	    (argc == 5 && (hold = atoi(argv[4])) <= 0)) {
		fprintf(stderr, "usage: pam_open SERVICE USER COUNT [HOLD_SECONDS]\n"
				"       pam_open --each SERVICE USER...\n");
		return 2;
	}
	if ((t = calloc((size_t)n, sizeof(*t))) == NULL)
		return 1;
	wait_until(getenv("BENCH_START_AT"));
	for (int i = 0; i < n; i++) {
		double t0;

		clean_dirs(clean);
		if (pam_start(argv[1], argv[2], &conv, &ph) != PAM_SUCCESS)
			return 3;
		t0 = now_us();
		rc = pam_open_session(ph, PAM_SILENT);
		t[i] = now_us() - t0;
		if (rc != PAM_SUCCESS) {
			fprintf(stderr, "pam_open_session: %s\n", pam_strerror(ph, rc));
			failed++;
		}
		if (hold > 0)
			sleep((unsigned)hold);
		pam_close_session(ph, PAM_SILENT);
		pam_end(ph, PAM_SUCCESS);
	}
	save_samples(getenv("BENCH_SAMPLES"), t, n);
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("%d opens: median %.0f us, p99 %.0f us, min %.0f us, max %.0f us%s\n", n,
	       t[n / 2], t[(n * 99) / 100], t[0], t[n - 1], failed ? " (some failed)" : "");
	free(t);
	return failed ? 1 : 0;
}
