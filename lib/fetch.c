/* SPDX-License-Identifier: MIT */
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
#include <sys/random.h>
#include <time.h>

#include "expiry.h"
#include "fetch.h"
#include "http.h"
#include "jsonmap.h"
#include "jws.h"
#include "jwt.h"
#include "template.h"

#define ASSERTION_JTI_BYTES 16     /* a jti of 128 random bits */
#define ASSERTION_LIFE_S 240       /* exp - iat = 300 s: GitHub allows 600, Google 3600 */

/* Which of the profile's two requests is being made. */
enum which { EXCHANGE, REFRESH };

/* What the template lookup can see. */
struct fields {
	const struct pb_profile *p;
	const struct pb_creds *creds;
	const char *refresh_token;
	const char *assertion;          /* the signed assertion, while a request is built */
	/* an assertion.* template's own fields, while one is expanded */
	bool claims;
	const char *token_url;
	char iat[24], exp[24], jti[2 * ASSERTION_JTI_BYTES + 1];
};

/*
 * Template field lookup: the refresh token, the profile's scope/audience,
 * the signed assertion (and, in an assertion.* template, iat, exp, jti and
 * token_url), else the credentials. With client_auth = basic, client_id
 * and client_secret are not given to the body: they travel in the Basic
 * header; with private_key_jwt, client_secret is not used. The PEM key
 * read from private_key_file is never expanded anywhere.
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
	if (strcmp(name, "assertion") == 0)
		return f->assertion;
	if (f->claims && strcmp(name, "iat") == 0)
		return f->iat;
	if (f->claims && strcmp(name, "exp") == 0)
		return f->exp;
	if (f->claims && strcmp(name, "jti") == 0)
		return f->jti;
	if (f->claims && strcmp(name, "token_url") == 0)
		return f->token_url;
	if (strcmp(name, "private_key") == 0 ||
	    (f->p->client_auth == PB_AUTH_BASIC &&
	     (strcmp(name, "client_id") == 0 || strcmp(name, "client_secret") == 0)) ||
	    (f->p->client_auth == PB_AUTH_PRIVATE_KEY_JWT && strcmp(name, "client_secret") == 0))
		return NULL;
	return f->creds != NULL ? pb_creds_get(f->creds, f->p->name, name) : NULL;
}

/*
 * The signed client assertion of a request to url (RFC 7523): the
 * vendor's assertion.claims (for private_key_jwt without one, RFC 7523's
 * own: iss and sub the client_id, aud the token URL) expanded with iat
 * (now less 60 s, for clocks behind ours), exp (now + ASSERTION_LIFE_S),
 * a fresh jti and token_url, then signed with the private key of
 * private_key_file (jws.c). Into jwt; 0, or -1 with err.
 */
static int sign_assertion(const struct pb_profile *p, struct fields *f, const char *url,
			  struct pb_buf *jwt, struct pb_err *err)
{
	static const char rfc7523[] = "{\"iss\": \"${client_id}\", \"sub\": \"${client_id}\", "
		"\"aud\": \"${token_url}\", \"iat\": ${iat}, \"exp\": ${exp}, \"jti\": \"${jti}\"}";
	const char *pem = f->creds != NULL ? pb_creds_get(f->creds, p->name, "private_key") : NULL;
	struct pb_buf claims = { 0 }, kid = { 0 };
	unsigned char rnd[ASSERTION_JTI_BYTES];
	struct json_object *parsed = NULL;
	time_t now = time(NULL);
	int rc = -1;

	if (pem == NULL)
		return pb_fail(err, PB_E_CONFIG, "no private key to sign the assertion with "
			       "(private_key_file in the credentials)");
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return pb_fail(err, PB_E_INTERNAL, "no random bytes for the assertion's jti");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(f->jti + 2 * i, 3, "%02x", rnd[i]);
	snprintf(f->iat, sizeof(f->iat), "%lld", (long long)now - 60);
	snprintf(f->exp, sizeof(f->exp), "%lld", (long long)now + ASSERTION_LIFE_S);
	f->claims = true;
	f->token_url = url;
	if (pb_template_expand(p->assertion_claims != NULL ? p->assertion_claims : rfc7523,
			       PB_FMT_JSON, lookup_field, f, &claims, err) < 0 ||
	    (p->assertion_kid != NULL &&
	     pb_template_expand(p->assertion_kid, PB_FMT_RAW, lookup_field, f, &kid, err) < 0))
		goto done;
	if ((parsed = pb_json_parse_object(claims.data, claims.len)) == NULL) {
		pb_fail(err, PB_E_CONFIG, "assertion.claims does not expand to a JSON object");
		goto done;
	}
	rc = pb_jws_sign(pem, kid.data, claims.data, jwt, err);
done:
	f->claims = false;
	f->token_url = NULL;
	json_object_put(parsed);
	pb_buf_wipe(&claims);
	pb_buf_wipe(&kid);
	return rc;
}

