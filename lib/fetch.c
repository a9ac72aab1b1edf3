/*
 * fetch.c - the vendor engine: turn a profile (pure data) into HTTP
 * requests and the vendor's answer into a token with an expiry.
 *
 * There is no per-vendor code here. Everything a vendor needs is expressed
 * by its preset: the request templates (token.*, refresh.*), where the
 * token sits in the answer (response.*), and how long it lives (lifetime).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expiry.h"
#include "fetch.h"
#include "http.h"
#include "jsonmap.h"
#include "template.h"

/* Which of the profile's two requests is being made. */
enum which { EXCHANGE, REFRESH };

/* What the template lookup can see. */
struct fields {
	const struct pb_profile *p;
	const struct pb_creds *creds;
	const char *refresh_token;
};

/*
 * Template field lookup: the refresh token, the profile's scope/audience,
 * else the credentials. With client_auth = basic, client_id and
 * client_secret are not given to the body: they travel in the Basic header.
 */
static const char *lookup_field(void *ctx, const char *name)
{
	const struct fields *f = ctx;

	if (strcmp(name, "refresh_token") == 0)
		return f->refresh_token;
	if (strcmp(name, "scope") == 0)
		return f->p->scope;
	if (strcmp(name, "audience") == 0)
		return f->p->audience;
	if (f->p->client_auth == PB_AUTH_BASIC &&
	    (strcmp(name, "client_id") == 0 || strcmp(name, "client_secret") == 0))
		return NULL;
	return f->creds != NULL ? pb_creds_get(f->creds, f->p->name, name) : NULL;
}

/* Put "profile: " in front of a message produced by a lower layer. */
static int prefixed(struct pb_err *err, const char *profile)
{
	char msg[sizeof(err->msg)];

	if (err == NULL || strncmp(err->msg, profile, strlen(profile)) == 0)
		return -1;
	snprintf(msg, sizeof(msg), "%s", err->msg);
	return pb_fail(err, err->code, "%s: %s", profile, msg);
}

/*
 * The profile's timeout, cut to what is left before its deadline, if it
 * has one: a refresh that hangs must leave no time-out's worth for the
 * exchange after it. At least 1 ms (0 would mean no limit to libcurl).
 */
static long request_timeout_ms(const struct pb_profile *p)
{
	long long ms = (long long)(p->timeout * 1000.0);

	if (p->deadline_ms > 0 && p->deadline_ms - pb_monotonic_ms() < ms)
		ms = p->deadline_ms - pb_monotonic_ms();
	return ms > 0 ? (long)ms : 1;
}

/* base_url + path, or the url itself when it is absolute. */
static int request_url(const struct pb_profile *p, const struct pb_request *r,
		       struct pb_buf *url)
{
	size_t n;

	if (strncmp(r->url, "https://", 8) == 0 || strncmp(r->url, "http://", 7) == 0)
		return pb_buf_adds(url, r->url);
	if (p->base_url == NULL)
		return -1;
	n = strlen(p->base_url);
	while (n > 0 && p->base_url[n - 1] == '/')
		n--;
	if (pb_buf_add(url, p->base_url, n) < 0)
		return -1;
	return pb_buf_addf(url, "%s%s", r->url[0] == '/' ? "" : "/", r->url);
}

/* Expand the request's extra headers into "Name: value" lines (NULL-terminated). */
static char **expand_headers(const struct pb_request *r, struct fields *f, struct pb_err *err)
{
	char **lines = calloc(r->nheaders + 1, sizeof(*lines));
	struct pb_buf line = { 0 };

	if (lines == NULL) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < r->nheaders; i++) {
		if (pb_buf_addf(&line, "%s: ", r->headers[i].name) < 0 ||
		    pb_template_expand(r->headers[i].value, PB_FMT_RAW, lookup_field, f,
				       &line, err) < 0 ||
		    (lines[i] = strdup(line.data)) == NULL) {
			if (err->msg[0] == '\0')
				pb_fail(err, PB_E_INTERNAL, "out of memory");
			pb_buf_wipe(&line);
			for (size_t j = 0; j < i; j++)
				pb_wipe_free(lines[j]);
			free(lines);
			return NULL;
		}
		pb_buf_wipe(&line);
	}
	return lines;
}

static void free_headers(char **lines)
{
	for (size_t i = 0; lines != NULL && lines[i] != NULL; i++)
		pb_wipe_free(lines[i]);
	free(lines);
}

/* HTTP Basic client credentials, form-encoded first as RFC 6749 2.3.1 asks. */
static int basic_credentials(struct fields *f, struct pb_buf *user, struct pb_buf *pass,
			     struct pb_err *err)
{
	const char *id = pb_creds_get(f->creds, f->p->name, "client_id");
	const char *secret = pb_creds_get(f->creds, f->p->name, "client_secret");

	if (id == NULL || secret == NULL)
		return pb_fail(err, PB_E_CONFIG, "client_auth = basic needs client_id and "
			       "client_secret in the credentials");
	if (pb_escape(user, id, PB_FMT_FORM) < 0 || pb_escape(pass, secret, PB_FMT_FORM) < 0)
		return pb_fail(err, PB_E_INTERNAL, "out of memory");
	return 0;
}

