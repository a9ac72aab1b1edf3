/* SPDX-License-Identifier: MIT */
/*
 * http.c - POSTs through libcurl, many at once on one multi handle, safe
 * by construction.
 *
 * The helper is the only program that links this file: the PAM module never
 * does HTTP, so none of libcurl's threads or environment reading ever runs
 * inside sshd, login, su or gdm.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"

/* One request in flight: its handle and what its callbacks need. */
struct transfer {
	struct transfer *next;   /* in flight: the list in struct pb_http */
	CURL *easy;
	struct curl_slist *headers;
	struct pb_http_response *resp;
	void *tag;
	char *url;               /* for messages */
	char *ca_file;           /* for messages (NULL: the system's trust store) */
	long timeout_ms;
	bool too_big;            /* body went over PB_HTTP_MAX_BODY */
	bool loopback_only;      /* plain http: refuse any non-loopback address */
	bool refused_address;
	char errbuf[CURL_ERROR_SIZE];
};

struct pb_http {
	CURLM *multi;
	struct transfer *in_flight;
};

/*
 * libcurl builds each request (headers and, for small ones, the body with
 * its secrets) in heap blocks it frees without clearing; these allocators
 * zero every block it frees or outgrows.
 */
static void wiping_free(void *p)
{
	if (p != NULL) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

static void *wiping_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (p == NULL)
		return malloc(n);
	old = malloc_usable_size(p);
	if ((q = malloc(n > 0 ? n : 1)) == NULL)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	wiping_free(p);
	return q;
}

int pb_http_init(struct pb_err *err)
{
	if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, wiping_free, wiping_realloc,
				 strdup, calloc) != CURLE_OK)
		return pb_fail(err, PB_E_INTERNAL, "cannot initialise libcurl");
	return 0;
}

void pb_http_cleanup(void)
{
	curl_global_cleanup();
}

/* Collect the body, refusing to grow it past the cap (curl then fails with a write error). */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t n = size * nmemb;

	if (n > PB_HTTP_MAX_BODY - t->resp->body.len) {
		t->too_big = true;
		return 0;
	}
	if (pb_buf_add(&t->resp->body, data, n) < 0)
		return 0;
	return n;
}

/*
 * Parse a Retry-After or X-RateLimit-Retry-After value: delay-seconds, or an
 * HTTP-date (RFC 9110), which curl_getdate() understands. -1 when neither.
 * A vendor's number is hostile until checked: it is clamped to
 * [0, PB_RETRY_AFTER_MAX] (a number too big for a long is the maximum too).
 */
static long parse_retry_after(const char *v)
{
	char *end;
	long long secs;
	time_t when, now = time(NULL);

	while (*v == ' ' || *v == '\t')
		v++;
	errno = 0;
	secs = strtoll(v, &end, 10);
	if (end != v && secs >= 0 && (v[0] >= '0' && v[0] <= '9')) {
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end == '\0')
			return pb_clamp_retry_after(secs);   /* ERANGE gave LLONG_MAX */
	}
	when = curl_getdate(v, NULL);
	if (when == -1)
		return -1;
	return when > now ? pb_clamp_retry_after((long long)when - (long long)now) : 0;
}

/* Pick Retry-After / X-RateLimit-Retry-After out of the response headers. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t n = size * nmemb;
	static const char *const names[] = { "Retry-After:", "X-RateLimit-Retry-After:" };
	char value[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t len = strlen(names[i]);
		size_t vlen;

		if (n <= len || strncasecmp(data, names[i], len) != 0)
			continue;
		vlen = n - len < sizeof(value) - 1 ? n - len : sizeof(value) - 1;
		memcpy(value, data + len, vlen);
		value[vlen] = '\0';
		t->resp->retry_after = parse_retry_after(value);
	}
	return n;
}

/* Is this socket address on the loopback network (127.0.0.0/8, ::1, ::ffff:127.x)? */
static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

/*
 * For plain http://, refuse to even open a socket to an address that is not
 * loopback: the check happens after name resolution, so a host name that
 * resolves elsewhere is caught before a byte (or a secret) is sent.
 */
static curl_socket_t on_open_socket(void *userdata, curlsocktype purpose,
				    struct curl_sockaddr *addr)
{
	struct transfer *t = userdata;

