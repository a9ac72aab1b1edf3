/* SPDX-License-Identifier: MIT */
/*
 * proto.c - the pipe and socket protocols of a login, of the HTTP worker
 * and of the broker (see proto.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expiry.h"
#include "proto.h"

int pb_proto_put_secret(struct pb_buf *buf, const char *profile, const char *field,
			const char *value)
{
	size_t n = strlen(value);

	if (pb_buf_addf(buf, "secret %s %s %zu\n", profile, field, n) < 0 ||
	    pb_buf_add(buf, value, n) < 0 || pb_buf_add(buf, "\n", 1) < 0)
		return -1;
	return 0;
}

int pb_proto_put_end(struct pb_buf *buf)
{
	return pb_buf_adds(buf, "end\n");
}

/* A position in a whole message. */
struct cursor {
	const char *data;
	size_t len, pos;
};

/*
 * Copy the next line (without its newline) into line and split it at
 * spaces into at most max words; the last word keeps the rest of the
 * line. Returns the number of words, or -1 when there is no complete line
 * that fits.
 */
static int next_words(struct cursor *c, char *line, size_t size, char **word, int max)
{
	const char *start = c->data + c->pos;
	const char *nl = memchr(start, '\n', c->len - c->pos);
	size_t llen;
	int n = 0;
	char *p;

	if (nl == NULL || (llen = (size_t)(nl - start)) >= size)
		return -1;
	memcpy(line, start, llen);
	line[llen] = '\0';
	c->pos += llen + 1;
	for (p = line; n < max && *p != '\0'; n++) {
		word[n] = p;
		if (n == max - 1 || (p = strchr(p, ' ')) == NULL)
			return n + 1;
		*p++ = '\0';
	}
	return n;
}

/* Parse a length word: 0..max. */
static int length_word(const char *s, long max, size_t *n)
{
	long v;

	if (pb_parse_long(s, &v) < 0 || v < 0 || v > max)
		return -1;
	*n = (size_t)v;
	return 0;
}

/* The n-byte value at the cursor, which a newline must follow: a NUL-free copy, or NULL. */
static char *take_value(struct cursor *c, size_t n)
{
	char *value;

	if (c->len - c->pos < n + 1 || c->data[c->pos + n] != '\n' ||
	    memchr(c->data + c->pos, '\0', n) != NULL || (value = strndup(c->data + c->pos, n)) == NULL)
		return NULL;
	c->pos += n + 1;
	return value;
}

/* Is the rest of the message exactly "end\n"? */
static bool at_end(const struct cursor *c)
{
	return c->len - c->pos == 4 && memcmp(c->data + c->pos, "end\n", 4) == 0;
}

/*
 * The worker request: secret records into creds, and then at most one
 * credentials record (creds->path) and one refresh record.
 */
static int read_request(const char *data, size_t len, struct pb_creds *creds,
			char **refresh_token, struct pb_err *err)
{
	struct cursor c = { data, len, 0 };
	char line[PB_PROTO_MAX_LINE], *word[4], *value = NULL;
	int words, rc = -1;
	size_t n;

	while (c.pos < len) {
		if (at_end(&c)) {
			rc = 0;
			goto done;
		}
		words = next_words(&c, line, sizeof(line), word, 4);
		if (words == 2 && length_word(word[1], PB_PROTO_MAX_SECRET, &n) == 0) {
			char **into = strcmp(word[0], "refresh") == 0 ? refresh_token
				    : strcmp(word[0], "credentials") == 0 ? &creds->path : NULL;

			if (into == NULL || *into != NULL || (*into = take_value(&c, n)) == NULL)
				break;
			continue;
		}
		if (words != 4 || strcmp(word[0], "secret") != 0 || !pb_valid_name(word[1]) ||
		    !pb_valid_name(word[2]) || length_word(word[3], PB_PROTO_MAX_SECRET, &n) < 0 ||
		    (value = take_value(&c, n)) == NULL)
			break;
		if (pb_creds_add(creds, word[1], word[2], value, err) < 0)
			goto done;
		pb_wipe_free(value);
		value = NULL;
	}
	pb_fail(err, PB_E_INTERNAL, "malformed request from bearer-token");
done:
	pb_wipe_free(value);
	return rc;
}

