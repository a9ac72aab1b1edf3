/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ini.c - libFuzzer target for the INI reader (lib/ini.c).
 *
 * The input is a whole file. Invariants when it parses: every string is a
 * single trimmed line, names pass the name rules, line numbers grow, and
 * writing the entries back out and parsing that gives the same entries.
 */
#include <ctype.h>
#include <stdbool.h>

#include "fuzz.h"
#include "ini.h"

/* Trimmed and free of newlines and NULs-before-the-end? */
static bool one_trimmed_line(const char *s)
{
	size_t n = strlen(s);

	if (strchr(s, '\n') != NULL)
		return false;
	return n == 0 || (!isspace((unsigned char)s[0]) && !isspace((unsigned char)s[n - 1]));
}

/* Check one parsed file's entries. */
static void check_entries(const struct pb_ini *ini)
{
	unsigned last = 0;

	for (size_t i = 0; i < ini->n; i++) {
		const struct pb_ini_entry *e = &ini->v[i];

		FUZZ_CHECK(e->type != NULL && pb_valid_name(e->type));
		FUZZ_CHECK(e->name == NULL || pb_valid_name(e->name));
		FUZZ_CHECK(e->line > last);
		last = e->line;
		if (e->key == NULL) {
			FUZZ_CHECK(e->value == NULL);
			continue;
		}
		FUZZ_CHECK(i > 0);   /* a key never comes before its section */
		FUZZ_CHECK(e->key[0] != '\0' && strpbrk(e->key, " \t=\n[]#;") == NULL);
		FUZZ_CHECK(e->value != NULL && one_trimmed_line(e->value));
		FUZZ_CHECK(strlen(e->value) <= PB_INI_MAX_LINE);
	}
}

/* Write the entries back as INI text. */
static int serialise(const struct pb_ini *ini, struct pb_buf *out)
{
	for (size_t i = 0; i < ini->n; i++) {
		const struct pb_ini_entry *e = &ini->v[i];
		int r;

		if (e->key == NULL)
			r = pb_buf_addf(out, "[%s%s%s]\n", e->type, e->name ? " " : "",
					e->name ? e->name : "");
		else
			r = pb_buf_addf(out, "%s=%s\n", e->key, e->value);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Same entries, in the same order (line numbers aside)? */
static bool same_entries(const struct pb_ini *a, const struct pb_ini *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct pb_ini_entry *x = &a->v[i], *y = &b->v[i];

		if (strcmp(x->type, y->type) != 0 || (x->name == NULL) != (y->name == NULL) ||
		    (x->name != NULL && strcmp(x->name, y->name) != 0) ||
		    (x->key == NULL) != (y->key == NULL))
			return false;
		if (x->key != NULL &&
		    (strcmp(x->key, y->key) != 0 || strcmp(x->value, y->value) != 0))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pb_ini ini, again;
	struct pb_buf text = { 0 };
	struct pb_err err;

	pb_err_clear(&err);
	if (pb_ini_parse("fuzz.ini", (const char *)data, size, &ini, &err) < 0) {
		FUZZ_CHECK(err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL);
		FUZZ_CHECK(err.code == PB_E_CONFIG || err.code == PB_E_INTERNAL);
		FUZZ_CHECK(ini.v == NULL && ini.n == 0 && ini.storage == NULL);
		pb_ini_free(&ini);
		return 0;
	}
	check_entries(&ini);
	FUZZ_CHECK(serialise(&ini, &text) == 0);
	if (pb_ini_parse("again.ini", text.data ? text.data : "", text.len, &again, &err) < 0) {
		fprintf(stderr, "re-parse failed: %s\n", err.msg);
		FUZZ_CHECK(!"the written-back file parses");
	}
	FUZZ_CHECK(same_entries(&ini, &again));
	pb_ini_free(&again);
	pb_ini_free(&ini);
	pb_buf_wipe(&text);
	return 0;
}
