/* SPDX-License-Identifier: MIT */
/*
 * template.c - `${field}` substitution for request bodies and headers.
 *
 * A template is literal text with `${name}` (required), `${name?}` (optional)
 * and `$$` (a literal '$'); any other '$' is literal. Templates come from the
 * admin's config and are trusted; field values come from credentials files
 * and vendors and are not, so every value is escaped for its format:
 *
 *   json  JSON string content: '"' '\' and control characters escaped
 *         (\n \t ... or \u00XX, DEL as \u007f). Bytes >= 0x80 pass through
 *         but must be valid UTF-8, else the value is refused: RFC 8259 JSON
 *         is UTF-8, and a vendor rejecting a Latin-1 password with "400" is
 *         harder to diagnose than our own error naming the field.
 *   form  application/x-www-form-urlencoded: A-Z a-z 0-9 - . _ ~ kept,
 *         every other byte %XX (upper case), space as %20 rather than '+',
 *         which every form decoder and every plain percent-decoder agree on.
 *   raw   verbatim (header values); a control character is refused, so a
 *         value can never end a header line and start another.
 *
 * Form templates are `key=value` pairs joined by '&'. A pair whose value
 * part (after its first literal '=') holds only optional fields that all
 * expanded empty is dropped with its '&', so `&scope=${scope?}` disappears
 * when no scope is set. Everything else is copied as written.
 */
#include <stdbool.h>
#include <string.h>

#include "template.h"

#define FIELD_NAME_MAX 64	/* pb_valid_name's limit */

/* One piece of a template: literal text, or a field reference. */
struct piece {
	const char *text;	/* literal bytes, when !field */
	size_t len;
	bool field;
	bool optional;
	char name[FIELD_NAME_MAX + 1];
};

/*
 * Parse the field reference starting at p ("${", end excluded) into pc and
 * return the byte after its '}'; NULL with err when it is malformed.
 */
static const char *parse_field(const char *p, const char *end, struct piece *pc,
			       struct pb_err *err)
{
	const char *name = p + 2, *close;
	size_t n;

	close = memchr(name, '}', (size_t)(end - name));
	if (close == NULL) {
		pb_fail(err, PB_E_CONFIG, "malformed template: unterminated ${");
		return NULL;
	}
	n = (size_t)(close - name);
	pc->optional = n > 0 && name[n - 1] == '?';
	if (pc->optional)
		n--;
	if (n == 0) {
		pb_fail(err, PB_E_CONFIG, "malformed template: empty field name");
		return NULL;
	}
	if (n <= FIELD_NAME_MAX) {
		memcpy(pc->name, name, n);
		pc->name[n] = '\0';
	}
	if (n > FIELD_NAME_MAX || !pb_valid_name(pc->name)) {
		pb_fail(err, PB_E_CONFIG, "malformed template: bad field name '%.*s'",
			(int)(n > FIELD_NAME_MAX ? FIELD_NAME_MAX : n), name);
		return NULL;
	}
	pc->field = true;
	return close + 1;
}

/*
 * Read the next piece of the template span [*p, end) into pc and advance
 * *p. Returns 1 for a piece, 0 at the end, -1 with err when malformed.
 */
static int next_piece(const char **p, const char *end, struct piece *pc, struct pb_err *err)
{
	const char *s = *p;

	memset(pc, 0, sizeof(*pc));
	if (s >= end)
		return 0;
	if (s[0] == '$' && s + 1 < end && s[1] == '{') {
		if ((s = parse_field(s, end, pc, err)) == NULL)
			return -1;
	} else if (s[0] == '$') {
		/* "$$" or a lone '$': one literal '$' */
		pc->text = s;
		pc->len = 1;
		s += s + 1 < end && s[1] == '$' ? 2 : 1;
	} else {
		pc->text = s;
		while (s < end && *s != '$')
			s++;
		pc->len = (size_t)(s - pc->text);
	}
	*p = s;
	return 1;
}

/* Length of the valid UTF-8 sequence at s (>= 0x80), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned cp, min;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Why s cannot be carried in fmt ("has a control character", ...), or NULL if it can. */
static const char *value_problem(const char *s, enum pb_format fmt)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;

	if (fmt == PB_FMT_RAW && pb_has_ctrl(s))
		return "has a control character";
	if (fmt != PB_FMT_JSON)
		return NULL;
	while (*u != '\0') {
		if (*u < 0x80) {
			u++;
			continue;
		}
		if ((n = utf8_seq(u)) == 0)
			return "is not valid UTF-8";
		u += n;
	}
	return NULL;
}

/* Append s as JSON string content; s is known to be valid UTF-8. */
static int escape_json(struct pb_buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	char esc[7];
	size_t n;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		if (pb_buf_add(out, run, (size_t)(s - run)) < 0)
			return -1;
		run = s + 1;
		esc[0] = '\\';
		n = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			n = 6;
		}
		if (pb_buf_add(out, esc, n) < 0)
			return -1;
	}
	return pb_buf_add(out, run, (size_t)(s - run));
}

/* Append s percent-encoded for application/x-www-form-urlencoded. */
static int escape_form(struct pb_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *run = s;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[3];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			continue;
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 0xf];
		if (pb_buf_add(out, run, (size_t)(s - run)) < 0 || pb_buf_add(out, esc, 3) < 0)
			return -1;
		run = s + 1;
	}
	return pb_buf_add(out, run, (size_t)(s - run));
}

/*
 * Append s to out escaped for fmt. -1 when out of memory or when s cannot
 * be carried in fmt (raw: a control character; json: invalid UTF-8).
 */