/* private_key_jwt: the assertion joins the form body as client_assertion (RFC 7523 2.2). */
static int add_client_assertion(struct pb_buf *body, const char *jwt)
{
	return pb_buf_adds(body, body->len > 0 ? "&" : "") < 0 ||
	       pb_buf_adds(body, "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
			   "client-assertion-type%3Ajwt-bearer&client_assertion=") < 0 ||
	       pb_escape(body, jwt, PB_FMT_FORM) < 0 ? -1 : 0;
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

/* Is the URL template one field alone, "${token_uri}"? */
static bool whole_url(const char *url)
{
	size_t n = strlen(url);

	return n > 3 && strncmp(url, "${", 2) == 0 && url[n - 1] == '}' &&
	       strchr(url + 2, '$') == NULL && strchr(url, '}') == url + n - 1;
}

/*
 * base_url + path, or the url itself when it is absolute. Its ${fields}
 * (GitHub's /app/installations/${installation_id}/access_tokens) are
 * percent-encoded: a value cannot step out of its path segment. 0, or -1
 * with err.
 */
static int request_url(const struct pb_profile *p, const struct pb_request *r,
		       struct fields *f, struct pb_buf *url, struct pb_err *err)
{
	struct pb_buf path = { 0 };
	size_t n;
	int rc = -1;

	/* a URL that is one field alone (a key file's token_uri) is a whole URL, not a path */
	if (pb_template_expand(r->url, whole_url(r->url) ? PB_FMT_RAW : PB_FMT_PATH, lookup_field,
			       f, &path, err) < 0)
		return -1;
	if (whole_url(r->url) && strncmp(path.data, "https://", 8) != 0 &&
	    strncmp(path.data, "http://", 7) != 0) {
		pb_fail(err, PB_E_CONFIG, "%s is '%.100s', not an http:// or https:// URL", r->url,
			path.data);
		goto done;
	}
	if (strncmp(path.data, "https://", 8) == 0 || strncmp(path.data, "http://", 7) == 0) {
		rc = pb_buf_adds(url, path.data);
		goto done;
	}
	if (p->base_url == NULL) {
		pb_fail(err, PB_E_CONFIG, "no base_url to join %s to", r->url);
		goto done;
	}
	n = strlen(p->base_url);
	while (n > 0 && p->base_url[n - 1] == '/')
		n--;
	rc = pb_buf_add(url, p->base_url, n) < 0 ||
	     pb_buf_addf(url, "%s%s", path.data[0] == '/' ? "" : "/", path.data) < 0 ? -1 : 0;
done:
	if (rc < 0 && err->msg[0] == '\0')
		pb_fail(err, PB_E_INTERNAL, "out of memory");
	pb_buf_wipe(&path);
	return rc;
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

/*
 * Build one of the profile's requests and start it on h (which copies
 * what it needs: the body with its secrets is wiped here at once). url
 * keeps the URL for messages.
 */
static int start_request(struct pb_http *h, const struct pb_profile *p, const struct pb_request *r,
			 struct fields *f, struct pb_buf *url, struct pb_http_response *resp,
			 void *tag, struct pb_err *err)
{
	struct pb_buf body = { 0 }, user = { 0 }, pass = { 0 }, jwt = { 0 };
	struct pb_http_request req = { 0 };
	char **headers = NULL;
	int rc = -1;

	if (request_url(p, r, f, url, err) < 0)
		goto done;
	if (pb_profile_signs(p)) {
		if (sign_assertion(p, f, url->data, &jwt, err) < 0)
			goto done;
		f->assertion = jwt.data;
	}
	if (pb_template_expand(r->body != NULL ? r->body : "", r->format, lookup_field, f,
			       &body, err) < 0)
		goto done;
	if (p->client_auth == PB_AUTH_PRIVATE_KEY_JWT && add_client_assertion(&body, jwt.data) < 0) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto done;
	}
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
	rc = pb_http_start(h, &req, resp, tag, err);
done:
	f->assertion = NULL;
	pb_buf_wipe(&body);
	pb_buf_wipe(&user);
	pb_buf_wipe(&pass);
	pb_buf_wipe(&jwt);
	free_headers(headers);
	return rc;
}

/*
 * Do the credentials stand refused? A status the vendor's refused_status
 * lists (401 and 403 unless the preset says more), or an OAuth 2.0 error
 * that says so whatever the status (RFC 6749 5.2: a 400 invalid_client
 * when the client authenticated in the body, invalid_grant for a refused
 * grant).
 */
static bool credentials_refused(const struct pb_profile *p, long status, const char *oauth_error)
{
	for (size_t i = 0; i < p->nrefused_status; i++)
		if (status == p->refused_status[i])
			return true;
	return status == 400 && (strcmp(oauth_error, "invalid_client") == 0 ||
				 strcmp(oauth_error, "invalid_grant") == 0 ||
				 strcmp(oauth_error, "unauthorized_client") == 0);
}

/*
 * A non-2xx answer as one line, with the message of the vendor's error
 * body. Refused credentials (credentials_refused) to an exchange are
 * PB_E_PERM: retrying will not help, and the message says so, with the
 * vendor's refused_hint. Any other 4xx is "the vendor refused the
 * request", not blamed on the credentials. All else, including every
 * refresh failure, is PB_E_TEMP (fetch_over() makes a refused refresh
 * with no credentials to fall back on PB_E_PERM).
 */
static int http_error(const struct pb_profile *p, enum which which, const char *url,
		      const struct pb_http_response *resp, struct pb_err *err)
{
	char reason[256], oauth_error[64], hint[160] = "";
	bool refused, client_error = resp->status >= 400 && resp->status <= 499 &&
		resp->status != 429 && resp->status != 408;
	const char *what = "";
	int code;

	pb_json_error_summary(resp->body.data, resp->body.len, reason, sizeof(reason),
			      oauth_error, sizeof(oauth_error));
	refused = which == EXCHANGE && credentials_refused(p, resp->status, oauth_error);
	code = refused ? PB_E_PERM : PB_E_TEMP;
	if (refused) {
		what = "the vendor refused the credentials: ";
		if (p->refused_hint != NULL)
			snprintf(hint, sizeof(hint), " (%s)", p->refused_hint);
	} else if (which == EXCHANGE && client_error) {
		what = "the vendor refused the request: ";
	}
	if (reason[0] == '\0')
		snprintf(reason, sizeof(reason), "%s",
			 resp->body.len == 0 ? "empty body"
			 : resp->body.data[0] == '<' ? "HTML error page" : "non-JSON body");
	if (resp->status >= 300 && resp->status < 400)
		snprintf(reason, sizeof(reason), "redirects are not followed; check base_url");
	if (resp->retry_after >= 0) {
		err->retry_after = resp->retry_after;
		return pb_fail(err, code, "%s: %sHTTP %ld from %s: %s%s (retry after %ld s)", p->name,
			       what, resp->status, url, reason, hint, resp->retry_after);
	}
	return pb_fail(err, code, "%s: %sHTTP %ld from %s: %s%s", p->name, what, resp->status,
		       url, reason, hint);
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

/* Read token, refresh token and expiry out of a 2xx answer. */
/*
 * response.expires_at, an ISO 8601 time (GitHub's installation tokens),
 * when the answer has it: the expiry, in place of any other. Hostile
 * until checked: after now and at most PB_MAX_LIFETIME ahead. 0, or -1
 * with err (PB_E_TEMP).
 */
static int expires_at(const struct pb_profile *p, const char *url, struct json_object *root,
		      long long now_ms, struct pb_token *out, struct pb_err *err)
{
	bool nul;
	const char *at = string_at(root, p->resp_expires_at, &nul);
	long long ms;

	if (at == NULL)
		return 0;
	if (pb_time_parse_ms(at, &ms) < 0 || ms <= now_ms || ms - now_ms > PB_MAX_LIFETIME * 1000LL)
		return pb_fail(err, PB_E_TEMP, "%s: %s: '%s' is %.40s, not a time in the next 10 "
			       "years", p->name, url, p->resp_expires_at, at);
	out->has_expiry = true;
	out->expires_ms = ms;
	return 0;
}

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
				 &out->expires_ms, err) < 0 ||
	    expires_at(p, url, root, now_ms, out, err) < 0)
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
		pb_json_wipe_strings(root);
		json_object_put(root);
	}
	return rc;
}

