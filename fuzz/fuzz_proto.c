/* SPDX-License-Identifier: MIT */
/*
 * fuzz_proto.c - libFuzzer target for the pipe and socket protocols
 * (lib/proto.c): every reader and parser in proto.h.
 *
 * Byte 0 picks the reader; the rest is the message, handed over in a
 * buffer of exactly its length so a read past the end is caught:
 *   0  pb_proto_next_record         (a login's token stream: pam-system ->
 *                                     module -> pam-session)
 *   1  pb_proto_read_fetch_request  (bearer-token -> bearer-fetch)
 *   2  pb_proto_read_fetch_reply    (bearer-fetch -> bearer-token, and the broker's reply)
 *   3  pb_proto_parse_result        (bearer-token -> PAM module, one line)
 *   4  pb_proto_read_broker_request (a client -> the broker)
 *   5  pb_proto_read_batch          (bearer-token -> bearer-fetch: a batch)
 *   6  pb_proto_next_batch_reply    (bearer-fetch -> bearer-token: framed replies)
 * Invariants: what a reader accepts, the matching writer writes back into
 * a message the reader reads as the same thing; an accepted token passes
 * pb_token_check and has times in range; a failure is one line with an
 * error class.
 */
#include "fuzz.h"
#include "proto.h"

/* Same secrets in the same order? */
static bool same_creds(const struct pb_creds *a, const struct pb_creds *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].profile, b->v[i].profile) != 0 ||
		    strcmp(a->v[i].field, b->v[i].field) != 0 ||
		    strcmp(a->v[i].value, b->v[i].value) != 0)
			return false;
	return true;
}

/* A failure: one line, an error class. */
static void check_err(const struct pb_err *err)
{
	FUZZ_CHECK(err->code > PB_OK && err->code <= PB_E_INTERNAL);
	FUZZ_CHECK(strchr(err->msg, '\n') == NULL);
}

/* The token stream: every record read is written back the same; a token is one we would store. */
static void fuzz_records(const char *msg, size_t len)
{
	struct pb_buf out = { 0 };
	struct pb_record rec, again;
	struct pb_err err;
	size_t pos = 0, pos2;
	int r;

	pb_err_clear(&err);
	while ((r = pb_proto_next_record(msg, len, &pos, &rec, &err)) == 1) {
		FUZZ_CHECK(pos <= len && pb_valid_name(rec.profile));
		pb_buf_wipe(&out);
		if (rec.kind == PB_REC_TOKEN) {
			FUZZ_CHECK(rec.tok.token != NULL && pb_token_check(rec.tok.token, NULL) == 0);
			FUZZ_CHECK(rec.tok.refresh_token == NULL);
			FUZZ_CHECK(rec.tok.obtained_ms > 0);
			FUZZ_CHECK(!rec.tok.has_expiry || rec.tok.expires_ms > rec.tok.obtained_ms);
			FUZZ_CHECK(pb_proto_put_token(&out, rec.profile, &rec.tok) == 0);
		} else {
			FUZZ_CHECK(rec.code >= PB_OK && rec.code <= PB_E_INTERNAL);
			FUZZ_CHECK(pb_proto_put_result(&out, rec.profile, rec.code, rec.text) == 0);
		}
		pos2 = 0;
		FUZZ_CHECK(pb_proto_next_record(out.data, out.len, &pos2, &again, &err) == 1);
		FUZZ_CHECK(pos2 == out.len && again.kind == rec.kind);
		FUZZ_CHECK(strcmp(again.profile, rec.profile) == 0);
		FUZZ_CHECK(rec.kind != PB_REC_TOKEN ||
			   (strcmp(again.tok.token, rec.tok.token) == 0 &&
			    again.tok.obtained_ms == rec.tok.obtained_ms &&
			    again.tok.has_expiry == rec.tok.has_expiry &&
			    again.tok.expires_ms == rec.tok.expires_ms));
		pb_record_free(&again);
		pb_record_free(&rec);
	}
	if (r < 0)
		check_err(&err);
	else
		FUZZ_CHECK(pos + 4 == len && memcmp(msg + pos, "end\n", 4) == 0);
	pb_buf_wipe(&out);
}

/* A broker request: what is accepted is written back as the same request. */
static void fuzz_broker_request(const char *msg, size_t len)
{
	struct pb_broker_request req, again;
	struct pb_buf out = { 0 };

	if (pb_proto_read_broker_request(msg, len, &req) < 0)
		return;
	if (req.ping) {
		FUZZ_CHECK(len == 5 && memcmp(msg, "ping\n", 5) == 0);
		return;
	}
	FUZZ_CHECK(pb_valid_name(req.profile) && req.min_valid >= 0 && req.uid >= -1);
	FUZZ_CHECK(pb_proto_put_broker_request(&out, req.uid, req.profile, req.min_valid) == 0);
	FUZZ_CHECK(pb_proto_read_broker_request(out.data, out.len, &again) == 0);
	FUZZ_CHECK(!again.ping && again.uid == req.uid && again.min_valid == req.min_valid &&
		   strcmp(again.profile, req.profile) == 0);
	pb_buf_wipe(&out);
}

