/* SPDX-License-Identifier: MIT */
/*
 * conf_check.c - pass 2 of the loader: a profile resolved from its layers
 * (conf.c) checked as a whole: the keys a request needs, and templates
 * naming only fields the profile has.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conf_int.h"
#include "expiry.h"
#include "template.h"

/* Does the profile's credential list have this field? */
static bool has_field(const struct pb_profile *p, const char *name)
{
	return pb_conf_listed(p->fields, p->nfields, name);
}

/* What pb_template_fields() reports into, for one template of one profile. */
struct field_check {
	const struct pb_profile *p;
	bool refresh;             /* a refresh.* template: refresh_token is known */
	bool saw_refresh_token;
	bool assertion;           /* an assertion.* template: iat, exp, jti, token_url known */
	char bad[65];
};

/* The fields a service account's key_file gives (creds.c), besides its private_key. */
static bool from_key_file(const struct pb_profile *p, const char *name)
{
	return has_field(p, "key_file") &&
	       (strcmp(name, "client_email") == 0 || strcmp(name, "private_key_id") == 0 ||
		strcmp(name, "token_uri") == 0);
}

/* The fields only an assertion.* template knows (fetch.c fills them in). */
static bool assertion_only(const char *name)
{
	return strcmp(name, "iat") == 0 || strcmp(name, "exp") == 0 || strcmp(name, "jti") == 0 ||
	       strcmp(name, "token_url") == 0;
}

/* pb_template_fields() callback for pass 2: is name a field this template may use? */
static int field_known(void *ctx, const char *name, bool optional)
{
	struct field_check *fc = ctx;

	if (strcmp(name, "refresh_token") == 0 && fc->refresh) {
		fc->saw_refresh_token = true;
		return 0;
	}
	/* private_key_jwt drops the secret: an optional ${client_secret?} expands to nothing */
	if (optional && strcmp(name, "client_secret") == 0 &&
	    fc->p->client_auth == PB_AUTH_PRIVATE_KEY_JWT)
		return 0;
	if (assertion_only(name) ? fc->assertion
	    : strcmp(name, "assertion") == 0 ? !fc->assertion && pb_profile_signs(fc->p)
	    : strcmp(name, "refresh_token") != 0 && (pb_conf_is_reserved(name) ||
						     has_field(fc->p, name) ||
						     from_key_file(fc->p, name)))
		return 0;
	snprintf(fc->bad, sizeof(fc->bad), "%s", name);
	return 1;
}

/* See conf_int.h. */
int pb_conf_profile_fail(struct pb_err *err, const struct pb_profile *p, const char *file,
			 unsigned line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pb_fail(err, PB_E_CONFIG, "%s:%u: [profile %s]: %s", file, line, p->name, msg);
}

/* Check that the template of setting s names only fields the profile knows. */
static int check_fields(const struct pb_profile *p, const struct setting *s,
			struct field_check *fc, struct pb_err *err)
{
	struct pb_err scratch = { 0 };
	char known[256] = "";
	size_t n = 0;

	if (s->e == NULL || s->e->value[0] == '\0')
		return 0;
	if (pb_template_fields(s->e->value, field_known, fc, &scratch) == 0)
		return 0;
	if (strcmp(fc->bad, "refresh_token") == 0)
		return pb_conf_profile_fail(err, p, s->file, s->e->line, "%s names field 'refresh_token', "
				    "which only refresh.* templates may use", s->e->key);
	for (size_t i = 0; i < p->nfields && n < sizeof(known); i++)
		n += (size_t)snprintf(known + n, sizeof(known) - n, "%s, ", p->fields[i]);
	if (n < sizeof(known))
		snprintf(known + n, sizeof(known) - n, "%sscope, audience%s%s",
			 has_field(p, "key_file") ? "client_email, private_key_id, token_uri, " : "",
			 fc->refresh ? ", refresh_token" : "",
			 fc->assertion ? ", iat, exp, jti, token_url"
			 : pb_profile_signs(p) ? ", assertion" : "");
	return pb_conf_profile_fail(err, p, s->file, s->e->line, "%s names unknown field '%s' (known: %s)",
			    s->e->key, fc->bad, known);
}

/* Check every template of the profile; note whether refresh.* uses refresh_token. */
static int check_templates(const struct pb_profile *p, const struct layers *L,
			   bool *refresh_uses_token, struct pb_err *err)
{
	struct field_check fc = { .p = p };

	for (size_t i = 0; i < PB_CONF_NKEYS + L->nhdr; i++) {
		const struct setting *s = i < PB_CONF_NKEYS ? &L->key[i] : &L->hdr[i - PB_CONF_NKEYS];

		if (s->k == NULL || (s->k->kind != K_TEMPLATE && s->k->kind != K_HEADER &&
				     s->k->kind != K_URL))
			continue;
		fc.refresh = strncmp(s->k->name, "refresh.", 8) == 0;
		fc.assertion = strncmp(s->k->name, "assertion.", 10) == 0;
		if (check_fields(p, s, &fc, err) < 0)
			return -1;
	}
	*refresh_uses_token = fc.saw_refresh_token;
	return 0;
}

