/* SPDX-License-Identifier: MIT */
/*
 * fuzz_expiry.c - libFuzzer target for expiry computation (lib/expiry.c).
 *
 * Input: 8 bytes of "now" offset, 8 of a refresh_at fraction, then
 * NUL-separated: the `lifetime` spec, expires_in as JSON text (empty: not
 * sent), the token. Invariants: a resolved expiry lies after now and at
 * most 10 years ahead; a lifetime pb_lifetime_valid refuses never
 * resolves without expires_in; the renewal time lies between obtained
 * and expires, never later than expires - margin; a token is never fresh
 * once expired.
 */
#include <json-c/json.h>
#include <math.h>

#include "expiry.h"
#include "fuzz.h"

/* 2000-01-01 .. about 2100: the clocks this code will meet */
#define NOW_MIN INT64_C(946684800)
#define NOW_SPAN INT64_C(3155760000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_parts fp;
	struct json_object *expires_in = NULL;
	struct pb_err err;
	uint64_t raw;
	double frac;
	time_t now, exp_at, due;
	bool has;
	int rc;

	if (size < 16)
		return 0;
	memcpy(&raw, data, 8);
	now = (time_t)(NOW_MIN + (int64_t)(raw % (uint64_t)NOW_SPAN));
	memcpy(&frac, data + 8, 8);
	if (fuzz_split(data + 16, size - 16, 3, &fp) < 0)
		return 0;
	if (fp.n > 1 && fp.len[1] > 0)
		expires_in = json_tokener_parse(fp.part[1]);
	pb_err_clear(&err);
	rc = pb_expiry_resolve(fp.part[0], expires_in, fp.n > 2 ? fp.part[2] : NULL, now, &has,
			       &exp_at, &err);
	if (rc == 0) {
		if (has)
			FUZZ_CHECK(exp_at > now && exp_at - now <= PB_MAX_LIFETIME);
		else
			FUZZ_CHECK(exp_at == 0);
	} else if (expires_in == NULL && pb_lifetime_valid(fp.part[0])) {
		/* a lifetime the config accepted fails only on what the vendor sent */
		FUZZ_CHECK(!has && exp_at == 0 && err.code == PB_E_TEMP);
		FUZZ_CHECK(err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL);
	} else {
		FUZZ_CHECK(!has && exp_at == 0);
		FUZZ_CHECK(err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL);
		FUZZ_CHECK(err.code == PB_E_TEMP || err.code == PB_E_CONFIG ||
			   err.code == PB_E_INTERNAL);
	}
	if (rc == 0 && has) {
		due = pb_refresh_due(now, exp_at, frac);
		FUZZ_CHECK(due >= now && due < exp_at);
		FUZZ_CHECK(due <= exp_at - pb_refresh_margin(exp_at - now) || due == now);
		FUZZ_CHECK(pb_refresh_margin(exp_at - now) >= 1 &&
			   pb_refresh_margin(exp_at - now) <= 60);
		FUZZ_CHECK(!pb_token_fresh(true, now, exp_at, exp_at, 0));
		FUZZ_CHECK(!pb_token_fresh(true, now, exp_at, exp_at + 1, 0));
		if (!isnan(frac) && frac > 0 && frac < 1)
			FUZZ_CHECK(due <= now + (time_t)(frac * (double)(exp_at - now)) + 1);
	}
	FUZZ_CHECK(pb_token_fresh(false, now, 0, now, 0));
	json_object_put(expires_in);
	fuzz_parts_free(&fp);
	return 0;
}
