/* SPDX-License-Identifier: MIT */
/*
 * template.h - `${field}` substitution for request bodies and headers.
 *
 * `${name}` is required: a missing value is an error naming the field.
 * `${name?}` is optional: missing expands to nothing, and in a form body a
 * `key=${name?}` pair whose value is empty is dropped entirely (so `scope`
 * is sent only when the profile sets it). `$$` is a literal '$'.
 * Escaping by format: json -> JSON string escaping (the template supplies
 * the quotes), form -> application/x-www-form-urlencoded, raw -> verbatim
 * but a value with a control character is refused (header injection),
 * path -> percent-encoded as form is, for the fields of a URL template.
 */
#ifndef PB_TEMPLATE_H
#define PB_TEMPLATE_H

#include <stdbool.h>
#include "conf.h"
#include "util.h"

/* Returns the value of field `name`, or NULL if the field has no value. */
typedef const char *(*pb_lookup_fn)(void *ctx, const char *name);

/*
 * Expand tmpl, appending to out. On failure out is wiped entirely (it may
 * hold secrets) and err says why: PB_E_CONFIG for a malformed template, a
 * missing required field or a value the format cannot carry (raw: control
 * character; json: invalid UTF-8), PB_E_INTERNAL when out of memory.
 */
int pb_template_expand(const char *tmpl, enum pb_format fmt, pb_lookup_fn lookup,
		       void *ctx, struct pb_buf *out, struct pb_err *err);

/*
 * Call fn for every field a template names (for config validation). Returns
 * -1 with err on a malformed template ("unterminated ${", "empty field
 * name", bad name) or when fn returns non-zero.
 */
typedef int (*pb_field_fn)(void *ctx, const char *name, bool optional);
int pb_template_fields(const char *tmpl, pb_field_fn fn, void *ctx, struct pb_err *err);

/*
 * Append s to out with the given escaping (used by the expander and HTTP
 * Basic). -1 when out of memory or when s cannot be carried in fmt.
 */
int pb_escape(struct pb_buf *out, const char *s, enum pb_format fmt);

#endif
