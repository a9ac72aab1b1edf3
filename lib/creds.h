/* SPDX-License-Identifier: MIT */
/*
 * creds.h - the two credential stores and secrets received from the module.
 *
 * A credentials file is INI with one section per profile:
 *     [apivideo]
 *     api_key = ...
 * User store:   $XDG_CONFIG_HOME/pam_bearer/credentials (~/.config/...),
 *               must be owned by the user and mode 0600 or stricter.
 * Admin store:  <system_credentials_dir>/<user>, root:_pam_bearer 0640;
 *               read only by the service account (the broker, or the
 *               one-shot the PAM module runs as it), never by the user.
 * Every value is wiped from memory by pb_creds_free().
 */
#ifndef PB_CREDS_H
#define PB_CREDS_H

#include <stddef.h>
#include <sys/types.h>
#include "conf.h"
#include "util.h"

struct pb_secret {
	char *profile;
	char *field;
	char *value;
	unsigned line;           /* in the file (0: not from a file) */
};

/* A [section] of a credentials file, for messages (a name, never a secret). */
struct pb_creds_section {
	char *name;
	unsigned line;
};

struct pb_creds {
	char *path;              /* where they came from, for messages ("pipe" for the module's) */
	struct pb_secret *v;
	size_t n;
	struct pb_creds_section *sections;   /* as the file has them (none: not from a file) */
	size_t nsections;
};

/*
 * Load a credentials file. It is opened O_NOFOLLOW|O_CLOEXEC and refused
 * unless it is a regular file owned by `owner` with no group/other bits,
 * e.g. "FILE: bad permissions 0644, must be 0600 (chmod 600 FILE)" or
 * "FILE: owned by uid 1001, must be owned by uid 1000". A missing file is
 * PB_E_CONFIG too.
 */
int pb_creds_load(const char *path, uid_t owner, struct pb_creds *out, struct pb_err *err);

/*
 * Load a file of the admin store: owned by root, group gid (the service
 * account's, called group in messages), no group write, nothing for
 * others. Each refusal names its fix, e.g. "FILE: group root, must be
 * _pam_bearer (chgrp _pam_bearer FILE)".
 */
int pb_creds_load_admin(const char *path, gid_t gid, const char *group, struct pb_creds *out,
			struct pb_err *err);

/* The user store path: $XDG_CONFIG_HOME/pam_bearer/credentials, else $HOME/.config/... */
int pb_creds_user_path(const char *home, const char *xdg_config_home,
		       char *out, size_t outlen, struct pb_err *err);

/* dir/user, refusing a user name with '/', a leading '.', or control characters. */
int pb_creds_system_path(const char *dir, const char *user, char *out, size_t outlen,
			 struct pb_err *err);

/* Add one secret (copied). For the secrets the module sends over the pipe. */
int pb_creds_add(struct pb_creds *c, const char *profile, const char *field,
		 const char *value, struct pb_err *err);

/* NULL when absent. */
const char *pb_creds_get(const struct pb_creds *c, const char *profile, const char *field);

/*
 * Every field p->fields names is present and not empty. Else, with the
 * file's line and what looks like a slip: "FILE: no [apivideo] section
 * (did you mean [api-video] at line 3?)", "FILE:3: [apivideo] has no
 * 'api_key' (did you mean 'apikey' at line 4?)". Names only, never a value.
 * A static token has an expiry to go by: its JWT exp, 'expires', or a
 * lifetime of none (expiry.h).
 */
int pb_creds_check(const struct pb_creds *c, const struct pb_profile *p, struct pb_err *err);

/*
 * A (checked) static token that is a JWT and also has 'expires': do they
 * disagree? Then true, and out says so ("FILE:LINE: [hautai] 'expires'
 * 2027-01-31T00:00:00Z is not the token's own exp 2027-02-01T00:00:00Z;
 * the exp is used"), for check-config to warn.
 */
bool pb_creds_expiry_conflict(const struct pb_creds *c, const struct pb_profile *p, char *out,
			      size_t len);

void pb_creds_free(struct pb_creds *c);

#endif
