/* SPDX-License-Identifier: MIT */
/*
 * conf_int.h - what the parts of the config loader share, and nothing
 * else includes: the key table's row type, one layered setting, and the
 * passes of conf_keys.c and conf_check.c that conf.c calls.
 *
 *   conf.c         files (trusted, parsed), layering, resolving, loading
 *   conf_keys.c    the key table; each value checked (pass 1) and applied
 *   conf_check.c   a resolved profile checked as a whole (pass 2)
 *   conf_applies.c who a profile applies to (users, groups)
 */
#ifndef PB_CONF_INT_H
#define PB_CONF_INT_H

#include "conf.h"

enum kind {
	K_NUMBER,       /* a decimal in (min, max] or (min, max) */
	K_ENUM,         /* one of words; words[i] sets the enum to value i */
	K_NAME,         /* one name per pb_valid_name */
	K_NAMES,        /* comma-separated field names */
	K_ACCOUNTS,     /* comma-separated user or group names */
	K_TEXT,         /* text without control characters */
	K_SCHEME,       /* an HTTP auth-scheme token */
	K_BASE_URL,     /* http:// or https:// URL */
	K_URL,          /* "/path" (joined to base_url) or an http(s):// URL */
	K_PATH,         /* absolute path */
	K_PROXY,        /* libcurl proxy string; never quoted: it may hold a password */
	K_TEMPLATE,     /* body template; never quoted */
	K_JSON_PATH,    /* response path, '|' alternatives */
	K_LIFETIME,     /* jwt | SECONDS | none, '|' alternatives */
	K_HEADER,       /* prefix key: token.header.NAME / refresh.header.NAME */
	K_STATUSES,     /* comma-separated HTTP statuses 400..499 but 429 */
};

/* The sections a key may appear in. */
#define IN_DEFAULTS 1u
#define IN_VENDOR 2u
#define IN_PROFILE 4u
#define NO_FIELD ((size_t)-1)

struct key_def {
	const char *name;         /* a prefix key ends with '.' */
	unsigned in;              /* IN_* bits */
	enum kind kind;
	size_t off;               /* into struct pb_profile, NO_FIELD for config-wide keys */
	size_t count_off;         /* K_NAMES, K_ACCOUNTS: the matching size_t count */
	const char *const *words; /* K_ENUM */
	double min, max;          /* K_NUMBER: min < v <= max (min <= v if min_closed, v < max if max_open) */
	bool min_closed, max_open;
	const char *expect;       /* for "KEY: 'VALUE' is not EXPECT" */
};

/* The rows of pb_conf_keys (a mismatch with its definition fails to compile). */
#define PB_CONF_NKEYS 38
extern const struct key_def pb_conf_keys[PB_CONF_NKEYS];

/* One setting that won the layering: the entry, its file, its table row. */
struct setting {
	const struct pb_ini_entry *e;
	const char *file;
	const struct key_def *k;
};

/* A profile being resolved. */
struct layers {
	struct setting key[PB_CONF_NKEYS];  /* by table row; prefix rows unused */
	struct setting *hdr;        /* token.header.* and refresh.header.*, in order */
	size_t nhdr, hdrcap;
};

/* The table row for a key: exact, or a prefix row with a non-empty rest. */
const struct key_def *pb_conf_find_key(const char *key);
/*
 * Pass 1 over a parsed file: every section known, every key known and
 * allowed in its section, every value of the right kind. preset is the
 * vendor name for a preset file, NULL for the main config.
 */
int pb_conf_check_file(const struct pb_ini *ini, const char *preset, struct pb_err *err);
/* Set one profile field from a (pass-1 checked) setting. */
int pb_conf_apply(struct pb_profile *p, const struct setting *s, struct pb_err *err);
/*
 * Is name one the vendor's fields may not take: a field every template may
 * use (refresh_token, scope, audience), or one of signed assertions
 * (assertion, iat, exp, jti, token_url: conf_check.c says where)?
 */
bool pb_conf_is_reserved(const char *name);
/* Is name one of arr[0..n)? */
bool pb_conf_listed(const char *const *arr, size_t n, const char *name);
/* A plain decimal ("5", "2.5") within the bounds of row k: 0, or -1. */
int pb_conf_parse_number(const struct key_def *k, const char *v, double *out);
/* The layered setting of a key by name (its table row must exist). */
const struct setting *pb_conf_setting(const struct layers *L, const char *key);
/* Fail with "FILE:LINE: [profile P]: MESSAGE" (PB_E_CONFIG). -1. */
int pb_conf_profile_fail(struct pb_err *err, const struct pb_profile *p, const char *file,
			 unsigned line, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Pass 2: the resolved profile as a whole (required keys, templates' fields). */
int pb_conf_check_profile(const struct pb_profile *p, const struct layers *L,
			  struct pb_err *err);

#endif
