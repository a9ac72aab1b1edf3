/* SPDX-License-Identifier: MIT */
/*
 * creds.c - the user and system credential stores (see creds.h).
 *
 * Values here are secrets: no message quotes one, every copy is wiped
 * before it is freed, and the parsed file itself is wiped by pb_ini_free().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds.h"

#define PB_KEY_FILE_MAX (16 * 1024)   /* a PEM private key: RSA 4096 is about 3.3 KiB */
#include "expiry.h"
#include "ini.h"
#include "jsonmap.h"
#include "jwt.h"

#define USER_NAME_MAX 255       /* LOGIN_NAME_MAX - 1 on Linux */

/* lstat path into st: 0 for a regular file, else -1 with err (a symlink is refused). */
static int lstat_regular(const char *path, struct stat *st, struct pb_err *err)
{
	if (lstat(path, st) < 0)
		return pb_fail(err, PB_E_CONFIG, "%s: %s", path, strerror(errno));
	if (S_ISLNK(st->st_mode))
		return pb_fail(err, PB_E_CONFIG, "%s: is a symlink, refusing it", path);
	if (!S_ISREG(st->st_mode))
		return pb_fail(err, PB_E_CONFIG, "%s: not a regular file", path);
	return 0;
}

/*
 * Open path, judged (by lstat) as *judged, and make sure it is still that
 * file: the fd, or -1 with err (cant_read: what to say when we may not).
 */
static int open_judged(const char *path, const struct stat *judged, const char *cant_read,
		       struct pb_err *err)
{
	struct stat opened;
	int fd = pb_open_regular(path, &opened, err);

	if (fd < 0) {
		if (errno == EACCES && cant_read != NULL)
			pb_fail(err, PB_E_CONFIG, "%s: %s", path, cant_read);
		return -1;
	}
	if (opened.st_dev != judged->st_dev || opened.st_ino != judged->st_ino) {
		close(fd);
		return pb_fail(err, PB_E_CONFIG, "%s: replaced while it was read; try again", path);
	}
	return fd;
}

/*
 * Open a user's credentials file: not through a symlink, a regular file
 * owned by owner with no group or other permission bits (as ssh insists
 * for keys). Judged before it is opened, so that a file the user may not
 * read still says what is wrong, with the command that fixes it. Returns
 * the fd or -1 with err.
 */
static int open_private(const char *path, uid_t owner, struct pb_err *err)
{
	char who[64], want[64];
	struct stat st;

	if (lstat_regular(path, &st, err) < 0)
		return -1;
	if (st.st_uid != owner) {
		pb_user_name(st.st_uid, who, sizeof(who));
		pb_user_name(owner, want, sizeof(want));
		return pb_fail(err, PB_E_CONFIG, "%s: owned by %s, must be owned by %s "
			       "(chown %s %s)", path, who, want, want, path);
	}
	if (st.st_mode & 077)
		return pb_fail(err, PB_E_CONFIG, "%s: bad permissions %04o, must be 0600 "
			       "(chmod 600 %s)", path, (unsigned)(st.st_mode & 07777), path);
	return open_judged(path, &st, NULL, err);
}

static struct pb_secret *find(const struct pb_creds *c, const char *profile, const char *field);

/* Note a [section] of the file (its name and line), for messages. */
static int add_section(struct pb_creds *c, const char *name, unsigned line, struct pb_err *err)
{
	struct pb_creds_section *v = reallocarray(c->sections, c->nsections + 1, sizeof(*v));
	char *copy = strdup(name);

	if (v != NULL)
		c->sections = v;
	if (v == NULL || copy == NULL) {
		free(copy);
		return pb_fail(err, PB_E_INTERNAL, "out of memory");
	}
	c->sections[c->nsections++] = (struct pb_creds_section){ .name = copy, .line = line };
	return 0;
}

/* Copy the [profile] sections of a parsed credentials file into c. */
static int take_entries(struct pb_creds *c, const struct pb_ini *ini, struct pb_err *err)
{
	for (size_t i = 0; i < ini->n; i++) {
		const struct pb_ini_entry *e = &ini->v[i];

		if (e->name != NULL)
			return pb_fail(err, PB_E_CONFIG, "%s:%u: [%s %s]: sections are profile "
				       "names alone, e.g. [%s]", ini->path, e->line, e->type,
				       e->name, e->name);
		if (e->key == NULL) {
			if (add_section(c, e->type, e->line, err) < 0)
				return -1;
			continue;
		}
		if (!pb_valid_name(e->key))
			return pb_fail(err, PB_E_CONFIG, "%s:%u: '%.64s' is not a field name",
				       ini->path, e->line, e->key);
		if (pb_creds_add(c, e->type, e->key, e->value, err) < 0)
			return -1;
		find(c, e->type, e->key)->line = e->line;
	}
	return 0;
}

