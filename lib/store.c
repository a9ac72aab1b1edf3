/* SPDX-License-Identifier: MIT */
/*
 * store.c - what the files of the token dir mean (store.h); how they are
 * read and written safely is storefile.c's.
 *
 * The order of the writes is what keeps the files consistent across a
 * crash: a new token writes .state (a rotated refresh token, never to be
 * lost) first and .json (which says "valid") last; an expiry removes
 * .header and .token before .json says expired. pb_store_repair mends
 * what a crash between two of them left.
 *
 * The refresh token's .state file is written and parsed by hand, so that
 * the secret only ever sits in memory that we wipe (json-c frees without
 * wiping); .json never holds a secret, so json-c is fine for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "expiry.h"
#include "store.h"

#define STORE_TOKEN_MAX (32 * 1024)   /* the longest token we store */
#define STORE_SCHEME_MAX 32           /* struct pb_meta.scheme */

/* "none", "valid", "expired", "error": the words .json and status use. */
const char *pb_state_name(enum pb_state s)
{
	switch (s) {
	case PB_STATE_VALID:
		return "valid";
	case PB_STATE_EXPIRED:
		return "expired";
	case PB_STATE_ERROR:
		return "error";
	case PB_STATE_NONE:
		break;
	}
	return "none";
}

/* Copy a failure recorded in a scratch pb_err into the caller's (may be NULL). */
static int pass_err(struct pb_err *err, const struct pb_err *why)
{
	if (err != NULL)
		*err = *why;
	return -1;
}

/*
 * "<profile>.<ext>" into out. Refuses (PB_E_INTERNAL) a profile name that
 * is not a plain name: it must never become "../x" or ".hidden" in a path.
 */
static int file_name(const char *profile, const char *ext, char out[STORE_NAME_MAX],
		     struct pb_err *err)
{
	if (!pb_valid_name(profile))
		return pb_fail(err, PB_E_INTERNAL, "invalid profile name '%s'",
			       profile != NULL ? profile : "(null)");
	snprintf(out, STORE_NAME_MAX, "%s.%s", profile, ext);
	return 0;
}

/*
 * A token we are willing to put in a file and an HTTP header: not empty,
 * not too long, no control characters (header injection) and no spaces.
 * A refresh token only ever goes into a request body, so spaces are fine
 * there. PB_E_TEMP: it is what the vendor sent.
 */
static int check_token(const char *what, const char *t, bool spaces_ok, struct pb_err *err)
{
	size_t n;

	if (t == NULL || t[0] == '\0')
		return pb_fail(err, PB_E_TEMP, "refusing an empty %s", what);
	n = strlen(t);
	if (n > STORE_TOKEN_MAX)
		return pb_fail(err, PB_E_TEMP, "refusing a %s of %zu bytes (at most %d)", what, n,
			       STORE_TOKEN_MAX);
	if (pb_has_ctrl(t))
		return pb_fail(err, PB_E_TEMP, "refusing %s with control characters", what);
	if (!spaces_ok && strchr(t, ' ') != NULL)
		return pb_fail(err, PB_E_TEMP, "refusing %s with spaces", what);
	return 0;
}

/* The header of token: "Authorization: <scheme> <token>\n", into out. */
static int header_text(const char *scheme, const char *token, struct pb_buf *out)
{
	return pb_buf_addf(out, "Authorization: %s %s\n", scheme, token);
}

/* An auth scheme ("Bearer", "Token"): 1..32 visible ASCII characters. */
static bool scheme_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++)
		if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f)
			return false;
	return n >= 1 && n <= STORE_SCHEME_MAX;
}

/* vendor and scheme for .json: NULL is fine (unknown), anything else must be sane. */
static int check_labels(const char *vendor, const char *scheme, bool required,
			struct pb_err *err)
{
	if ((vendor != NULL || required) && !pb_valid_name(vendor))
		return pb_fail(err, PB_E_INTERNAL, "invalid vendor name '%s'",
			       vendor != NULL ? vendor : "(null)");
	if ((scheme != NULL || required) && !scheme_ok(scheme))
		return pb_fail(err, PB_E_INTERNAL, "invalid auth scheme '%s'",
			       scheme != NULL ? scheme : "(null)");
	return 0;
}

