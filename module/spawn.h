/* SPDX-License-Identifier: MIT */
/*
 * spawn.h - run pam_bearer's programs from inside a privileged PAM host:
 * bearer-token as the user, and bearer-token pam-system as the service
 * account, side by side, under one deadline.
 */
#ifndef PB_SPAWN_H
#define PB_SPAWN_H

#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <security/pam_modules.h>
#include "util.h"

struct pb_child {
	/* what to run, set by the caller */
	const struct passwd *pw;    /* who it runs as */
	const gid_t *groups;        /* with these supplementary groups */
	size_t ngroups;
	const char *const *argv;    /* argv[0]: an absolute path */
	const char *const *envp;    /* the whole environment it gets */
	/* what happened, filled in */
	struct pb_buf output;       /* its stdout, capped at 64 KiB */
	bool exited;                /* it has ended and closed its stdout */
	bool timed_out;             /* killed at the deadline */
	int status;                 /* waitpid() status, once reaped */
	/* private */
	pid_t pid;
	int pidfd, in_fd, out_fd;
	struct pb_buf input;
	size_t written;
	bool input_last;
};

/* A child not started yet: no process, no fds. */
#define PB_CHILD_INIT { .pid = -1, .pidfd = -1, .in_fd = -1, .out_fd = -1 }

/*
 * While children run, SIGCHLD must be ours (a host's handler would reap
 * them behind our back). pb_spawn_begin sets it to SIG_DFL and keeps the
 * host's disposition in *saved; pb_spawn_end puts it back.
 */
void pb_spawn_begin(struct sigaction *saved);
void pb_spawn_end(const struct sigaction *saved);

/*
 * Start c. In the child: signals reset and unblocked, stdin/stdout on
 * pipes and stderr on /dev/null, every other fd closed, a new session,
 * groups/gid/uid dropped to c->pw (each checked, and root verified gone),
 * then execve() with c->envp. 0, or -1 when it could not be started
 * (logged). Everything that allocates is done before fork().
 */
int pb_child_start(pam_handle_t *pamh, struct pb_child *c);

/* Queue data for c's stdin; last: close it once all is written (EOF). */
int pb_child_write(struct pb_child *c, const char *data, size_t len, bool last);

/*
 * Feed, drain and watch children until each of the first `until` of them
 * has exited and closed its stdout, or the deadline (pb_monotonic_ms())
 * has passed: true then. The others are pumped meanwhile.
 */
bool pb_children_run(struct pb_child *const *cs, size_t n, size_t until, long long deadline);

/*
 * The end of c: killed (its whole process group) unless it has exited,
 * reaped, its pipes closed, its input wiped. Its output stays for the
 * caller, who wipes it.
 */
void pb_child_finish(struct pb_child *c);

#endif
