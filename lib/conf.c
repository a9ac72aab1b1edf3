/*
 * conf.c - load pam_bearer.conf and the vendor presets, and resolve each
 * [profile] into one flat struct pb_profile (layering: see conf.h).
 *
 * Every key is in key_table below: the sections it may appear in, the kind
 * of value it takes, and where it lands in struct pb_profile. Checking is
 * done in two passes:
 *   1. check_file(): every section and key of every file read (main config
 *      and presets) on its own: known section, key allowed there, value of
 *      the right kind. This covers vendors no profile uses, too.
 *   2. resolve_profile(): the profile is layered (preset or [vendor],
 *      [defaults], [profile]) and checked as a whole: required keys, and
 *      templates naming only fields the profile has.
 * The strings of a resolved profile point into the parsed files, which the
 * config keeps in cfg->files; only the lists (fields, users, groups,
 * headers) are allocated, and pb_config_free() releases them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "expiry.h"
#include "jsonmap.h"
#include "template.h"

#define DEFAULT_TIMEOUT 5.0
#define DEFAULT_REFRESH_AT 0.75
#define DEFAULT_MIN_INTERVAL 2.0    /* seconds: no two requests for a profile closer */
#define DEFAULT_SCHEME "Bearer"
/* no guessing: an opaque token without expires_in needs an explicit lifetime */
#define DEFAULT_LIFETIME "jwt"
#define SCHEME_MAX 32           /* store.h keeps it in char[33] */
#define ACCOUNT_MAX 256         /* a user or group name in users/groups */
#define HEADER_NAME_MAX 128

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
};

/* The sections a key may appear in. */
#define IN_DEFAULTS 1u
#define IN_VENDOR 2u
#define IN_PROFILE 4u
#define NO_FIELD ((size_t)-1)
#define P(m) offsetof(struct pb_profile, m)

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

static const char *const type_words[] = { "exchange", "static", NULL };
static const char *const cred_words[] = { "user", "system", NULL };
static const char *const format_words[] = { "json", "form", NULL };
static const char *const auth_words[] = { "body", "basic", NULL };

/* words[i] is enum value i, and enums are written as ints */
_Static_assert(PB_TYPE_STATIC == 1 && PB_CRED_SYSTEM == 1 && PB_FMT_FORM == 1 &&
	       PB_AUTH_BASIC == 1, "enum order must match the word lists");
_Static_assert(sizeof(enum pb_vendor_type) == sizeof(int) &&
	       sizeof(enum pb_cred_source) == sizeof(int) &&
	       sizeof(enum pb_format) == sizeof(int) &&
	       sizeof(enum pb_client_auth) == sizeof(int), "enums are int-sized");

#define D IN_DEFAULTS
#define V IN_VENDOR
#define R IN_PROFILE
/* Every key of pam_bearer.conf and the presets; pam_bearer.conf(5) documents each. */
static const struct key_def key_table[] = {
	/* [defaults], and per profile */
	{ "timeout", D | R, K_NUMBER, P(timeout), .min = 0, .max = 300,
	  .expect = "a number of seconds in (0, 300]" },
	{ "refresh_at", D | R, K_NUMBER, P(refresh_at), .min = 0, .max = 1, .max_open = true,
	  .expect = "a fraction in (0, 1)" },
	{ "min_interval", D | R, K_NUMBER, P(min_interval), .min = 0, .max = 3600,
	  .expect = "a number of seconds in (0, 3600]" },
	{ "first_refresh_from", D | R, K_NUMBER, P(first_refresh_from), .min = 0, .max = 1,
	  .min_closed = true, .max_open = true, .expect = "a fraction in [0, 1)" },
	{ "ca_file", D | R, K_PATH, P(ca_file), .expect = "an absolute path" },
	{ "proxy", D | R, K_PROXY, P(proxy), .expect = "a proxy URL without blanks" },
	{ "vendor_dir", D, K_PATH, NO_FIELD, .expect = "an absolute path" },
	{ "system_credentials_dir", D, K_PATH, NO_FIELD, .expect = "an absolute path" },
	{ "broker_socket", D, K_PATH, NO_FIELD, .expect = "an absolute path" },
	/* [vendor X], and per profile */
	{ "type", V | R, K_ENUM, P(type), .words = type_words, .expect = "exchange or static" },
	{ "base_url", V | R, K_BASE_URL, P(base_url), .expect = "an http:// or https:// URL" },
	{ "fields", V | R, K_NAMES, P(fields), P(nfields),
	  .expect = "a comma-separated list of field names" },
	{ "token.url", V | R, K_URL, P(token.url),
	  .expect = "a path starting with '/' or an http(s):// URL" },
	{ "token.body", V | R, K_TEMPLATE, P(token.body), .expect = "a template" },
	{ "token.format", V | R, K_ENUM, P(token.format), .words = format_words,
	  .expect = "json or form" },
	{ "token.header.", V | R, K_HEADER, NO_FIELD, .expect = "a template" },
	{ "refresh.url", V | R, K_URL, P(refresh.url),
	  .expect = "a path starting with '/' or an http(s):// URL" },
	{ "refresh.body", V | R, K_TEMPLATE, P(refresh.body), .expect = "a template" },
	{ "refresh.format", V | R, K_ENUM, P(refresh.format), .words = format_words,
	  .expect = "json or form" },
	{ "refresh.header.", V | R, K_HEADER, NO_FIELD, .expect = "a template" },
	{ "response.token", V | R, K_JSON_PATH, P(resp_token),
	  .expect = "a response path such as 'data.token | token'" },
	{ "response.expires_in", V | R, K_JSON_PATH, P(resp_expires_in),
	  .expect = "a response path such as 'expires_in'" },
	{ "response.refresh_token", V | R, K_JSON_PATH, P(resp_refresh_token),
	  .expect = "a response path such as 'refresh_token'" },
	{ "lifetime", V | R, K_LIFETIME, P(lifetime),
	  .expect = "a lifetime (jwt, SECONDS or none; alternatives separated by '|')" },
	{ "scheme", V | R, K_SCHEME, P(scheme),
	  .expect = "an HTTP authentication scheme such as Bearer" },
	{ "client_auth", V | R, K_ENUM, P(client_auth), .words = auth_words,
	  .expect = "body or basic" },
	/* [profile X] only */
	{ "vendor", R, K_NAME, P(vendor), .expect = "a vendor name" },
	{ "credentials", R, K_ENUM, P(credentials), .words = cred_words,
	  .expect = "user or system" },
	{ "users", R, K_ACCOUNTS, P(users), P(nusers),
	  .expect = "a comma-separated list of user names" },
	{ "groups", R, K_ACCOUNTS, P(groups), P(ngroups),
	  .expect = "a comma-separated list of group names" },
	{ "scope", R, K_TEXT, P(scope), .expect = "text without control characters" },
	{ "audience", R, K_TEXT, P(audience), .expect = "text without control characters" },
};
#undef D
#undef V
#undef R
#define NKEYS (sizeof(key_table) / sizeof(key_table[0]))

