/* SPDX-License-Identifier: MIT */
/*
 * jsonmap.h - reading vendor responses: dot paths with alternatives, and
 * turning an error body into one line.
 */
#ifndef PB_JSONMAP_H
#define PB_JSONMAP_H

#include <stddef.h>
#include <json-c/json.h>
#include "util.h"

/*
 * Evaluate "a.b | c | d.0.e" against root: the first alternative whose value
 * exists and is not JSON null wins. A numeric component indexes an array.
 * Returns a borrowed pointer, or NULL when no alternative matches.
 */
struct json_object *pb_json_path(struct json_object *root, const char *paths);

/* Is the path expression well formed? (non-empty components, no empty alternative) */
bool pb_json_path_valid(const char *paths);

/*
 * Parse a response body (len bytes; NUL not required) as a JSON object.
 * NULL if it is not valid JSON or not an object.
 */
struct json_object *pb_json_parse_object(const char *body, size_t len);

/*
 * Summarise an error body into out (one line, at most outlen-1 bytes,
 * control characters replaced), trying in order:
 *   OAuth2   {"error":"invalid_client","error_description":"..."} -> "invalid_client: ..."
 *            (no error_description: "message", a string or a list's first)
 *   RFC 7807 {"title":"...","detail":"..."}                      -> "title: detail"
 *   DRF      {"detail":"..."} / {"errors":[{"detail":"..."}]}     -> "detail"
 *   DRF field errors {"email":["This field is required."]}       -> "email: This field is required."
 *            (a generic member's, such as {"message": ["x"]}: "x")
 *   {"message":"..."} / {"error":"..."} / {"error":{"message":...}}
 *   HTML or other non-JSON bodies                                 -> "" (the caller says "non-JSON body")
 * Copies the OAuth2 `error` code into oauth_error (same one-line rules; ""
 * when there is none; oauth_error may be NULL), so callers can tell
 * invalid_grant from invalid_client.
 */
void pb_json_error_summary(const char *body, size_t len, char *out, size_t outlen,
			   char *oauth_error, size_t oauth_error_len);

/*
 * json-c keeps its own copies of every string of a tree (a token, a
 * refresh token, a private key among them): zero them all before the tree
 * is freed.
 */
void pb_json_wipe_strings(struct json_object *v);

#endif