/* A static vendor: the token and its expiry are in the credentials. */
static int static_token(const struct pb_profile *p, const struct pb_creds *creds,
			struct pb_token *out, struct pb_err *err)
{
	const char *token = creds != NULL ? pb_creds_get(creds, p->name, "token") : NULL;
	const char *expires = creds != NULL ? pb_creds_get(creds, p->name, "expires") : NULL;
	long long now_ms = pb_wall_ms();
	struct pb_err scratch;
	int64_t exp_s;
	char when[32];

	if (token == NULL)
		return pb_fail(err, PB_E_CONFIG, "%s: the credentials have no 'token'", p->name);
	if (pb_token_check(token, err) < 0)
		return prefixed(err, p->name);
	if (expires != NULL && expires[0] == '\0')
		expires = NULL;
	/* the JWT's own exp is what the vendor enforces: it wins over `expires` */
	out->has_expiry = true;
	if (pb_lifetime_has(p->lifetime, "jwt") && pb_jwt_exp(token, &exp_s, &scratch) == 0)
		out->expires_ms = exp_s * 1000;
	else if (expires != NULL && pb_time_parse_ms(expires, &out->expires_ms) < 0)
		return pb_fail(err, PB_E_CONFIG, "%s: expires: not an ISO 8601 time", p->name);
	else if (expires == NULL && pb_lifetime_has(p->lifetime, "none"))
		out->has_expiry = false;
	else if (expires == NULL)
		return pb_fail(err, PB_E_CONFIG, "%s: the token is not a JWT with an exp: give "
			       "its expiry as 'expires = 2027-01-31T00:00:00Z' in [%s] of the "
			       "credentials", p->name, p->name);
	if (out->has_expiry && out->expires_ms <= now_ms) {
		pb_time_format((time_t)(out->expires_ms / 1000), when);
		return pb_fail(err, PB_E_PERM, "%s: the token expired at %s; issue a new one "
			       "and update the credentials", p->name, when);
	}
	/* as for any lifetime: at most 10 years, whatever the key says */
	if (out->has_expiry && out->expires_ms - now_ms > PB_MAX_LIFETIME * 1000LL)
		out->expires_ms = now_ms + PB_MAX_LIFETIME * 1000LL;
	out->obtained_ms = now_ms;
	out->token = strdup(token);
	if (out->token == NULL)
		return pb_fail(err, PB_E_INTERNAL, "out of memory");
	return 0;
}

