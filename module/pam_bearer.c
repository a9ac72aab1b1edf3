/* SPDX-License-Identifier: MIT */
/*
 * pam_bearer.c - the PAM entry points, and nothing else: options are
 * parsed in options.c, the work is done in session.c.
 *
 *     session optional pam_bearer.so [options]
 */
#include <security/pam_modules.h>

#include "options.h"
#include "session.h"

#define PB_EXPORT __attribute__((visibility("default")))

PB_EXPORT int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pb_options o;
	int rc = pb_options_parse(pamh, argc, argv, &o);

	(void)flags;   /* PAM_SILENT: we never talk to the user anyway */
	return rc != PAM_SUCCESS ? rc : pb_session_open(pamh, &o);
}

/* Closing never fails: a bad option was already reported at open. */
PB_EXPORT int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pb_options o;

	(void)flags;
	(void)pb_options_parse(pamh, argc, argv, &o);
	return pb_session_close(pamh, &o);
}
