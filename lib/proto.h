/*
 * proto.h - the two pipe protocols. Secrets and tokens only ever travel
 * here (or in the stores): never in argv or the environment.
 *
 * 1. What pam_bearer.so and `bearer-token pam-session` say to each other.
 *
 * Module -> helper (the helper's stdin), then the module closes the pipe:
 *     secret <profile> <field> <length>\n<length bytes>\n     (any number)
 *     end\n
 * Helper -> module (the helper's stdout), one line per profile:
 *     result <profile> <code> <text>\n
 * where <code> is an enum pb_code (0 = a valid token is in place) and <text>
 * is "obtained|refreshed|cached|kept <expires_at or never>" on success, or
 * the one-line reason on failure. Lines never hold a token or a secret.
 *
 * 2. What bearer-token says to its HTTP worker, bearer-fetch, which gets
 * the config path and profile name in argv and nothing in its environment.
 * Request (the worker's stdin), then bearer-token closes the pipe:
 *     secret <profile> <field> <length>\n<length bytes>\n   (the profile's credentials)
 *     credentials <length>\n<where they came from>\n       (when there are credentials)
 *     refresh <length>\n<length bytes>\n                    (optional: the stored refresh token)
 *     end\n
 * Reply (the worker's stdout), either
 *     token <obtained_at> <expires_at or -> <refreshed 0|1> <length>\n<length bytes>\n
 *     refresh <length>\n<length bytes>\n                    (optional: a new refresh token)
 *     end\n
 * or one line
 *     error <code> <retry_after or -1> <reason>\n
 */
#ifndef PB_PROTO_H
#define PB_PROTO_H

#include <stddef.h>
#include "creds.h"
#include "token.h"
#include "util.h"

#define PB_PROTO_MAX_SECRET 65536
#define PB_PROTO_MAX_LINE 1024

/* Append one secret record to buf. */
int pb_proto_put_secret(struct pb_buf *buf, const char *profile, const char *field,
			const char *value);
int pb_proto_put_end(struct pb_buf *buf);

/*
 * Parse the whole module -> helper stream (len bytes) into creds. Refuses
 * anything malformed, an unknown record, names that are not pb_valid_name,
 * oversize or NUL-containing values, and a stream without "end".
 */
int pb_proto_read_secrets(const char *data, size_t len, struct pb_creds *creds,
			  struct pb_err *err);

/* Format one result line (with the trailing newline) into out. */
int pb_proto_put_result(struct pb_buf *out, const char *profile, int code, const char *text);

/*
 * Parse one result line (without the newline) in place: *profile and *text
 * point into line. -1 if it is not a well-formed result line.
 */
int pb_proto_parse_result(char *line, const char **profile, int *code, const char **text);

/* The worker request: profile's secrets from creds (may be NULL), refresh_token (may be NULL). */
int pb_proto_put_fetch_request(struct pb_buf *buf, const char *profile,
			       const struct pb_creds *creds, const char *refresh_token);
/*
 * Parse a whole worker request into creds (creds->path set when the
 * request had credentials) and *refresh_token (NULL when absent; wipe with
 * pb_wipe_free). Refuses what pb_proto_read_secrets does.
 */
int pb_proto_read_fetch_request(const char *data, size_t len, struct pb_creds *creds,
				char **refresh_token, struct pb_err *err);

/* The worker reply: the token when err is NULL, else the failure. */
int pb_proto_put_fetch_reply(struct pb_buf *buf, const struct pb_token *tok,
			     const struct pb_err *err);
/*
 * Parse a whole worker reply. 0 with *tok filled (free with
 * pb_token_free), or -1 with the worker's failure in err; a malformed
 * reply is PB_E_INTERNAL.
 */
int pb_proto_read_fetch_reply(const char *data, size_t len, struct pb_token *tok,
			      struct pb_err *err);

#endif
