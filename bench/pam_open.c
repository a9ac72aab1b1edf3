/*
 * pam_open.c - time pam_open_session() through libpam, many times in one
 * process, and print the median and 99th percentile. Used by
 * bench/fastpath.sh: with every token still valid this measures the
 * module's fast path (config parse, profile selection, reading P.json).
 * Each round gets a fresh handle, as each sshd/login session does (libpam
 * keeps per-handle data that grows with every pam_modutil_getpwnam()).
 *
 *     pam_open SERVICE USER COUNT [HOLD_SECONDS]
 *
 * With HOLD_SECONDS, each session stays open that long before it is
 * closed (the refresher demo holds one session for a minute).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
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

int main(int argc, char **argv)
{
	struct pam_conv conv = { null_conv, NULL };
	pam_handle_t *ph = NULL;
	double *t;
	int n, rc, hold = 0;

	if ((argc != 4 && argc != 5) || (n = atoi(argv[3])) <= 0 ||
	    (argc == 5 && (hold = atoi(argv[4])) <= 0)) {
		fprintf(stderr, "usage: pam_open SERVICE USER COUNT [HOLD_SECONDS]\n");
		return 2;
	}
	if ((t = calloc((size_t)n, sizeof(*t))) == NULL)
		return 1;
	for (int i = 0; i < n; i++) {
		double t0;

		if (pam_start(argv[1], argv[2], &conv, &ph) != PAM_SUCCESS)
			return 1;
		t0 = now_us();
		rc = pam_open_session(ph, PAM_SILENT);
		t[i] = now_us() - t0;
		if (rc != PAM_SUCCESS) {
			fprintf(stderr, "pam_open_session: %s\n", pam_strerror(ph, rc));
			return 1;
		}
		if (hold > 0)
			sleep((unsigned)hold);
		pam_close_session(ph, PAM_SILENT);
		pam_end(ph, PAM_SUCCESS);
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("%d opens: median %.0f us, p99 %.0f us, min %.0f us, max %.0f us\n", n,
	       t[n / 2], t[(n * 99) / 100], t[0], t[n - 1]);
	free(t);
	return 0;
}
