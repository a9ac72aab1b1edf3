/*
 * proto.h - what pam_bearer.so and `bearer-token pam-session` say to each
 * other over two pipes. Secrets only ever travel here: never in argv or the
 * environment.
 *
 * Module -> helper (the helper's stdin), then the module closes the pipe:
 *     secret <profile> <field> <length>\n<length bytes>\n     (any number)
 *     end\n
 * Helper -> module (the helper's stdout), one line per profile:
 *     result <profile> <code> <text>\n
 * where <code> is an enum pb_code (0 = a valid token is in place) and <text>
 * is "obtained|refreshed|cached|kept <expires_at or never>" on success, or
 * the one-line reason on failure. Lines never hold a token or a secret.
 */
#ifndef PB_PROTO_H
#define PB_PROTO_H

#include <stddef.h>
#include "creds.h"
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

#endif