/*
 * Open a file of the admin store, as the service account reads it: owned
 * by root, of the service account's group (gid), no group write and
 * nothing for others: root:<group> 0640 or 0600. Each refusal names the
 * command that fixes it. Returns the fd or -1 with err.
 */
static int open_admin(const char *path, gid_t gid, const char *group, struct pb_err *err)
{
	char who[64], fix[PATH_MAX + 32];
	struct stat st;

	/* judged before it is opened: a file we may not read still says what is wrong */
	if (lstat_regular(path, &st, err) < 0)
		return -1;
	if (st.st_uid != 0) {
		pb_user_name(st.st_uid, who, sizeof(who));
		return pb_fail(err, PB_E_CONFIG, "%s: owned by %s, must be owned by root "
			       "(chown root:%s %s)", path, who, group, path);
	}
	if (st.st_gid != gid) {
		pb_group_name(st.st_gid, who, sizeof(who));
		return pb_fail(err, PB_E_CONFIG, "%s: group %s, must be %s (chgrp %s %s)", path,
			       who, group, group, path);
	}
	if (st.st_mode & 0137)
		return pb_fail(err, PB_E_CONFIG, "%s: bad permissions %04o, must be 0640 "
			       "(chmod 640 %s)", path, (unsigned)(st.st_mode & 07777), path);
	snprintf(fix, sizeof(fix), "the service account cannot read it (chmod 640 %s)", path);
	return open_judged(path, &st, fix, err);
}

/* Who may own a credentials file and the key files it names: the user, or the admin store's. */
struct judge {
	bool admin;
	uid_t owner;             /* the user's file */
	gid_t gid;               /* the admin store's: root:<group> */
	const char *group;
};

/* Open path as the judge rules files of its kind. The fd, or -1 with err. */
static int open_as(const struct judge *j, const char *path, struct pb_err *err)
{
	return j->admin ? open_admin(path, j->gid, j->group, err) : open_private(path, j->owner, err);
}

/*
 * A field key_file names a Google service account's JSON key as downloaded
 * (https://cloud.google.com/iam/docs/keys-create-delete): read it, held to
 * the rules of the credentials file, and add its client_email,
 * private_key_id, token_uri (https://oauth2.googleapis.com/token when it
 * has none) and private_key as fields of the same section. 0, or -1 with
 * err ("FILE:LINE: ...", naming the member, never a value).
 */
static int load_json_key(struct pb_creds *c, size_t i, const struct judge *j, struct pb_err *err)
{
	static const char *const members[] = { "client_email", "private_key_id", "token_uri",
					       "private_key" };
	char *profile = NULL, at[PATH_MAX + 80];
	struct pb_buf text = { 0 };
	struct json_object *key = NULL, *v;
	struct pb_err why;
	unsigned line = c->v[i].line;
	int fd, rc = -1;

	pb_err_clear(&why);
	snprintf(at, sizeof(at), "%s:%u: [%s] key_file %.200s", c->path, line, c->v[i].profile,
		 c->v[i].value);
	if ((profile = strdup(c->v[i].profile)) == NULL) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto done;
	}
	if (c->v[i].value[0] != '/') {
		pb_fail(err, PB_E_CONFIG, "%s: not an absolute path", at);
		goto done;
	}
	if ((fd = open_as(j, c->v[i].value, &why)) < 0) {
		pb_fail(err, PB_E_CONFIG, "%s:%u: [%s] key_file %s", c->path, line, profile, why.msg);
		goto done;
	}
	rc = pb_read_all(fd, PB_KEY_FILE_MAX, -1, &text);
	close(fd);
	if (rc < 0 || (key = pb_json_parse_object(text.data, text.len)) == NULL) {
		rc = -1;
		pb_fail(err, PB_E_CONFIG, "%s: not a service account's JSON key", at);
		goto done;
	}
	for (size_t m = 0; m < sizeof(members) / sizeof(members[0]); m++) {
		const char *s = NULL;

		if (json_object_object_get_ex(key, members[m], &v) &&
		    json_object_is_type(v, json_type_string))
			s = json_object_get_string(v);
		if (s == NULL && strcmp(members[m], "token_uri") == 0)
			s = "https://oauth2.googleapis.com/token";
		if (s == NULL || s[0] == '\0') {
			rc = pb_fail(err, PB_E_CONFIG, "%s: no \"%s\" in it", at, members[m]);
			goto done;
		}
		if ((rc = pb_creds_add(c, profile, members[m], s, err)) < 0)
			goto done;
		find(c, profile, members[m])->line = line;
	}
	rc = 0;
