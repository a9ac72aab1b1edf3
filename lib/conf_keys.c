/* SPDX-License-Identifier: MIT */
/*
 * conf_keys.c - every key of pam_bearer.conf and the presets, in one table
 * (the sections it may appear in, the kind of value it takes, where it
 * lands in struct pb_profile), and the checks of one value against it:
 * pass 1 of the loader (conf.c), which covers every file read, vendors no
 * profile uses too.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_int.h"
#include "expiry.h"
#include "jsonmap.h"
#include "template.h"

#define SCHEME_MAX 32           /* store.h keeps it in char[33] */
#define ACCOUNT_MAX 256         /* a user or group name in users/groups */
#define HEADER_NAME_MAX 128
#define P(m) offsetof(struct pb_profile, m)

static const char *const type_words[] = { "exchange", "static", NULL };
static const char *const cred_words[] = { "user", "system", NULL };
static const char *const format_words[] = { "json", "form", NULL };
static const char *const auth_words[] = { "body", "basic", "private_key_jwt", NULL };

/* words[i] is enum value i, and enums are written as ints */
_Static_assert(PB_TYPE_STATIC == 1 && PB_CRED_SYSTEM == 1 && PB_FMT_FORM == 1 &&
	       PB_AUTH_BASIC == 1 && PB_AUTH_PRIVATE_KEY_JWT == 2,
	       "enum order must match the word lists");
_Static_assert(sizeof(enum pb_vendor_type) == sizeof(int) &&
	       sizeof(enum pb_cred_source) == sizeof(int) &&
	       sizeof(enum pb_format) == sizeof(int) &&
	       sizeof(enum pb_client_auth) == sizeof(int), "enums are int-sized");

#define D IN_DEFAULTS
#define V IN_VENDOR
#define R IN_PROFILE
/* Every key of pam_bearer.conf and the presets; pam_bearer.conf(5) documents each. */
const struct key_def pb_conf_keys[] = {
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
	{ "wlcg_discovery", D, K_NAME, NO_FIELD, .expect = "a profile name" },
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
	  .expect = "body, basic or private_key_jwt" },
	{ "assertion.claims", V | R, K_TEMPLATE, P(assertion_claims), .expect = "a template" },
	{ "assertion.kid", V | R, K_TEMPLATE, P(assertion_kid), .expect = "a template" },
	{ "response.expires_at", V | R, K_JSON_PATH, P(resp_expires_at),
	  .expect = "a response path such as 'expires_at'" },
	{ "refused_status", V | R, K_STATUSES, P(refused_status), P(nrefused_status),
	  .expect = "a list of up to 8 HTTP statuses 400-499 (not 429)" },
	{ "refused_hint", V | R, K_TEXT, P(refused_hint), .expect = "text without control characters" },
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
_Static_assert(sizeof(pb_conf_keys) / sizeof(pb_conf_keys[0]) == PB_CONF_NKEYS,
	       "PB_CONF_NKEYS counts the rows");

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
/*
 * Fields of signed assertions: ${assertion} in the requests of a profile
 * that signs; the others in its assertion.* templates only (fetch.c).
 */
static const char *const assertion_fields[] = { "assertion", "iat", "exp", "jti", "token_url",
						NULL };

/* ---------------------------------------------------------------- values */

/* Index of v in a NULL-terminated word list, or -1. */
static int word_index(const char *const *words, const char *v)
{
	for (int i = 0; words[i] != NULL; i++)
		if (strcmp(words[i], v) == 0)
			return i;
	return -1;
}

