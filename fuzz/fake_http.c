/*
 * fake_http.c - the HTTP layer (lib/http.h) for fuzz_header: instead of
 * libcurl, pb_http_post() answers with whatever status and body the fuzz
 * input chose, so the vendor engine (lib/fetch.c) reads hostile answers
 * without a network.
 */
#include <string.h>

#include "fake_http.h"
#include "http.h"

struct fake_answer fake_answer;

int pb_http_init(struct pb_err *err)
{
	(void)err;
	return 0;
}

void pb_http_cleanup(void)
{
}

/* Answer with fake_answer; the request itself must be well formed. */
int pb_http_post(const struct pb_http_request *req, struct pb_http_response *resp,
		 struct pb_err *err)
{
	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	if (req->url == NULL || req->body == NULL || strlen(req->body) != req->body_len)
		return pb_fail(err, PB_E_INTERNAL, "fake http: malformed request");
	fake_answer.requests++;
	if (fake_answer.transport_error)
		return pb_fail(err, PB_E_TEMP, "fake http: connection refused");
	resp->status = fake_answer.status;
	resp->retry_after = fake_answer.retry_after;
	if (pb_buf_add(&resp->body, fake_answer.body, fake_answer.body_len) < 0)
		return pb_fail(err, PB_E_INTERNAL, "out of memory");
	return 0;
}

void pb_http_response_free(struct pb_http_response *resp)
{
	pb_buf_wipe(&resp->body);
}
