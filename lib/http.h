/* SPDX-License-Identifier: MIT */
/*
 * http.h - POSTs through libcurl, many at once, with every safety default on.
 *
 * Requests run side by side on one libcurl multi handle, which keeps one
 * cache of connections, name lookups and TLS sessions for all of them: a
 * login's profiles at one vendor share a connection when one is free.
 *
 * HTTPS with peer and host verification always on (ca_file, else the
 * system store); plain http:// only when every address connected to is a
 * loopback address (checked in the socket callback, before a byte is
 * sent); no redirects; no proxy unless one is given (environment proxy
 * variables are ignored); no .netrc; connect and total timeouts that also
 * bound a hanging DNS lookup (CURLOPT_QUICK_EXIT); the response body is
 * capped at PB_HTTP_MAX_BODY and wiped when freed.
 */
#ifndef PB_HTTP_H
#define PB_HTTP_H

#include <stddef.h>
#include "util.h"

#define PB_HTTP_MAX_BODY (64 * 1024)

struct pb_http_request {
	const char *url;
	const char *content_type;      /* "application/json" or form; NULL: no body */
	const char *body;
	size_t body_len;
	const char *const *headers;    /* NULL-terminated "Name: value" lines, or NULL */
	const char *basic_user;        /* HTTP Basic when non-NULL */
	const char *basic_password;
	const char *ca_file;           /* NULL: system trust store */
	const char *proxy;             /* NULL: none */
	long timeout_ms;               /* whole exchange; connect gets the same bound */
};

struct pb_http_response {
	long status;                   /* HTTP status, 0 if none was received */
	struct pb_buf body;
	long retry_after;              /* Retry-After / X-RateLimit-Retry-After seconds, -1 if absent */
};

/* Once per process, before any request. */
int pb_http_init(struct pb_err *err);
void pb_http_cleanup(void);

/* Requests in flight together. */
struct pb_http;

struct pb_http *pb_http_new(struct pb_err *err);
/* Abort whatever is still in flight and free everything. */
void pb_http_free(struct pb_http *h);

/*
 * Start a request: everything req points to is copied, so it may go at
 * once; the answer goes to *resp, which must stay until the request is
 * over. tag comes back from pb_http_next. -1 with err when it cannot
 * start (PB_E_CONFIG for a URL we refuse).
 */
int pb_http_start(struct pb_http *h, const struct pb_http_request *req,
		  struct pb_http_response *resp, void *tag, struct pb_err *err);

/*
 * Wait for the next request to be over: 1 with its *tag and *rc: 0 when an
 * HTTP response was received (any status), -1 with err on transport
 * failure (PB_E_TEMP for timeouts, refused connections, TLS failures and
 * oversize bodies; PB_E_CONFIG for http to a non-loopback host). 0 when no
 * request is in flight.
 */
int pb_http_next(struct pb_http *h, void **tag, int *rc, struct pb_err *err);

void pb_http_response_free(struct pb_http_response *resp);

#endif
