/* SPDX-License-Identifier: MIT */
/*
 * proto.h - the pipe and socket protocols. Secrets and tokens only ever
 * travel here (or in the stores): never in argv or the environment.
 *
 * 1. A login: pam_bearer.so, `bearer-token pam-system` (the one-shot it
 * runs as the service account for credentials = system profiles) and
 * `bearer-token pam-session` (the helper it runs as the user).
 *
 * pam-system -> module (its stdout), and module -> pam-session (its stdin),
 * an outcome stream, then the writer closes the pipe:
 *     token <profile> <obtained_ms> <expires_ms or -> <length>\n<length bytes>\n
 *     result <profile> <code> <text>\n
 *     end\n
 * A token record carries a bearer token and nothing else: never a secret,
 * never a refresh token. The module passes on token records, and the
 * result records of failures (for the user's P.json, so that `status`
 * can say why).
 * pam-session -> module (its stdout), one line per profile:
 *     result <profile> <code> <text>\n
 * where <code> is an enum pb_code (0 = a valid token is in place) and <text>
 * is "obtained|refreshed|still valid|... , expires <time or never>" on
 * success, or the one-line reason on failure. Lines never hold a token or
 * a secret.
 *
 * 2. What bearer-token (or the broker) says to its HTTP worker,
 * bearer-fetch, which gets the config path and the profiles' names in
 * argv and nothing in its environment. A worker serves a batch: one
 * request per profile, all of them at once.
 * One profile's request:
 *     secret <profile> <field> <length>\n<length bytes>\n   (the profile's credentials)
 *     credentials <length>\n<where they came from>\n       (when there are credentials)
 *     refresh <length>\n<length bytes>\n                    (optional: the stored refresh token)
 *     end\n
 * One profile's reply, either
 *     token <obtained_ms> <expires_ms or -> <refreshed 0|1> <length>\n<length bytes>\n
 *     refresh <length>\n<length bytes>\n                    (optional: a new refresh token)
 *     end\n
 * or one line
 *     error <code> <retry_after or -1> <reason>\n
 * The worker's stdin is the batch, then bearer-token closes the pipe:
 *     profile <profile> <length>\n<length bytes: that profile's request>
 *     ...
 *     end\n
 * and its stdout each profile's reply as soon as it is done, in any order:
 *     reply <profile> <length>\n<length bytes: that profile's reply>
 * Times are milliseconds since the epoch.
 *
 * 3. What a process asks the broker (`bearer-token broker`, the service
 * account's daemon) over /run/pam_bearer/broker.sock, one request per
 * connection:
 *     token <uid or -> <profile> <min_valid>\n     a bearer token for that user
 *     ping\n                                      -> "ok <pid>\n"
 * The reply to "token" is a worker reply (2.) without a refresh record: a
 * refresh token stays with the broker. "-" is the caller's own uid; only
 * root may name another.
 */
#ifndef PB_PROTO_H
#define PB_PROTO_H

#include <stdbool.h>
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

/* One record of an outcome stream (1.). */
struct pb_record {
	enum { PB_REC_TOKEN, PB_REC_RESULT } kind;
	char profile[65];
	struct pb_token tok;        /* PB_REC_TOKEN: token and times (never a refresh token) */
	int code;                   /* PB_REC_RESULT */
	char text[PB_PROTO_MAX_LINE];
};

/* Append a token record: tok's token and times; its refresh token never goes. */
int pb_proto_put_token(struct pb_buf *buf, const char *profile, const struct pb_token *tok);

/*
 * The next record of an outcome stream of len bytes, from *pos on: 1 and
 * *rec (free with pb_record_free), 0 at "end\n" when nothing follows it,
 * -1 with err when the stream is malformed (an unknown record, a name that
 * is not pb_valid_name, a token pb_token_check refuses, times out of range,
 * a missing "end").
 */
int pb_proto_next_record(const char *data, size_t len, size_t *pos, struct pb_record *rec,
			 struct pb_err *err);
void pb_record_free(struct pb_record *rec);

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
 * pb_wipe_free). Refuses anything malformed, an unknown record, names that
 * are not pb_valid_name, oversize or NUL-containing values, and no "end".
 */
int pb_proto_read_fetch_request(const char *data, size_t len, struct pb_creds *creds,
				char **refresh_token, struct pb_err *err);

/* The worker reply: the token when err is NULL, else the failure. */
int pb_proto_put_fetch_reply(struct pb_buf *buf, const struct pb_token *tok,
			     const struct pb_err *err);
/*
 * Parse a whole worker reply. 0 with *tok filled (free with
 * pb_token_free), or -1 with the worker's failure in err; a malformed
 * reply is PB_E_INTERNAL. Times are range-checked (a token obtained after
 * the epoch, expiring after it was obtained and within PB_MAX_LIFETIME)
 * and retry_after is clamped to PB_RETRY_AFTER_MAX. from names the sender
 * in messages ("bearer-fetch", "the broker").
 */
int pb_proto_read_reply(const char *data, size_t len, const char *from, struct pb_token *tok,
			struct pb_err *err);
int pb_proto_read_fetch_reply(const char *data, size_t len, struct pb_token *tok,
			      struct pb_err *err);

/* One profile of a worker's batch (2.). */
struct pb_batch_item {
	char profile[65];
	struct pb_creds creds;      /* its secrets; creds.path NULL when there are none */
	char *refresh_token;        /* NULL when there is none; wiped by pb_batch_items_free */
};

/* Append one profile's request to a batch (end it with pb_proto_put_end). */
int pb_proto_put_batch_item(struct pb_buf *buf, const char *profile, const struct pb_creds *creds,
			    const char *refresh_token);
/*
 * A whole batch into *items (*n of them; free with pb_batch_items_free).
 * Refuses what pb_proto_read_fetch_request does, a profile twice, and
 * more than PB_PROTO_MAX_BATCH profiles.
 */
int pb_proto_read_batch(const char *data, size_t len, struct pb_batch_item **items, size_t *n,
			struct pb_err *err);
void pb_batch_items_free(struct pb_batch_item *items, size_t n);
#define PB_PROTO_MAX_BATCH 64

/* Append one profile's framed reply: the token when err is NULL, else the failure. */
int pb_proto_put_batch_reply(struct pb_buf *buf, const char *profile, const struct pb_token *tok,
			     const struct pb_err *err);
/*
 * The next framed reply of a stream of len bytes, from *pos on: 1 with
 * *profile and either *tok (when *ok; free it) or err; 0 when the reply is
 * not all there yet (call again with more); -1 when the stream is
 * malformed (err says so).
 */
int pb_proto_next_batch_reply(const char *data, size_t len, size_t *pos, char profile[65],
			      bool *ok, struct pb_token *tok, struct pb_err *err);

/* A broker request (3.). */
struct pb_broker_request {
	bool ping;
	long long uid;              /* -1: the caller's own */
	char profile[65];
	long min_valid;             /* seconds, 0 .. PB_MAX_LIFETIME */
};
int pb_proto_put_broker_request(struct pb_buf *buf, long long uid, const char *profile,
				long min_valid);
/* One whole request line of len bytes: 0, or -1 when it is not one. */
int pb_proto_read_broker_request(const char *data, size_t len, struct pb_broker_request *req);

#endif