/* ------------------------------------------------------------------ .json */

/* s as one line of at most size - 1 bytes, not cut inside a UTF-8 sequence. */
static void copy_line(char *out, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	for (char *c = out; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

/* Add key: string s, or null for NULL/"" (json-c adds NULL as null). */
static int json_add_str(struct json_object *o, const char *key, const char *s)
{
	struct json_object *v = NULL;

	if (s != NULL && s[0] != '\0' && (v = json_object_new_string(s)) == NULL)
		return -1;
	return json_object_object_add(o, key, v);
}

/* Add key: an RFC 3339 time (to the millisecond when it has a fraction), or null when !present. */
static int json_add_time(struct json_object *o, const char *key, long long ms, bool present)
{
	char buf[32];

	if (!present)
		return json_add_str(o, key, NULL);
	pb_time_format_ms(ms, buf);
	return json_add_str(o, key, buf);
}

/*
 * The text of P.json for m: pretty JSON and a newline. last_error and
 * next_attempt_at appear only when the last attempt failed. Never a token.
 */
static int meta_format(const char *profile, const struct pb_meta *m, struct pb_buf *out,
		       struct pb_err *err)
{
	struct json_object *o = json_object_new_object();
	const char *text;
	int rc = -1;

	if (o == NULL ||
	    json_add_str(o, "profile", profile) < 0 ||
	    json_add_str(o, "vendor", m->vendor) < 0 ||
	    json_add_str(o, "scheme", m->scheme) < 0 ||
	    json_add_time(o, "obtained_at", m->obtained_ms, m->obtained_ms != 0) < 0 ||
	    json_add_time(o, "expires_at", m->expires_ms, m->has_expiry) < 0 ||
	    json_add_str(o, "state", pb_state_name(m->state)) < 0 ||
	    (m->renewal[0] != '\0' && json_add_str(o, "renewal", m->renewal) < 0) ||
	    (m->last_error[0] != '\0' &&
	     (json_add_str(o, "last_error", m->last_error) < 0 ||
	      json_add_time(o, "next_attempt_at", m->next_attempt_at * 1000LL,
			    m->next_attempt_at != 0) < 0))) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto done;
	}
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text == NULL || pb_buf_adds(out, text) < 0 || pb_buf_adds(out, "\n") < 0) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto done;
	}
	rc = 0;
done:
	json_object_put(o);
	return rc;
}

/*
 * A string member of o into out[size]: "" when missing or null. -1 when it
 * is another type or does not fit.
 */
static int meta_str(struct json_object *o, const char *key, char *out, size_t size)
{
	struct json_object *v;
	const char *s;

	out[0] = '\0';
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	if (strlen(s) >= size)
		return -1;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

/* A time member of o in ms: *present false when missing or null; -1 when not RFC 3339. */
static int meta_time(struct json_object *o, const char *key, long long *ms, bool *present)
{
	struct json_object *v;

	*ms = 0;
	*present = false;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string) ||
	    pb_time_parse_ms(json_object_get_string(v), ms) < 0 || *ms < 0)
		return -1;
	*present = true;
	return 0;
}