int pb_proto_put_result(struct pb_buf *out, const char *profile, int code, const char *text)
{
	size_t start = out->len;

	if (pb_buf_addf(out, "result %s %d %s\n", profile, code, text) < 0)
		return -1;
	/* the text is one line, whatever it held */
	for (size_t i = start; i + 1 < out->len; i++)
		if ((unsigned char)out->data[i] < 0x20)
			out->data[i] = '?';
	return 0;
}

int pb_proto_parse_result(char *line, const char **profile, int *code, const char **text)
{
	char *p, *c, *end;
	long v;

	if (strncmp(line, "result ", 7) != 0)
		return -1;
	p = line + 7;
	if ((c = strchr(p, ' ')) == NULL)
		return -1;
	*c++ = '\0';
	if ((end = strchr(c, ' ')) == NULL)
		return -1;
	*end++ = '\0';
	if (!pb_valid_name(p) || pb_parse_long(c, &v) < 0 || v < 0 || v > PB_E_INTERNAL)
		return -1;
	*profile = p;
	*code = (int)v;
	*text = end;
	return 0;
}

/* "<kind> <length>\n<value>\n" */
static int put_value(struct pb_buf *buf, const char *kind, const char *value)
{
	size_t n = strlen(value);

	if (pb_buf_addf(buf, "%s %zu\n", kind, n) < 0 || pb_buf_add(buf, value, n) < 0 ||
	    pb_buf_add(buf, "\n", 1) < 0)
		return -1;
	return 0;
}

int pb_proto_put_fetch_request(struct pb_buf *buf, const char *profile,
			       const struct pb_creds *creds, const char *refresh_token)
{
	for (size_t i = 0; creds != NULL && i < creds->n; i++)
		if (strcmp(creds->v[i].profile, profile) == 0 &&
		    pb_proto_put_secret(buf, profile, creds->v[i].field, creds->v[i].value) < 0)
			return -1;
	/* where they came from, for the worker's messages; also says there are some */
	if (creds != NULL &&
	    put_value(buf, "credentials", creds->path != NULL ? creds->path : "the PAM module") < 0)
		return -1;
	if (refresh_token != NULL && put_value(buf, "refresh", refresh_token) < 0)
		return -1;
	return pb_proto_put_end(buf);
}

int pb_proto_read_fetch_request(const char *data, size_t len, struct pb_creds *creds,
				char **refresh_token, struct pb_err *err)
{
	*refresh_token = NULL;
	if (read_request(data, len, creds, refresh_token, err) == 0)
		return 0;
	pb_wipe_free(*refresh_token);
	*refresh_token = NULL;
	return -1;
}

int pb_proto_put_fetch_reply(struct pb_buf *buf, const struct pb_token *tok,
			     const struct pb_err *err)
{
	if (err != NULL)
		/* pb_fail already made msg one line */
		return pb_buf_addf(buf, "error %d %ld %s\n", err->code, err->retry_after, err->msg);
	if (pb_buf_addf(buf, "token %lld ", tok->obtained_ms) < 0 ||
	    (tok->has_expiry ? pb_buf_addf(buf, "%lld", tok->expires_ms)
			     : pb_buf_adds(buf, "-")) < 0 ||
	    pb_buf_addf(buf, " %d", tok->refreshed ? 1 : 0) < 0 || put_value(buf, "", tok->token) < 0)
		return -1;
	if (tok->refresh_token != NULL && put_value(buf, "refresh", tok->refresh_token) < 0)
		return -1;
	return pb_proto_put_end(buf);
}

/* "error <code> <retry_after> <reason>": the sender's failure into err (-1), or -2 if malformed. */
static int read_error(char **word, int words, struct pb_err *err)
{
	long code, retry;

	if (words != 4 || pb_parse_long(word[1], &code) < 0 || code <= PB_OK ||
	    code > PB_E_INTERNAL || pb_parse_long(word[2], &retry) < 0 || retry < -1)
		return -2;
	pb_fail(err, (int)code, "%s", word[3]);
	err->retry_after = pb_clamp_retry_after(retry);
	return -1;
}