/* One job under way: which request is out, and what its answer needs. */
struct fetch {
	const struct pb_fetch_job *job;
	enum which which;
	struct fields f;
	struct pb_buf url;
	struct pb_http_response resp;
	long long asked_ms;         /* obtained: when we asked, not when they answered */
};

/* Start the job's request `which` (0), or -1 with err. */
static int fetch_send(struct pb_http *h, struct fetch *x, enum which which, struct pb_err *err)
{
	const struct pb_profile *p = x->job->p;

	x->which = which;
	x->f = (struct fields){ .p = p, .creds = x->job->creds,
				.refresh_token = which == REFRESH ? x->job->refresh_token : NULL };
	pb_buf_wipe(&x->url);
	x->asked_ms = pb_wall_ms();
	if (start_request(h, p, which == EXCHANGE ? &p->token : &p->refresh, &x->f, &x->url,
			  &x->resp, x, err) < 0)
		return prefixed(err, p->name);
	return 0;
}

/* Start the full exchange with the credentials (0), or -1 with why not. */
static int fetch_exchange(struct pb_http *h, struct fetch *x, struct pb_err *err)
{
	const struct pb_fetch_job *job = x->job;

	if (job->creds == NULL)
		return pb_fail(err, PB_E_CONFIG, "%s: no credentials to log in with", job->p->name);
	if (pb_creds_check(job->creds, job->p, err) < 0)
		return -1;
	return fetch_send(h, x, EXCHANGE, err);
}