/* Is this URL relative (joined to base_url)? */
static bool relative(const char *url)
{
	return url != NULL && url[0] == '/';
}

/*
 * A profile that signs has a key to sign with: the field private_key_file
 * (client_auth = private_key_jwt takes it in client_secret's place, conf.c)
 * and, for private_key_jwt, client_id, the assertion's issuer.
 */
static int check_signing(const struct pb_profile *p, const struct layers *L,
			 struct pb_err *err)
{
	const struct setting *s = pb_conf_setting(L, p->assertion_claims != NULL ?
						  "assertion.claims" : "client_auth");

	if (p->client_auth == PB_AUTH_PRIVATE_KEY_JWT &&
	    (!has_field(p, "client_id") || !has_field(p, "private_key_file")))
		return pb_conf_profile_fail(err, p, s->file, s->e->line, "client_auth = "
				    "private_key_jwt needs the fields client_id and "
				    "private_key_file");
	/* the assertion joins the body as two form pairs (fetch.c) */
	if (p->client_auth == PB_AUTH_PRIVATE_KEY_JWT &&
	    (p->token.format != PB_FMT_FORM ||
	     (p->refresh.url != NULL && p->refresh.format != PB_FMT_FORM)))
		return pb_conf_profile_fail(err, p, s->file, s->e->line, "client_auth = "
				    "private_key_jwt sends the assertion in a form body; "
				    "token.format (and refresh.format) must be form");
	if (p->assertion_claims != NULL && !has_field(p, "private_key_file") &&
	    !has_field(p, "key_file"))
		return pb_conf_profile_fail(err, p, s->file, s->e->line, "assertion.claims is set "
				    "but the fields have no private_key_file (or key_file) to sign with");
	return 0;
}

/* Pass 2 for an exchange vendor: the keys a request needs, and templates. */
static int check_exchange(const struct pb_profile *p, const struct layers *L,
			  struct pb_err *err)
{
	const char *f = p->origin.file;
	unsigned line = p->origin.line;
	bool uses_rt;

	if (p->token.url == NULL)
		return pb_conf_profile_fail(err, p, f, line, "vendor '%s' has no token.url", p->vendor);
	if (p->resp_token == NULL)
		return pb_conf_profile_fail(err, p, f, line, "vendor '%s' has no response.token", p->vendor);
	if (p->base_url == NULL && (relative(p->token.url) || relative(p->refresh.url)))
		return pb_conf_profile_fail(err, p, f, line, "base_url is not set (vendor '%s' has none; "
				    "set it in [profile %s])", p->vendor, p->name);
	if (check_templates(p, L, &uses_rt, err) < 0)
		return -1;
	if (p->refresh.url != NULL) {
		const struct setting *s = pb_conf_setting(L, "refresh.url");

		if (p->resp_refresh_token == NULL)
			return pb_conf_profile_fail(err, p, s->file, s->e->line, "refresh.url is set but "
					    "response.refresh_token is not");
		if (!uses_rt)
			return pb_conf_profile_fail(err, p, s->file, s->e->line, "refresh.url is set but "
					    "no refresh.body or refresh.header.* uses ${refresh_token}");
	}
	if (p->client_auth == PB_AUTH_BASIC &&
	    (!has_field(p, "client_id") || !has_field(p, "client_secret"))) {
		const struct setting *s = pb_conf_setting(L, "client_auth");

		return pb_conf_profile_fail(err, p, s->file, s->e->line, "client_auth = basic needs "
				    "the fields client_id and client_secret");
	}
	return check_signing(p, L, err);
}

/* Pass 2: the resolved profile as a whole. */
int pb_conf_check_profile(const struct pb_profile *p, const struct layers *L,
			  struct pb_err *err)
{
	if (p->type == PB_TYPE_STATIC) {
		const struct setting *s = pb_conf_setting(L, "lifetime");

		if (!has_field(p, "token"))
			return pb_conf_profile_fail(err, p, p->origin.file, p->origin.line,
					    "vendor '%s' is static but its fields have no "
					    "'token'", p->vendor);
		/* a key the user holds has its own expiry: nothing counts from now */
		if (s->e != NULL && !pb_lifetime_only_words(p->lifetime))
			return pb_conf_profile_fail(err, p, s->file, s->e->line, "lifetime of a "
					    "static vendor is jwt, none or 'jwt | none' (the "
					    "expiry is the token's exp or the credentials' "
					    "'expires')");
		return 0;
	}
	return check_exchange(p, L, err);
}