/*
 * Times a token may have, in milliseconds: obtained after the epoch and
 * before 10000, expiring after that and within PB_MAX_LIFETIME.
 */
static bool times_ok(long long obtained, bool has_expiry, long long expires)
{
	return obtained > 0 && obtained < 253402300799999LL &&
	       (!has_expiry || (expires > obtained && expires - obtained <= PB_MAX_LIFETIME * 1000LL));
}

/* "token <obtained_ms> <expires_ms|-> <refreshed> <length>" and what follows it. */
static int read_token(struct cursor *c, char **word, int words, struct pb_token *tok)
{
	char line[64], *rword[2];
	long obtained, expires = 0, refreshed;
	size_t n;

	if (words != 5 || pb_parse_long(word[1], &obtained) < 0 ||
	    (strcmp(word[2], "-") != 0 && pb_parse_long(word[2], &expires) < 0) ||
	    !times_ok(obtained, strcmp(word[2], "-") != 0, expires) ||
	    pb_parse_long(word[3], &refreshed) < 0 || (refreshed != 0 && refreshed != 1) ||
	    length_word(word[4], PB_TOKEN_MAX, &n) < 0 || (tok->token = take_value(c, n)) == NULL)
		return -1;
	tok->obtained_ms = obtained;
	tok->has_expiry = strcmp(word[2], "-") != 0;
	tok->expires_ms = expires;
	tok->refreshed = refreshed == 1;
	if (at_end(c))
		return 0;
	if (next_words(c, line, sizeof(line), rword, 2) != 2 || strcmp(rword[0], "refresh") != 0 ||
	    length_word(rword[1], PB_PROTO_MAX_SECRET, &n) < 0 ||
	    (tok->refresh_token = take_value(c, n)) == NULL || !at_end(c))
		return -1;
	return 0;
}

int pb_proto_read_reply(const char *data, size_t len, const char *from, struct pb_token *tok,
			struct pb_err *err)
{
	struct cursor c = { data, len, 0 };
	char line[PB_PROTO_MAX_LINE], *word[5];
	int words;

	memset(tok, 0, sizeof(*tok));
	pb_err_clear(err);
	words = next_words(&c, line, sizeof(line), word, 5);
	if (words > 0 && strcmp(word[0], "error") == 0) {
		/* re-split: the reason keeps its spaces */
		c.pos = 0;
		if (read_error(word, next_words(&c, line, sizeof(line), word, 4), err) == -1)
			return -1;
	} else if (words > 0 && strcmp(word[0], "token") == 0 &&
		   read_token(&c, word, words, tok) == 0 && pb_token_check(tok->token, err) == 0) {
		return 0;
	}
	pb_token_free(tok);
	if (err->code == PB_OK)
		pb_fail(err, PB_E_INTERNAL, "malformed reply from %s", from);
	return -1;
}

int pb_proto_read_fetch_reply(const char *data, size_t len, struct pb_token *tok,
			      struct pb_err *err)
{
	return pb_proto_read_reply(data, len, "bearer-fetch", tok, err);
}

/* ------------------------------------------------------------------ a worker's batch */

int pb_proto_put_batch_item(struct pb_buf *buf, const char *profile, const struct pb_creds *creds,
			    const char *refresh_token)
{
	struct pb_buf one = { 0 };
	int rc = -1;

	if (pb_proto_put_fetch_request(&one, profile, creds, refresh_token) == 0 &&
	    pb_buf_addf(buf, "profile %s %zu\n", profile, one.len) == 0 &&
	    pb_buf_add(buf, one.data, one.len) == 0)
		rc = 0;
	pb_buf_wipe(&one);
	return rc;
}

void pb_batch_items_free(struct pb_batch_item *items, size_t n)
{
	for (size_t i = 0; items != NULL && i < n; i++) {
		pb_creds_free(&items[i].creds);
		pb_wipe_free(items[i].refresh_token);
	}
	free(items);
}

