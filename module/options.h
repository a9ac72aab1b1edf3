/* SPDX-License-Identifier: MIT */
/*
 * options.h - the arguments of `session optional pam_bearer.so ...`.
 */
#ifndef PB_OPTIONS_H
#define PB_OPTIONS_H

#include <stdbool.h>
#include <security/pam_modules.h>

struct pb_options {
	const char *config;      /* config=PATH */
	const char *profiles;    /* profiles=a,b: only these (NULL: every profile that applies) */
	bool debug;              /* debug: LOG_DEBUG lines on each decision */
	bool quiet;              /* quiet: log failures only */
	long minimum_uid;        /* minimum_uid=N: skip users below it */
	bool ignore_root;        /* ignore_root: skip uid 0 */
	double timeout;          /* timeout=SECONDS for the whole wait; 0: the config's */
	bool onerror_fail;       /* onerror=fail: vendor trouble fails the session */
	bool nodaemon;           /* nodaemon: do not start the refresher */
};

/*
 * Fill o from argv. Unknown options are logged at LOG_ERR and ignored;
 * a known option with a bad value returns PAM_SESSION_ERR (an admin's
 * mistake is an internal error, never a silent PAM_IGNORE).
 */
int pb_options_parse(pam_handle_t *pamh, int argc, const char **argv, struct pb_options *o);

/* Is profile `name` in the comma-separated profiles= list (or is there no list)? */
bool pb_options_want_profile(const struct pb_options *o, const char *name);

#endif