/* Keys that are gone, and why: an old config is told what replaced them. */
static const struct {
	const char *name, *why;
} removed_keys[] = {
	{ "handoff", "was removed: a system secret never reaches a process of the user; "
		     "the broker (bearer-token broker, socket-activated by "
		     "bearer-token-broker.socket) renews credentials = system profiles "
		     "during a session" },
};

/* Fields every template may name besides the vendor's `fields`. */
static const char *const reserved_fields[] = { "refresh_token", "scope", "audience", NULL };

/* One setting that won the layering: the entry, its file, its table row. */
struct setting {
	const struct pb_ini_entry *e;
	const char *file;
	const struct key_def *k;
};

/* A profile being resolved. */
struct layers {
	struct setting key[NKEYS];  /* by table row; prefix rows unused */
	struct setting *hdr;        /* token.header.* and refresh.header.*, in order */
	size_t nhdr, hdrcap;
};

/* What pb_config_load() carries around. */
struct loader {
	struct pb_config *cfg;
	size_t maxfiles;
	ssize_t defaults;           /* index of [defaults] in files[0], -1 if none */
	struct pb_err *err;
};

/* ---------------------------------------------------------------- values */

/* Index of v in a NULL-terminated word list, or -1. */
static int word_index(const char *const *words, const char *v)
{
	for (int i = 0; words[i] != NULL; i++)
		if (strcmp(words[i], v) == 0)
			return i;
	return -1;
}

/* A plain decimal ("5", "2.5"; no sign, exponent or hex) within k's bounds. */
static int parse_number(const struct key_def *k, const char *v, double *out)
{
	double d;

	if (v[strspn(v, "0123456789.")] != '\0' || pb_parse_double(v, &d) < 0)
		return -1;
	if (d < k->min || (d == k->min && !k->min_closed) || d > k->max ||
	    (k->max_open && d >= k->max))
		return -1;
	*out = d;
	return 0;
}

/* No blank or control character anywhere. */
static bool no_blanks(const char *v)
{
	return !pb_has_ctrl(v) && strpbrk(v, " \t") == NULL;
}

/* "http://host..." or "https://host..." */
static bool http_url(const char *v)
{
	size_t n;

	if (strncmp(v, "https://", 8) == 0)
		n = 8;
	else if (strncmp(v, "http://", 7) == 0)
		n = 7;
	else
		return false;
	return v[n] != '\0' && v[n] != '/' && no_blanks(v);
}

/* What is wrong with a URL http_url refused, when it is more than its scheme; else NULL. */
static const char *url_problem(const char *v)
{
	if (strpbrk(v, " \t") != NULL)
		return "holds a space or tab (a URL has none; write %20 where one is meant)";
	if (pb_has_ctrl(v))
		return "holds a control character";
	if (strncmp(v, "https://", 8) == 0 || strncmp(v, "http://", 7) == 0)
		return "has no host after the scheme";
	return NULL;
}

/* An RFC 9110 token (what an auth scheme or a header name is made of). */
static bool http_token(const char *v, size_t max)
{
	size_t n = strlen(v);

	return n > 0 && n <= max && strspn(v, "abcdefghijklmnopqrstuvwxyz"
					    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
					    "!#$%&'*+-.^_`|~") == n;
}

/* refresh_token, scope, audience: known to every template, never a credential field. */
static bool is_reserved(const char *name)
{
	return word_index(reserved_fields, name) >= 0;
}

/*
 * Split a comma-separated list into an array of trimmed items. One malloc
 * holds the pointers and a copy of the strings, so free(*out) releases it
 * all. Returns 0, 1 when an item is empty, -1 when out of memory.
 */
static int split_list(const char *v, const char ***out, size_t *n)
{
	size_t len = strlen(v), count = 1, i = 0;
	const char **arr;
	char *copy, *item, *comma;

	for (const char *c = v; *c != '\0'; c++)
		count += *c == ',';
	arr = malloc(count * sizeof(*arr) + len + 1);
	if (arr == NULL)
		return -1;
	copy = (char *)(arr + count);
	memcpy(copy, v, len + 1);
	for (item = copy; item != NULL; item = comma) {
		comma = strchr(item, ',');
		if (comma != NULL)
			*comma++ = '\0';
		arr[i] = pb_trim(item);
		if (*arr[i++] == '\0') {
			free(arr);
			return 1;
		}
	}
	*out = arr;
	*n = count;
	return 0;
}

/* Is name in the array? */
static bool listed(const char *const *arr, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(arr[i], name) == 0)
			return true;
	return false;
}

/*
 * Why a list value is wrong, or NULL if it is fine; *oom on ENOMEM.
 * names: field names (pb_valid_name, not reserved, no repeats);
 * otherwise user or group names (no control characters, bounded).
 */