int pb_escape(struct pb_buf *out, const char *s, enum pb_format fmt)
{
	if (value_problem(s, fmt) != NULL)
		return -1;
	switch (fmt) {
	case PB_FMT_JSON:
		return escape_json(out, s);
	case PB_FMT_FORM:
	case PB_FMT_PATH:      /* the same percent-encoding, no pairs */
		return escape_form(out, s);
	case PB_FMT_RAW:
		break;
	}
	return pb_buf_adds(out, s);
}

/* What a form pair's value part held so far, to decide whether to drop it. */
struct pair {
	bool seen_eq;		/* the pair's first literal '=' has gone by */
	bool keep;		/* the value part has text, a required or a non-empty field */
	bool optional;		/* the value part has an optional field */
};

/* Account for a literal piece: only what follows the first '=' is the value. */
static void pair_text(struct pair *pr, const char *text, size_t len)
{
	const char *eq = pr->seen_eq ? NULL : memchr(text, '=', len);

	if (eq != NULL) {
		/* the key part does not count: start over at the '=' */
		pr->seen_eq = true;
		pr->keep = eq + 1 < text + len;
		pr->optional = false;
	} else if (len > 0) {
		pr->keep = true;
	}
}

/*
 * Expand the template span [p, end) onto out, noting in pr what its form
 * value part held. err is set on every failure.
 */
static int expand_span(const char *p, const char *end, enum pb_format fmt,
		       pb_lookup_fn lookup, void *ctx, struct pb_buf *out,
		       struct pair *pr, struct pb_err *err)
{
	struct piece pc;
	const char *value, *why;
	int r;

	while ((r = next_piece(&p, end, &pc, err)) > 0) {
		if (!pc.field) {
			pair_text(pr, pc.text, pc.len);
			if (pb_buf_add(out, pc.text, pc.len) < 0)
				return pb_fail(err, PB_E_INTERNAL, "out of memory");
			continue;
		}
		value = lookup(ctx, pc.name);
		if (value == NULL && !pc.optional)
			return pb_fail(err, PB_E_CONFIG,
				       "template needs field '%s', which has no value", pc.name);
		if (value == NULL)
			value = "";
		if ((why = value_problem(value, fmt)) != NULL)
			return pb_fail(err, PB_E_CONFIG, "field '%s' %s", pc.name, why);
		pr->optional |= pc.optional;
		pr->keep |= !pc.optional || value[0] != '\0';
		if (pb_escape(out, value, fmt) < 0)
			return pb_fail(err, PB_E_INTERNAL, "out of memory");
	}
	return r;
}

/*
 * End of the form pair starting at p: the next '&' that is not inside a
 * `${...}`, or the end of the string.
 */
static const char *pair_end(const char *p)
{
	const char *close;

	while (*p != '\0' && *p != '&') {
		if (p[0] == '$' && p[1] == '{') {
			if ((close = strchr(p, '}')) == NULL)
				return p + strlen(p);
			p = close + 1;
		} else {
			p += p[0] == '$' && p[1] == '$' ? 2 : 1;
		}
	}
	return p;
}

/* Cut out back to len bytes, wiping what goes. */
static void buf_truncate(struct pb_buf *out, size_t len)
{
	if (out->data == NULL || len >= out->len)
		return;
	explicit_bzero(out->data + len, out->len - len);
	out->len = len;
}

/* Expand a form template pair by pair, dropping the empty optional ones. */
static int expand_form(const char *tmpl, pb_lookup_fn lookup, void *ctx,
		       struct pb_buf *out, struct pb_err *err)
{
	const char *p = tmpl, *end;
	size_t mark, kept = 0;

	for (;;) {
		struct pair pr = { 0 };

		end = pair_end(p);
		mark = out->len;
		if (kept > 0 && pb_buf_add(out, "&", 1) < 0)
			return pb_fail(err, PB_E_INTERNAL, "out of memory");
		if (expand_span(p, end, PB_FMT_FORM, lookup, ctx, out, &pr, err) < 0)
			return -1;
		if (pr.optional && !pr.keep)
			buf_truncate(out, mark);
		else
			kept++;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

/*
 * Expand tmpl with values from lookup, appending to out. On failure out is
 * wiped entirely (it may hold secrets), so pass an empty buffer, and err
 * says why: PB_E_CONFIG for the template or a value, PB_E_INTERNAL for
 * memory.
 */
int pb_template_expand(const char *tmpl, enum pb_format fmt, pb_lookup_fn lookup,
		       void *ctx, struct pb_buf *out, struct pb_err *err)
{
	struct pair pr = { 0 };
	int rc;

	if (fmt == PB_FMT_FORM)
		rc = expand_form(tmpl, lookup, ctx, out, err);
	else
		rc = expand_span(tmpl, tmpl + strlen(tmpl), fmt, lookup, ctx, out, &pr, err);
	if (rc < 0) {
		pb_buf_wipe(out);
		return -1;
	}
	/* an empty template still gives a NUL-terminated buffer */
	if (out->data == NULL && pb_buf_add(out, "", 0) < 0)
		return pb_fail(err, PB_E_INTERNAL, "out of memory");
	return 0;
}

/*
 * Call fn for every field tmpl names, in order. -1 with err when tmpl is
 * malformed; -1 when fn returns non-zero (fn reports its own error, through
 * ctx; err is set to a generic message only if it is still clear).
 */
int pb_template_fields(const char *tmpl, pb_field_fn fn, void *ctx, struct pb_err *err)
{
	const char *p = tmpl, *end = tmpl + strlen(tmpl);
	struct piece pc;
	int r;

	while ((r = next_piece(&p, end, &pc, err)) > 0) {
		if (pc.field && fn(ctx, pc.name, pc.optional) != 0) {
			if (err != NULL && err->msg[0] == '\0')
				pb_fail(err, PB_E_CONFIG, "template field '%s' is not allowed here",
					pc.name);
			return -1;
		}
	}
	return r;
}
