/* SPDX-License-Identifier: MIT */
/*
 * token.h - a token as obtained from a vendor, before it is stored: the
 * vendor engine (fetch.c, in the bearer-fetch worker) fills it in, the
 * worker pipe (proto.c) carries it, and renew.c stores it.
 */
#ifndef PB_TOKEN_H
#define PB_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "util.h"

#define PB_TOKEN_MAX 16384

struct pb_token {
	char *token;             /* wiped on free */
	char *refresh_token;     /* NULL when the vendor gave none (keep the old one) */
	long long obtained_ms;   /* when the request was sent, wall clock, ms */
	bool has_expiry;
	long long expires_ms;
	bool refreshed;          /* came from the refresh grant, not a full exchange */
};

void pb_token_free(struct pb_token *t);

/*
 * A token we are willing to write into a file and a header: 1..PB_TOKEN_MAX
 * bytes of printable ASCII without spaces (no CR, LF, NUL or other control
 * characters: header injection).
 */
int pb_token_check(const char *token, struct pb_err *err);

/*
 * How a batch of fetches reports each one as it is over (fetch.h, worker.h):
 * the token (the callee may take it: what it leaves is wiped), or NULL and
 * why not.
 */
typedef void (*pb_token_done)(void *arg, size_t job, struct pb_token *tok,
			      const struct pb_err *err);

/* A pb_token_done for a batch of one: arg is a struct pb_token_catch. */
struct pb_token_catch {
	struct pb_token *out;       /* the token, taken */
	struct pb_err *err;         /* or why not */
	int rc;                     /* 0 with a token; set it to -1 before */
};
void pb_token_catch(void *arg, size_t job, struct pb_token *tok, const struct pb_err *err);

#endif