static const char *list_problem(const char *v, bool names, bool *oom)
{
	const char **arr = NULL;
	const char *why = NULL;
	size_t n = 0;
	int rc = split_list(v, &arr, &n);

	*oom = rc < 0;
	if (rc != 0)
		return rc < 0 ? "" : "has an empty item";
	for (size_t i = 0; i < n && why == NULL; i++) {
		if (!names && (pb_has_ctrl(arr[i]) || strlen(arr[i]) > ACCOUNT_MAX))
			why = "has a name with control characters or over 256 bytes";
		else if (names && !pb_valid_name(arr[i]))
			why = "has an invalid field name (letters, digits, '_', '.', '-')";
		else if (names && is_reserved(arr[i]))
			why = "names a reserved field (refresh_token, scope and audience are "
			      "always known to templates)";
		else if (names && listed(arr, i, arr[i]))
			why = "names a field twice";
	}
	free(arr);
	return why;
}

/* pb_template_fields() callback for pass 1: only the template's syntax matters. */
static int accept_any_field(void *ctx, const char *name, bool optional)
{
	return 0;
}

/* May this kind be set to an empty value, meaning "unset"? */
static bool empty_unsets(enum kind kind)
{
	switch (kind) {
	case K_TEXT: case K_BASE_URL: case K_URL: case K_PATH: case K_PROXY:
	case K_TEMPLATE: case K_JSON_PATH: case K_HEADER:
		return true;
	default:
		return false;
	}
}

/*
 * Check one value against its table row, on its own (pass 1). The value is
 * quoted in the message except for templates and proxies, which may carry
 * a password.
 */
static int check_value(const struct key_def *k, const struct pb_ini_entry *e,
		       const char *file, struct pb_err *err)
{
	const char *v = e->value, *why = NULL;
	struct pb_err terr = { 0 };
	bool ok = true, oom = false;
	double d;

	if (k->kind == K_HEADER && !http_token(e->key + strlen(k->name), HEADER_NAME_MAX))
		return pb_fail(err, PB_E_CONFIG, "%s:%u: %s: '%s' is not an HTTP header name",
			       file, e->line, e->key, e->key + strlen(k->name));
	if (*v == '\0') {
		if (empty_unsets(k->kind))
			return 0;
		return pb_fail(err, PB_E_CONFIG, "%s:%u: %s: empty value, expected %s",
			       file, e->line, e->key, k->expect);
	}
	switch (k->kind) {
	case K_NUMBER: ok = parse_number(k, v, &d) == 0; break;
	case K_ENUM: ok = word_index(k->words, v) >= 0; break;
	case K_NAME: ok = pb_valid_name(v); break;
	case K_NAMES: why = list_problem(v, true, &oom); break;
	case K_ACCOUNTS: why = list_problem(v, false, &oom); break;
	case K_TEXT: ok = !pb_has_ctrl(v); break;
	case K_SCHEME: ok = http_token(v, SCHEME_MAX); break;
	case K_BASE_URL: ok = http_url(v); why = ok ? NULL : url_problem(v); break;
	case K_URL:
		ok = v[0] == '/' ? no_blanks(v) : http_url(v);
		why = ok ? NULL : url_problem(v);
		break;
	case K_PATH: ok = v[0] == '/' && !pb_has_ctrl(v); break;
	case K_PROXY: ok = no_blanks(v); break;
	case K_JSON_PATH: ok = pb_json_path_valid(v); break;
	case K_LIFETIME: ok = pb_lifetime_valid(v); break;
	case K_HEADER:
	case K_TEMPLATE:
		if (pb_template_fields(v, accept_any_field, NULL, &terr) < 0)
			return pb_fail(err, PB_E_CONFIG, "%s:%u: %s: %s",
				       file, e->line, e->key, terr.msg);
		return 0;
	}
	if (oom)
		return pb_fail(err, PB_E_INTERNAL, "out of memory");
	if (why != NULL)
		return pb_fail(err, PB_E_CONFIG, "%s:%u: %s: '%.80s' %s",
			       file, e->line, e->key, v, why);
	if (!ok && k->kind == K_PROXY)
		return pb_fail(err, PB_E_CONFIG, "%s:%u: %s: the value is not %s",
			       file, e->line, e->key, k->expect);
	if (!ok)
		return pb_fail(err, PB_E_CONFIG, "%s:%u: %s: '%.80s' is not %s",
			       file, e->line, e->key, v, k->expect);
	return 0;
}

/* ---------------------------------------------------------------- files */

/* "FILE:LINE: unknown key 'timout' in [defaults]", with a key it may be a slip for. */
static int unknown_key(const struct pb_ini *ini, const struct pb_ini_entry *e,
		       struct pb_err *err)
{
	const char *names[NKEYS], *near;

	for (size_t i = 0; i < NKEYS; i++)
		names[i] = key_table[i].kind == K_HEADER ? NULL : key_table[i].name;
	near = pb_closest(e->key, names, NKEYS);
	return pb_fail(err, PB_E_CONFIG, "%s:%u: unknown key '%s' in [%s%s%s]%s%s%s", ini->path,
		       e->line, e->key, e->type, e->name ? " " : "", e->name ? e->name : "",
		       near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
}

/* The table row for a key: exact, or a prefix row with a non-empty rest. */
static const struct key_def *find_key(const char *key)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *k = &key_table[i];
		size_t n = strlen(k->name);

		if (k->kind == K_HEADER ? strncmp(key, k->name, n) == 0 && key[n] != '\0'
					: strcmp(key, k->name) == 0)
			return k;
	}
	return NULL;
}

/* IN_* bit of a section type, 0 if there is no such section. */
static unsigned section_bit(const char *type)
{
	if (strcmp(type, "defaults") == 0)
		return IN_DEFAULTS;
	if (strcmp(type, "vendor") == 0)
		return IN_VENDOR;
	if (strcmp(type, "profile") == 0)
		return IN_PROFILE;
	return 0;
}

/* "[defaults]" "[vendor]" "[profile]": where a key may go, for messages. */
static const char *where_allowed(unsigned in)
{
	switch (in) {
	case IN_DEFAULTS: return "[defaults]";
	case IN_PROFILE: return "[profile]";
	case IN_DEFAULTS | IN_PROFILE: return "[defaults] and [profile]";
	default: return "[vendor] and [profile]";
	}
}