/* Parse P.json's text into m. 0 ok, -1 not what we write. */
static int meta_parse(const struct pb_buf *text, struct pb_meta *m)
{
	static const char *const states[] = { "valid", "expired", "error" };
	static const enum pb_state values[] = { PB_STATE_VALID, PB_STATE_EXPIRED, PB_STATE_ERROR };
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	char state[16], last_error[1024] = "";
	long long next_ms;
	bool present;
	int rc = -1;

	if (strlen(text->data) != text->len || (tok = json_tokener_new()) == NULL)
		goto done;
	o = json_tokener_parse_ex(tok, text->data, (int)text->len);
	if (o == NULL || !json_object_is_type(o, json_type_object))
		goto done;
	for (size_t i = json_tokener_get_parse_end(tok); i < text->len; i++)
		if (strchr(" \t\r\n", text->data[i]) == NULL)
			goto done;    /* trailing garbage */
	if (meta_str(o, "state", state, sizeof(state)) < 0 ||
	    meta_str(o, "vendor", m->vendor, sizeof(m->vendor)) < 0 ||
	    meta_str(o, "scheme", m->scheme, sizeof(m->scheme)) < 0 ||
	    meta_str(o, "last_error", last_error, sizeof(last_error)) < 0 ||
	    meta_str(o, "renewal", m->renewal, sizeof(m->renewal)) < 0 ||
	    meta_time(o, "obtained_at", &m->obtained_ms, &present) < 0 ||
	    meta_time(o, "expires_at", &m->expires_ms, &m->has_expiry) < 0 ||
	    meta_time(o, "next_attempt_at", &next_ms, &present) < 0)
		goto done;
	m->obtained_at = (time_t)(m->obtained_ms / 1000);
	m->expires_at = (time_t)(m->expires_ms / 1000);
	m->next_attempt_at = (time_t)(next_ms / 1000);
	/* a longer last_error than we write is cut, not refused */
	copy_line(m->last_error, sizeof(m->last_error), last_error);
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(state, states[i]) == 0)
			m->state = values[i];
	if (m->state == PB_STATE_NONE)
		goto done;
	rc = 0;
done:
	json_object_put(o);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}

/*
 * Load P.json into m (zeroed, state NONE, unless 0 is returned).
 * 0 ok, 1 absent, -1 unsafe or unreadable, -2 corrupt (err says so either way).
 */
static int meta_load(const struct pb_store *st, const char *profile, struct pb_meta *m,
		     struct pb_err *err)
{
	struct pb_buf text = { 0 };
	char name[STORE_NAME_MAX];
	int rc;

	memset(m, 0, sizeof(*m));
	m->state = PB_STATE_NONE;
	rc = file_name(profile, "json", name, err);
	if (rc == 0)
		rc = pb_file_read(st, name, &text, err);
	if (rc == 0 && meta_parse(&text, m) < 0) {
		memset(m, 0, sizeof(*m));
		m->state = PB_STATE_NONE;
		pb_fail(err, PB_E_STORE, "%s/%s is corrupt", st->path, name);
		rc = -2;
	}
	pb_buf_wipe(&text);
	return rc;
}

/* Write m as P.json. */
static int meta_save(const struct pb_store *st, const char *profile, const struct pb_meta *m,
		     struct pb_err *err)
{
	struct pb_buf text = { 0 };
	char name[STORE_NAME_MAX];
	int rc = -1;

	if (file_name(profile, "json", name, err) < 0 || meta_format(profile, m, &text, err) < 0)
		goto done;
	rc = pb_file_write(st, name, text.data, text.len, err);
done:
	pb_buf_wipe(&text);
	return rc;
}

/* ------------------------------------------------------------------ .state */

/* s as a JSON string literal, quotes included. */
static int json_quote(struct pb_buf *out, const char *s)
{
	if (pb_buf_adds(out, "\"") < 0)
		return -1;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		int r;

		if (c == '"' || c == '\\')
			r = pb_buf_addf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			r = pb_buf_addf(out, "\\u%04x", c);
		else
			r = pb_buf_add(out, s, 1);
		if (r < 0)
			return -1;
	}
	return pb_buf_adds(out, "\"");
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

/* Four hex digits at p into *v. */
static int hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int d;

		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (p[i] >= 'a' && p[i] <= 'f')
			d = p[i] - 'a' + 10;
		else if (p[i] >= 'A' && p[i] <= 'F')
			d = p[i] - 'A' + 10;
		else
			return -1;
		*v = *v * 16 + (unsigned)d;
	}
	return 0;
}