done:
	if (key != NULL) {
		pb_json_wipe_strings(key);
		json_object_put(key);
	}
	pb_buf_wipe(&text);
	free(profile);
	return rc;
}

/*
 * The key files of signed assertions, each held to the rules of the
 * credentials file itself: a field private_key_file names a PEM key, read
 * into the field private_key; a field key_file a service account's JSON
 * key (load_json_key). private_key goes to the HTTP worker with the other
 * secrets; only it signs. Every such field of c. 0, or -1 with err
 * ("FILE:LINE: ...").
 */
static int load_key_files(struct pb_creds *c, const struct judge *j, struct pb_err *err)
{
	size_t n = c->n;

	for (size_t i = 0; i < n; i++) {
		struct pb_secret *s = &c->v[i];
		struct pb_buf pem = { 0 };
		struct pb_err why;
		int fd, rc;

		if (strcmp(s->field, "key_file") == 0) {
			if (load_json_key(c, i, j, err) < 0)
				return -1;
			continue;
		}
		if (strcmp(s->field, "private_key_file") != 0)
			continue;
		pb_err_clear(&why);
		if (s->value[0] != '/')
			return pb_fail(err, PB_E_CONFIG, "%s:%u: [%s] private_key_file: '%.200s' is "
				       "not an absolute path", c->path, s->line, s->profile, s->value);
		if ((fd = open_as(j, s->value, &why)) < 0)
			return pb_fail(err, PB_E_CONFIG, "%s:%u: [%s] private_key_file %s", c->path,
				       s->line, s->profile, why.msg);
		rc = pb_read_all(fd, PB_KEY_FILE_MAX, -1, &pem);
		close(fd);
		if (rc < 0 || pem.len == 0 || memchr(pem.data, '\0', pem.len) != NULL) {
			pb_buf_wipe(&pem);
			return pb_fail(err, PB_E_CONFIG, "%s:%u: [%s] private_key_file %s: %s", c->path,
				       s->line, s->profile, s->value, rc < 0 && errno == EFBIG ?
				       "over 16 KiB, not a PEM key" : "empty or unreadable");
		}
		rc = pb_creds_add(c, s->profile, "private_key", pem.data, err);
		pb_buf_wipe(&pem);
		if (rc < 0)
			return -1;
		s = &c->v[i];      /* pb_creds_add may move the array */
		find(c, s->profile, "private_key")->line = s->line;
	}
	return 0;
}

/* Parse the credentials file open as fd (closed here) into out, then the key files it names. */
static int load_fd(const char *path, int fd, const struct judge *j, struct pb_creds *out,
		   struct pb_err *err)
{
	struct pb_ini ini = { 0 };
	int rc = -1;

	if (pb_ini_parse_fd(path, fd, &ini, err) < 0)
		goto done;
	if ((out->path = strdup(path)) == NULL) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto done;
	}
	rc = take_entries(out, &ini, err);
	if (rc == 0)
		rc = load_key_files(out, j, err);
done:
	close(fd);
	pb_ini_free(&ini);
	if (rc < 0)
		pb_creds_free(out);
	return rc;
}

/* Load a credentials file owned by owner, mode 0600 or stricter. */
int pb_creds_load(const char *path, uid_t owner, struct pb_creds *out, struct pb_err *err)
{
	const struct judge j = { .owner = owner };
	int fd;

	memset(out, 0, sizeof(*out));
	if ((fd = open_as(&j, path, err)) < 0)
		return -1;
	return load_fd(path, fd, &j, out, err);
}

/* Load a file of the admin store: root:<group> 0640 or stricter. */
int pb_creds_load_admin(const char *path, gid_t gid, const char *group, struct pb_creds *out,
			struct pb_err *err)
{
	const struct judge j = { .admin = true, .gid = gid, .group = group };
	int fd;

	memset(out, 0, sizeof(*out));
	if ((fd = open_as(&j, path, err)) < 0)
		return -1;
	return load_fd(path, fd, &j, out, err);
}

/* snprintf into out, failing on truncation. */
static int join_path(char *out, size_t outlen, struct pb_err *err, const char *a,
		     const char *b, const char *c)
{
	int n = snprintf(out, outlen, "%s%s%s", a, b, c);

	if (n < 0 || (size_t)n >= outlen)
		return pb_fail(err, PB_E_CONFIG, "%s%s%s: path too long", a, b, c);
	return 0;
}