/* A section header of the main config: known type, a name exactly when needed. */
static int check_header(const struct pb_ini *ini, const struct pb_ini_entry *h,
			struct pb_err *err)
{
	unsigned bit = section_bit(h->type);

	if (bit == 0)
		return pb_fail(err, PB_E_CONFIG, "%s:%u: unknown section [%s%s%s] (expected "
			       "[defaults], [vendor NAME] or [profile NAME])", ini->path,
			       h->line, h->type, h->name ? " " : "", h->name ? h->name : "");
	if (bit == IN_DEFAULTS && h->name != NULL)
		return pb_fail(err, PB_E_CONFIG, "%s:%u: [defaults %s]: [defaults] takes no name",
			       ini->path, h->line, h->name);
	if (bit != IN_DEFAULTS && h->name == NULL)
		return pb_fail(err, PB_E_CONFIG, "%s:%u: [%s] needs a name: [%s NAME]",
			       ini->path, h->line, h->type, h->type);
	return 0;
}

/* A preset holds one section, [vendor <vendor>], and nothing else. */
static int check_preset_header(const struct pb_ini *ini, const struct pb_ini_entry *h,
			       const char *vendor, struct pb_err *err)
{
	if (h != &ini->v[0])
		return pb_fail(err, PB_E_CONFIG, "%s:%u: a preset holds one section, "
			       "[vendor %s]", ini->path, h->line, vendor);
	if (strcmp(h->type, "vendor") != 0 || h->name == NULL || strcmp(h->name, vendor) != 0)
		return pb_fail(err, PB_E_CONFIG, "%s:%u: the section must be [vendor %s], "
			       "as the file is named", ini->path, h->line, vendor);
	return 0;
}

/*
 * Pass 1 over a parsed file: every section known, every key known and
 * allowed in its section, every value of the right kind. preset is the
 * vendor name for a preset file, NULL for the main config.
 */
static int check_file(const struct pb_ini *ini, const char *preset, struct pb_err *err)
{
	const struct key_def *k;
	unsigned bit = 0;

	if (preset != NULL && ini->n == 0)
		return pb_fail(err, PB_E_CONFIG, "%s: a preset holds one section, [vendor %s]",
			       ini->path, preset);
	for (size_t i = 0; i < ini->n; i++) {
		const struct pb_ini_entry *e = &ini->v[i];

		if (e->key == NULL) {
			if (preset ? check_preset_header(ini, e, preset, err) < 0
				   : check_header(ini, e, err) < 0)
				return -1;
			bit = section_bit(e->type);
			continue;
		}
		for (size_t r = 0; r < sizeof(removed_keys) / sizeof(removed_keys[0]); r++)
			if (strcmp(e->key, removed_keys[r].name) == 0)
				return pb_fail(err, PB_E_CONFIG, "%s:%u: %s %s (delete the line)",
					       ini->path, e->line, e->key, removed_keys[r].why);
		if ((k = find_key(e->key)) == NULL)
			return unknown_key(ini, e, err);
		if (!(k->in & bit))
			return pb_fail(err, PB_E_CONFIG, "%s:%u: %s is not allowed in [%s] "
				       "(only in %s)", ini->path, e->line, e->key, e->type,
				       where_allowed(k->in));
		if (check_value(k, e, ini->path, err) < 0)
			return -1;
	}
	return 0;
}

/*
 * Open a config or preset file the way sshd treats its config: not through
 * a symlink, a regular file, owned by root or by us (pb_trusted_uid), not
 * writable by group or others. Returns the fd, or -1 with err; *missing
 * says the file does not exist. (O_NONBLOCK: a FIFO must not hang us
 * before fstat refuses it.)
 */
static int open_trusted(const char *path, bool *missing, struct pb_err *err)
{
	struct stat st;
	int fd = pb_open_regular(path, &st, err);

	*missing = fd < 0 && errno == ENOENT;
	if (fd < 0)
		return -1;
	if (st.st_uid != 0 && st.st_uid != pb_trusted_uid()) {
		char who[64], me[64];

		pb_user_name(st.st_uid, who, sizeof(who));
		pb_user_name(pb_trusted_uid(), me, sizeof(me));
		if (pb_trusted_uid() == 0)
			pb_fail(err, PB_E_CONFIG, "%s: owned by %s, must be owned by root "
				"(chown root %s)", path, who, path);
		else
			pb_fail(err, PB_E_CONFIG, "%s: owned by %s, must be owned by root or %s "
				"(chown %s %s)", path, who, me, me, path);
	} else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		pb_fail(err, PB_E_CONFIG, "%s: mode %04o, must not be writable by group or "
			"others (chmod go-w %s)", path, (unsigned)(st.st_mode & 07777), path);
	} else {
		return fd;
	}
	close(fd);
	return -1;
}

/* Open, check and parse path into the next free cfg->files slot. */
static int read_file(struct loader *ld, const char *path, bool *missing, struct pb_ini **out)
{
	struct pb_config *cfg = ld->cfg;
	int fd, rc;

	*missing = false;
	if (cfg->nfiles == ld->maxfiles) {
		pb_fail(ld->err, PB_E_INTERNAL, "too many files");
		return -1;   /* and *out not set: the callers must see -1 */
	}
	if ((fd = open_trusted(path, missing, ld->err)) < 0)
		return -1;
	rc = pb_ini_parse_fd(path, fd, &cfg->files[cfg->nfiles], ld->err);
	close(fd);
	if (rc < 0)
		return -1;
	*out = &cfg->files[cfg->nfiles++];
	return 0;
}

/* The entry for key in the section whose header is ini->v[sec], or NULL. */
static const struct pb_ini_entry *section_get(const struct pb_ini *ini, size_t sec,
					      const char *key)
{
	for (size_t i = sec + 1; i < ini->n && ini->v[i].key != NULL; i++)
		if (strcmp(ini->v[i].key, key) == 0)
			return &ini->v[i];
	return NULL;
}