	if (t->loopback_only && !is_loopback(&addr->addr)) {
		t->refused_address = true;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/*
 * Decide which scheme a URL uses: 1 https, 0 http, -1 anything else or
 * unparsable. The scheme is compared case-insensitively, as curl does.
 */
static int url_scheme(const char *url)
{
	if (strncasecmp(url, "https://", 8) == 0)
		return 1;
	if (strncasecmp(url, "http://", 7) == 0)
		return 0;
	return -1;
}

/* Build the request header list: ours first, then the vendor's extras. */
static struct curl_slist *build_headers(const struct pb_http_request *req)
{
	struct curl_slist *list = NULL, *next;
	char line[256];

	snprintf(line, sizeof(line), "Content-Type: %s", req->content_type ? req->content_type : "");
	if (req->content_type != NULL) {
		if ((next = curl_slist_append(list, line)) == NULL)
			goto fail;
		list = next;
	}
	if ((next = curl_slist_append(list, "Accept: application/json")) == NULL)
		goto fail;
	list = next;
	/* curl would add "Expect: 100-continue" for big bodies: one round trip less */
	if ((next = curl_slist_append(list, "Expect:")) == NULL)
		goto fail;
	list = next;
	for (const char *const *h = req->headers; h != NULL && *h != NULL; h++) {
		if ((next = curl_slist_append(list, *h)) == NULL)
			goto fail;
		list = next;
	}
	return list;
fail:
	curl_slist_free_all(list);
	return NULL;
}

/* Set every option; the order follows the header comment of http.h. */
static int setup(const struct pb_http_request *req, struct transfer *t)
{
	CURL *c = t->easy;
	int scheme = url_scheme(req->url);
	CURLcode rc = CURLE_OK;

	t->loopback_only = scheme == 0;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val); } while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_ERRORBUFFER, t->errbuf);
	SET(CURLOPT_PROTOCOLS_STR, scheme == 1 ? "https" : "http");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file != NULL)
		SET(CURLOPT_CAINFO, req->ca_file);
	SET(CURLOPT_PROXY, req->proxy != NULL ? req->proxy : "");
	SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	SET(CURLOPT_NOSIGNAL, 1L);
	/* without it a dead DNS server stalls us past both timeouts (see README, "Security") */
	SET(CURLOPT_QUICK_EXIT, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, t->timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, t->timeout_ms);
	SET(CURLOPT_USERAGENT, "pam_bearer/" PACKAGE_VERSION);
	SET(CURLOPT_HTTPHEADER, t->headers);
	SET(CURLOPT_POST, 1L);
	/* the size first, so that COPYPOSTFIELDS copies that many bytes (freed wiped) */
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body != NULL ? req->body_len : 0));
	SET(CURLOPT_COPYPOSTFIELDS, req->body != NULL ? req->body : "");
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, t);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, t);
	SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SET(CURLOPT_OPENSOCKETDATA, t);
	SET(CURLOPT_PRIVATE, t);
	if (req->basic_user != NULL) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, req->basic_user);
		SET(CURLOPT_PASSWORD, req->basic_password != NULL ? req->basic_password : "");
	}
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

/*
 * Did t fail because the certificate chain is not trusted (OpenSSL's
 * verify result), rather than for a host name that does not match (which
 * libcurl checks itself, leaving that result X509_V_OK)?
 */
static bool untrusted(const struct transfer *t)
{
	long result = 0;

	return curl_easy_getinfo(t->easy, CURLINFO_SSL_VERIFYRESULT, &result) == CURLE_OK &&
	       result != 0;
}

/* Turn a transport failure into a one-line, secret-free message. */
static int transport_error(const struct transfer *t, CURLcode cc, struct pb_err *err)
{
	if (t->too_big)
		return pb_fail(err, PB_E_TEMP, "%s: response body over %d bytes",
			       t->url, PB_HTTP_MAX_BODY);
	if (t->refused_address)
		return pb_fail(err, PB_E_CONFIG, "%s: plain http is only allowed to loopback "
			       "addresses; use https", t->url);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return pb_fail(err, PB_E_TEMP, "%s: timed out after %.1f s", t->url,
			       (double)t->timeout_ms / 1000.0);
	if (cc == CURLE_PEER_FAILED_VERIFICATION && untrusted(t))
		return pb_fail(err, PB_E_TEMP, "%s: %s; %s%s%s", t->url, t->errbuf[0] != '\0'
			       ? t->errbuf : curl_easy_strerror(cc), t->ca_file != NULL
			       ? "ca_file " : "a private CA? set ca_file = /path/to/ca.pem in "
			       "[defaults] or the profile", t->ca_file != NULL ? t->ca_file : "",
			       t->ca_file != NULL ? " does not vouch for it" : "");
	return pb_fail(err, PB_E_TEMP, "%s: %s", t->url,
		       t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(cc));
}