/* Code point cp as UTF-8. */
static int add_utf8(struct pb_buf *out, unsigned cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return pb_buf_add(out, u, n);
}

/*
 * A JSON string literal at *pp (at its opening quote) into out; *pp moves
 * past it. -1 on anything that is not a well-formed string.
 */
static int json_unquote(const char **pp, struct pb_buf *out)
{
	const char *p = *pp;
	unsigned cp, lo;

	if (*p++ != '"' || pb_buf_add(out, "", 0) < 0)
		return -1;
	for (;;) {
		unsigned char c = (unsigned char)*p;

		if (c == '"')
			break;
		if (c < 0x20)    /* includes the end of the text */
			return -1;
		if (c != '\\') {
			if (pb_buf_add(out, p++, 1) < 0)
				return -1;
			continue;
		}
		p++;
		switch (*p) {
		case '"': case '\\': case '/':
			cp = (unsigned char)*p;
			break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (hex4(p + 1, &cp) < 0)
				return -1;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {    /* a surrogate pair */
				if (p[1] != '\\' || p[2] != 'u' || hex4(p + 3, &lo) < 0 ||
				    lo < 0xdc00 || lo >= 0xe000)
					return -1;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				return -1;
			}
			break;
		default:
			return -1;
		}
		p++;
		if (add_utf8(out, cp) < 0)
			return -1;
	}
	*pp = p + 1;
	return 0;
}

/*
 * The refresh token out of P.state's text: a JSON object whose members are
 * strings or null, one of them "refresh_token". 0 and *value (malloc()ed,
 * or NULL when absent or null), -1 when the text is not that.
 */
static int state_parse(const char *text, char **value)
{
	struct pb_buf key = { 0 }, val = { 0 };
	const char *p = skip_ws(text);
	int rc = -1;

	*value = NULL;
	if (*p++ != '{')
		goto done;
	p = skip_ws(p);
	if (*p == '}')
		goto end;
	for (;;) {
		bool is_refresh, is_null = false;

		pb_buf_wipe(&key);
		pb_buf_wipe(&val);
		if (json_unquote(&p, &key) < 0)
			goto done;
		p = skip_ws(p);
		if (*p++ != ':')
			goto done;
		p = skip_ws(p);
		if (strncmp(p, "null", 4) == 0) {
			is_null = true;
			p += 4;
		} else if (json_unquote(&p, &val) < 0) {
			goto done;
		}
		is_refresh = strlen(key.data) == key.len && strcmp(key.data, "refresh_token") == 0;
		if (is_refresh) {
			pb_wipe_free(*value);
			*value = NULL;
			if (!is_null) {
				if (strlen(val.data) != val.len)    /* a \u0000 */
					goto done;
				*value = val.data;
				val.data = NULL;
				val.len = val.cap = 0;
			}
		}
		p = skip_ws(p);
		if (*p == '}')
			break;
		if (*p++ != ',')
			goto done;
		p = skip_ws(p);
	}
end:
	p = skip_ws(p + 1);
	if (*p == '\0')
		rc = 0;
done:
	pb_buf_wipe(&key);
	pb_buf_wipe(&val);
	if (rc < 0) {
		pb_wipe_free(*value);
		*value = NULL;
	}
	return rc;
}

/* ------------------------------------------------------------------ public */

/* See store.h: a corrupt .json is -2 (PB_E_STORE "P.json is corrupt"). */
int pb_store_read_meta(const struct pb_store *st, const char *profile, struct pb_meta *m,
		       struct pb_err *err)
{
	return meta_load(st, profile, m, err);
}

/* See store.h. The token is returned exactly as stored: nothing is stripped. */
int pb_store_read(const struct pb_store *st, const char *profile, const char *ext,
		  struct pb_buf *out, struct pb_err *err)
{
	char name[STORE_NAME_MAX];
	int rc = file_name(profile, ext, name, err);

	return rc == 0 ? pb_file_read(st, name, out, err) : rc;
}

