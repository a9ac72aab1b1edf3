/*
 * http.h - one POST through libcurl, with every safety default on.
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

/*
 * Perform the request. 0 when an HTTP response was received (any status);
 * -1 with err on transport failure: PB_E_TEMP for timeouts, refused
 * connections, TLS failures and oversize bodies; PB_E_CONFIG for a URL we
 * refuse (not https, http to a non-loopback host, unparsable).
 */
int pb_http_post(const struct pb_http_request *req, struct pb_http_response *resp,
		 struct pb_err *err);
void pb_http_response_free(struct pb_http_response *resp);

#endif
