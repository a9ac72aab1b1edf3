/* SPDX-License-Identifier: MIT */
/*
 * fake_http.c - the HTTP layer (lib/http.h) for fuzz_header: instead of
 * libcurl, pb_http_next() answers with whatever status and body the fuzz
 * input chose, so the vendor engine (lib/fetch.c) reads hostile answers
 * without a network.
 */
#include <stdbool.h>
#include <stdlib.h>
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

/* The requests started and not yet answered (a fuzz run has one at a time). */
struct pending {
	struct pending *next;
	struct pb_http_response *resp;
	void *tag;
	bool malformed;
};

struct pb_http {
	struct pending *queue;
};

struct pb_http *pb_http_new(struct pb_err *err)
{
	struct pb_http *h = calloc(1, sizeof(*h));

	if (h == NULL)
		pb_fail(err, PB_E_INTERNAL, "out of memory");
	return h;
}

void pb_http_free(struct pb_http *h)
{
	while (h != NULL && h->queue != NULL) {
		struct pending *q = h->queue;

		h->queue = q->next;
		free(q);
	}
	free(h);
}

/* Queue the request; it must be well formed. */
int pb_http_start(struct pb_http *h, const struct pb_http_request *req,
		  struct pb_http_response *resp, void *tag, struct pb_err *err)
{
	struct pending *q = calloc(1, sizeof(*q));

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	if (q == NULL)
		return pb_fail(err, PB_E_INTERNAL, "out of memory");
	q->resp = resp;
	q->tag = tag;
	q->malformed = req->url == NULL || req->body == NULL || strlen(req->body) != req->body_len;
	q->next = h->queue;
	h->queue = q;
	fake_answer.requests++;
	return 0;
}

/* Answer the next request with fake_answer. */
int pb_http_next(struct pb_http *h, void **tag, int *rc, struct pb_err *err)
{
	struct pending *q = h->queue;

	if (q == NULL)
		return 0;
	h->queue = q->next;
	*tag = q->tag;
	*rc = -1;
	if (q->malformed)
		pb_fail(err, PB_E_INTERNAL, "fake http: malformed request");
	else if (fake_answer.transport_error)
		pb_fail(err, PB_E_TEMP, "fake http: connection refused");
	else if (pb_buf_add(&q->resp->body, fake_answer.body, fake_answer.body_len) < 0)
		pb_fail(err, PB_E_INTERNAL, "out of memory");
	else {
		q->resp->status = fake_answer.status;
		q->resp->retry_after = fake_answer.retry_after;
		*rc = 0;
	}
	free(q);
	return 1;
}

void pb_http_response_free(struct pb_http_response *resp)
{
	pb_buf_wipe(&resp->body);
}
