/* SPDX-License-Identifier: MIT */
/*
 * ini.c - the strict, small INI reader behind the config, the presets and
 * the credentials files (syntax in ini.h).
 *
 * The text is copied once into ini->storage and cut up in place: every
 * type, name, key and value is a NUL-terminated slice of that one block,
 * and pb_ini_free() wipes it, because credentials files hold secrets. For
 * the same reason no error message ever quotes a value or a raw line; a
 * key or a section name is quoted only once it has passed the name rules.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ini.h"

#define INI_MAX_FILE (1024 * 1024)

/* What the parser carries from line to line. */
struct parse {
	struct pb_ini *ini;
	size_t cap;               /* of ini->v */
	size_t section;           /* index in ini->v of the current header; valid if in_section */
	bool in_section;
	unsigned line;
	struct pb_err *err;
};

/* Append e to ini->v, growing it. */
static int add_entry(struct parse *ps, const struct pb_ini_entry *e)
{
	struct pb_ini *ini = ps->ini;
	struct pb_ini_entry *v;
	size_t cap;

	if (ini->n == ps->cap) {
		cap = ps->cap ? ps->cap * 2 : 16;
		v = reallocarray(ini->v, cap, sizeof(*v));
		if (v == NULL)
			return pb_fail(ps->err, PB_E_INTERNAL, "out of memory");
		ini->v = v;
		ps->cap = cap;
	}
	ini->v[ini->n++] = *e;
	return 0;
}

/* A key is [A-Za-z0-9_.-]+; case matters. */
static bool valid_key(const char *k)
{
	if (*k == '\0')
		return false;
	for (; *k != '\0'; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '.' && *k != '-')
			return false;
	return true;
}

/* Same section type and name (name may be NULL on both sides)? */
static bool same_section(const struct pb_ini_entry *a, const char *type, const char *name)
{
	if (strcmp(a->type, type) != 0)
		return false;
	if (a->name == NULL || name == NULL)
		return a->name == name;
	return strcmp(a->name, name) == 0;
}

/*
 * "[type]" or "[type name]": s is the trimmed line, starting with '['.
 * Blanks just inside the brackets are dropped; type and name are split on
 * a run of blanks and must both pass pb_valid_name.
 */
static int parse_section(struct parse *ps, char *s)
{
	struct pb_ini *ini = ps->ini;
	struct pb_ini_entry e = { .line = ps->line };
	size_t len = strlen(s);
	char *type, *name = NULL, *sp;

	if (len < 2 || s[len - 1] != ']')
		goto bad;
	s[len - 1] = '\0';
	type = pb_trim(s + 1);
	sp = type + strcspn(type, " \t");
	if (*sp != '\0') {
		*sp = '\0';
		name = pb_trim(sp + 1);
		if (strpbrk(name, " \t") != NULL || !pb_valid_name(name))
			goto bad;
	}
	if (!pb_valid_name(type))
		goto bad;
	for (size_t i = 0; i < ini->n; i++) {
		if (ini->v[i].key == NULL && same_section(&ini->v[i], type, name))
			return pb_fail(ps->err, PB_E_CONFIG,
				       "%s:%u: duplicate section [%s%s%s] (first at line %u)",
				       ini->path, ps->line, type, name ? " " : "",
				       name ? name : "", ini->v[i].line);
	}
	e.type = type;
	e.name = name;
	if (add_entry(ps, &e) < 0)
		return -1;
	ps->section = ini->n - 1;
	ps->in_section = true;
	return 0;
bad:
	return pb_fail(ps->err, PB_E_CONFIG,
		       "%s:%u: malformed section header (expected [type] or [type name]; "
		       "names are letters, digits, '_', '.', '-')", ini->path, ps->line);
}

