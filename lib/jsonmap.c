/* SPDX-License-Identifier: MIT */
/*
 * jsonmap.c - reading vendor responses: a strict parser for response
 * bodies, dot paths with '|' alternatives, and the one-line summary of an
 * error body for logs and `bearer-token status`.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonmap.h"

/* Vendor answers are flat; anything deeper is hostile or broken. */
#define JSON_MAX_DEPTH 32
/* More digits than this cannot index any array we would accept. */
#define INDEX_MAX_DIGITS 9

/* Is c allowed in a path component? ASCII only, whatever the locale. */
static bool path_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* Number of path characters at the start of p. */
static size_t component_len(const char *p)
{
	size_t n = 0;

	while (path_char(p[n]))
		n++;
	return n;
}

/*
 * Config-time check of a path expression: alternatives separated by '|'
 * (spaces around them allowed), each one or more non-empty components
 * joined by '.', components of [A-Za-z0-9_-] only.
 */
bool pb_json_path_valid(const char *paths)
{
	const char *p = paths;
	size_t n;

	if (paths == NULL)
		return false;
	for (;;) {
		p += strspn(p, " \t");
		/* one alternative: component(.component)* */
		for (;;) {
			if ((n = component_len(p)) == 0)
				return false;
			p += n;
			if (*p != '.')
				break;
			p++;
		}
		p += strspn(p, " \t");
		if (*p == '\0')
			return true;
		if (*p++ != '|')
			return false;
	}
}

/*
 * One path step: an array index when cur is an array and comp is all
 * digits, else a member of an object. NULL when absent or JSON null.
 */
static struct json_object *step(struct json_object *cur, const char *comp)
{
	struct json_object *v = NULL;
	size_t n = strlen(comp), i = 0;

	if (n == 0)
		return NULL;
	if (json_object_is_type(cur, json_type_array)) {
		if (n > INDEX_MAX_DIGITS || strspn(comp, "0123456789") != n)
			return NULL;
		for (const char *d = comp; *d != '\0'; d++)
			i = i * 10 + (size_t)(*d - '0');
		return i < json_object_array_length(cur) ? json_object_array_get_idx(cur, i) : NULL;
	}
	if (!json_object_is_type(cur, json_type_object) ||
	    !json_object_object_get_ex(cur, comp, &v))
		return NULL;
	return v;
}

/* Follow one dot path (split in place); NULL when any step is missing or null. */
static struct json_object *walk(struct json_object *cur, char *path)
{
	char *comp = path, *dot;

	for (;;) {
		if ((dot = strchr(comp, '.')) != NULL)
			*dot = '\0';
		if ((cur = step(cur, comp)) == NULL || dot == NULL)
			return cur;
		comp = dot + 1;
	}
}

/*
 * Try each '|' alternative in turn; the first that leads to a value other
 * than JSON null wins. NULL also when out of memory (for a copy of paths).
 */
struct json_object *pb_json_path(struct json_object *root, const char *paths)
{
	struct json_object *v = NULL;
	char *copy, *alt, *next;

	if (root == NULL || paths == NULL || (copy = strdup(paths)) == NULL)
		return NULL;
	for (alt = copy; alt != NULL && v == NULL; alt = next) {
		if ((next = strchr(alt, '|')) != NULL)
			*next++ = '\0';
		v = walk(root, pb_trim(alt));
	}
	free(copy);
	return v;
}

/* Only JSON white space in s[0..n)? */
static bool only_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

/*
 * Parse body as one JSON object and nothing else (trailing white space is
 * fine). json-c in strict mode, nesting limited to JSON_MAX_DEPTH; a NUL
 * byte anywhere makes the body invalid rather than silently ending it.
 */
struct json_object *pb_json_parse_object(const char *body, size_t len)
{
	struct json_tokener *tok;
	struct json_object *obj;
	size_t end;

	if (body == NULL || len == 0 || len > INT_MAX || memchr(body, '\0', len) != NULL)
		return NULL;
	if ((tok = json_tokener_new_ex(JSON_MAX_DEPTH)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, body, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (obj != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
			    end > len || !only_space(body + end, len - end) ||
			    !json_object_is_type(obj, json_type_object))) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* obj[key] when it is a non-empty string, else NULL. */
static const char *member_string(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return NULL;
	return json_object_get_string(v);
}

/* obj[key][0], or NULL when obj[key] is not a non-empty array. */
static struct json_object *first_element(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_array) ||
	    json_object_array_length(v) == 0)
		return NULL;
	return json_object_array_get_idx(v, 0);
}

/* Length of s[0..n) without a UTF-8 character cut short at its end. */
static size_t utf8_whole(const char *s, size_t n)
{
	size_t lead = n, need;
	unsigned char c;

	/* back up over trailing continuation bytes to their lead byte */
	while (lead > 0 && n - lead < 3 && ((unsigned char)s[lead - 1] & 0xc0) == 0x80)
		lead--;
	if (lead == 0 || (unsigned char)s[lead - 1] < 0xc0)
		return n;
	c = (unsigned char)s[lead - 1];
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	return n - (lead - 1) < need ? lead - 1 : n;
}

/*
 * Write "a" or "a: b" into out as one line: runs of white space become one
 * space, other control characters '?', and a UTF-8 character cut short by
 * outlen is dropped rather than left half-written.
 */