/* See conf_int.h: a plain decimal ("5", "2.5"; no sign, exponent or hex). */
int pb_conf_parse_number(const struct key_def *k, const char *v, double *out)
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
bool pb_conf_is_reserved(const char *name)
{
	return word_index(reserved_fields, name) >= 0 || word_index(assertion_fields, name) >= 0;
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
bool pb_conf_listed(const char *const *arr, size_t n, const char *name)
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
		else if (names && pb_conf_is_reserved(arr[i]))
			why = "names a reserved field (refresh_token, scope and audience are "
			      "always known to templates)";
		else if (names && pb_conf_listed(arr, i, arr[i]))
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
 * "401, 403" into out (up to PB_REFUSED_MAX): each 400..499, but 429, which
 * is a rate limit, never refused credentials. 0, or -1 when it is not such
 * a list.
 */
static int parse_statuses(const char *v, unsigned short *out, size_t *n)
{
	const char *s = v;

	*n = 0;
	for (;;) {
		char *end;
		long st;

		while (*s == ' ' || *s == '\t')
			s++;
		if (*s < '0' || *s > '9' || *n == PB_REFUSED_MAX)
			return -1;
		errno = 0;
		st = strtol(s, &end, 10);
		if (errno != 0 || end - s != 3 || st < 400 || st > 499 || st == 429)
			return -1;
		out[(*n)++] = (unsigned short)st;
		for (s = end; *s == ' ' || *s == '\t'; s++)
			;
		if (*s == '\0')
			return 0;
		if (*s++ != ',')
			return -1;
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
	case K_NUMBER: ok = pb_conf_parse_number(k, v, &d) == 0; break;
	case K_ENUM: ok = word_index(k->words, v) >= 0; break;
	case K_NAME: ok = pb_valid_name(v); break;
	case K_NAMES: why = list_problem(v, true, &oom); break;
	case K_ACCOUNTS: why = list_problem(v, false, &oom); break;
	case K_TEXT: ok = !pb_has_ctrl(v); break;
	case K_SCHEME: ok = http_token(v, SCHEME_MAX); break;
	case K_BASE_URL: ok = http_url(v); why = ok ? NULL : url_problem(v); break;
	case K_URL:
		/* "/path", an http(s) URL, or one field that holds one ("${token_uri}") */
		ok = v[0] == '/' ? no_blanks(v) : http_url(v) || (strncmp(v, "${", 2) == 0 &&
								  strchr(v, '}') == v + strlen(v) - 1);
		why = ok ? NULL : url_problem(v);
		/* ${fields} in a path are a template's (percent-encoded at request time) */
		if (ok && pb_template_fields(v, accept_any_field, NULL, &terr) < 0)
			return pb_fail(err, PB_E_CONFIG, "%s:%u: %s: %s",
				       file, e->line, e->key, terr.msg);
		break;
	case K_PATH: ok = v[0] == '/' && !pb_has_ctrl(v); break;
	case K_PROXY: ok = no_blanks(v); break;
	case K_JSON_PATH: ok = pb_json_path_valid(v); break;
	case K_LIFETIME: ok = pb_lifetime_valid(v); break;
	case K_STATUSES: {
		unsigned short st[PB_REFUSED_MAX];
		size_t n;

		ok = parse_statuses(v, st, &n) == 0;
		break;
	}
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

/* "FILE:LINE: unknown key 'timout' in [defaults]", with a key it may be a slip for. */
static int unknown_key(const struct pb_ini *ini, const struct pb_ini_entry *e,
		       struct pb_err *err)
{
	const char *names[PB_CONF_NKEYS], *near;

	for (size_t i = 0; i < PB_CONF_NKEYS; i++)
		names[i] = pb_conf_keys[i].kind == K_HEADER ? NULL : pb_conf_keys[i].name;
	near = pb_closest(e->key, names, PB_CONF_NKEYS);
	return pb_fail(err, PB_E_CONFIG, "%s:%u: unknown key '%s' in [%s%s%s]%s%s%s", ini->path,
		       e->line, e->key, e->type, e->name ? " " : "", e->name ? e->name : "",
		       near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
}

/* The table row for a key: exact, or a prefix row with a non-empty rest. */
const struct key_def *pb_conf_find_key(const char *key)
{
	for (size_t i = 0; i < PB_CONF_NKEYS; i++) {
		const struct key_def *k = &pb_conf_keys[i];
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
int pb_conf_check_file(const struct pb_ini *ini, const char *preset, struct pb_err *err)
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
		if ((k = pb_conf_find_key(e->key)) == NULL)
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

int pb_conf_apply(struct pb_profile *p, const struct setting *s, struct pb_err *err)
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
		(void)pb_conf_parse_number(k, v, (double *)(void *)field);
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
	case K_STATUSES:
		(void)parse_statuses(v, (unsigned short *)(void *)field, &n);
		*(size_t *)(void *)((char *)p + k->count_off) = n;
		return 0;
	default:
		*(const char **)(void *)field = *v != '\0' ? v : NULL;
		return 0;
	}
}

/* Turn the layered token.header.* or refresh.header.* settings into r->headers. */

/* See conf_int.h. */
const struct setting *pb_conf_setting(const struct layers *L, const char *key)
{
	return &L->key[pb_conf_find_key(key) - pb_conf_keys];
}