static void fuzz_request(const char *msg, size_t len)
{
	struct pb_creds creds = { 0 }, again = { 0 };
	struct pb_buf out = { 0 };
	struct pb_err err;
	char *refresh = NULL, *refresh2 = NULL;
	const char *profile;

	pb_err_clear(&err);
	if (pb_proto_read_fetch_request(msg, len, &creds, &refresh, &err) < 0) {
		check_err(&err);
		FUZZ_CHECK(refresh == NULL);
		goto done;
	}
	/* the writer sends one profile's secrets: round-trip when there is one */
	profile = creds.n > 0 ? creds.v[0].profile : "p";
	for (size_t i = 0; i < creds.n; i++)
		if (strcmp(creds.v[i].profile, profile) != 0)
			goto done;
	FUZZ_CHECK(pb_proto_put_fetch_request(&out, profile, &creds, refresh) == 0);
	FUZZ_CHECK(pb_proto_read_fetch_request(out.data, out.len, &again, &refresh2, &err) == 0);
	FUZZ_CHECK(same_creds(&creds, &again));
	FUZZ_CHECK(again.path != NULL);
	FUZZ_CHECK(creds.path == NULL || strcmp(creds.path, again.path) == 0);
	FUZZ_CHECK((refresh == NULL) == (refresh2 == NULL));
	FUZZ_CHECK(refresh == NULL || strcmp(refresh, refresh2) == 0);
done:
	pb_wipe_free(refresh);
	pb_wipe_free(refresh2);
	pb_creds_free(&creds);
	pb_creds_free(&again);
	pb_buf_wipe(&out);
}

static void fuzz_reply(const char *msg, size_t len)
{
	struct pb_token tok, again;
	struct pb_buf out = { 0 };
	struct pb_err err, err2;

	if (pb_proto_read_fetch_reply(msg, len, &tok, &err) < 0) {
		check_err(&err);
		FUZZ_CHECK(tok.token == NULL && tok.refresh_token == NULL);
		/* an error reply travels back unchanged */
		if (len >= 6 && memcmp(msg, "error ", 6) == 0 && err.code != PB_E_INTERNAL) {
			FUZZ_CHECK(pb_proto_put_fetch_reply(&out, NULL, &err) == 0);
			FUZZ_CHECK(pb_proto_read_fetch_reply(out.data, out.len, &again, &err2) < 0);
			FUZZ_CHECK(err2.code == err.code && err2.retry_after == err.retry_after);
			FUZZ_CHECK(strcmp(err2.msg, err.msg) == 0);
		}
		goto done;
	}
	FUZZ_CHECK(tok.token != NULL && pb_token_check(tok.token, NULL) == 0);
	FUZZ_CHECK(pb_proto_put_fetch_reply(&out, &tok, NULL) == 0);
	FUZZ_CHECK(pb_proto_read_fetch_reply(out.data, out.len, &again, &err2) == 0);
	FUZZ_CHECK(strcmp(again.token, tok.token) == 0);
	FUZZ_CHECK((again.refresh_token == NULL) == (tok.refresh_token == NULL));
	FUZZ_CHECK(tok.refresh_token == NULL || strcmp(again.refresh_token, tok.refresh_token) == 0);
	FUZZ_CHECK(again.obtained_ms == tok.obtained_ms && again.has_expiry == tok.has_expiry &&
		   again.expires_ms == tok.expires_ms && again.refreshed == tok.refreshed);
	pb_token_free(&again);
	pb_token_free(&tok);
done:
	pb_buf_wipe(&out);
}

static void fuzz_result(const char *msg, size_t len)
{
	struct pb_buf out = { 0 };
	const char *profile, *text;
	char *line = fuzz_cstr((const uint8_t *)msg, len);
	char *orig = fuzz_cstr((const uint8_t *)msg, len);
	char word[16];
	int code;

	if (line == NULL || orig == NULL)
		goto done;
	if (pb_proto_parse_result(line, &profile, &code, &text) < 0)
		goto done;
	FUZZ_CHECK(pb_valid_name(profile) && code >= PB_OK && code <= PB_E_INTERNAL);
	FUZZ_CHECK(pb_proto_put_result(&out, profile, code, text) == 0);
	FUZZ_CHECK(out.len > 0 && out.data[out.len - 1] == '\n');
	FUZZ_CHECK(memchr(out.data, '\n', out.len) == out.data + out.len - 1);
	/* a line as we write it (code in canonical form, clean text) comes back the same */
	snprintf(word, sizeof(word), "%d ", code);
	if (!pb_has_ctrl(text) && strncmp(orig + 7 + strlen(profile) + 1, word, strlen(word)) == 0)
		FUZZ_CHECK(out.len == strlen(orig) + 1 && memcmp(out.data, orig, out.len - 1) == 0);
done:
	free(line);
	free(orig);
	pb_buf_wipe(&out);
}