/* Build and send one of the profile's requests; the response is the caller's to free. */
static int send_request(const struct pb_profile *p, const struct pb_request *r,
			struct fields *f, struct pb_buf *url,
			struct pb_http_response *resp, struct pb_err *err)
{
	struct pb_buf body = { 0 }, user = { 0 }, pass = { 0 };
	struct pb_http_request req = { 0 };
	char **headers = NULL;
	int rc = -1;

	if (request_url(p, r, url) < 0) {
		pb_fail(err, PB_E_CONFIG, "no base_url to join %s to", r->url);
		goto done;
	}
	if (pb_template_expand(r->body != NULL ? r->body : "", r->format, lookup_field, f,
			       &body, err) < 0)
		goto done;
	if ((headers = expand_headers(r, f, err)) == NULL)
		goto done;
	if (p->client_auth == PB_AUTH_BASIC && basic_credentials(f, &user, &pass, err) < 0)
		goto done;
	req.url = url->data;
	req.content_type = r->format == PB_FMT_JSON ? "application/json"
		: "application/x-www-form-urlencoded";
	req.body = body.data != NULL ? body.data : "";
	req.body_len = body.len;
	req.headers = (const char *const *)headers;
	req.basic_user = user.data;
	req.basic_password = pass.data;
	req.ca_file = p->ca_file;
	req.proxy = p->proxy;
	req.timeout_ms = request_timeout_ms(p);
	rc = pb_http_post(&req, resp, err);
done:
	pb_buf_wipe(&body);
	pb_buf_wipe(&user);
	pb_buf_wipe(&pass);
	free_headers(headers);
	return rc;
}

/*
 * A non-2xx answer as one line. 400, 401 and 403 to an exchange mean the
 * credentials were refused (PB_E_PERM: retrying will not help); anything
 * else, including every refresh failure, is PB_E_TEMP.
 */
static int http_error(const struct pb_profile *p, enum which which, const char *url,
		      const struct pb_http_response *resp, struct pb_err *err)
{
	char reason[256], oauth_error[64];
	bool refused = resp->status == 400 || resp->status == 401 || resp->status == 403;
	int code = which == EXCHANGE && refused ? PB_E_PERM : PB_E_TEMP;

	pb_json_error_summary(resp->body.data, resp->body.len, reason, sizeof(reason),
			      oauth_error, sizeof(oauth_error));
	if (reason[0] == '\0')
		snprintf(reason, sizeof(reason), "%s",
			 resp->body.len == 0 ? "empty body"
			 : resp->body.data[0] == '<' ? "HTML error page" : "non-JSON body");
	if (resp->status >= 300 && resp->status < 400)
		snprintf(reason, sizeof(reason), "redirects are not followed; check base_url");
	if (resp->retry_after >= 0) {
		err->retry_after = resp->retry_after;
		return pb_fail(err, code, "%s: HTTP %ld from %s: %s (retry after %ld s)", p->name,
			       resp->status, url, reason, resp->retry_after);
	}
	return pb_fail(err, code, "%s: HTTP %ld from %s: %s", p->name, resp->status, url, reason);
}

/*
 * The string found at `paths` in the answer; NULL when absent or not a
 * string. *nul says it is a string with a NUL byte in it ("\u0000"): C
 * would see only what comes before, so it is refused, never cut short.
 */
static const char *string_at(struct json_object *root, const char *paths, bool *nul)
{
	struct json_object *v = paths != NULL ? pb_json_path(root, paths) : NULL;
	const char *s;

	*nul = false;
	if (v == NULL || !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	*nul = strlen(s) != (size_t)json_object_get_string_len(v);
	return *nul ? NULL : s;
}

/*
 * json-c keeps its own copies of every string in the answer (the token and
 * the refresh token among them): zero them all before the tree is freed.
 */
static void wipe_strings(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		explicit_bzero((char *)(uintptr_t)json_object_get_string(v),
			       (size_t)json_object_get_string_len(v));
		break;
	case json_type_object: {
		json_object_object_foreach(v, key, child) {
			(void)key;
			if (child != NULL)
				wipe_strings(child);
		}
		break;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (json_object_array_get_idx(v, i) != NULL)
				wipe_strings(json_object_array_get_idx(v, i));
		break;
	default:
		break;
	}
}

/* Read token, refresh token and expiry out of a 2xx answer. */
static int map_response(const struct pb_profile *p, const char *url,
			const struct pb_http_response *resp, long long now_ms,
			struct pb_token *out, struct pb_err *err)
{
	struct json_object *root = pb_json_parse_object(resp->body.data, resp->body.len);
	struct json_object *expires_in;
	const char *token, *refresh;
	bool nul;
	int rc = -1;

	if (root == NULL) {
		pb_fail(err, PB_E_TEMP, "%s: %s: answer is not a JSON object", p->name, url);
		goto done;
	}
	token = string_at(root, p->resp_token, &nul);
	if (token == NULL && nul) {
		pb_fail(err, PB_E_TEMP, "%s: %s: the token at '%s' holds a NUL byte; refusing it",
			p->name, url, p->resp_token);
		goto done;
	}
	if (token == NULL) {
		pb_fail(err, PB_E_TEMP, "%s: %s: answer has no token (string) at '%s'",
			p->name, url, p->resp_token);
		goto done;
	}
	if (pb_token_check(token, err) < 0)
		goto done;
	expires_in = p->resp_expires_in != NULL ? pb_json_path(root, p->resp_expires_in) : NULL;
	if (pb_expiry_resolve_ms(p->lifetime, expires_in, token, now_ms, &out->has_expiry,
				 &out->expires_ms, err) < 0)
		goto done;
	refresh = string_at(root, p->resp_refresh_token, &nul);
	if (nul) {
		pb_fail(err, PB_E_TEMP, "%s: %s: the refresh token at '%s' holds a NUL byte; "
			"refusing it", p->name, url, p->resp_refresh_token);
		goto done;
	}
	out->token = strdup(token);
	out->refresh_token = pb_strdup(refresh);
	if (out->token == NULL || (refresh != NULL && out->refresh_token == NULL)) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto done;
	}
	out->obtained_ms = now_ms;
	rc = 0;
done:
	if (rc < 0) {
		prefixed(err, p->name);
		pb_token_free(out);
	}
	if (root != NULL) {
		wipe_strings(root);
		json_object_put(root);
	}
	return rc;
}

