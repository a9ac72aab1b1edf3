/* SPDX-License-Identifier: MIT */
/*
 * userdir.h - the token dir of a host without logind (containers, minimal
 * servers, su to a user with no session): USERS/<uid>, a stand-in for
 * /run/user/<uid>, whose bearer/ holds the tokens. USERS is the users/
 * dir beside the broker socket (/run/pam_bearer/users).
 *
 * Made as root, fd-relative, no symlink followed: USERS root's 0755, then
 * USERS/<uid> the user's, 0700. Each session that uses it leaves a marker
 * in USERS/.<uid>.sessions (root's, 0700), named by its session id; the
 * close that takes the last marker away (a marker whose PAM host died
 * counts for nothing) empties and removes the dir, its contents removed
 * with the user's own identity. /run/user/<uid> is never created.
 */
#ifndef PB_USERDIR_H
#define PB_USERDIR_H

#include <pwd.h>
#include <stddef.h>
#include <security/pam_modules.h>
#include "conf.h"

/*
 * A dir of root's (or of the module's own user, as under a test's fake
 * root) that others cannot write: made 0755 when absent, refused (logged)
 * when it is anything else, a symlink included. 0, or -1.
 */
int pb_root_dir(pam_handle_t *pamh, const char *path);

/*
 * Make (or take) the user's stand-in runtime dir and mark this session in
 * it: 0 with its path in out, or -1 (logged).
 */
int pb_userdir_open(pam_handle_t *pamh, const struct pb_config *cfg, const struct passwd *pw,
		    const char *session, char *out, size_t outlen);

/*
 * This session is over: take its marker away, and if it was the last one,
 * empty and remove dir (as pb_userdir_open gave it).
 */
void pb_userdir_close(pam_handle_t *pamh, const char *dir, const struct passwd *pw,
		      const char *session);

#endif