int pb_store_read_token(const struct pb_store *st, const char *profile, char **token,
			struct pb_err *err)
{
	struct pb_buf text = { 0 };
	char name[STORE_NAME_MAX];
	int rc;

	*token = NULL;
	rc = file_name(profile, "token", name, err);
	if (rc == 0)
		rc = pb_file_read(st, name, &text, err);
	if (rc == 0 && (text.len == 0 || strlen(text.data) != text.len)) {
		rc = pb_fail(err, PB_E_STORE, "%s/%s is corrupt", st->path, name);
	} else if (rc == 0) {
		*token = text.data;    /* handed over, the caller wipes it */
		text.data = NULL;
	}
	pb_buf_wipe(&text);
	return rc;
}

/* See store.h. An empty or null refresh_token counts as absent. */
int pb_store_read_refresh(const struct pb_store *st, const char *profile, char **refresh_token,
			  struct pb_err *err)
{
	struct pb_buf text = { 0 };
	char name[STORE_NAME_MAX];
	char *value = NULL;
	int rc;

	*refresh_token = NULL;
	rc = file_name(profile, "state", name, err);
	if (rc == 0)
		rc = pb_file_read(st, name, &text, err);
	if (rc != 0)
		goto done;
	if (strlen(text.data) != text.len || state_parse(text.data, &value) < 0 ||
	    (value != NULL && pb_has_ctrl(value))) {
		rc = pb_fail(err, PB_E_STORE, "%s/%s is corrupt", st->path, name);
		goto done;
	}
	if (value == NULL || value[0] == '\0') {
		rc = 1;
		goto done;
	}
	*refresh_token = value;
	value = NULL;
done:
	pb_wipe_free(value);
	pb_buf_wipe(&text);
	return rc;
}

/* ---------------------------------------------------------------- WLCG discovery */

/* Is profile the one whose token is also kept for WLCG discovery? */
static bool discovered(const struct pb_store *st, const char *profile)
{
	return st->wlcg_profile != NULL && strcmp(st->wlcg_profile, profile) == 0;
}