static void one_line(char *out, size_t outlen, const char *a, const char *b)
{
	size_t r, w = 0;
	unsigned char c;

	snprintf(out, outlen, "%s%s%s", a, b != NULL ? ": " : "", b != NULL ? b : "");
	for (r = 0; out[r] != '\0'; r++) {
		c = (unsigned char)out[r];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (w > 0 && out[w - 1] != ' ')
				out[w++] = ' ';
			continue;
		}
		out[w++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
	}
	while (w > 0 && out[w - 1] == ' ')
		w--;
	out[utf8_whole(out, w)] = '\0';
}

/* {"errors":[{"attr":"email","detail":"..."}]} (drf-standardized-errors, JSON:API, FastAPI) */
static bool summarise_error_list(struct json_object *root, const char *key, char *out,
				 size_t outlen)
{
	static const char *const text_keys[] = { "detail", "title", "message", "msg" };
	struct json_object *e = first_element(root, key);
	const char *text = NULL, *label;

	if (!json_object_is_type(e, json_type_object))
		return false;
	for (size_t i = 0; text == NULL && i < sizeof(text_keys) / sizeof(text_keys[0]); i++)
		text = member_string(e, text_keys[i]);
	if (text == NULL)
		return false;
	if ((label = member_string(e, "attr")) == NULL)
		label = member_string(e, "code");
	if (label != NULL)
		one_line(out, outlen, label, text);
	else
		one_line(out, outlen, text, NULL);
	return true;
}

/* Members whose name says nothing a reader needs: "message: x" is just "x". */
static bool generic_member(const char *key)
{
	static const char *const generic[] = { "message", "messages", "error", "errors", "detail",
					       "non_field_errors" };

	for (size_t i = 0; i < sizeof(generic) / sizeof(generic[0]); i++)
		if (strcmp(key, generic[i]) == 0)
			return true;
	return false;
}

/*
 * DRF field errors, and lists of messages: the first member holding
 * ["message", ...] gives "member: message" ("message" alone for the
 * generic members: {"message": ["x"]} is "x").
 */
static bool summarise_field_errors(struct json_object *root, char *out, size_t outlen)
{
	json_object_object_foreach(root, key, val) {
		struct json_object *first;

		if (!json_object_is_type(val, json_type_array) ||
		    json_object_array_length(val) == 0)
			continue;
		first = json_object_array_get_idx(val, 0);
		if (json_object_is_type(first, json_type_string) &&
		    json_object_get_string_len(first) > 0) {
			one_line(out, outlen, generic_member(key) ? json_object_get_string(first) : key,
				 generic_member(key) ? NULL : json_object_get_string(first));
			return true;
		}
	}
	return false;
}

/* "message" as a string, or the first string of a list of them; else NULL. */
static const char *first_message(struct json_object *root)
{
	struct json_object *m = first_element(root, "message");

	if (m != NULL && json_object_is_type(m, json_type_string))
		return json_object_get_string(m);
	return member_string(root, "message");
}

/* The summary rules of jsonmap.h, in order; false when none applies. */
static bool summarise(struct json_object *root, char *out, size_t outlen,
		      char *oauth_error, size_t oauth_error_len)
{
	struct json_object *e;
	const char *a;

	if ((a = member_string(root, "error")) != NULL) {
		const char *b = member_string(root, "error_description");

		if (oauth_error != NULL && oauth_error_len > 0)
			one_line(oauth_error, oauth_error_len, a, NULL);
		if (b == NULL)      /* NestJS: {"error": "Bad Request", "message": [...]} */
			b = first_message(root);
		one_line(out, outlen, a, b);
		return true;
	}
	if ((a = member_string(root, "title")) != NULL) {
		one_line(out, outlen, a, member_string(root, "detail"));
		return true;
	}
	if ((a = member_string(root, "detail")) != NULL) {
		one_line(out, outlen, a, NULL);
		return true;
	}
	if (summarise_error_list(root, "errors", out, outlen) ||
	    summarise_error_list(root, "detail", out, outlen) ||
	    summarise_field_errors(root, out, outlen))
		return true;
	if ((a = member_string(root, "message")) != NULL) {
		one_line(out, outlen, a, NULL);
		return true;
	}
	if (json_object_object_get_ex(root, "error", &e) &&
	    (a = member_string(e, "message")) != NULL) {
		one_line(out, outlen, a, NULL);
		return true;
	}
	return false;
}

/* One line for an error body, "" when it is not JSON or no rule applies (see jsonmap.h). */
void pb_json_error_summary(const char *body, size_t len, char *out, size_t outlen,
			   char *oauth_error, size_t oauth_error_len)
{
	struct json_object *root;

	if (out == NULL || outlen == 0)
		return;
	out[0] = '\0';
	if (oauth_error != NULL && oauth_error_len > 0)
		oauth_error[0] = '\0';
	if ((root = pb_json_parse_object(body, len)) == NULL)
		return;
	if (!summarise(root, out, outlen, oauth_error, oauth_error_len))
		out[0] = '\0';
	json_object_put(root);
}

/* See jsonmap.h. */
void pb_json_wipe_strings(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		explicit_bzero((char *)(uintptr_t)json_object_get_string(v),
			       (size_t)json_object_get_string_len(v));
		break;
	case json_type_object: {
		json_object_object_foreach(v, key, child) {
			(void)key;
			if (child != NULL)
				pb_json_wipe_strings(child);
		}
		break;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (json_object_array_get_idx(v, i) != NULL)
				pb_json_wipe_strings(json_object_array_get_idx(v, i));
		break;
	default:
		break;
	}
}
