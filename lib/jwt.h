/* SPDX-License-Identifier: MIT */
/*
 * jwt.h - read the `exp` claim of a JWT, for scheduling only.
 *
 * The payload (second dot-separated part) is base64url-decoded (padding
 * optional) and parsed as JSON. No signature is checked: the vendor checks
 * its own tokens; we only want to know when to renew.
 */
#ifndef PB_JWT_H
#define PB_JWT_H

#include <stdint.h>
#include "util.h"

/*
 * 0 and *exp (seconds since the epoch) on success; -1 with err when the
 * token is not a JWT (not three parts), the payload is not base64url or not
 * a JSON object, or `exp` is missing, not a number, or out of range
 * (negative, not finite, or after 9999-12-31: a claim in milliseconds).
 * Tokens over 16 KiB are refused unread.
 */
int pb_jwt_exp(const char *token, int64_t *exp, struct pb_err *err);

/* base64url (or standard base64) decode, padding optional; -1 on bad input. */
int pb_base64url_decode(const char *in, size_t inlen, struct pb_buf *out);

#endif
