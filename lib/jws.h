/* SPDX-License-Identifier: MIT */
/*
 * jws.h - sign a JWT with a private key (RFC 7515 compact form), for
 * signed client assertions (RFC 7523): GitHub Apps, Google service
 * accounts, OAuth 2.0 private_key_jwt.
 *
 * libcrypto is linked into bearer-fetch only: the PAM module and the
 * refresher never load it (tests/pam/test_exports.sh checks).
 *
 * The algorithm follows the key: an RSA key of at least 2048 bits signs
 * RS256 (RSASSA-PKCS1-v1_5 with SHA-256), a P-256 EC key ES256 (ECDSA with
 * SHA-256, the signature as R || S, 64 bytes, RFC 7518 3.4). Any other
 * key, and an encrypted one, is refused: the message names the key type.
 */
#ifndef PB_JWS_H
#define PB_JWS_H

#include "util.h"

/*
 * Append "HEADER.CLAIMS.SIGNATURE" to out: the header {"alg","typ":"JWT"}
 * and, when kid is not NULL or empty, "kid"; claims_json is the payload as
 * it is (a JSON object, from the vendor's assertion.claims template). pem
 * is the private key in PEM (PKCS#8, or traditional RSA/EC). 0, or -1
 * with err (PB_E_CONFIG: the key; PB_E_INTERNAL: out of memory). Never
 * puts key material in err.
 */
int pb_jws_sign(const char *pem, const char *kid, const char *claims_json, struct pb_buf *out,
		struct pb_err *err);

/* base64url without padding (RFC 4648 5), appended to out. 0 or -1 (ENOMEM). */
int pb_base64url(struct pb_buf *out, const unsigned char *data, size_t len);

#endif