/* "<kind> <profile> <length>\n" at the cursor: the profile and the length after it; -1 if not. */
static int frame(struct cursor *c, const char *kind, char profile[65], size_t *n, long max)
{
	char line[PB_PROTO_MAX_LINE], *word[3];

	if (next_words(c, line, sizeof(line), word, 3) != 3 || strcmp(word[0], kind) != 0 ||
	    !pb_valid_name(word[1]) || length_word(word[2], max, n) < 0)
		return -1;
	snprintf(profile, 65, "%s", word[1]);
	return 0;
}

int pb_proto_read_batch(const char *data, size_t len, struct pb_batch_item **items, size_t *n,
			struct pb_err *err)
{
	struct cursor c = { data, len, 0 };
	struct pb_batch_item *v = calloc(PB_PROTO_MAX_BATCH, sizeof(*v));
	size_t count = 0, body;

	*items = NULL;
	*n = 0;
	if (v == NULL)
		return pb_fail(err, PB_E_INTERNAL, "out of memory");
	while (!at_end(&c)) {
		struct pb_batch_item *it = &v[count];

		if (count == PB_PROTO_MAX_BATCH ||
		    frame(&c, "profile", it->profile, &body, 4L * PB_PROTO_MAX_SECRET) < 0 ||
		    len - c.pos < body)
			goto bad;
		for (size_t i = 0; i < count; i++)
			if (strcmp(v[i].profile, it->profile) == 0)
				goto bad;
		count++;
		if (pb_proto_read_fetch_request(data + c.pos, body, &it->creds, &it->refresh_token,
						err) < 0)
			goto fail;
		/* a request holds its own profile's secrets, no other's */
		for (size_t i = 0; i < it->creds.n; i++)
			if (strcmp(it->creds.v[i].profile, it->profile) != 0)
				goto bad;
		c.pos += body;
	}
	*items = v;
	*n = count;
	return 0;
bad:
	pb_fail(err, PB_E_INTERNAL, "malformed request from bearer-token");
fail:
	pb_batch_items_free(v, count);
	return -1;
}

int pb_proto_put_batch_reply(struct pb_buf *buf, const char *profile, const struct pb_token *tok,
			     const struct pb_err *err)
{
	struct pb_buf one = { 0 };
	int rc = -1;

	if (pb_proto_put_fetch_reply(&one, tok, err) == 0 &&
	    pb_buf_addf(buf, "reply %s %zu\n", profile, one.len) == 0 &&
	    pb_buf_add(buf, one.data, one.len) == 0)
		rc = 0;
	pb_buf_wipe(&one);
	return rc;
}

int pb_proto_next_batch_reply(const char *data, size_t len, size_t *pos, char profile[65],
			      bool *ok, struct pb_token *tok, struct pb_err *err)
{
	struct cursor c = { data, len, *pos };
	const char *nl = memchr(data + *pos, '\n', len - *pos);
	size_t body;

	*ok = false;
	memset(tok, 0, sizeof(*tok));
	if (nl == NULL)
		return len - *pos > PB_PROTO_MAX_LINE
			? pb_fail(err, PB_E_INTERNAL, "malformed reply from bearer-fetch") : 0;
	if (frame(&c, "reply", profile, &body, PB_TOKEN_MAX + 2L * PB_PROTO_MAX_SECRET) < 0)
		return pb_fail(err, PB_E_INTERNAL, "malformed reply from bearer-fetch");
	if (len - c.pos < body)
		return 0;
	*ok = pb_proto_read_fetch_reply(data + c.pos, body, tok, err) == 0;
	*pos = c.pos + body;
	return 1;
}

/* ------------------------------------------------------------------ outcome streams */

int pb_proto_put_token(struct pb_buf *buf, const char *profile, const struct pb_token *tok)
{
	if (pb_buf_addf(buf, "token %s %lld ", profile, tok->obtained_ms) < 0 ||
	    (tok->has_expiry ? pb_buf_addf(buf, "%lld", tok->expires_ms)
			     : pb_buf_adds(buf, "-")) < 0)
		return -1;
	return put_value(buf, "", tok->token);
}

