/* SPDX-License-Identifier: MIT */
/*
 * ini.h - the INI reader shared by the main config, the vendor presets and
 * the credentials files.
 *
 * Syntax: `[section]` or `[type name]`, `key = value`, whole-line comments
 * starting with '#' or ';', blank lines. A value runs verbatim to the end of
 * its line (trimmed), so secrets may hold '#', ';' or '='. Lines are at most
 * PB_INI_MAX_LINE bytes. A key outside a section, a duplicate key within a
 * section, a repeated section or a malformed line is an error naming
 * file:line. Errors never quote a value (a credentials file is parsed here).
 */
#ifndef PB_INI_H
#define PB_INI_H

#include <stddef.h>
#include "util.h"

#define PB_INI_MAX_LINE 4096

struct pb_ini_entry {
	const char *type;    /* "profile" for [profile x], "defaults" for [defaults] */
	const char *name;    /* "x" for [profile x]; NULL for one-word sections */
	const char *key;     /* NULL for the entry that records a section header */
	char *value;         /* wiped on free */
	unsigned line;
};

struct pb_ini {
	char *path;                   /* for messages */
	struct pb_ini_entry *v;       /* in file order; section headers included */
	size_t n;
	char *storage;                /* owns the strings; wiped on free */
	size_t storage_len;
};

/* Parse text (len bytes, need not be NUL-terminated). path is for messages. */
int pb_ini_parse(const char *path, const char *text, size_t len,
		 struct pb_ini *out, struct pb_err *err);
/* Read an already opened file (the caller did the owner/mode checks) and parse it. */
int pb_ini_parse_fd(const char *path, int fd, struct pb_ini *out, struct pb_err *err);
void pb_ini_free(struct pb_ini *ini);

#endif