/* Index of the header [type name] in ini (name NULL for one word), or -1. */
static ssize_t section_find(const struct pb_ini *ini, const char *type, const char *name)
{
	for (size_t i = 0; i < ini->n; i++) {
		const struct pb_ini_entry *e = &ini->v[i];

		if (e->key == NULL && strcmp(e->type, type) == 0 &&
		    (name == NULL ? e->name == NULL : e->name && strcmp(e->name, name) == 0))
			return (ssize_t)i;
	}
	return -1;
}

/* ---------------------------------------------------------------- layering */

/* Record h as the value of its header NAME, replacing an earlier one (names are case-blind). */
static int layer_header(struct layers *L, const struct setting *h)
{
	size_t plen = strlen(h->k->name);
	struct setting *v;

	for (size_t i = 0; i < L->nhdr; i++) {
		if (L->hdr[i].k == h->k && strcasecmp(L->hdr[i].e->key + plen, h->e->key + plen) == 0) {
			L->hdr[i] = *h;
			return 0;
		}
	}
	if (L->nhdr == L->hdrcap) {
		size_t cap = L->hdrcap ? L->hdrcap * 2 : 4;

		if ((v = reallocarray(L->hdr, cap, sizeof(*v))) == NULL)
			return -1;
		L->hdr = v;
		L->hdrcap = cap;
	}
	L->hdr[L->nhdr++] = *h;
	return 0;
}

/* Lay the keys of section sec of ini over L; only keys whose `in` has a bit of mask. */
static int layer_section(struct layers *L, const struct pb_ini *ini, size_t sec,
			 unsigned mask, struct pb_err *err)
{
	for (size_t i = sec + 1; i < ini->n && ini->v[i].key != NULL; i++) {
		struct setting s = { &ini->v[i], ini->path, find_key(ini->v[i].key) };

		if (s.k == NULL || !(s.k->in & mask))
			continue;
		if (s.k->kind != K_HEADER)
			L->key[s.k - key_table] = s;
		else if (layer_header(L, &s) < 0)
			return pb_fail(err, PB_E_INTERNAL, "out of memory");
	}
	return 0;
}

/* Set one profile field from a (pass-1 checked) setting. */
static int apply(struct pb_profile *p, const struct setting *s, struct pb_err *err)
{
	const struct key_def *k = s->k;
	const char *v = s->e->value;
	char *field = (char *)p + k->off;
	int idx;
	size_t n;

	if (k->off == NO_FIELD)
		return 0;
	switch (k->kind) {
	case K_NUMBER:
		(void)parse_number(k, v, (double *)(void *)field);
		return 0;
	case K_ENUM:
		idx = word_index(k->words, v);
		memcpy(field, &idx, sizeof(idx));
		return 0;
	case K_NAMES:
	case K_ACCOUNTS:
		/* each key is applied once per profile, so the list is still NULL */
		if (split_list(v, (const char ***)(void *)field, &n) != 0)
			return pb_fail(err, PB_E_INTERNAL, "out of memory");
		*(size_t *)(void *)((char *)p + k->count_off) = n;
		return 0;
	default:
		*(const char **)(void *)field = *v != '\0' ? v : NULL;
		return 0;
	}
}

/* Turn the layered token.header.* or refresh.header.* settings into r->headers. */
static int build_headers(struct pb_request *r, const struct layers *L, const char *prefix,
			 struct pb_err *err)
{
	size_t n = 0, plen = strlen(prefix);

	if (L->nhdr == 0)
		return 0;
	r->headers = calloc(L->nhdr, sizeof(*r->headers));
	if (r->headers == NULL)
		return pb_fail(err, PB_E_INTERNAL, "out of memory");
	for (size_t i = 0; i < L->nhdr; i++) {
		const struct pb_ini_entry *e = L->hdr[i].e;

		/* an empty value unsets a header a preset sends */
		if (strcmp(L->hdr[i].k->name, prefix) != 0 || e->value[0] == '\0')
			continue;
		r->headers[n].name = e->key + plen;
		r->headers[n++].value = e->value;
	}
	r->nheaders = n;
	if (n == 0) {
		free(r->headers);
		r->headers = NULL;
	}
	return 0;
}

/* ---------------------------------------------------------------- profile checks */

/* Does the profile's credential list have this field? */
static bool has_field(const struct pb_profile *p, const char *name)
{
	return listed(p->fields, p->nfields, name);
}

/* What pb_template_fields() reports into, for one template of one profile. */
struct field_check {
	const struct pb_profile *p;
	bool refresh;             /* a refresh.* template: refresh_token is known */
	bool saw_refresh_token;
	char bad[65];
};

/* pb_template_fields() callback for pass 2: is name a field this template may use? */
static int field_known(void *ctx, const char *name, bool optional)
{
	struct field_check *fc = ctx;

	if (strcmp(name, "refresh_token") == 0 && fc->refresh) {
		fc->saw_refresh_token = true;
		return 0;
	}
	if (strcmp(name, "refresh_token") != 0 && (is_reserved(name) || has_field(fc->p, name)))
		return 0;
	snprintf(fc->bad, sizeof(fc->bad), "%s", name);
	return 1;
}