/* "token <profile> <obtained_ms> <expires_ms|-> <length>" and the token after it. */
static int read_token_record(struct cursor *c, char **word, int words, struct pb_record *rec)
{
	long obtained, expires = 0;
	bool has_expiry;
	size_t n;

	if (words != 5 || !pb_valid_name(word[1]) || pb_parse_long(word[2], &obtained) < 0)
		return -1;
	has_expiry = strcmp(word[3], "-") != 0;
	if ((has_expiry && pb_parse_long(word[3], &expires) < 0) ||
	    !times_ok(obtained, has_expiry, expires) ||
	    length_word(word[4], PB_TOKEN_MAX, &n) < 0 || (rec->tok.token = take_value(c, n)) == NULL)
		return -1;
	rec->kind = PB_REC_TOKEN;
	snprintf(rec->profile, sizeof(rec->profile), "%s", word[1]);
	rec->tok.obtained_ms = obtained;
	rec->tok.has_expiry = has_expiry;
	rec->tok.expires_ms = expires;
	return 0;
}

int pb_proto_next_record(const char *data, size_t len, size_t *pos, struct pb_record *rec,
			 struct pb_err *err)
{
	struct cursor c = { data, len, *pos };
	char line[PB_PROTO_MAX_LINE], *word[5];
	const char *profile, *text;
	int words;

	memset(rec, 0, sizeof(*rec));
	if (at_end(&c))
		return 0;
	if (c.pos + 7 <= len && memcmp(data + c.pos, "result ", 7) == 0) {
		if (next_words(&c, line, sizeof(line), word, 1) == 1 &&
		    pb_proto_parse_result(word[0], &profile, &rec->code, &text) == 0) {
			rec->kind = PB_REC_RESULT;
			snprintf(rec->profile, sizeof(rec->profile), "%s", profile);
			snprintf(rec->text, sizeof(rec->text), "%s", text);
			*pos = c.pos;
			return 1;
		}
	} else if ((words = next_words(&c, line, sizeof(line), word, 5)) > 0 &&
		   strcmp(word[0], "token") == 0 && read_token_record(&c, word, words, rec) == 0 &&
		   pb_token_check(rec->tok.token, err) == 0) {
		*pos = c.pos;
		return 1;
	}
	pb_record_free(rec);
	return pb_fail(err, PB_E_INTERNAL, "malformed token stream");
}

void pb_record_free(struct pb_record *rec)
{
	pb_token_free(&rec->tok);
}

/* ------------------------------------------------------------------ the broker */

int pb_proto_put_broker_request(struct pb_buf *buf, long long uid, const char *profile,
				long min_valid)
{
	if (uid < 0)
		return pb_buf_addf(buf, "token - %s %ld\n", profile, min_valid);
	return pb_buf_addf(buf, "token %lld %s %ld\n", uid, profile, min_valid);
}

int pb_proto_read_broker_request(const char *data, size_t len, struct pb_broker_request *req)
{
	struct cursor c = { data, len, 0 };
	char line[256], *word[5];
	long uid = -1;
	int words = next_words(&c, line, sizeof(line), word, 5);

	memset(req, 0, sizeof(*req));
	if (c.pos != len)
		return -1;          /* one line, nothing after it */
	if (len == 5 && memcmp(data, "ping\n", 5) == 0) {
		req->ping = true;
		return 0;
	}
	if (words != 4 || strcmp(word[0], "token") != 0 ||
	    (strcmp(word[1], "-") != 0 && (pb_parse_long(word[1], &uid) < 0 || uid < 0 ||
					   uid > 0xfffffffeL)) ||
	    !pb_valid_name(word[2]) || pb_parse_long(word[3], &req->min_valid) < 0 ||
	    req->min_valid < 0 || req->min_valid > PB_MAX_LIFETIME)
		return -1;
	req->uid = uid;
	snprintf(req->profile, sizeof(req->profile), "%s", word[2]);
	return 0;
}
