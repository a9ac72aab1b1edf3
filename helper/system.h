/* SPDX-License-Identifier: MIT */
/*
 * system.h - the tokens of credentials = system profiles, as the service
 * account (_pam_bearer) gets them: the only identity that ever holds an
 * admin-held secret, or a vendor refresh token minted with one.
 *
 * Two programs run as the service account and do this: the broker
 * (`bearer-token broker`, broker.c), which users' refreshers ask during a
 * session, and the one-shot the PAM module runs at login
 * (`bearer-token pam-system`, below). Both keep what they get in the same
 * private state dir, <dir of broker_socket>/broker/<uid>/ (0700, the
 * service account's): a login that finds a good token there asks no
 * vendor, and the broker renews with the refresh token a login obtained.
 */
#ifndef PB_SYSTEM_H
#define PB_SYSTEM_H

#include <stdbool.h>
#include <sys/types.h>
#include "conf.h"
#include "token.h"

/* Who a system token is for. */
struct pb_system_user {
	uid_t uid;
	const char *name;           /* names the admin store's file */
	const gid_t *gids;          /* the user's groups, for users = / groups = */
	size_t ngids;
	bool vouched;               /* root already decided the profile applies (a login) */
};

/*
 * A bearer token of system profile `profile` for user u, valid for
 * min_valid more seconds where pacing allows: the one in the state dir if
 * it still is, else renewed with its refresh token or the admin store's
 * credentials (re-read each time, so an admin's change counts at once).
 * Refused (PB_E_CONFIG) unless the profile is credentials = system and
 * applies to u. Paced, so that no caller can make it hammer a vendor: a
 * valid token younger than a share of its lifetime is handed out whatever
 * min_valid says, and after a failure nothing is asked of the vendor for
 * a floor of seconds (or its Retry-After); the recorded error comes back
 * instead. When the admin store has no usable file for u, the cached
 * token and refresh token are forgotten. out gets the token and its times,
 * never a refresh token. deadline_ms (CLOCK_MONOTONIC, 0: none) bounds
 * any exchange, as a login's deadline does.
 */
int pb_system_token(const struct pb_config *cfg, const struct pb_system_user *u,
		    const char *profile, long min_valid, long long deadline_ms,
		    struct pb_token *out, struct pb_err *err);

/* Called once per profile of a batch, as soon as it is over: its token, or NULL and why not. */
typedef void (*pb_system_done)(void *arg, const char *profile, const struct pb_token *tok,
			       const struct pb_err *err);

/*
 * pb_system_token for n profiles of u at once: the admin store read once,
 * the renewals in one HTTP worker (renew.h, pb_renew_batch), each profile
 * reported as soon as it is over.
 */
void pb_system_tokens(const struct pb_config *cfg, const struct pb_system_user *u,
		      const char *const *names, size_t n, long min_valid, long long deadline_ms,
		      pb_system_done done, void *arg);

/* bearer-token pam-system: the login's one-shot (system.c). */
struct cli;
int cmd_pam_system(struct cli *c, int argc, char **argv);

#endif
