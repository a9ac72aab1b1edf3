/*
 * spawn.h - run bearer-token as the user, from inside a privileged PAM host.
 */
#ifndef PB_SPAWN_H
#define PB_SPAWN_H

#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <security/pam_modules.h>
#include "util.h"

struct pb_spawn {
	const struct passwd *pw;    /* who the helper runs as */
	const gid_t *groups;        /* with these supplementary groups */
	size_t ngroups;
	const char *const *argv;    /* argv[0]: the helper's absolute path */
	const char *const *envp;    /* the whole environment it gets */
	const char *input;          /* written to its stdin, then closed (the secrets) */
	size_t input_len;
	long timeout_ms;            /* hard deadline for the whole run */
};

struct pb_spawn_result {
	struct pb_buf output;       /* its stdout, capped at 64 KiB */
	bool timed_out;             /* killed at the deadline */
	int status;                 /* waitpid() status */
};

/*
 * Run the helper and wait for it, at most timeout_ms. In the child:
 * signals reset and unblocked, stdin/stdout on pipes and stderr on
 * /dev/null, every other fd closed, a new session, groups/gid/uid dropped
 * to pw (each checked, and root verified gone), then execve() with envp.
 * Past the deadline the child's whole process group is killed. The host's
 * SIGCHLD disposition is restored before returning. 0, or -1 when the
 * child could not be started (logged).
 */
int pb_spawn_run(pam_handle_t *pamh, const struct pb_spawn *s, struct pb_spawn_result *r);

#endif