/*
 * $XDG_CONFIG_HOME/pam_bearer/credentials, else $HOME/.config/...; a
 * relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
 */
int pb_creds_user_path(const char *home, const char *xdg_config_home,
		       char *out, size_t outlen, struct pb_err *err)
{
	if (xdg_config_home != NULL && xdg_config_home[0] == '/')
		return join_path(out, outlen, err, xdg_config_home, "/pam_bearer/credentials", "");
	if (home != NULL && home[0] == '/')
		return join_path(out, outlen, err, home, "/.config/pam_bearer/credentials", "");
	return pb_fail(err, PB_E_CONFIG, "no home directory (HOME is unset or not absolute): "
		       "cannot find the credentials file");
}

/* dir/user, for a user name that can only ever name a file in dir. */
int pb_creds_system_path(const char *dir, const char *user, char *out, size_t outlen,
			 struct pb_err *err)
{
	const char *why = NULL;

	if (user == NULL || user[0] == '\0')
		why = "is empty";
	else if (strlen(user) > USER_NAME_MAX)
		why = "is too long";
	else if (strchr(user, '/') != NULL)
		why = "holds a '/'";
	else if (user[0] == '.')
		why = "starts with '.'";
	else if (pb_has_ctrl(user))
		why = "holds a control character";
	if (why != NULL)
		return pb_fail(err, PB_E_CONFIG, "user name '%.64s' %s: no system credentials "
			       "file for it", user ? user : "", why);
	return join_path(out, outlen, err, dir, "/", user);
}

/* The secret for (profile, field), or NULL. */
static struct pb_secret *find(const struct pb_creds *c, const char *profile, const char *field)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].profile, profile) == 0 && strcmp(c->v[i].field, field) == 0)
			return &c->v[i];
	return NULL;
}

/* Add a copy of one secret; a second value for the same field replaces the first. */
int pb_creds_add(struct pb_creds *c, const char *profile, const char *field,
		 const char *value, struct pb_err *err)
{
	struct pb_secret s = { 0 }, *old, *v;

	if (!pb_valid_name(profile) || !pb_valid_name(field))
		return pb_fail(err, PB_E_CONFIG, "invalid profile or field name");
	s.value = strdup(value);
	if (s.value == NULL)
		goto oom;
	if ((old = find(c, profile, field)) != NULL) {
		pb_wipe_free(old->value);
		old->value = s.value;
		return 0;
	}
	s.profile = strdup(profile);
	s.field = strdup(field);
	if ((v = reallocarray(c->v, c->n + 1, sizeof(*v))) != NULL)
		c->v = v;
	if (s.profile == NULL || s.field == NULL || v == NULL)
		goto oom;
	c->v[c->n++] = s;
	return 0;
oom:
	pb_wipe_free(s.value);
	free(s.profile);
	free(s.field);
	return pb_fail(err, PB_E_INTERNAL, "out of memory");
}

/* The value of (profile, field), or NULL when absent. */
const char *pb_creds_get(const struct pb_creds *c, const char *profile, const char *field)
{
	const struct pb_secret *s = find(c, profile, field);

	return s != NULL ? s->value : NULL;
}

/*
 * Every field the profile needs is present and not empty, and a static
 * vendor's `expires` is a time. Messages name the file, profile and field
 * only, never a value (the user may not know a system-held secret).
 */
/* The line of section [name] in c's file, or 0 (none, or not from a file). */
static unsigned section_line(const struct pb_creds *c, const char *name)
{
	for (size_t i = 0; i < c->nsections; i++)
		if (strcmp(c->sections[i].name, name) == 0)
			return c->sections[i].line;
	return 0;
}

/* "FILE" or "FILE:LINE" into out. */
static void where(const struct pb_creds *c, unsigned line, char *out, size_t len)
{
	if (line > 0)
		snprintf(out, len, "%s:%u", c->path, line);
	else
		snprintf(out, len, "%s", c->path);
}

/* No [p] section at all: say so, and name a section that looks like a slip for it. */
static int no_section(const struct pb_creds *c, const struct pb_profile *p, struct pb_err *err)
{
	const char **names = calloc(c->nsections + 1, sizeof(*names));
	const char *near = NULL;

	for (size_t i = 0; names != NULL && i < c->nsections; i++)
		names[i] = c->sections[i].name;
	if (names != NULL)
		near = pb_closest(p->name, names, c->nsections);
	free(names);
	if (near != NULL)
		return pb_fail(err, PB_E_CONFIG, "%s: no [%s] section (did you mean [%s] at line "
			       "%u?)", c->path, p->name, near, section_line(c, near));
	return pb_fail(err, PB_E_CONFIG, "%s: no [%s] section (it needs '%s')", c->path,
		       p->name, p->nfields > 0 ? p->fields[0] : "?");
}