/* Fail with "FILE:LINE: [profile P]: MESSAGE". */
static int profile_fail(struct pb_err *err, const struct pb_profile *p, const char *file,
			unsigned line, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int profile_fail(struct pb_err *err, const struct pb_profile *p, const char *file,
			unsigned line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pb_fail(err, PB_E_CONFIG, "%s:%u: [profile %s]: %s", file, line, p->name, msg);
}

/* Check that the template of setting s names only fields the profile knows. */
static int check_fields(const struct pb_profile *p, const struct setting *s,
			struct field_check *fc, struct pb_err *err)
{
	struct pb_err scratch = { 0 };
	char known[256] = "";
	size_t n = 0;

	if (s->e == NULL || s->e->value[0] == '\0')
		return 0;
	if (pb_template_fields(s->e->value, field_known, fc, &scratch) == 0)
		return 0;
	if (strcmp(fc->bad, "refresh_token") == 0)
		return profile_fail(err, p, s->file, s->e->line, "%s names field 'refresh_token', "
				    "which only refresh.* templates may use", s->e->key);
	for (size_t i = 0; i < p->nfields && n < sizeof(known); i++)
		n += (size_t)snprintf(known + n, sizeof(known) - n, "%s, ", p->fields[i]);
	if (n < sizeof(known))
		snprintf(known + n, sizeof(known) - n, "scope, audience%s",
			 fc->refresh ? ", refresh_token" : "");
	return profile_fail(err, p, s->file, s->e->line, "%s names unknown field '%s' (known: %s)",
			    s->e->key, fc->bad, known);
}

/* Check every template of the profile; note whether refresh.* uses refresh_token. */
static int check_templates(const struct pb_profile *p, const struct layers *L,
			   bool *refresh_uses_token, struct pb_err *err)
{
	struct field_check fc = { .p = p };

	for (size_t i = 0; i < NKEYS + L->nhdr; i++) {
		const struct setting *s = i < NKEYS ? &L->key[i] : &L->hdr[i - NKEYS];

		if (s->k == NULL || (s->k->kind != K_TEMPLATE && s->k->kind != K_HEADER))
			continue;
		fc.refresh = strncmp(s->k->name, "refresh.", 8) == 0;
		if (check_fields(p, s, &fc, err) < 0)
			return -1;
	}
	*refresh_uses_token = fc.saw_refresh_token;
	return 0;
}

/* Is this URL relative (joined to base_url)? */
static bool relative(const char *url)
{
	return url != NULL && url[0] == '/';
}

/* The setting of a key by name (its table row must exist). */
static const struct setting *setting_of(const struct layers *L, const char *key)
{
	return &L->key[find_key(key) - key_table];
}

/* Pass 2 for an exchange vendor: the keys a request needs, and templates. */
static int check_exchange(const struct pb_profile *p, const struct layers *L,
			  struct pb_err *err)
{
	const char *f = p->origin.file;
	unsigned line = p->origin.line;
	bool uses_rt;

	if (p->token.url == NULL)
		return profile_fail(err, p, f, line, "vendor '%s' has no token.url", p->vendor);
	if (p->resp_token == NULL)
		return profile_fail(err, p, f, line, "vendor '%s' has no response.token", p->vendor);
	if (p->base_url == NULL && (relative(p->token.url) || relative(p->refresh.url)))
		return profile_fail(err, p, f, line, "base_url is not set (vendor '%s' has none; "
				    "set it in [profile %s])", p->vendor, p->name);
	if (check_templates(p, L, &uses_rt, err) < 0)
		return -1;
	if (p->refresh.url != NULL) {
		const struct setting *s = setting_of(L, "refresh.url");

		if (p->resp_refresh_token == NULL)
			return profile_fail(err, p, s->file, s->e->line, "refresh.url is set but "
					    "response.refresh_token is not");
		if (!uses_rt)
			return profile_fail(err, p, s->file, s->e->line, "refresh.url is set but "
					    "no refresh.body or refresh.header.* uses ${refresh_token}");
	}
	if (p->client_auth == PB_AUTH_BASIC &&
	    (!has_field(p, "client_id") || !has_field(p, "client_secret"))) {
		const struct setting *s = setting_of(L, "client_auth");

		return profile_fail(err, p, s->file, s->e->line, "client_auth = basic needs "
				    "the fields client_id and client_secret");
	}
	return 0;
}

/* Pass 2: the resolved profile as a whole. */
static int check_profile(const struct pb_profile *p, const struct layers *L,
			 struct pb_err *err)
{
	if (p->type == PB_TYPE_STATIC) {
		if (!has_field(p, "token"))
			return profile_fail(err, p, p->origin.file, p->origin.line,
					    "vendor '%s' is static but its fields have no "
					    "'token'", p->vendor);
		return 0;
	}
	return check_exchange(p, L, err);
}

/* ---------------------------------------------------------------- resolving */

/* qsort's comparison of two preset names. */
static int name_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* scandir's filter: NAME.conf, NAME a valid name */
static int is_preset(const struct dirent *e)
{
	size_t len = strlen(e->d_name);

	return len > 5 && len - 5 < 65 && strcmp(e->d_name + len - 5, ".conf") == 0;
}

/* The presets of vendor_dir (names, without .conf), sorted, up to max: how many. */
static size_t list_presets(const char *dir, char names[][65], size_t max)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, is_preset, alphasort);
	size_t k = 0;

	for (int i = 0; list != NULL && i < n; i++) {
		size_t len = strlen(list[i]->d_name);

		if (k < max) {
			memcpy(names[k], list[i]->d_name, len - 5);
			names[k][len - 5] = '\0';
			if (pb_valid_name(names[k]))
				k++;
		}
		free(list[i]);
	}
	free(list);
	qsort(names, k, sizeof(names[0]), name_cmp);
	return k;
}

/*
 * "unknown vendor 'api-video'": with the one it may be a slip for, and the
 * presets there are.
 */
static void unknown_vendor(struct loader *ld, const struct pb_profile *p, unsigned line,
			   const char *path)
{
	char names[32][65], known[32 * 66] = "";
	const char *ptrs[32], *near;
	size_t n = list_presets(ld->cfg->vendor_dir, names, 32);

	for (size_t i = 0; i < n; i++) {
		ptrs[i] = names[i];
		snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
			 i > 0 ? ", " : "", names[i]);
	}
	near = pb_closest(p->vendor, ptrs, n);
	profile_fail(ld->err, p, ld->cfg->path, line, "unknown vendor '%s' (%s%s%sno [vendor %s] "
		     "section, no preset %s; presets: %s)", p->vendor, near ? "did you mean " : "",
		     near ? near : "", near ? "? " : "", p->vendor, path, n > 0 ? known : "none");
}

/*
 * Find the vendor a profile names: an inline [vendor X] of the main config,
 * else the preset vendor_dir/X.conf (read once, kept in cfg->files).
 * Sets *vini and *vsec to the file and the index of its section.
 */