/* See store.h. */
int pb_store_discovery_path(const struct pb_store *st, char *out, size_t len)
{
	const char *slash = strrchr(st->path, '/');
	int n;

	if (slash == NULL)
		return -1;
	n = snprintf(out, len, "%.*s/bt_u%u", (int)(slash - st->path), st->path,
		     (unsigned)st->uid);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * The runtime dir as a store of its own, for bt_u<uid>: the token dir's
 * parent, reached from the token dir's fd (no path is resolved again) and
 * owned by the same user. name gets "bt_u<uid>". 0, or -1 with err.
 */
static int discovery_dir(const struct pb_store *st, struct pb_store *rt, char name[32],
			 struct pb_err *err)
{
	const char *slash = strrchr(st->path, '/');
	struct stat sb;

	memset(rt, 0, sizeof(*rt));
	rt->uid = st->uid;
	snprintf(rt->path, sizeof(rt->path), "%.*s",
		 slash != NULL ? (int)(slash - st->path) : 0, st->path);
	snprintf(name, 32, "bt_u%u", (unsigned)st->uid);
	rt->dirfd = openat(st->dirfd, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rt->dirfd >= 0 && fstat(rt->dirfd, &sb) == 0 && sb.st_uid == st->uid)
		return 0;
	pb_fail(err, PB_E_STORE, "runtime dir %s: cannot keep %s there", rt->path, name);
	if (rt->dirfd >= 0)
		close(rt->dirfd);
	rt->dirfd = -1;
	return -1;
}

/*
 * bt_u<uid> in step with profile's token: written (token), or removed
 * (NULL). Nothing for a profile that is not the discovered one. With
 * mend, it is written only when it differs: 1 when it did, else 0.
 */
static int sync_discovery(const struct pb_store *st, const char *profile, const char *token,
			  bool mend, struct pb_err *err)
{
	struct pb_buf have = { 0 };
	struct pb_store rt;
	char name[32];
	int rc;

	if (!discovered(st, profile))
		return 0;
	if (discovery_dir(st, &rt, name, err) < 0)
		return -1;
	if (mend && token != NULL && pb_file_read(&rt, name, &have, NULL) == 0 &&
	    strcmp(have.data, token) == 0)
		rc = 0;
	else if (token != NULL)
		rc = pb_file_write(&rt, name, token, strlen(token), err) < 0 ? -1 : mend;
	else
		rc = pb_file_remove(&rt, name, err);
	if (mend)
		(void)pb_file_sweep(&rt, name);    /* a writer that died; we hold P's lock */
	pb_buf_wipe(&have);
	close(rt.dirfd);
	return rc;
}

/*
 * See store.h. Callers hold pb_store_lock(): the newer-wins check and the
 * writes are not atomic as a whole, only file by file. A "" refresh token
 * is treated like NULL.
 */
int pb_store_save(const struct pb_store *st, const struct pb_store_token *t, struct pb_err *err)
{
	struct pb_buf buf = { 0 };
	struct pb_meta old, m;
	struct pb_err why;
	char name[STORE_NAME_MAX];
	bool refresh = t->refresh_token != NULL && t->refresh_token[0] != '\0';
	int rc = -1, r;

	pb_err_clear(&why);
	if (file_name(t->profile, "json", name, err) < 0 ||
	    check_labels(t->vendor, t->scheme, true, err) < 0 ||
	    check_token("token", t->token, false, err) < 0 ||
	    (refresh && check_token("refresh token", t->refresh_token, true, err) < 0))
		goto done;
	/*
	 * An older token never replaces a newer one. A corrupt .json is no
	 * reason to keep failing: the new one replaces it. An unsafe one is.
	 */
	r = meta_load(st, t->profile, &old, &why);
	if (r == -1) {
		pass_err(err, &why);
		goto done;
	}
	if (r == 0 && old.state == PB_STATE_VALID && old.obtained_ms > t->obtained_ms) {
		rc = 1;
		goto done;
	}
	/* .json last: once it says valid, the token files are in place */
	if (t->forget_refresh) {
		snprintf(name, sizeof(name), "%s.state", t->profile);
		if (pb_file_remove(st, name, err) < 0)
			goto done;
	}
	if (refresh) {
		snprintf(name, sizeof(name), "%s.state", t->profile);
		if (pb_buf_adds(&buf, "{\"refresh_token\": ") < 0 ||
		    json_quote(&buf, t->refresh_token) < 0 || pb_buf_adds(&buf, "}\n") < 0) {
			pb_fail(err, PB_E_INTERNAL, "out of memory");
			goto done;
		}
		if (pb_file_write(st, name, buf.data, buf.len, err) < 0)
			goto done;
		pb_buf_wipe(&buf);
	}
	snprintf(name, sizeof(name), "%s.token", t->profile);
	if (pb_file_write(st, name, t->token, strlen(t->token), err) < 0)
		goto done;
	snprintf(name, sizeof(name), "%s.header", t->profile);
	if (header_text(t->scheme, t->token, &buf) < 0) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto done;
	}
	if (pb_file_write(st, name, buf.data, buf.len, err) < 0 ||
	    sync_discovery(st, t->profile, t->token, false, err) < 0)
		goto done;
	memset(&m, 0, sizeof(m));
	m.state = PB_STATE_VALID;
	snprintf(m.vendor, sizeof(m.vendor), "%s", t->vendor);
	snprintf(m.scheme, sizeof(m.scheme), "%s", t->scheme);
	m.obtained_ms = t->obtained_ms;
	m.obtained_at = (time_t)(t->obtained_ms / 1000);
	m.has_expiry = t->has_expiry;
	m.expires_ms = t->has_expiry ? t->expires_ms : 0;
	m.expires_at = (time_t)(m.expires_ms / 1000);
	if (t->renewal != NULL)
		snprintf(m.renewal, sizeof(m.renewal), "%s", t->renewal);
	if (meta_save(st, t->profile, &m, err) < 0)
		goto done;
	rc = 0;
done:
	pb_buf_wipe(&buf);
	return rc;
}