/* A batch: written back item by item, it reads as the same batch. */
static void fuzz_batch(const char *msg, size_t len)
{
	struct pb_batch_item *items = NULL, *again = NULL;
	struct pb_buf out = { 0 };
	struct pb_err err;
	size_t n = 0, n2 = 0;

	pb_err_clear(&err);
	if (pb_proto_read_batch(msg, len, &items, &n, &err) < 0) {
		check_err(&err);
		FUZZ_CHECK(items == NULL && n == 0);
		return;
	}
	FUZZ_CHECK(n <= PB_PROTO_MAX_BATCH);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(pb_valid_name(items[i].profile));
		for (size_t k = 0; k < items[i].creds.n; k++)
			FUZZ_CHECK(strcmp(items[i].creds.v[k].profile, items[i].profile) == 0);
		FUZZ_CHECK(pb_proto_put_batch_item(&out, items[i].profile,
						   items[i].creds.path != NULL ? &items[i].creds : NULL,
						   items[i].refresh_token) == 0);
	}
	FUZZ_CHECK(pb_proto_put_end(&out) == 0);
	FUZZ_CHECK(pb_proto_read_batch(out.data, out.len, &again, &n2, &err) == 0 && n2 == n);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(strcmp(again[i].profile, items[i].profile) == 0);
		FUZZ_CHECK(items[i].creds.path == NULL || same_creds(&items[i].creds, &again[i].creds));
		FUZZ_CHECK((items[i].refresh_token == NULL) == (again[i].refresh_token == NULL));
		FUZZ_CHECK(items[i].refresh_token == NULL ||
			   strcmp(items[i].refresh_token, again[i].refresh_token) == 0);
	}
	pb_batch_items_free(items, n);
	pb_batch_items_free(again, n2);
	pb_buf_wipe(&out);
}

/* Framed replies: each one read is written back as a frame that reads the same. */
static void fuzz_batch_replies(const char *msg, size_t len)
{
	struct pb_buf out = { 0 };
	struct pb_token tok, tok2;
	struct pb_err err, err2;
	char profile[65], profile2[65];
	size_t pos = 0, pos2;
	bool ok, ok2;
	int r;

	pb_err_clear(&err);
	while ((r = pb_proto_next_batch_reply(msg, len, &pos, profile, &ok, &tok, &err)) == 1) {
		FUZZ_CHECK(pos <= len && pb_valid_name(profile));
		pb_buf_wipe(&out);
		FUZZ_CHECK(pb_proto_put_batch_reply(&out, profile, ok ? &tok : NULL,
						    ok ? NULL : &err) == 0);
		pos2 = 0;
		pb_err_clear(&err2);
		FUZZ_CHECK(pb_proto_next_batch_reply(out.data, out.len, &pos2, profile2, &ok2, &tok2,
						     &err2) == 1);
		FUZZ_CHECK(pos2 == out.len && strcmp(profile, profile2) == 0 && ok == ok2);
		FUZZ_CHECK(!ok || (strcmp(tok.token, tok2.token) == 0 &&
				   tok.expires_ms == tok2.expires_ms));
		FUZZ_CHECK(ok || err.code == PB_E_INTERNAL || err2.code == err.code);
		pb_token_free(&tok);
		pb_token_free(&tok2);
		pb_err_clear(&err);
	}
	if (r < 0)
		check_err(&err);
	pb_buf_wipe(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *msg;

	if (size < 1)
		return 0;
	if ((msg = malloc(size - 1 ? size - 1 : 1)) == NULL)
		return 0;
	memcpy(msg, data + 1, size - 1);
	switch (data[0] % 7) {
	case 0: fuzz_records(msg, size - 1); break;
	case 1: fuzz_request(msg, size - 1); break;
	case 2: fuzz_reply(msg, size - 1); break;
	case 3: fuzz_result(msg, size - 1); break;
	case 4: fuzz_broker_request(msg, size - 1); break;
	case 5: fuzz_batch(msg, size - 1); break;
	default: fuzz_batch_replies(msg, size - 1); break;
	}
	free(msg);
	return 0;
}