/* One request + mapping: the exchange or the refresh. */
static int request_token(const struct pb_profile *p, enum which which,
			 const struct pb_creds *creds, const char *refresh_token,
			 struct pb_token *out, long *status, struct pb_err *err)
{
	struct fields f = { .p = p, .creds = creds, .refresh_token = refresh_token };
	const struct pb_request *r = which == EXCHANGE ? &p->token : &p->refresh;
	struct pb_http_response resp = { 0 };
	struct pb_buf url = { 0 };
	long long now_ms = pb_wall_ms();   /* obtained: when we asked, not when they answered */
	int rc = -1;

	*status = 0;
	if (send_request(p, r, &f, &url, &resp, err) < 0) {
		prefixed(err, p->name);
		goto done;
	}
	*status = resp.status;
	if (resp.status < 200 || resp.status > 299) {
		http_error(p, which, url.data, &resp, err);
		goto done;
	}
	rc = map_response(p, url.data, &resp, now_ms, out, err);
done:
	pb_http_response_free(&resp);
	pb_buf_wipe(&url);
	return rc;
}

/* A static vendor: the token and its expiry are in the credentials. */
static int static_token(const struct pb_profile *p, const struct pb_creds *creds,
			struct pb_token *out, struct pb_err *err)
{
	const char *token = creds != NULL ? pb_creds_get(creds, p->name, "token") : NULL;
	const char *expires = creds != NULL ? pb_creds_get(creds, p->name, "expires") : NULL;
	long long now_ms = pb_wall_ms();

	if (token == NULL)
		return pb_fail(err, PB_E_CONFIG, "%s: the credentials have no 'token'", p->name);
	if (pb_token_check(token, err) < 0)
		return prefixed(err, p->name);
	out->has_expiry = expires != NULL && expires[0] != '\0';
	if (out->has_expiry && pb_time_parse_ms(expires, &out->expires_ms) < 0)
		return pb_fail(err, PB_E_CONFIG, "%s: expires: not an ISO 8601 time", p->name);
	if (out->has_expiry && out->expires_ms <= now_ms)
		return pb_fail(err, PB_E_PERM, "%s: the token expired at %s; issue a new one "
			       "and update the credentials", p->name, expires);
	out->obtained_ms = now_ms;
	out->token = strdup(token);
	if (out->token == NULL)
		return pb_fail(err, PB_E_INTERNAL, "out of memory");
	return 0;
}

int pb_fetch_token(const struct pb_profile *p, const struct pb_creds *creds,
		   const char *refresh_token, struct pb_token *out, struct pb_err *err)
{
	long status;

	memset(out, 0, sizeof(*out));
	pb_err_clear(err);
	if (p->type == PB_TYPE_STATIC)
		return static_token(p, creds, out, err);
	if (refresh_token != NULL && p->refresh.url != NULL) {
		if (request_token(p, REFRESH, creds, refresh_token, out, &status, err) == 0) {
			out->refreshed = true;
			return 0;
		}
		/*
		 * A refused refresh token is normal (expired, rotated away,
		 * revoked): log in again and let the exchange's answer decide.
		 * Only a rate limit or trouble on the vendor's side stands.
		 */
		if (status < 400 || status > 499 || status == 429 || creds == NULL)
			return -1;
		pb_err_clear(err);
	}
	if (creds == NULL)
		return pb_fail(err, PB_E_CONFIG, "%s: no credentials to log in with", p->name);
	if (pb_creds_check(creds, p, err) < 0)
		return -1;
	return request_token(p, EXCHANGE, creds, NULL, out, &status, err);
}
