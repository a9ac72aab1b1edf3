/*
 * http.c - one POST through libcurl, safe by construction.
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

/* What the callbacks need while a transfer runs. */
struct transfer {
	struct pb_http_response *resp;
	bool too_big;            /* body went over PB_HTTP_MAX_BODY */
	bool loopback_only;      /* plain http: refuse any non-loopback address */
	bool refused_address;
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
static int setup(CURL *c, const struct pb_http_request *req, struct transfer *t,
		 struct curl_slist *headers, char *errbuf)
{
	int scheme = url_scheme(req->url);
	long timeout = req->timeout_ms > 0 ? req->timeout_ms : 5000;
	CURLcode rc = CURLE_OK;

	t->loopback_only = scheme == 0;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val); } while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_ERRORBUFFER, errbuf);
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
	SET(CURLOPT_CONNECTTIMEOUT_MS, timeout);
	SET(CURLOPT_TIMEOUT_MS, timeout);
	SET(CURLOPT_USERAGENT, "pam_bearer/" PACKAGE_VERSION);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body != NULL ? req->body_len : 0));
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, t);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, t);
	SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SET(CURLOPT_OPENSOCKETDATA, t);
	if (req->basic_user != NULL) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, req->basic_user);
		SET(CURLOPT_PASSWORD, req->basic_password != NULL ? req->basic_password : "");
	}
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

/* Turn a transport failure into a one-line, secret-free message. */
static int transport_error(const struct pb_http_request *req, const struct transfer *t,
			   CURLcode cc, const char *errbuf, struct pb_err *err)
{
	if (t->too_big)
		return pb_fail(err, PB_E_TEMP, "%s: response body over %d bytes",
			       req->url, PB_HTTP_MAX_BODY);
	if (t->refused_address)
		return pb_fail(err, PB_E_CONFIG, "%s: plain http is only allowed to loopback "
			       "addresses; use https", req->url);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return pb_fail(err, PB_E_TEMP, "%s: timed out after %.1f s", req->url,
			       (double)req->timeout_ms / 1000.0);
	return pb_fail(err, PB_E_TEMP, "%s: %s", req->url,
		       errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
}

int pb_http_post(const struct pb_http_request *req, struct pb_http_response *resp,
		 struct pb_err *err)
{
	struct transfer t = { .resp = resp };
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = NULL;
	CURLcode cc;
	int rc = -1;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	if (url_scheme(req->url) < 0) {
		pb_fail(err, PB_E_CONFIG, "%s: only https:// URLs are allowed", req->url);
		goto done;
	}
	c = curl_easy_init();
	headers = build_headers(req);
	if (c == NULL || headers == NULL || setup(c, req, &t, headers, errbuf) < 0) {
		pb_fail(err, PB_E_INTERNAL, "cannot set up an HTTP request (out of memory?)");
		goto done;
	}
	cc = curl_easy_perform(c);
	/* errbuf may echo the URL but never the body or the Basic credentials */
	if (cc != CURLE_OK) {
		transport_error(req, &t, cc, errbuf, err);
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	rc = 0;
done:
	if (rc < 0)
		pb_buf_wipe(&resp->body);
	curl_slist_free_all(headers);
	if (c != NULL)
		curl_easy_cleanup(c);
	return rc;
}

void pb_http_response_free(struct pb_http_response *resp)
{
	pb_buf_wipe(&resp->body);
}
