/* SPDX-License-Identifier: MIT */
/*
 * timeit.c - run a command COUNT times (fork, exec, wait; its output to
 * /dev/null), time each run from fork to reaped, append the times
 * (microseconds, one a line) to SAMPLES and print the median and 99th
 * percentile like bench/pam_open. The benchmark times the programs it
 * compares with this one tool: the bare-curl floor, `bearer-token get`
 * and `cat`, so none of them pays a shell's fork that another does not.
 *
 *     timeit COUNT SAMPLES COMMAND [ARGS...]
 *
 * Exit status 1 when any run exited non-zero (each is counted).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* One run: 0 when the command exited 0, else 1 (-1: could not fork). */
static int run_once(char **cmd, int devnull)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(devnull, STDOUT_FILENO);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	FILE *out;
	double *t;
	int n, devnull, failed = 0;

	if (argc < 4 || (n = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: timeit COUNT SAMPLES COMMAND [ARGS...]\n");
		return 2;
	}
	if ((t = calloc((size_t)n, sizeof(*t))) == NULL ||
	    (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		return 2;
	for (int i = 0; i < n; i++) {
		double t0 = now_us();
		int rc = run_once(argv + 3, devnull);

		t[i] = now_us() - t0;
		if (rc < 0) {
			perror("fork");
			return 2;
		}
		failed += rc;
	}
	if ((out = fopen(argv[2], "a")) != NULL) {
		for (int i = 0; i < n; i++)
			fprintf(out, "%.0f\n", t[i]);
		fclose(out);
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("%d runs: median %.0f us, p99 %.0f us, min %.0f us, max %.0f us%s\n", n,
	       t[n / 2], t[(n * 99) / 100], t[0], t[n - 1],
	       failed ? " (some exited non-zero)" : "");
	free(t);
	return failed ? 1 : 0;
}