/* Take a transfer off the multi handle and free it (not its response: the caller's). */
static void transfer_free(struct pb_http *h, struct transfer *t)
{
	for (struct transfer **at = &h->in_flight; *at != NULL; at = &(*at)->next)
		if (*at == t) {
			*at = t->next;
			break;
		}
	if (t->easy != NULL) {
		curl_multi_remove_handle(h->multi, t->easy);
		curl_easy_cleanup(t->easy);
	}
	curl_slist_free_all(t->headers);
	free(t->url);
	free(t->ca_file);
	free(t);
}

struct pb_http *pb_http_new(struct pb_err *err)
{
	struct pb_http *h = calloc(1, sizeof(*h));

	if (h == NULL || (h->multi = curl_multi_init()) == NULL) {
		free(h);
		pb_fail(err, PB_E_INTERNAL, "cannot set up libcurl (out of memory?)");
		return NULL;
	}
	return h;
}

void pb_http_free(struct pb_http *h)
{
	if (h == NULL)
		return;
	while (h->in_flight != NULL) {
		pb_buf_wipe(&h->in_flight->resp->body);
		transfer_free(h, h->in_flight);
	}
	curl_multi_cleanup(h->multi);
	free(h);
}

int pb_http_start(struct pb_http *h, const struct pb_http_request *req,
		  struct pb_http_response *resp, void *tag, struct pb_err *err)
{
	struct transfer *t;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	if (url_scheme(req->url) < 0)
		return pb_fail(err, PB_E_CONFIG, "%s: only https:// URLs are allowed", req->url);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return pb_fail(err, PB_E_INTERNAL, "out of memory");
	t->resp = resp;
	t->tag = tag;
	t->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 5000;
	t->url = strdup(req->url);
	t->ca_file = req->ca_file != NULL ? strdup(req->ca_file) : NULL;
	t->easy = curl_easy_init();
	t->headers = build_headers(req);
	if (t->url == NULL || (req->ca_file != NULL && t->ca_file == NULL) || t->easy == NULL ||
	    t->headers == NULL || setup(req, t) < 0 ||
	    curl_multi_add_handle(h->multi, t->easy) != CURLM_OK) {
		transfer_free(h, t);
		return pb_fail(err, PB_E_INTERNAL, "cannot set up an HTTP request (out of memory?)");
	}
	t->next = h->in_flight;
	h->in_flight = t;
	return 0;
}

/* The first finished transfer libcurl reports, with how it ended; NULL if none yet. */
static struct transfer *finished(struct pb_http *h, CURLcode *cc)
{
	struct transfer *t = NULL;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		*cc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		return t;
	}
	return NULL;
}

/* Run the transfers until one is over: it and how it ended, or NULL when none is in flight. */
static struct transfer *wait_one(struct pb_http *h, CURLcode *cc)
{
	struct transfer *t;
	int running = 1;

	while ((t = finished(h, cc)) == NULL && h->in_flight != NULL) {
		if (running == 0 ||
		    curl_multi_perform(h->multi, &running) != CURLM_OK ||
		    (running > 0 && curl_multi_poll(h->multi, NULL, 0, 1000, NULL) != CURLM_OK)) {
			/* libcurl failed (or ran none with one in flight, which cannot be): fail it */
			*cc = CURLE_FAILED_INIT;
			return h->in_flight;
		}
	}
	return t;
}

int pb_http_next(struct pb_http *h, void **tag, int *rc, struct pb_err *err)
{
	CURLcode cc = CURLE_OK;
	struct transfer *t = wait_one(h, &cc);

	if (t == NULL)
		return 0;
	*tag = t->tag;
	*rc = 0;
	/* errbuf may echo the URL but never the body or the Basic credentials */
	if (cc != CURLE_OK) {
		*rc = transport_error(t, cc, err);
		pb_buf_wipe(&t->resp->body);
	} else {
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->resp->status);
	}
	transfer_free(h, t);
	return 1;
}

void pb_http_response_free(struct pb_http_response *resp)
{
	pb_buf_wipe(&resp->body);
}
