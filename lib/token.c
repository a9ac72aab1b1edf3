/* SPDX-License-Identifier: MIT */
/*
 * token.c - freeing and vetting a token (see token.h).
 */
#include <string.h>

#include "token.h"

void pb_token_free(struct pb_token *t)
{
	pb_wipe_free(t->token);
	pb_wipe_free(t->refresh_token);
	t->token = t->refresh_token = NULL;
}

int pb_token_check(const char *token, struct pb_err *err)
{
	size_t n = strlen(token);

	if (n == 0)
		return pb_fail(err, PB_E_TEMP, "the vendor sent an empty token");
	if (n > PB_TOKEN_MAX)
		return pb_fail(err, PB_E_TEMP, "the vendor sent a token over %d bytes", PB_TOKEN_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)token[i] <= 0x20 || (unsigned char)token[i] >= 0x7f)
			return pb_fail(err, PB_E_TEMP, "the vendor sent a token with a space, "
				       "control or non-ASCII character; refusing it");
	return 0;
}

void pb_token_catch(void *arg, size_t job, struct pb_token *tok, const struct pb_err *err)
{
	struct pb_token_catch *c = arg;

	(void)job;
	if (tok != NULL) {
		*c->out = *tok;
		memset(tok, 0, sizeof(*tok));    /* ours now */
		c->rc = 0;
	} else {
		*c->err = *err;
	}
}