/*
 * The job's first step: a static token at once (1, *out filled), a
 * refresh when there is a refresh token, else the exchange (0: a request
 * is out), or -1 with err.
 */
static int fetch_begin(struct pb_http *h, struct fetch *x, struct pb_token *out,
		       struct pb_err *err)
{
	const struct pb_fetch_job *job = x->job;

	if (job->p->type == PB_TYPE_STATIC)
		return static_token(job->p, job->creds, out, err) == 0 ? 1 : -1;
	if (job->refresh_token != NULL && job->p->refresh.url != NULL)
		return fetch_send(h, x, REFRESH, err);
	return fetch_exchange(h, x, err);
}

/*
 * The job's request is over (rc from pb_http_next): the token (1, *out
 * filled), the next request out (0: a refused refresh falls back to the
 * exchange), or -1 with err. A refused refresh token is normal (expired,
 * rotated away, revoked): the exchange's answer decides. Only a rate
 * limit or trouble on the vendor's side stands; with no credentials to
 * log in with, a refused one is for good (PB_E_PERM).
 */
static int fetch_over(struct pb_http *h, struct fetch *x, int rc, struct pb_token *out,
		      struct pb_err *err)
{
	const struct pb_profile *p = x->job->p;
	long status = rc == 0 ? x->resp.status : 0;
	bool refused = status >= 400 && status <= 499 && status != 429;

	if (rc < 0)
		prefixed(err, p->name);
	else if (status < 200 || status > 299)
		http_error(p, x->which, x->url.data, &x->resp, err);
	else if (map_response(p, x->url.data, &x->resp, x->asked_ms, out, err) == 0)
		rc = 1;
	pb_http_response_free(&x->resp);
	if (rc == 1) {
		out->refreshed = x->which == REFRESH;
		return 1;
	}
	if (x->which != REFRESH || !refused)
		return -1;
	if (x->job->creds == NULL) {
		char msg[sizeof(err->msg)];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		return pb_fail(err, PB_E_PERM, "%s; the refresh token is refused and there are "
			       "no credentials to log in with: log in again", msg);
	}
	pb_err_clear(err);
	return fetch_exchange(h, x, err);
}

/* The job is over: tell the caller, and wipe what it held. */
static void fetch_end(struct fetch *x, size_t i, struct pb_token *tok, struct pb_err *err,
		      pb_token_done done, void *arg)
{
	done(arg, i, tok->token != NULL ? tok : NULL, err);
	pb_token_free(tok);
	pb_buf_wipe(&x->url);
	pb_http_response_free(&x->resp);
}

void pb_fetch_many(const struct pb_fetch_job *jobs, size_t n, pb_token_done done, void *arg)
{
	struct fetch *x = calloc(n > 0 ? n : 1, sizeof(*x));
	struct pb_http *h = NULL;
	struct pb_token tok;
	struct pb_err err;
	void *tag;
	int rc;

	pb_err_clear(&err);
	if (x == NULL || (h = pb_http_new(&err)) == NULL) {
		if (x == NULL)
			pb_fail(&err, PB_E_INTERNAL, "out of memory");
		for (size_t i = 0; i < n; i++)
			done(arg, i, NULL, &err);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		memset(&tok, 0, sizeof(tok));
		pb_err_clear(&err);
		x[i].job = &jobs[i];
		if (fetch_begin(h, &x[i], &tok, &err) != 0)
			fetch_end(&x[i], i, &tok, &err, done, arg);
	}
	while (pb_http_next(h, &tag, &rc, &err) == 1) {
		struct fetch *one = tag;

		memset(&tok, 0, sizeof(tok));
		if (fetch_over(h, one, rc, &tok, &err) != 0)
			fetch_end(one, (size_t)(one - x), &tok, &err, done, arg);
		pb_err_clear(&err);
	}
done:
	pb_http_free(h);
	free(x);
}

int pb_fetch_token(const struct pb_profile *p, const struct pb_creds *creds,
		   const char *refresh_token, struct pb_token *out, struct pb_err *err)
{
	struct pb_fetch_job job = { .p = p, .creds = creds, .refresh_token = refresh_token };
	struct pb_token_catch one = { .out = out, .err = err, .rc = -1 };

	memset(out, 0, sizeof(*out));
	pb_err_clear(err);
	pb_fetch_many(&job, 1, pb_token_catch, &one);
	return one.rc;
}
