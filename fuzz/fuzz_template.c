/* SPDX-License-Identifier: MIT */
/*
 * fuzz_template.c - libFuzzer target for `${field}` templating
 * (lib/template.c).
 *
 * Input: one format byte, the template, then NUL-separated "name=value"
 * fields. Invariants: expand and pb_template_fields agree on what is
 * malformed; a failed expansion leaves no bytes behind; a raw expansion of
 * a clean template has no control character; every value escaped as JSON
 * reads back (json-c) as itself, and every form-escaped value holds only
 * unreserved characters and %XX and decodes back to itself.
 */
#include <json-c/json.h>

#include "fuzz.h"
#include "template.h"

struct fields {
	struct fuzz_parts *fp;   /* part 1.. are "name=value" */
};

/* The value of field `name`: the first "name=value" part, else NULL. */
static const char *lookup(void *ctx, const char *name)
{
	const struct fields *f = ctx;
	size_t n = strlen(name);

	for (size_t i = 2; i < f->fp->n; i++) {
		const char *p = f->fp->part[i];

		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return p + n + 1;
	}
	return NULL;
}

/* Count fields for pb_template_fields; never refuses one. */
static int count_field(void *ctx, const char *name, bool optional)
{
	FUZZ_CHECK(pb_valid_name(name));
	(void)optional;
	++*(size_t *)ctx;
	return 0;
}

/* JSON escaping: "<escaped>" parses back to exactly s. */
static void check_json_escape(const char *s)
{
	static struct json_tokener *tok;
	struct pb_buf b = { 0 };
	struct json_object *o;

	if (pb_escape(&b, "\"", PB_FMT_RAW) < 0 || pb_escape(&b, s, PB_FMT_JSON) < 0) {
		pb_buf_wipe(&b);
		return;   /* not UTF-8: refused, fine */
	}
	FUZZ_CHECK(pb_buf_adds(&b, "\"") == 0);
	for (size_t i = 0; i < b.len; i++)
		FUZZ_CHECK((unsigned char)b.data[i] >= 0x20 && b.data[i] != 0x7f);
	/* one tokener for the whole run: a new one per value costs more than the rest */
	if (tok == NULL)
		FUZZ_CHECK((tok = json_tokener_new()) != NULL);
	json_tokener_reset(tok);
	o = json_tokener_parse_ex(tok, b.data, (int)b.len);
	FUZZ_CHECK(o != NULL && json_object_is_type(o, json_type_string));
	FUZZ_CHECK(strcmp(json_object_get_string(o), s) == 0);
	json_object_put(o);
	pb_buf_wipe(&b);
}

/* The value of hex digit c (upper case only), -1 for any other. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Form escaping: only unreserved characters and %XX, and it decodes back to s. */
static void check_form_escape(const char *s)
{
	struct pb_buf b = { 0 }, dec = { 0 };

	FUZZ_CHECK(pb_escape(&b, s, PB_FMT_FORM) == 0);
	for (size_t i = 0; i < b.len; i++) {
		char c = b.data[i];

		if (c == '%') {
			FUZZ_CHECK(i + 2 < b.len && hexval(b.data[i + 1]) >= 0 &&
				   hexval(b.data[i + 2]) >= 0);
			c = (char)(hexval(b.data[i + 1]) << 4 | hexval(b.data[i + 2]));
			i += 2;
		} else {
			FUZZ_CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					  "0123456789-._~", c) != NULL);
		}
		FUZZ_CHECK(pb_buf_add(&dec, &c, 1) == 0);
	}
	FUZZ_CHECK(dec.len == strlen(s) && (dec.len == 0 || memcmp(dec.data, s, dec.len) == 0));
	pb_buf_wipe(&b);
	pb_buf_wipe(&dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum pb_format formats[] = { PB_FMT_JSON, PB_FMT_FORM, PB_FMT_RAW };
	struct fuzz_parts fp;
	struct fields f = { .fp = &fp };
	struct pb_buf out = { 0 };
	struct pb_err err, ferr;
	enum pb_format fmt;
	const char *tmpl;
	size_t nfields = 0;
	int rc, frc;

	if (size < 1 || fuzz_split(data + 1, size - 1, FUZZ_MAX_PARTS, &fp) < 0)
		return 0;
	/* part 0 is the template, part 1 is unused so "name=value" starts at 2 */
	fmt = formats[data[0] % 3];
	tmpl = fp.part[0];
	pb_err_clear(&err);
	pb_err_clear(&ferr);
	frc = pb_template_fields(tmpl, count_field, &nfields, &ferr);
	rc = pb_template_expand(tmpl, fmt, lookup, &f, &out, &err);
	if (rc < 0) {
		FUZZ_CHECK(out.data == NULL && out.len == 0);
		FUZZ_CHECK(err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL);
	} else {
		/* whatever expands is well formed */
		FUZZ_CHECK(frc == 0);
		FUZZ_CHECK(out.data != NULL && strlen(out.data) == out.len);
		if (fmt == PB_FMT_RAW && !pb_has_ctrl(tmpl))
			FUZZ_CHECK(!pb_has_ctrl(out.data));
		if (nfields == 0 && strchr(tmpl, '$') == NULL && fmt != PB_FMT_FORM)
			FUZZ_CHECK(strcmp(out.data, tmpl) == 0);
	}
	if (frc < 0)
		FUZZ_CHECK(rc < 0);
	for (size_t i = 0; i < fp.n; i++) {
		check_json_escape(fp.part[i]);
		check_form_escape(fp.part[i]);
	}
	pb_buf_wipe(&out);
	fuzz_parts_free(&fp);
	return 0;
}