static int find_vendor(struct loader *ld, const struct pb_profile *p,
		       const struct pb_ini_entry *ve, const struct pb_ini **vini,
		       size_t *vsec)
{
	struct pb_config *cfg = ld->cfg;
	struct pb_ini *ini;
	char path[4096];
	bool missing;
	ssize_t i;

	if ((i = section_find(&cfg->files[0], "vendor", p->vendor)) >= 0) {
		*vini = &cfg->files[0];
		*vsec = (size_t)i;
		return 0;
	}
	*vsec = 0;
	for (size_t f = 1; f < cfg->nfiles; f++) {
		if (strcmp(cfg->files[f].v[0].name, p->vendor) == 0) {
			*vini = &cfg->files[f];
			return 0;
		}
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.conf", cfg->vendor_dir,
			     p->vendor) >= sizeof(path)) {
		profile_fail(ld->err, p, cfg->path, ve->line, "vendor_dir is too long");
		return -1;   /* not profile_fail's value: *vini is unset, say so plainly */
	}
	if (read_file(ld, path, &missing, &ini) < 0) {
		if (missing)
			unknown_vendor(ld, p, ve->line, path);
		return -1;
	}
	if (check_file(ini, p->vendor, ld->err) < 0)
		return -1;
	*vini = ini;
	return 0;
}

/* The built-in defaults of every profile, before any layer. */
static void init_profile(struct pb_profile *p, const struct pb_config *cfg,
			 const struct pb_ini_entry *h)
{
	memset(p, 0, sizeof(*p));
	p->name = h->name;
	p->origin.file = cfg->path;
	p->origin.line = h->line;
	p->type = PB_TYPE_EXCHANGE;
	p->credentials = PB_CRED_USER;
	p->scheme = DEFAULT_SCHEME;
	p->lifetime = DEFAULT_LIFETIME;
	p->client_auth = PB_AUTH_BODY;
	p->timeout = DEFAULT_TIMEOUT;
	p->refresh_at = DEFAULT_REFRESH_AT;
	p->min_interval = DEFAULT_MIN_INTERVAL;
	p->first_refresh_from = 0.0;
}

/* A body format not set explicitly: json when the body starts with '{', else form. */
static void infer_format(struct pb_request *r, const struct setting *fmt)
{
	if (fmt->e == NULL)
		r->format = r->body != NULL && r->body[0] == '{' ? PB_FMT_JSON : PB_FMT_FORM;
}

/* Apply the layered settings and headers to p. */
static int apply_layers(struct pb_profile *p, const struct layers *L, struct pb_err *err)
{
	const struct setting *s;

	for (size_t i = 0; i < NKEYS; i++)
		if (L->key[i].e != NULL && apply(p, &L->key[i], err) < 0)
			return -1;
	if (build_headers(&p->token, L, "token.header.", err) < 0 ||
	    build_headers(&p->refresh, L, "refresh.header.", err) < 0)
		return -1;
	infer_format(&p->token, setting_of(L, "token.format"));
	infer_format(&p->refresh, setting_of(L, "refresh.format"));
	s = setting_of(L, "token.url");
	if (s->e != NULL)
		p->token.origin = (struct pb_origin){ s->file, s->e->line };
	s = setting_of(L, "refresh.url");
	if (s->e != NULL)
		p->refresh.origin = (struct pb_origin){ s->file, s->e->line };
	return 0;
}

/* Resolve the [profile] whose header is files[0].v[sec] into p. */
static int resolve_profile(struct loader *ld, size_t sec, struct pb_profile *p)
{
	const struct pb_ini *main_ini = &ld->cfg->files[0], *vini = NULL;
	const struct pb_ini_entry *ve;
	struct layers L = { 0 };
	size_t vsec;
	int rc = -1;

	init_profile(p, ld->cfg, &main_ini->v[sec]);
	if ((ve = section_get(main_ini, sec, "vendor")) == NULL) {
		profile_fail(ld->err, p, p->origin.file, p->origin.line, "no 'vendor' key "
			     "(a preset name or the name of a [vendor NAME] section)");
		goto done;
	}
	p->vendor = ve->value;
	if (find_vendor(ld, p, ve, &vini, &vsec) < 0)
		goto done;
	if (layer_section(&L, vini, vsec, IN_VENDOR, ld->err) < 0 ||
	    (ld->defaults >= 0 &&
	     layer_section(&L, main_ini, (size_t)ld->defaults, IN_PROFILE, ld->err) < 0) ||
	    layer_section(&L, main_ini, sec, IN_PROFILE, ld->err) < 0)
		goto done;
	if (apply_layers(p, &L, ld->err) < 0 || check_profile(p, &L, ld->err) < 0)
		goto done;
	rc = 0;
done:
	free(L.hdr);
	return rc;
}

/* [defaults] keys that are config-wide; the rest are layered into profiles. */
static void load_defaults(struct pb_config *cfg, ssize_t sec, const char *vendor_dir,
			  const char *creds_dir)
{
	const struct pb_ini *ini = &cfg->files[0];
	const struct pb_ini_entry *e;

	cfg->timeout = DEFAULT_TIMEOUT;
	cfg->refresh_at = DEFAULT_REFRESH_AT;
	cfg->vendor_dir = vendor_dir;
	cfg->system_credentials_dir = creds_dir;
	cfg->broker_socket = PB_BROKER_SOCKET;
	if (sec < 0)
		return;
	if ((e = section_get(ini, (size_t)sec, "timeout")) != NULL)
		(void)parse_number(find_key("timeout"), e->value, &cfg->timeout);
	if ((e = section_get(ini, (size_t)sec, "refresh_at")) != NULL)
		(void)parse_number(find_key("refresh_at"), e->value, &cfg->refresh_at);
	if ((e = section_get(ini, (size_t)sec, "vendor_dir")) != NULL && e->value[0] != '\0')
		cfg->vendor_dir = e->value;
	if ((e = section_get(ini, (size_t)sec, "system_credentials_dir")) != NULL &&
	    e->value[0] != '\0')
		cfg->system_credentials_dir = e->value;
	if ((e = section_get(ini, (size_t)sec, "broker_socket")) != NULL && e->value[0] != '\0')
		cfg->broker_socket = e->value;
}

