/* SPDX-License-Identifier: MIT */
/*
 * jws.c - a JWT signed with the user's or the admin's private key (see
 * jws.h), with OpenSSL 3's EVP interface. The PEM text arrives over the
 * worker's pipe like any credential and is never written anywhere.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "jws.h"
#include "template.h"

#define RSA_MIN_BITS 2048      /* RFC 7518 3.3 */
#define ES256_HALF 32          /* bytes of R and of S */

int pb_base64url(struct pb_buf *out, const unsigned char *data, size_t len)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char quad[4];

	for (size_t i = 0; i < len; i += 3) {
		unsigned long v = (unsigned long)data[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;

		if (n > 1)
			v |= (unsigned long)data[i + 1] << 8;
		if (n > 2)
			v |= data[i + 2];
		quad[0] = abc[(v >> 18) & 63];
		quad[1] = abc[(v >> 12) & 63];
		quad[2] = abc[(v >> 6) & 63];
		quad[3] = abc[v & 63];
		if (pb_buf_add(out, quad, n + 1) < 0)
			return -1;
	}
	return 0;
}

/* PEM_read_bio_PrivateKey's passphrase callback: there is no one to ask. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/*
 * The key and its JWS algorithm: "RS256" for RSA of RSA_MIN_BITS or more,
 * "ES256" for P-256. NULL with err for anything else.
 */
static const char *key_alg(EVP_PKEY *key, struct pb_err *err)
{
	char group[64] = "";

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(key) < RSA_MIN_BITS) {
			pb_fail(err, PB_E_CONFIG, "the private key is RSA of %d bits; RS256 needs "
				"at least %d", EVP_PKEY_get_bits(key), RSA_MIN_BITS);
			return NULL;
		}
		return "RS256";
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
						   sizeof(group), NULL) == 1 &&
		    strcmp(group, "prime256v1") == 0)
			return "ES256";
		pb_fail(err, PB_E_CONFIG, "the private key is EC on %s; ES256 needs P-256",
			group[0] != '\0' ? group : "an unknown curve");
		return NULL;
	default:
		pb_fail(err, PB_E_CONFIG, "the private key is %s; an RSA or a P-256 EC key "
			"is needed", EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key)
			: "of an unknown type");
		return NULL;
	}
}

/* Read the PEM private key; NULL with err (no key material in it). */
static EVP_PKEY *read_key(const char *pem, struct pb_err *err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = NULL;

	if (bio == NULL) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		return NULL;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (key == NULL)
		pb_fail(err, PB_E_CONFIG, "the private key is not an unencrypted PEM private key "
			"(%s)", ERR_reason_error_string(ERR_peek_last_error()) ?
			ERR_reason_error_string(ERR_peek_last_error()) : "unreadable");
	ERR_clear_error();
	return key;
}

/* ECDSA's DER signature as JOSE wants it: R || S, each ES256_HALF bytes. */
static int ecdsa_raw(const unsigned char *der, size_t len, unsigned char raw[2 * ES256_HALF])
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *s;
	int ok;

	if (sig == NULL)
		return -1;
	ECDSA_SIG_get0(sig, &r, &s);
	ok = BN_bn2binpad(r, raw, ES256_HALF) == ES256_HALF &&
	     BN_bn2binpad(s, raw + ES256_HALF, ES256_HALF) == ES256_HALF;
	ECDSA_SIG_free(sig);
	return ok ? 0 : -1;
}

/* Sign data (SHA-256) with key, appending the base64url signature to out. */
static int sign(EVP_PKEY *key, bool ecdsa, const char *data, size_t len, struct pb_buf *out,
		struct pb_err *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *sig = NULL, raw[2 * ES256_HALF];
	size_t siglen = 0;
	int rc = -1;

	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)data, len) != 1 ||
	    (sig = OPENSSL_malloc(siglen)) == NULL ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)data, len) != 1) {
		pb_fail(err, PB_E_INTERNAL, "cannot sign the assertion");
		goto done;
	}
	if (ecdsa && ecdsa_raw(sig, siglen, raw) < 0) {
		pb_fail(err, PB_E_INTERNAL, "cannot sign the assertion (ECDSA signature)");
		goto done;
	}
	if ((ecdsa ? pb_base64url(out, raw, sizeof(raw)) : pb_base64url(out, sig, siglen)) < 0) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto done;
	}
	rc = 0;
done:
	OPENSSL_free(sig);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return rc;
}

/* See jws.h. */
int pb_jws_sign(const char *pem, const char *kid, const char *claims_json, struct pb_buf *out,
		struct pb_err *err)
{
	struct pb_buf header = { 0 }, input = { 0 };
	EVP_PKEY *key = read_key(pem, err);
	const char *alg;
	int rc = -1;

	if (key == NULL || (alg = key_alg(key, err)) == NULL)
		goto done;
	if (pb_buf_addf(&header, "{\"alg\":\"%s\",\"typ\":\"JWT\"", alg) < 0 ||
	    (kid != NULL && kid[0] != '\0' &&
	     (pb_buf_adds(&header, ",\"kid\":\"") < 0 ||
	      pb_escape(&header, kid, PB_FMT_JSON) < 0 || pb_buf_adds(&header, "\"") < 0)) ||
	    pb_buf_adds(&header, "}") < 0 ||
	    pb_base64url(&input, (const unsigned char *)header.data, header.len) < 0 ||
	    pb_buf_adds(&input, ".") < 0 ||
	    pb_base64url(&input, (const unsigned char *)claims_json, strlen(claims_json)) < 0) {
		pb_fail(err, PB_E_CONFIG, "assertion: the kid or the claims cannot be encoded");
		goto done;
	}
	if (pb_buf_add(out, input.data, input.len) < 0 || pb_buf_adds(out, ".") < 0) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto done;
	}
	rc = sign(key, strcmp(alg, "ES256") == 0, input.data, input.len, out, err);
done:
	EVP_PKEY_free(key);
	pb_buf_wipe(&header);
	pb_buf_wipe(&input);
	return rc;
}