/* [p] has no field `field`: say where, and name one of its fields that looks like a slip. */
static int no_field(const struct pb_creds *c, const struct pb_profile *p, const char *field,
		    struct pb_err *err)
{
	const char **names = calloc(c->n + 1, sizeof(*names));
	const char *near = NULL;
	size_t k = 0;
	char at[PATH_MAX + 16];

	for (size_t i = 0; names != NULL && i < c->n; i++)
		if (strcmp(c->v[i].profile, p->name) == 0)
			names[k++] = c->v[i].field;
	if (names != NULL)
		near = pb_closest(field, names, k);
	free(names);
	where(c, section_line(c, p->name), at, sizeof(at));
	if (near != NULL)
		return pb_fail(err, PB_E_CONFIG, "%s: [%s] has no '%s' (did you mean '%s' at line "
			       "%u?)", at, p->name, field, near, find(c, p->name, near)->line);
	return pb_fail(err, PB_E_CONFIG, "%s: [%s] has no '%s'", at, p->name, field);
}

/* The exp of [p]'s static token, when its lifetime has jwt and the token is a JWT with one. */
static bool token_exp(const struct pb_creds *c, const struct pb_profile *p, time_t *exp)
{
	const struct pb_secret *tok = find(c, p->name, "token");
	struct pb_err scratch;
	int64_t e;

	if (tok == NULL || !pb_lifetime_has(p->lifetime, "jwt") ||
	    pb_jwt_exp(tok->value, &e, &scratch) < 0)
		return false;
	*exp = (time_t)e;
	return true;
}

int pb_creds_check(const struct pb_creds *c, const struct pb_profile *p, struct pb_err *err)
{
	const struct pb_secret *s;
	char at[PATH_MAX + 16];
	time_t t;

	if (p->nfields > 0 && c->nsections > 0 && section_line(c, p->name) == 0)
		return no_section(c, p, err);
	for (size_t i = 0; i < p->nfields; i++) {
		s = find(c, p->name, p->fields[i]);
		if (s == NULL)
			return no_field(c, p, p->fields[i], err);
		if (s->value[0] == '\0') {
			where(c, s->line, at, sizeof(at));
			return pb_fail(err, PB_E_CONFIG, "%s: [%s] has an empty '%s'", at, p->name,
				       p->fields[i]);
		}
	}
	if (p->type != PB_TYPE_STATIC)
		return 0;
	s = find(c, p->name, "expires");
	if (s != NULL && pb_time_parse(s->value, &t) < 0) {
		where(c, s->line, at, sizeof(at));
		return pb_fail(err, PB_E_CONFIG, "%s: [%s] 'expires' is not an ISO 8601 time "
			       "such as 2027-01-31T00:00:00Z", at, p->name);
	}
	if (s == NULL && !token_exp(c, p, &t) && !pb_lifetime_has(p->lifetime, "none")) {
		s = find(c, p->name, "token");
		where(c, s != NULL ? s->line : section_line(c, p->name), at, sizeof(at));
		return pb_fail(err, PB_E_CONFIG, "%s: [%s] 'token' is not a JWT with an exp: add "
			       "its expiry, 'expires = 2027-01-31T00:00:00Z'", at, p->name);
	}
	return 0;
}

bool pb_creds_expiry_conflict(const struct pb_creds *c, const struct pb_profile *p, char *out,
			      size_t len)
{
	const struct pb_secret *s = find(c, p->name, "expires");
	time_t exp, given;
	char at[PATH_MAX + 16], a[32], b[32];

	if (p->type != PB_TYPE_STATIC || s == NULL || pb_time_parse(s->value, &given) < 0 ||
	    !token_exp(c, p, &exp) || exp == given)
		return false;
	where(c, s->line, at, sizeof(at));
	pb_time_format(given, a);
	pb_time_format(exp, b);
	snprintf(out, len, "%s: [%s] 'expires' %s is not the token's own exp %s; the exp is used",
		 at, p->name, a, b);
	return true;
}

/* Wipe and free every secret. */
void pb_creds_free(struct pb_creds *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		pb_wipe_free(c->v[i].profile);
		pb_wipe_free(c->v[i].field);
		pb_wipe_free(c->v[i].value);
	}
	free(c->v);
	for (size_t i = 0; i < c->nsections; i++)
		free(c->sections[i].name);
	free(c->sections);
	free(c->path);
	memset(c, 0, sizeof(*c));
}
