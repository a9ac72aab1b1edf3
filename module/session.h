/* SPDX-License-Identifier: MIT */
/*
 * session.h - pam_bearer's work at session open and close.
 */
#ifndef PB_SESSION_H
#define PB_SESSION_H

#include <security/pam_modules.h>
#include "options.h"

/* Place a token for every profile that applies to PAM_USER; a PAM code. */
int pb_session_open(pam_handle_t *pamh, const struct pb_options *o);

/* The end of one session: tokens stay, other sessions may use them. */
int pb_session_close(pam_handle_t *pamh, const struct pb_options *o);

#endif