/* See store.h. */
bool pb_store_token_present(const struct pb_store *st, const char *profile)
{
	char name[STORE_NAME_MAX];
	struct stat sb;

	if (file_name(profile, "token", name, NULL) < 0)
		return false;
	return fstatat(st->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
	       sb.st_uid == st->uid && sb.st_size > 0;
}

/*
 * Is there a usable token on disk for m: obtained, not expired by the
 * clock, not marked expired, and P.token really there (not read, so no
 * secret is touched)?
 */
static bool token_on_disk(const struct pb_store *st, const char *profile,
			  const struct pb_meta *m, long long now_ms)
{
	if (m->obtained_ms == 0 || m->state == PB_STATE_EXPIRED || m->state == PB_STATE_NONE ||
	    (m->has_expiry && m->expires_ms <= now_ms))
		return false;
	return pb_store_token_present(st, profile);
}

bool pb_store_token_fresh(const struct pb_store *st, const char *profile, long min_valid)
{
	struct pb_meta m;

	return pb_store_read_meta(st, profile, &m, NULL) == 0 && m.state == PB_STATE_VALID &&
	       pb_token_fresh_ms(m.has_expiry, m.obtained_ms, m.expires_ms, pb_wall_ms(), min_valid) &&
	       pb_store_token_present(st, profile);
}

/*
 * See store.h. Only .json is rewritten; state stays valid while a token
 * that has not run out is on disk, so a vendor outage never hides it.
 */
int pb_store_save_error(const struct pb_store *st, const char *profile, const char *vendor,
			const char *scheme, const char *message, time_t next_attempt_at,
			const char *renewal, struct pb_err *err)
{
	time_t now = time(NULL);
	struct pb_meta m;
	struct pb_err why;
	char name[STORE_NAME_MAX];
	int r;

	pb_err_clear(&why);
	if (file_name(profile, "json", name, err) < 0 ||
	    check_labels(vendor, scheme, false, err) < 0)
		return -1;
	/* a corrupt .json is rewritten from what we know; an unsafe one is left alone */
	r = meta_load(st, profile, &m, &why);
	if (r == -1)
		return pass_err(err, &why);
	if (m.vendor[0] == '\0' && vendor != NULL)
		snprintf(m.vendor, sizeof(m.vendor), "%s", vendor);
	if (m.scheme[0] == '\0' && scheme != NULL)
		snprintf(m.scheme, sizeof(m.scheme), "%s", scheme);
	/* "expired" says more than "error" about a token that ran out: it stays */
	if (token_on_disk(st, profile, &m, pb_wall_ms()))
		m.state = PB_STATE_VALID;
	else if (m.state != PB_STATE_EXPIRED)
		m.state = PB_STATE_ERROR;
	copy_line(m.last_error, sizeof(m.last_error),
		  message != NULL && message[0] != '\0' ? message : "failed (no reason given)");
	/* whatever a caller computed, a date two days ahead at most: always one we can read back */
	m.next_attempt_at = next_attempt_at < 0 ? 0
		: next_attempt_at > now + 2 * 86400 ? now + 2 * 86400 : next_attempt_at;
	if (renewal != NULL)
		snprintf(m.renewal, sizeof(m.renewal), "%s", renewal);
	return meta_save(st, profile, &m, err);
}

/* See store.h. .json goes last: it never says valid of files that are gone. */
int pb_store_forget(const struct pb_store *st, const char *profile, struct pb_err *err)
{
	static const char *const exts[] = { "token", "header", "state", "json" };
	char name[STORE_NAME_MAX];

	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (file_name(profile, exts[i], name, err) < 0 || pb_file_remove(st, name, err) < 0)
			return -1;
	return sync_discovery(st, profile, NULL, false, err);
}

/*
 * See store.h. .state (the refresh token) is kept: it may still renew.
 * .header and .token go first: should .json then fail to be written (a
 * full disk), no dead token is left, whatever .json says.
 */
int pb_store_expire(const struct pb_store *st, const char *profile, struct pb_err *err)
{
	struct pb_meta m;
	struct pb_err why;
	char name[STORE_NAME_MAX];
	int r;

	pb_err_clear(&why);
	if (file_name(profile, "header", name, err) < 0 || pb_file_remove(st, name, err) < 0)
		return -1;
	snprintf(name, sizeof(name), "%s.token", profile);
	if (pb_file_remove(st, name, err) < 0 || sync_discovery(st, profile, NULL, false, err) < 0)
		return -1;
	snprintf(name, sizeof(name), "%s.json", profile);
	r = meta_load(st, profile, &m, &why);
	if (r == -1)
		return pass_err(err, &why);
	m.state = PB_STATE_EXPIRED;
	return meta_save(st, profile, &m, err);
}

/*
 * See store.h. What a crash can leave, by the order of the writes: a
 * .token newer than .header (rebuilt from .token), .header without .token
 * (removed), a .token that has run out (removed with its header), temp
 * files (swept).
 */
int pb_store_repair(const struct pb_store *st, const char *profile, const char *scheme)
{
	struct pb_buf want = { 0 }, have = { 0 };
	struct pb_meta m;
	char *token = NULL, name[STORE_NAME_MAX], prefix[STORE_NAME_MAX];
	int meta, tok, repaired = 0;
	bool dead;

	if (!pb_valid_name(profile))
		return 0;
	snprintf(prefix, sizeof(prefix), "%s.", profile);
	repaired += pb_file_sweep(st, prefix) > 0;
	meta = meta_load(st, profile, &m, NULL);
	if (meta == -1)
		goto done;      /* an unsafe file: the renewal says so */
	tok = pb_store_read_token(st, profile, &token, NULL);
	dead = meta == 0 && (m.state == PB_STATE_EXPIRED ||
			     (m.has_expiry && m.obtained_ms != 0 && m.expires_ms <= pb_wall_ms()));
	if (meta == 0 && m.scheme[0] != '\0')
		scheme = m.scheme;
	snprintf(name, sizeof(name), "%s.header", profile);
	if (tok == 0 && !dead && scheme_ok(scheme) && check_token("token", token, false, NULL) == 0) {
		if (header_text(scheme, token, &want) == 0 &&
		    (pb_file_read(st, name, &have, NULL) != 0 || have.len != want.len ||
		     memcmp(have.data, want.data, want.len) != 0))
			repaired += pb_file_write(st, name, want.data, want.len, NULL) == 0;
		repaired += sync_discovery(st, profile, token, true, NULL) == 1;
		goto done;
	}
	/* no token to go with a header, or a dead one: neither may be sent */
	if (faccessat(st->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0 || tok != 1)
		repaired += pb_store_expire(st, profile, NULL) == 0;
	else
		(void)sync_discovery(st, profile, NULL, false, NULL);   /* no token: none there */
done:
	pb_wipe_free(token);
	pb_buf_wipe(&want);
	pb_buf_wipe(&have);
	return repaired > 0;
}

int pb_store_lock(const struct pb_store *st, const char *profile, double timeout, int *lockfd,
		  struct pb_err *err)
{
	char name[STORE_NAME_MAX];
	long holder;

	*lockfd = -1;
	if (file_name(profile, "lock", name, err) < 0)
		return -1;
	if (pb_file_lock(st, name, timeout, lockfd, &holder, err) == 0)
		return 0;
	if (err != NULL && err->code == PB_E_TEMP && holder > 0)
		pb_fail(err, PB_E_TEMP, "another process (pid %ld) is renewing %s and did not "
			"finish within %.0f s", holder, profile, timeout);
	else if (err != NULL && err->code == PB_E_TEMP)
		pb_fail(err, PB_E_TEMP, "another bearer-token is renewing %s and did not finish "
			"within %.0f s", profile, timeout);
	return -1;
}

void pb_store_unlock(int lockfd)
{
	pb_file_unlock(lockfd);
}
