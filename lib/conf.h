/* SPDX-License-Identifier: MIT */
/*
 * conf.h - /etc/security/pam_bearer.conf and the vendor presets, resolved
 * into one flat struct per profile.
 *
 * Layering, later wins: the preset file <vendor_dir>/<vendor>.conf, then an
 * inline [vendor NAME] section of the main config (which may replace a
 * preset wholesale: if the main config defines [vendor X], the preset X is
 * not read), then [defaults], then the [profile NAME] section itself.
 * Every key is checked against one table (conf_keys.c: pb_conf_keys); an unknown
 * key, a bad value, a template naming an unknown field, or a profile naming
 * an unknown vendor is an error "FILE:LINE: ..." naming the key.
 *
 * Keys (pam_bearer.conf(5) documents each):
 *   [defaults]  timeout refresh_at min_interval first_refresh_from ca_file proxy
 *               vendor_dir system_credentials_dir
 *               broker_socket wlcg_discovery
 *   [vendor X]  type base_url fields token.url token.body token.format
 *               token.header.NAME refresh.url refresh.body refresh.format
 *               response.token response.expires_in response.refresh_token
 *               lifetime scheme client_auth refused_status refused_hint
 *               assertion.claims assertion.kid response.expires_at
 *   [profile X] vendor credentials users groups scope audience
 *               timeout refresh_at min_interval first_refresh_from ca_file proxy,
 *               and any [vendor] key
 */
#ifndef PB_CONF_H
#define PB_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "ini.h"
#include "util.h"

/* Where the broker listens; its private state is the broker/ dir beside it. */
#define PB_BROKER_SOCKET "/run/pam_bearer/broker.sock"
/* Beside it (by default): the stand-in runtime dirs of hosts without logind, USERS/<uid> */
#define PB_USERS_DIR "/run/pam_bearer/users"

/* At most this many statuses in refused_status */
#define PB_REFUSED_MAX 8

enum pb_vendor_type { PB_TYPE_EXCHANGE, PB_TYPE_STATIC };
enum pb_cred_source { PB_CRED_USER, PB_CRED_SYSTEM };
/* raw: headers; path: a URL template's fields, percent-encoded (RFC 3986 unreserved kept) */
enum pb_format { PB_FMT_JSON, PB_FMT_FORM, PB_FMT_RAW, PB_FMT_PATH };
enum pb_client_auth { PB_AUTH_BODY, PB_AUTH_BASIC, PB_AUTH_PRIVATE_KEY_JWT };

/* Where a setting came from, for error messages: "file:line". */
struct pb_origin {
	const char *file;
	unsigned line;
};

struct pb_header {
	const char *name;       /* "X-Api-Version" from token.header.X-Api-Version */
	const char *value;      /* a template */
};

/* One HTTP request of a vendor: the exchange (token.*) or the refresh (refresh.*). */
struct pb_request {
	const char *url;        /* absolute, or a path joined to base_url; NULL: none */
	const char *body;       /* template */
	enum pb_format format;  /* json when body starts with '{', else form, unless set */
	struct pb_header *headers;
	size_t nheaders;
	struct pb_origin origin; /* of the url key */
};

struct pb_profile {
	const char *name;
	const char *vendor;             /* preset or [vendor] name */
	struct pb_origin origin;        /* the [profile NAME] line */
	enum pb_vendor_type type;
	enum pb_cred_source credentials;
	const char *base_url;
	const char **fields;            /* credential fields the vendor needs */
	size_t nfields;
	struct pb_request token, refresh;
	const char *resp_token;         /* dot paths with '|' alternatives */
	const char *resp_expires_in;    /* NULL: none */
	const char *resp_refresh_token; /* NULL: none */
	const char *lifetime;           /* "jwt | 604800", "none", ...; validated */
	const char *scheme;             /* "Bearer", "Token" */
	enum pb_client_auth client_auth;
	/* statuses of an exchange that mean "the credentials were refused" */
	unsigned short refused_status[PB_REFUSED_MAX];
	size_t nrefused_status;
	const char *refused_hint;       /* added to that message; NULL: none */
	/* a signed client assertion (RFC 7523), ${assertion} to the requests */
	const char *assertion_claims;   /* JSON template; NULL: none, or private_key_jwt's */
	const char *assertion_kid;      /* template of the header's kid; NULL: none */
	const char *resp_expires_at;    /* path of an ISO 8601 expiry; NULL: none */
	const char *scope, *audience;   /* NULL when unset */
	const char **users, **groups;   /* NULL-free arrays; both empty: everyone */
	size_t nusers, ngroups;
	double timeout;                 /* seconds per HTTP exchange */
	double refresh_at;              /* fraction of the lifetime, 0 < x < 1 */
	double min_interval;            /* seconds between two requests at the least */
	double first_refresh_from;      /* the first renewal after a login: from this fraction of refresh_at */
	const char *ca_file;            /* NULL: the system trust store */
	const char *proxy;              /* NULL: no proxy, whatever the environment says */
	/* set at run time, never from a file: the CLOCK_MONOTONIC ms by which
	 * an exchange must be over (a login's deadline), 0 for none */
	long long deadline_ms;
};

struct pb_config {
	char *path;
	double timeout;                 /* [defaults] timeout (also the PAM default) */
	double refresh_at;
	const char *vendor_dir;
	const char *system_credentials_dir;
	const char *broker_socket;      /* [defaults] broker_socket, else PB_BROKER_SOCKET */
	const char *wlcg_discovery;     /* the profile kept as bt_u<uid> too; NULL: none */
	struct pb_profile *profiles;
	size_t nprofiles;
	/* private: the parsed files the strings above point into */
	struct pb_ini *files;
	size_t nfiles;
	void *priv;
};

/*
 * Load and validate the main config. vendor_dir_default and
 * creds_dir_default are the compiled-in paths, used unless [defaults]
 * overrides them. The file must be a regular file, not writable by group
 * or others, owned by root or by the calling user (as sshd checks its
 * config). Returns 0, or -1 with err->code PB_E_CONFIG and "file:line: ...".
 */
int pb_config_load(const char *path, const char *vendor_dir_default,
		   const char *creds_dir_default, struct pb_config *cfg,
		   struct pb_err *err);
void pb_config_free(struct pb_config *cfg);

const struct pb_profile *pb_config_profile(const struct pb_config *cfg, const char *name);
/* The profile name that name may be a slip for ("did you mean"), or NULL. */
const char *pb_config_closest_profile(const struct pb_config *cfg, const char *name);

/*
 * The service account's state dir: the broker/ dir beside broker_socket
 * (/run/pam_bearer/broker). 0, or -1 with err.
 */
int pb_config_state_dir(const struct pb_config *cfg, char *out, size_t len, struct pb_err *err);
/*
 * The dir of the stand-in runtime dirs of hosts without logind: users/
 * beside broker_socket (/run/pam_bearer/users). 0, or -1 with err.
 */
int pb_config_users_dir(const struct pb_config *cfg, char *out, size_t len, struct pb_err *err);

/*
 * Does the profile apply to this user? users/groups empty: yes. Otherwise
 * the user name is listed in users, or one of the user's groups (gids, as
 * from getgrouplist) has its name listed in groups.
 */
bool pb_profile_applies(const struct pb_profile *p, const char *user,
			const gid_t *gids, size_t ngids);

/*
 * Does the profile sign a client assertion with a private key
 * (assertion.claims, or client_auth = private_key_jwt)?
 */
bool pb_profile_signs(const struct pb_profile *p);

/* "json" / "form" / "raw" */
const char *pb_format_name(enum pb_format f);

#endif