/* "key = value" in the current section; the value may be empty. */
static int parse_pair(struct parse *ps, char *s)
{
	struct pb_ini *ini = ps->ini;
	const struct pb_ini_entry *sec;
	struct pb_ini_entry e = { .line = ps->line };
	char *eq = strchr(s, '=');

	if (eq == NULL)
		goto bad;
	*eq = '\0';
	e.key = pb_trim(s);
	e.value = pb_trim(eq + 1);
	if (!valid_key(e.key))
		goto bad;
	if (!ps->in_section)
		return pb_fail(ps->err, PB_E_CONFIG, "%s:%u: key '%s' outside any section",
			       ini->path, ps->line, e.key);
	sec = &ini->v[ps->section];
	for (size_t i = ps->section + 1; i < ini->n; i++) {
		if (strcmp(ini->v[i].key, e.key) == 0)
			return pb_fail(ps->err, PB_E_CONFIG,
				       "%s:%u: duplicate key '%s' (first set at line %u)",
				       ini->path, ps->line, e.key, ini->v[i].line);
	}
	e.type = sec->type;
	e.name = sec->name;
	return add_entry(ps, &e);
bad:
	return pb_fail(ps->err, PB_E_CONFIG, "%s:%u: expected 'key = value'",
		       ini->path, ps->line);
}

/* One line, NUL-terminated, without its newline. */
static int parse_line(struct parse *ps, char *line)
{
	char *s = pb_trim(line);

	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[')
		return parse_section(ps, s);
	return parse_pair(ps, s);
}

/*
 * Parse text (len bytes, need not be NUL-terminated). path is for messages.
 * On failure out is left empty (pb_ini_free() on it is harmless).
 */
int pb_ini_parse(const char *path, const char *text, size_t len,
		 struct pb_ini *out, struct pb_err *err)
{
	struct parse ps = { .ini = out, .err = err };
	char *p, *end, *nl;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->path = strdup(path);
	out->storage = malloc(len + 1);
	if (out->path == NULL || out->storage == NULL) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto fail;
	}
	memcpy(out->storage, text, len);
	out->storage[len] = '\0';
	out->storage_len = len + 1;
	p = out->storage;
	end = p + len;
	/* an editor's UTF-8 byte order mark is not a malformed first line */
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end) {
		ps.line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (nl ? nl : end) - p;
		if (n > PB_INI_MAX_LINE) {
			pb_fail(err, PB_E_CONFIG, "%s:%u: line too long (more than %d bytes)",
				path, ps.line, PB_INI_MAX_LINE);
			goto fail;
		}
		if (memchr(p, '\0', n) != NULL) {
			pb_fail(err, PB_E_CONFIG, "%s:%u: NUL byte in the file", path, ps.line);
			goto fail;
		}
		p[n] = '\0';
		if (parse_line(&ps, p) < 0)
			goto fail;
		p += n + 1;
	}
	return 0;
fail:
	pb_ini_free(out);
	return -1;
}

/*
 * Read an already opened file (the caller did the owner/mode checks) and
 * parse it. At most INI_MAX_FILE bytes are read; the read buffer is wiped.
 */
int pb_ini_parse_fd(const char *path, int fd, struct pb_ini *out, struct pb_err *err)
{
	struct pb_buf buf = { 0 };
	char chunk[8192];
	ssize_t r;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pb_fail(err, PB_E_CONFIG, "%s: %s", path, strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		if (buf.len + (size_t)r > INI_MAX_FILE) {
			pb_fail(err, PB_E_CONFIG, "%s: file too large (more than %d bytes)",
				path, INI_MAX_FILE);
			goto done;
		}
		if (pb_buf_add(&buf, chunk, (size_t)r) < 0) {
			pb_fail(err, PB_E_INTERNAL, "out of memory");
			goto done;
		}
	}
	rc = pb_ini_parse(path, buf.data ? buf.data : "", buf.len, out, err);
done:
	explicit_bzero(chunk, sizeof(chunk));
	pb_buf_wipe(&buf);
	return rc;
}

/* Free everything, wiping the string storage (values may be secrets). */
void pb_ini_free(struct pb_ini *ini)
{
	if (ini == NULL)
		return;
	if (ini->storage != NULL) {
		explicit_bzero(ini->storage, ini->storage_len);
		free(ini->storage);
	}
	free(ini->v);
	free(ini->path);
	memset(ini, 0, sizeof(*ini));
}