/*
 * Load and validate the main config (see conf.h). On failure cfg is
 * freed and err says "FILE:LINE: ..." with PB_E_CONFIG.
 */
int pb_config_load(const char *path, const char *vendor_dir_default,
		   const char *creds_dir_default, struct pb_config *cfg,
		   struct pb_err *err)
{
	struct loader ld = { .cfg = cfg, .err = err, .maxfiles = 1 };
	struct pb_ini *main_ini, *files;
	bool missing;
	size_t n = 0;

	memset(cfg, 0, sizeof(*cfg));
	if ((cfg->path = strdup(path)) == NULL ||
	    (cfg->files = calloc(1, sizeof(*cfg->files))) == NULL) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto fail;
	}
	if (read_file(&ld, path, &missing, &main_ini) < 0 || check_file(main_ini, NULL, err) < 0)
		goto fail;
	ld.defaults = section_find(main_ini, "defaults", NULL);
	load_defaults(cfg, ld.defaults, vendor_dir_default, creds_dir_default);
	for (size_t i = 0; i < main_ini->n; i++)
		n += main_ini->v[i].key == NULL && strcmp(main_ini->v[i].type, "profile") == 0;
	/* at most one preset per profile: room for all now, so files never move */
	if ((files = reallocarray(cfg->files, n + 1, sizeof(*files))) != NULL)
		cfg->files = files;
	cfg->profiles = calloc(n ? n : 1, sizeof(*cfg->profiles));
	if (files == NULL || cfg->profiles == NULL) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto fail;
	}
	ld.maxfiles = n + 1;
	for (size_t i = 0; i < cfg->files[0].n; i++) {
		const struct pb_ini_entry *h = &cfg->files[0].v[i];

		if (h->key != NULL || strcmp(h->type, "profile") != 0)
			continue;
		if (resolve_profile(&ld, i, &cfg->profiles[cfg->nprofiles++]) < 0)
			goto fail;
	}
	return 0;
fail:
	pb_config_free(cfg);
	return -1;
}

/* Free the lists of each profile, the parsed files (wiped) and cfg itself. */
void pb_config_free(struct pb_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; cfg->profiles != NULL && i < cfg->nprofiles; i++) {
		struct pb_profile *p = &cfg->profiles[i];

		free(p->fields);
		free(p->users);
		free(p->groups);
		free(p->token.headers);
		free(p->refresh.headers);
	}
	free(cfg->profiles);
	for (size_t i = 0; cfg->files != NULL && i < cfg->nfiles; i++)
		pb_ini_free(&cfg->files[i]);
	free(cfg->files);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

/* The profile called name, or NULL. */
const char *pb_config_closest_profile(const struct pb_config *cfg, const char *name)
{
	const char **names = calloc(cfg->nprofiles + 1, sizeof(*names));
	const char *near = NULL;

	for (size_t i = 0; names != NULL && i < cfg->nprofiles; i++)
		names[i] = cfg->profiles[i].name;
	if (names != NULL)
		near = pb_closest(name, names, cfg->nprofiles);
	free(names);
	return near;
}

const struct pb_profile *pb_config_profile(const struct pb_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nprofiles; i++)
		if (strcmp(cfg->profiles[i].name, name) == 0)
			return &cfg->profiles[i];
	return NULL;
}

/* dir/name beside the broker socket into out: 0, or -1 with err. */
static int beside_socket(const struct pb_config *cfg, const char *name, char *out, size_t len,
			 struct pb_err *err)
{
	const char *sock = cfg->broker_socket, *slash = strrchr(sock, '/');
	int n;

	if (slash == NULL || slash == sock)
		return pb_fail(err, PB_E_CONFIG, "broker_socket %s: not in a directory of its own",
			       sock);
	n = snprintf(out, len, "%.*s/%s", (int)(slash - sock), sock, name);
	if (n < 0 || (size_t)n >= len)
		return pb_fail(err, PB_E_CONFIG, "broker_socket %s: path too long", sock);
	return 0;
}

int pb_config_state_dir(const struct pb_config *cfg, char *out, size_t len, struct pb_err *err)
{
	return beside_socket(cfg, "broker", out, len, err);
}

int pb_config_users_dir(const struct pb_config *cfg, char *out, size_t len, struct pb_err *err)
{
	return beside_socket(cfg, "users", out, len, err);
}

/* Is the name of group gid in the profile's groups list? */
static bool group_listed(const struct pb_profile *p, gid_t gid)
{
	struct group gr, *res = NULL;
	size_t size = 1024;
	char *buf = NULL;
	bool found = false;
	int rc;

	for (;;) {
		if ((buf = malloc(size)) == NULL)
			return false;
		rc = getgrgid_r(gid, &gr, buf, size, &res);
		if (rc != ERANGE || size >= 1024 * 1024)
			break;
		free(buf);
		size *= 2;
	}
	if (rc == 0 && res != NULL)
		found = listed(p->groups, p->ngroups, gr.gr_name);
	free(buf);
	return found;
}

/* users/groups both empty: everyone; else a listed user or a listed group. */
bool pb_profile_applies(const struct pb_profile *p, const char *user,
			const gid_t *gids, size_t ngids)
{
	if (p->nusers == 0 && p->ngroups == 0)
		return true;
	if (user != NULL && listed(p->users, p->nusers, user))
		return true;
	for (size_t i = 0; p->ngroups > 0 && i < ngids; i++)
		if (group_listed(p, gids[i]))
			return true;
	return false;
}

/* "json" / "form" / "raw", for messages and `bearer-token status`. */
const char *pb_format_name(enum pb_format f)
{
	switch (f) {
	case PB_FMT_JSON: return "json";
	case PB_FMT_FORM: return "form";
	case PB_FMT_RAW: return "raw";
	}
	return "?";
}
