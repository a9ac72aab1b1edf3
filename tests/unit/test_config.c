/* SPDX-License-Identifier: MIT */
/*
 * test_config.c - pam_bearer.conf loading (every preset, layering, every
 * error message) and the credentials stores.
 *
 * Each test works in its own mkdtemp() dir; the presets are the real ones
 * from the source tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "creds.h"

#define VENDORS TESTS_SRCDIR "/../vendors"
#define CREDS_DIR "/etc/security/pam_bearer/credentials.d"

struct fixture {
	char dir[64];
	char conf[128];           /* dir/pam_bearer.conf */
	char vendors[128];        /* dir/vendors, for presets written by a test */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	strcpy(fx->dir, "/tmp/test_config.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->conf, sizeof(fx->conf), "%s/pam_bearer.conf", fx->dir);
	snprintf(fx->vendors, sizeof(fx->vendors), "%s/vendors", fx->dir);
	if (mkdir(fx->vendors, 0755) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Write text to path with exactly this mode (whatever the umask). */
static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Write the main config and load it; the test fails on an error. */
static void load(struct fixture *fx, const char *text, struct pb_config *cfg)
{
	struct pb_err err = { 0 };
	int rc;

	write_file(fx->conf, text, 0644);
	rc = pb_config_load(fx->conf, VENDORS, CREDS_DIR, cfg, &err);
	if (rc != 0)
		print_error("unexpected error: %s\n", err.msg);
	assert_int_equal(rc, 0);
}

/* Assert msg == prefix + rest. */
static void assert_msg(const char *msg, const char *prefix, const char *rest)
{
	size_t n = strlen(prefix);

	if (strncmp(msg, prefix, n) != 0 || strcmp(msg + n, rest) != 0) {
		print_error("got:      %s\nexpected: %s%s\n", msg, prefix, rest);
		fail();
	}
}

/* Load text and expect the error prefix + rest, with cfg left empty. */
static void load_fails_at(struct fixture *fx, const char *text, const char *prefix,
			  const char *rest)
{
	struct pb_err err = { 0 };
	struct pb_config cfg;

	write_file(fx->conf, text, 0644);
	assert_int_equal(pb_config_load(fx->conf, VENDORS, CREDS_DIR, &cfg, &err), -1);
	assert_int_equal(err.code, PB_E_CONFIG);
	assert_msg(err.msg, prefix, rest);
	assert_null(cfg.profiles);
	assert_null(cfg.files);
	assert_null(cfg.path);
}

/* Load text and expect the error "<config path>" + rest. */
static void load_fails(struct fixture *fx, const char *text, const char *rest)
{
	load_fails_at(fx, text, fx->conf, rest);
}

/* The profile's fields (or users, groups) joined with ", ". */
static const char *joined(const char *const *v, size_t n)
{
	static char buf[256];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? ", " : "", v[i]);
	return buf;
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

/* What a resolved profile should look like, key by key. */
struct expect {
	const char *vendor;
	enum pb_vendor_type type;
	const char *base_url, *fields;
	const char *token_url, *token_body;
	enum pb_format token_format;
	const char *refresh_url, *refresh_body;
	enum pb_format refresh_format;
	const char *resp_token, *resp_expires_in, *resp_refresh_token;
	const char *lifetime, *scheme;
	enum pb_client_auth client_auth;
	const char *refused;       /* refused_status joined; NULL: "401, 403" */
	const char *refused_hint;
};

/* "400, 401, 403": the profile's refused_status. */
static const char *statuses(const struct pb_profile *p)
{
	static char out[64];
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < p->nrefused_status; i++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%u", i ? ", " : "",
				      (unsigned)p->refused_status[i]);
	return out;
}

/* Compare every key of p with e; the profile-only keys must be at their defaults. */
static void assert_profile(const struct pb_profile *p, const struct expect *e)
{
	assert_string_equal(p->vendor, e->vendor);
	assert_int_equal(p->type, e->type);
	assert_str_or_null(p->base_url, e->base_url);
	assert_string_equal(joined(p->fields, p->nfields), e->fields);
	assert_str_or_null(p->token.url, e->token_url);
	assert_str_or_null(p->token.body, e->token_body);
	assert_int_equal(p->token.format, e->token_format);
	assert_int_equal(p->token.nheaders, 0);
	assert_str_or_null(p->refresh.url, e->refresh_url);
	assert_str_or_null(p->refresh.body, e->refresh_body);
	assert_int_equal(p->refresh.format, e->refresh_format);
	assert_int_equal(p->refresh.nheaders, 0);
	assert_str_or_null(p->resp_token, e->resp_token);
	assert_str_or_null(p->resp_expires_in, e->resp_expires_in);
	assert_str_or_null(p->resp_refresh_token, e->resp_refresh_token);
	assert_string_equal(p->lifetime, e->lifetime);
	assert_string_equal(p->scheme, e->scheme);
	assert_int_equal(p->client_auth, e->client_auth);
	assert_string_equal(statuses(p), e->refused != NULL ? e->refused : "401, 403");
	assert_str_or_null(p->refused_hint, e->refused_hint);
	assert_int_equal(p->credentials, PB_CRED_USER);
	assert_null(p->scope);
	assert_null(p->audience);
	assert_int_equal(p->nusers, 0);
	assert_int_equal(p->ngroups, 0);
	assert_true(p->timeout == 5.0);
	assert_true(p->refresh_at == 0.75);
	assert_null(p->ca_file);
	assert_null(p->proxy);
}

/* Load "[profile <vendor>]\nvendor = <vendor>\n" and check it against e. */
static void check_preset(struct fixture *fx, const char *vendor, const struct expect *e)
{
	struct pb_config cfg;
	char text[256];

	snprintf(text, sizeof(text), "[profile p]\nvendor = %s\n%s", vendor,
		 strcmp(vendor, "oauth2") == 0 ? "base_url = https://auth.example.com\n" : "");
	load(fx, text, &cfg);
	assert_int_equal(cfg.nprofiles, 1);
	assert_string_equal(cfg.profiles[0].name, "p");
	assert_string_equal(cfg.profiles[0].origin.file, fx->conf);
	assert_int_equal(cfg.profiles[0].origin.line, 1);
	assert_int_equal(cfg.nfiles, 2);        /* the main config and the preset */
	assert_profile(&cfg.profiles[0], e);
	pb_config_free(&cfg);
}

/* ---------------------------------------------------------------- presets */

/* api.video's contract, production or sandbox: only the URL and the hint differ. */
static void check_apivideo(void **state, const char *vendor, const char *base_url,
			   const char *hint)
{
	const struct expect e = {
		.vendor = vendor, .type = PB_TYPE_EXCHANGE,
		.base_url = base_url, .fields = "api_key",
		.token_url = "/auth/api-key", .token_body = "{\"apiKey\": \"${api_key}\"}",
		.token_format = PB_FMT_JSON,
		.refresh_url = "/auth/refresh",
		.refresh_body = "{\"refreshToken\": \"${refresh_token}\"}",
		.refresh_format = PB_FMT_JSON,
		.resp_token = "access_token", .resp_expires_in = "expires_in",
		.resp_refresh_token = "refresh_token",
		.lifetime = "jwt | 3600", .scheme = "Bearer", .client_auth = PB_AUTH_BODY,
		.refused = "400, 401, 403",    /* its OpenAPI spec: 400 for a wrong key */
		.refused_hint = hint,
	};

	check_preset(*state, vendor, &e);
}

static void test_preset_apivideo(void **state)
{
	check_apivideo(state, "apivideo", "https://ws.api.video",
		       "a sandbox key? use vendor = apivideo-sandbox");
}

/* The sandbox: where every example of api.video's page points. */
static void test_preset_apivideo_sandbox(void **state)
{
	check_apivideo(state, "apivideo-sandbox", "https://sandbox.api.video",
		       "a production key? use vendor = apivideo");
}

static void test_preset_unith(void **state)
{
	const struct expect e = {
		.vendor = "unith", .type = PB_TYPE_EXCHANGE,
		.base_url = "https://platform-api.unith.ai", .fields = "email, secret_key",
		.token_url = "/auth/token",
		.token_body = "{\"email\": \"${email}\", \"secretKey\": \"${secret_key}\", "
			      "\"secretkey\": \"${secret_key}\"}",
		.token_format = PB_FMT_JSON, .refresh_format = PB_FMT_FORM,
		.resp_token = "token | data.bearer | data.token",
		.lifetime = "jwt | 604800", .scheme = "Bearer", .client_auth = PB_AUTH_BODY,
	};

	check_preset(*state, "unith", &e);
}

static void test_preset_rythmex_jwt(void **state)
{
	const struct expect e = {
		.vendor = "rythmex-jwt", .type = PB_TYPE_EXCHANGE,
		.base_url = "https://rythmex.com", .fields = "email, password",
		.token_url = "/api/v1/auth/jwt/create/",
		.token_body = "{\"email\": \"${email}\", \"password\": \"${password}\"}",
		.token_format = PB_FMT_JSON,
		.refresh_url = "/api/v1/auth/jwt/refresh/",
		.refresh_body = "{\"refresh\": \"${refresh_token}\"}",
		.refresh_format = PB_FMT_JSON,
		.resp_token = "access", .resp_refresh_token = "refresh",
		.lifetime = "jwt | 3600", .scheme = "Bearer", .client_auth = PB_AUTH_BODY,
	};

	check_preset(*state, "rythmex-jwt", &e);
}

static void test_preset_rythmex_apitoken(void **state)
{
	const struct expect e = {
		.vendor = "rythmex-apitoken", .type = PB_TYPE_EXCHANGE,
		.base_url = "https://rythmex.com", .fields = "email, password",
		.token_url = "/api/v1/auth/api-token/get-or-create/",
		.token_body = "{\"email\": \"${email}\", \"password\": \"${password}\"}",
		.token_format = PB_FMT_JSON, .refresh_format = PB_FMT_FORM,
		.resp_token = "token | auth_token | key",
		.lifetime = "none", .scheme = "Token", .client_auth = PB_AUTH_BODY,
		.refused = "400, 401, 403",    /* DRF's ObtainAuthToken: 400 */
	};

	check_preset(*state, "rythmex-apitoken", &e);
}

/* A GitHub App: the app's JWT as the bearer of its installation's token URL. */
static void test_preset_github_app(void **state)
{
	struct pb_config cfg;
	const struct pb_profile *p;

	load(*state, "[profile gh]\nvendor = github-app\n", &cfg);
	p = &cfg.profiles[0];
	assert_string_equal(joined(p->fields, p->nfields), "app_id, installation_id, private_key_file");
	assert_string_equal(p->token.url, "/app/installations/${installation_id}/access_tokens");
	assert_string_equal(p->assertion_claims, "{\"iss\": \"${app_id}\", \"iat\": ${iat}, \"exp\": ${exp}}");
	assert_true(pb_profile_signs(p));
	assert_string_equal(p->resp_expires_at, "expires_at");
	assert_int_equal(p->token.nheaders, 2);
	assert_string_equal(p->token.headers[0].name, "Authorization");
	assert_string_equal(p->token.headers[0].value, "Bearer ${assertion}");
	pb_config_free(&cfg);
}

/* private_key_jwt: private_key_file takes client_secret's place; ${client_secret?} is nothing. */
static void test_private_key_jwt(void **state)
{
	struct pb_config cfg;

	load(*state, "[profile o]\nvendor = oauth2\nbase_url = https://idp.example\n"
	     "client_auth = private_key_jwt\n", &cfg);
	assert_string_equal(joined(cfg.profiles[0].fields, cfg.profiles[0].nfields),
			    "client_id, private_key_file");
	assert_int_equal(cfg.profiles[0].client_auth, PB_AUTH_PRIVATE_KEY_JWT);
	assert_true(pb_profile_signs(&cfg.profiles[0]));
	pb_config_free(&cfg);
}

/* A Rythmex API token the user already holds: static, Token, never expires. */
static void test_preset_rythmex_token(void **state)
{
	const struct expect e = {
		.vendor = "rythmex-token", .type = PB_TYPE_STATIC,
		.base_url = "https://rythmex.com", .fields = "token",
		.token_format = PB_FMT_FORM, .refresh_format = PB_FMT_FORM,
		.lifetime = "none", .scheme = "Token", .client_auth = PB_AUTH_BODY,
	};

	check_preset(*state, "rythmex-token", &e);
}

static void test_preset_hautai(void **state)
{
	const struct expect e = {
		.vendor = "hautai", .type = PB_TYPE_STATIC,
		.base_url = "https://saas.haut.ai", .fields = "token",   /* expires: when not a JWT */
		.token_format = PB_FMT_FORM, .refresh_format = PB_FMT_FORM,
		.lifetime = "jwt", .scheme = "Bearer", .client_auth = PB_AUTH_BODY,
	};

	check_preset(*state, "hautai", &e);
}

static void test_preset_hautai_login(void **state)
{
	const struct expect e = {
		.vendor = "hautai-login", .type = PB_TYPE_EXCHANGE,
		.base_url = "https://saas.haut.ai", .fields = "email, password",
		.token_url = "/api/v1/auth/login/",
		.token_body = "{\"username\": \"${email}\", \"password\": \"${password}\"}",
		.token_format = PB_FMT_JSON, .refresh_format = PB_FMT_FORM,
		.resp_token = "access_token | token_access",
		.lifetime = "jwt | 3600", .scheme = "Bearer", .client_auth = PB_AUTH_BODY,
	};

	check_preset(*state, "hautai-login", &e);
}

static void test_preset_oauth2(void **state)
{
	const struct expect e = {
		.vendor = "oauth2", .type = PB_TYPE_EXCHANGE,
		.base_url = "https://auth.example.com", .fields = "client_id, client_secret",
		.token_url = "/oauth/token",
		.token_body = "grant_type=client_credentials&client_id=${client_id?}"
			      "&client_secret=${client_secret?}&scope=${scope?}"
			      "&audience=${audience?}",
		.token_format = PB_FMT_FORM,
		.refresh_url = "/oauth/token",
		.refresh_body = "grant_type=refresh_token&refresh_token=${refresh_token}"
				"&client_id=${client_id?}&client_secret=${client_secret?}",
		.refresh_format = PB_FMT_FORM,
		.resp_token = "access_token", .resp_expires_in = "expires_in",
		.resp_refresh_token = "refresh_token",
		.lifetime = "jwt | 3600", .scheme = "Bearer", .client_auth = PB_AUTH_BODY,
	};

	check_preset(*state, "oauth2", &e);
}

/* The profile-only keys of an oauth2 profile, and where the URLs came from. */
static void test_oauth2_profile_keys(void **state)
{
	struct fixture *fx = *state;
	struct pb_config cfg;
	const struct pb_profile *p;

	load(fx, "[profile corp]\n"
		 "vendor = oauth2\n"
		 "base_url = https://login.example.com\n"
		 "scope = read write\n"
		 "audience = https://api.example.com\n"
		 "client_auth = basic\n", &cfg);
	p = &cfg.profiles[0];
	assert_string_equal(p->scope, "read write");
	assert_string_equal(p->audience, "https://api.example.com");
	assert_int_equal(p->client_auth, PB_AUTH_BASIC);
	assert_string_equal(p->base_url, "https://login.example.com");
	assert_string_equal(p->token.origin.file, VENDORS "/oauth2.conf");
	assert_int_equal(p->token.origin.line, 9);    /* after the SPDX line and the comments */
	assert_string_equal(p->refresh.origin.file, VENDORS "/oauth2.conf");
	assert_int_equal(p->refresh.origin.line, 11);
	pb_config_free(&cfg);
}

/* An absolute token.url needs no base_url. */
static void test_oauth2_absolute_urls(void **state)
{
	struct pb_config cfg;

	load(*state, "[profile azure]\n"
		     "vendor = oauth2\n"
		     "token.url = https://login.example.com/tenant/oauth2/v2.0/token\n"
		     "refresh.url = https://login.example.com/tenant/oauth2/v2.0/token\n", &cfg);
	assert_null(cfg.profiles[0].base_url);
	assert_string_equal(cfg.profiles[0].token.url,
			    "https://login.example.com/tenant/oauth2/v2.0/token");
	assert_string_equal(cfg.profiles[0].token.origin.file, ((struct fixture *)*state)->conf);
	assert_int_equal(cfg.profiles[0].token.origin.line, 3);
	pb_config_free(&cfg);
}

/* ---------------------------------------------------------------- layering */

static const char layered[] =
	"[defaults]\n"
	"timeout = 10\n"
	"refresh_at = 0.5\n"
	"ca_file = /etc/ssl/corp.pem\n"
	"proxy = http://proxy.example:3128\n"
	"\n"
	"[vendor acme]\n"
	"base_url = https://api.acme.example\n"
	"fields = email, secret_key\n"
	"token.url = /auth/token\n"
	"token.body = {\"email\": \"${email}\", \"secretKey\": \"${secret_key}\"}\n"
	"token.header.X-Api-Version = 2\n"
	"token.header.X-Client = pam_bearer\n"
	"response.token = token | data.token\n"
	"lifetime = 3600\n"
	"scheme = Token\n"
	"\n"
	"[profile a]\n"
	"vendor = acme\n"
	"timeout = 2.5\n"
	"base_url = https://staging.acme.example\n"
	"token.header.x-api-version = 3\n"
	"token.header.X-Client =\n"
	"credentials = system\n"
	"users = alice, bob\n"
	"groups = staff, domain users@corp.example\n"
	"\n"
	"[profile b]\n"
	"vendor = acme\n";

static void test_layering(void **state)
{
	struct fixture *fx = *state;
	struct pb_config cfg;
	const struct pb_profile *a, *b;

	load(fx, layered, &cfg);
	assert_int_equal(cfg.nfiles, 1);        /* acme is inline: no preset read */
	assert_true(cfg.timeout == 10.0);
	assert_true(cfg.refresh_at == 0.5);
	assert_string_equal(cfg.vendor_dir, VENDORS);
	assert_string_equal(cfg.system_credentials_dir, CREDS_DIR);
	assert_string_equal(cfg.broker_socket, "/run/pam_bearer/broker.sock");
	assert_int_equal(cfg.nprofiles, 2);
	a = &cfg.profiles[0];
	b = &cfg.profiles[1];

	/* the profile's own keys win over [defaults] and the vendor */
	assert_true(a->timeout == 2.5);
	assert_string_equal(a->base_url, "https://staging.acme.example");
	/* [defaults] fill in what the profile does not set */
	assert_true(a->refresh_at == 0.5);
	assert_string_equal(a->ca_file, "/etc/ssl/corp.pem");
	assert_string_equal(a->proxy, "http://proxy.example:3128");
	/* headers: replaced by name whatever the case, unset by an empty value */
	assert_int_equal(a->token.nheaders, 1);
	assert_string_equal(a->token.headers[0].name, "x-api-version");
	assert_string_equal(a->token.headers[0].value, "3");
	assert_int_equal(a->refresh.nheaders, 0);
	assert_int_equal(a->credentials, PB_CRED_SYSTEM);
	assert_string_equal(joined(a->users, a->nusers), "alice, bob");
	assert_string_equal(joined(a->groups, a->ngroups), "staff, domain users@corp.example");
	assert_string_equal(a->scheme, "Token");
	assert_string_equal(a->lifetime, "3600");
	assert_string_equal(joined(a->fields, a->nfields), "email, secret_key");
	assert_int_equal(a->token.format, PB_FMT_JSON);
	assert_string_equal(a->token.origin.file, fx->conf);
	assert_int_equal(a->token.origin.line, 10);

	/* b: the vendor as written, [defaults] applied */
	assert_true(b->timeout == 10.0);
	assert_true(b->refresh_at == 0.5);
	assert_string_equal(b->base_url, "https://api.acme.example");
	assert_int_equal(b->token.nheaders, 2);
	assert_string_equal(b->token.headers[0].name, "X-Api-Version");
	assert_string_equal(b->token.headers[0].value, "2");
	assert_string_equal(b->token.headers[1].name, "X-Client");
	assert_string_equal(b->token.headers[1].value, "pam_bearer");
	assert_int_equal(b->credentials, PB_CRED_USER);
	assert_int_equal(b->nusers, 0);
	assert_int_equal(b->origin.line, 28);
	pb_config_free(&cfg);
}

/* An inline [vendor apivideo] replaces the preset wholesale: nothing of it is read. */
static void test_inline_vendor_replaces_preset(void **state)
{
	struct pb_config cfg;
	const struct pb_profile *p;

	load(*state, "[vendor apivideo]\n"
		     "base_url = https://mirror.example\n"
		     "fields = api_key\n"
		     "token.url = /token\n"
		     "token.body = key=${api_key}\n"
		     "response.token = t\n"
		     "[profile v]\n"
		     "vendor = apivideo\n", &cfg);
	assert_int_equal(cfg.nfiles, 1);
	p = &cfg.profiles[0];
	assert_string_equal(p->base_url, "https://mirror.example");
	assert_null(p->refresh.url);
	assert_null(p->resp_refresh_token);
	assert_null(p->resp_expires_in);
	assert_string_equal(p->lifetime, "jwt");        /* the built-in default */
	assert_string_equal(p->scheme, "Bearer");
	assert_int_equal(p->token.format, PB_FMT_FORM);
	pb_config_free(&cfg);
}

/* A profile overrides preset keys, and an empty value unsets one. */
static void test_profile_overrides_preset(void **state)
{
	struct pb_config cfg;
	const struct pb_profile *p;

	load(*state, "[profile sandbox]\n"
		     "vendor = apivideo\n"
		     "base_url = https://sandbox.api.video\n"
		     "refresh.url =\n"
		     "response.expires_in =\n"
		     "lifetime = 600\n"
		     "token.header.X-Trace = on\n", &cfg);
	p = &cfg.profiles[0];
	assert_string_equal(p->base_url, "https://sandbox.api.video");
	assert_null(p->refresh.url);
	assert_null(p->resp_expires_in);
	assert_string_equal(p->lifetime, "600");
	assert_string_equal(p->resp_refresh_token, "refresh_token");
	assert_int_equal(p->token.nheaders, 1);
	assert_string_equal(p->token.headers[0].name, "X-Trace");
	pb_config_free(&cfg);
}

static void test_preset_read_once(void **state)
{
	struct pb_config cfg;

	load(*state, "[profile one]\nvendor = apivideo\n"
		     "[profile two]\nvendor = unith\n"
		     "[profile three]\nvendor = apivideo\n", &cfg);
	assert_int_equal(cfg.nfiles, 3);
	assert_int_equal(cfg.nprofiles, 3);
	assert_string_equal(cfg.profiles[0].base_url, cfg.profiles[2].base_url);
	assert_ptr_equal(cfg.profiles[0].base_url, cfg.profiles[2].base_url);
	pb_config_free(&cfg);
}

/* Profiles keep file order; lookup by name. */
static void test_order_and_lookup(void **state)
{
	struct pb_config cfg;

	load(*state, "[profile zeta]\nvendor = apivideo\n"
		     "[defaults]\ntimeout = 3\n"
		     "[profile alpha]\nvendor = unith\n"
		     "[profile mid]\nvendor = hautai\n", &cfg);
	assert_int_equal(cfg.nprofiles, 3);
	assert_string_equal(cfg.profiles[0].name, "zeta");
	assert_string_equal(cfg.profiles[1].name, "alpha");
	assert_string_equal(cfg.profiles[2].name, "mid");
	/* [defaults] applies wherever it is in the file */
	assert_true(cfg.profiles[0].timeout == 3.0);
	assert_ptr_equal(pb_config_profile(&cfg, "alpha"), &cfg.profiles[1]);
	assert_ptr_equal(pb_config_profile(&cfg, "mid"), &cfg.profiles[2]);
	assert_null(pb_config_profile(&cfg, "nope"));
	pb_config_free(&cfg);
}

static void test_empty_config(void **state)
{
	struct pb_config cfg;

	load(*state, "# nothing yet\n", &cfg);
	assert_int_equal(cfg.nprofiles, 0);
	assert_true(cfg.timeout == 5.0);
	assert_true(cfg.refresh_at == 0.75);
	assert_null(pb_config_profile(&cfg, "x"));
	pb_config_free(&cfg);
	pb_config_free(&cfg);   /* twice is harmless */
}

static void test_formats(void **state)
{
	struct pb_config cfg;

	load(*state, "[vendor v]\n"
		     "fields = k\n"
		     "base_url = http://127.0.0.1:8080\n"
		     "token.url = /t\n"
		     "response.token = t\n"
		     "[profile nobody]\nvendor = v\n"
		     "[profile json]\nvendor = v\ntoken.body =   { \"k\": \"${k}\" }\n"
		     "[profile form]\nvendor = v\ntoken.body = k=${k}\n"
		     "[profile forced]\nvendor = v\ntoken.body = {${k}}\ntoken.format = form\n"
		     "[profile forced2]\nvendor = v\ntoken.body = k=${k}\ntoken.format = json\n",
	     &cfg);
	assert_null(cfg.profiles[0].token.body);
	assert_int_equal(cfg.profiles[0].token.format, PB_FMT_FORM);
	assert_int_equal(cfg.profiles[1].token.format, PB_FMT_JSON);
	assert_int_equal(cfg.profiles[2].token.format, PB_FMT_FORM);
	assert_int_equal(cfg.profiles[3].token.format, PB_FMT_FORM);
	assert_int_equal(cfg.profiles[4].token.format, PB_FMT_JSON);
	assert_string_equal(pb_format_name(PB_FMT_JSON), "json");
	assert_string_equal(pb_format_name(PB_FMT_FORM), "form");
	assert_string_equal(pb_format_name(PB_FMT_RAW), "raw");
	pb_config_free(&cfg);
}

/* [defaults] vendor_dir and system_credentials_dir replace the compiled-in ones. */
static void test_vendor_dir(void **state)
{
	struct fixture *fx = *state;
	struct pb_config cfg;
	char path[256], text[512];

	snprintf(path, sizeof(path), "%s/acme.conf", fx->vendors);
	write_file(path, "# acme\n[vendor acme]\nbase_url = https://acme.example\n"
			 "fields = key\ntoken.url = /t\ntoken.body = {\"k\": \"${key}\"}\n"
			 "response.token = token\n", 0644);
	snprintf(text, sizeof(text), "[defaults]\nvendor_dir = %s\n"
		 "system_credentials_dir = /srv/creds\n"
		 "[profile a]\nvendor = acme\n", fx->vendors);
	load(fx, text, &cfg);
	assert_string_equal(cfg.vendor_dir, fx->vendors);
	assert_string_equal(cfg.system_credentials_dir, "/srv/creds");
	assert_string_equal(cfg.profiles[0].base_url, "https://acme.example");
	assert_string_equal(cfg.profiles[0].token.origin.file, path);
	assert_int_equal(cfg.profiles[0].token.origin.line, 5);
	pb_config_free(&cfg);
}

/* Values at the edges of their ranges. */
static void test_value_edges(void **state)
{
	struct pb_config cfg;

	load(*state, "[defaults]\ntimeout = 300\nrefresh_at = 0.99\n"
		     "[profile p]\nvendor = apivideo\ntimeout = 0.5\nrefresh_at = 0.01\n"
		     "scheme = Bearer-2.0_x\ncredentials = system\n"
		     "lifetime = jwt | 60 | none\nresponse.token = data.0.token | token\n", &cfg);
	assert_true(cfg.timeout == 300.0);
	assert_true(cfg.refresh_at == 0.99);
	assert_true(cfg.profiles[0].timeout == 0.5);
	assert_true(cfg.profiles[0].refresh_at == 0.01);
	assert_string_equal(cfg.profiles[0].scheme, "Bearer-2.0_x");
	pb_config_free(&cfg);
}

/* ---------------------------------------------------------------- errors */

static void test_error_sections(void **state)
{
	struct fixture *fx = *state;

	load_fails(fx, "[foo]\n", ":1: unknown section [foo] (expected [defaults], "
		   "[vendor NAME] or [profile NAME])");
	load_fails(fx, "\n[foo bar]\n", ":2: unknown section [foo bar] (expected [defaults], "
		   "[vendor NAME] or [profile NAME])");
	load_fails(fx, "[defaults x]\n", ":1: [defaults x]: [defaults] takes no name");
	load_fails(fx, "[vendor]\n", ":1: [vendor] needs a name: [vendor NAME]");
	load_fails(fx, "[profile]\n", ":1: [profile] needs a name: [profile NAME]");
	/* the INI layer's own errors come through */
	load_fails(fx, "[profile p]\nvendor = a\nvendor = b\n",
		   ":3: duplicate key 'vendor' (first set at line 2)");
}

static void test_error_keys(void **state)
{
	struct fixture *fx = *state;

	load_fails(fx, "[vendor x]\nfoo = 1\n", ":2: unknown key 'foo' in [vendor x]");
	load_fails(fx, "[defaults]\nfoo = 1\n", ":2: unknown key 'foo' in [defaults]");
	load_fails(fx, "[vendor x]\ntoken.header. = 1\n",
		   ":2: unknown key 'token.header.' in [vendor x]");
	load_fails(fx, "[vendor x]\nusers = a\n",
		   ":2: users is not allowed in [vendor] (only in [profile])");
	load_fails(fx, "[profile p]\nvendor_dir = /x\n",
		   ":2: vendor_dir is not allowed in [profile] (only in [defaults])");
	load_fails(fx, "[defaults]\nbase_url = https://x\n",
		   ":2: base_url is not allowed in [defaults] (only in [vendor] and [profile])");
	load_fails(fx, "[vendor x]\ntimeout = 1\n",
		   ":2: timeout is not allowed in [vendor] (only in [defaults] and [profile])");
	load_fails(fx, "[defaults]\nTimeout = 1\n",
		   ":2: unknown key 'Timeout' in [defaults] (did you mean 'timeout'?)");
	load_fails(fx, "[profile p]\nvendor = apivideo\nrefresh_ta = 0.5\n",
		   ":3: unknown key 'refresh_ta' in [profile p] (did you mean 'refresh_at'?)");
	{
		char text[512], rest[512], name[130];

		memset(name, 'X', 129);
		name[129] = '\0';
		snprintf(text, sizeof(text), "[vendor x]\ntoken.header.%s = 1\n", name);
		snprintf(rest, sizeof(rest), ":2: token.header.%s: '%s' is not an HTTP header name",
			 name, name);
		load_fails(fx, text, rest);
	}
}

/* One bad value per kind; the value is quoted except for templates and proxies. */
static void test_error_values(void **state)
{
	static const struct { const char *line, *msg; } cases[] = {
		{ "timeout = abc", "timeout: 'abc' is not a number of seconds in (0, 300]" },
		{ "timeout = 0", "timeout: '0' is not a number of seconds in (0, 300]" },
		{ "timeout = 301", "timeout: '301' is not a number of seconds in (0, 300]" },
		{ "timeout = -1", "timeout: '-1' is not a number of seconds in (0, 300]" },
		{ "timeout = 1e2", "timeout: '1e2' is not a number of seconds in (0, 300]" },
		{ "timeout = 0x10", "timeout: '0x10' is not a number of seconds in (0, 300]" },
		{ "timeout =", "timeout: empty value, expected a number of seconds in (0, 300]" },
		{ "refresh_at = 1", "refresh_at: '1' is not a fraction in (0, 1)" },
		{ "refresh_at = 0", "refresh_at: '0' is not a fraction in (0, 1)" },
		{ "type = foo", "type: 'foo' is not exchange or static" },
		{ "base_url = ftp://x", "base_url: 'ftp://x' is not an http:// or https:// URL" },
		{ "base_url = https://", "base_url: 'https://' has no host after the scheme" },
		{ "base_url = https://a b", "base_url: 'https://a b' holds a space or tab (a URL has "
		  "none; write %20 where one is meant)" },
		{ "token.url = auth/token", "token.url: 'auth/token' is not a path starting with '/' "
					    "or an http(s):// URL" },
		{ "refresh.url = /a b", "refresh.url: '/a b' holds a space or tab (a URL has none; "
					"write %20 where one is meant)" },
		{ "token.format = raw", "token.format: 'raw' is not json or form" },
		{ "refresh.format = JSON", "refresh.format: 'JSON' is not json or form" },
		{ "response.token = a..b", "response.token: 'a..b' is not a response path such as "
					   "'data.token | token'" },
		{ "response.expires_in = a |", "response.expires_in: 'a |' is not a response path "
					       "such as 'expires_in'" },
		{ "lifetime = jwt | soon", "lifetime: 'jwt | soon' is not a lifetime (jwt, SECONDS "
					   "or none; alternatives separated by '|')" },
		{ "lifetime =", "lifetime: empty value, expected a lifetime (jwt, SECONDS or none; "
				"alternatives separated by '|')" },
		{ "scheme = Bear er", "scheme: 'Bear er' is not an HTTP authentication scheme "
				      "such as Bearer" },
		{ "scheme = Bearer:", "scheme: 'Bearer:' is not an HTTP authentication scheme "
				      "such as Bearer" },
		{ "client_auth = header", "client_auth: 'header' is not body, basic or private_key_jwt" },
		{ "fields = a, scope", "fields: 'a, scope' names a reserved field (refresh_token, "
				       "scope and audience are always known to templates)" },
		{ "fields = a, b, a", "fields: 'a, b, a' names a field twice" },
		{ "fields = a b", "fields: 'a b' has an invalid field name (letters, digits, "
				  "'_', '.', '-')" },
		{ "fields = a,", "fields: 'a,' has an empty item" },
		{ "fields =", "fields: empty value, expected a comma-separated list of field names" },
		{ "token.body = a=${x", "token.body: malformed template: unterminated ${" },
		{ "refresh.body = ${}", "refresh.body: malformed template: empty field name" },
		{ "token.header.X-Key = ${a b}", "token.header.X-Key: malformed template: bad "
						 "field name 'a b'" },
	};
	struct fixture *fx = *state;
	char text[256], rest[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[vendor x]\n%s\n", cases[i].line);
		if (strncmp(cases[i].line, "timeout", 7) == 0 ||
		    strncmp(cases[i].line, "refresh_at", 10) == 0)
			snprintf(text, sizeof(text), "[defaults]\n%s\n", cases[i].line);
		snprintf(rest, sizeof(rest), ":2: %s", cases[i].msg);
		load_fails(fx, text, rest);
	}
}

static void test_error_profile_values(void **state)
{
	static const struct { const char *line, *msg; } cases[] = {
		{ "vendor = a/b", "vendor: 'a/b' is not a vendor name" },
		{ "vendor = .hidden", "vendor: '.hidden' is not a vendor name" },
		{ "vendor =", "vendor: empty value, expected a vendor name" },
		{ "credentials = root", "credentials: 'root' is not user or system" },
		{ "users = a,,b", "users: 'a,,b' has an empty item" },
		{ "groups = ,", "groups: ',' has an empty item" },
		{ "scope = a\tb", "scope: 'a?b' is not text without control characters" },
		{ "ca_file = certs.pem", "ca_file: 'certs.pem' is not an absolute path" },
		/* 429 is a rate limit, never refused credentials */
		{ "refused_status = 401, 429", "refused_status: '401, 429' is not a list of up to 8 "
					       "HTTP statuses 400-499 (not 429)" },
		{ "refused_status = 500", "refused_status: '500' is not a list of up to 8 HTTP "
					  "statuses 400-499 (not 429)" },
		{ "refused_status = 401,,403", "refused_status: '401,,403' is not a list of up to "
					       "8 HTTP statuses 400-499 (not 429)" },
		{ "refused_status = 4010", "refused_status: '4010' is not a list of up to 8 HTTP "
					   "statuses 400-499 (not 429)" },
		/* a proxy may carry a password: never quoted */
		{ "proxy = http://u:SECRET@proxy .example", "proxy: the value is not a proxy URL "
							  "without blanks" },
	};
	struct fixture *fx = *state;
	char text[256], rest[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[profile p]\n%s\n", cases[i].line);
		snprintf(rest, sizeof(rest), ":2: %s", cases[i].msg);
		load_fails(fx, text, rest);
	}
}

/* Values of vendors no profile uses are checked too. */
static void test_error_unused_vendor(void **state)
{
	load_fails(*state, "[profile p]\nvendor = apivideo\n[vendor unused]\nlifetime = forever\n",
		   ":4: lifetime: 'forever' is not a lifetime (jwt, SECONDS or none; "
		   "alternatives separated by '|')");
}

static void test_error_no_vendor(void **state)
{
	load_fails(*state, "[profile p]\ncredentials = user\n",
		   ":1: [profile p]: no 'vendor' key (a preset name or the name of a "
		   "[vendor NAME] section)");
}

static void test_error_unknown_vendor(void **state)
{
	load_fails(*state, "[profile p]\n\nvendor = nope\n",
		   ":3: [profile p]: unknown vendor 'nope' (no [vendor nope] section, no preset "
		   VENDORS "/nope.conf; presets: apivideo, apivideo-sandbox, github-app, "
		   "google-service-account, hautai, hautai-login, oauth2, rythmex-apitoken, "
		   "rythmex-jwt, rythmex-token, unith)");
	/* a slip gets a "did you mean" */
	load_fails(*state, "[profile p]\nvendor = api-video\n",
		   ":2: [profile p]: unknown vendor 'api-video' (did you mean apivideo? no [vendor "
		   "api-video] section, no preset " VENDORS "/api-video.conf; presets: apivideo, "
		   "apivideo-sandbox, github-app, google-service-account, hautai, hautai-login, "
		   "oauth2, rythmex-apitoken, rythmex-jwt, rythmex-token, unith)");
}

static void test_error_no_base_url(void **state)
{
	load_fails(*state, "[profile corp]\nvendor = oauth2\n",
		   ":1: [profile corp]: base_url is not set (vendor 'oauth2' has none; set it "
		   "in [profile corp])");
	/* a relative refresh.url needs it as much as token.url */
	load_fails(*state, "[profile corp]\nvendor = oauth2\n"
		   "token.url = https://login.example.com/token\n",
		   ":1: [profile corp]: base_url is not set (vendor 'oauth2' has none; set it "
		   "in [profile corp])");
	/* an empty value unsets a preset's base_url */
	load_fails(*state, "[profile u]\nvendor = unith\nbase_url =\n",
		   ":1: [profile u]: base_url is not set (vendor 'unith' has none; set it "
		   "in [profile u])");
}

static void test_error_missing_request_keys(void **state)
{
	struct fixture *fx = *state;

	load_fails(fx, "[vendor x]\nbase_url = https://x.example\nfields = k\n"
		   "response.token = t\n[profile p]\nvendor = x\n",
		   ":5: [profile p]: vendor 'x' has no token.url");
	load_fails(fx, "[vendor x]\nbase_url = https://x.example\nfields = k\n"
		   "token.url = /t\n[profile p]\nvendor = x\n",
		   ":5: [profile p]: vendor 'x' has no response.token");
	load_fails(fx, "[profile p]\nvendor = unith\nresponse.token =\n",
		   ":1: [profile p]: vendor 'unith' has no response.token");
}

static void test_error_static_without_token(void **state)
{
	struct fixture *fx = *state;

	load_fails(fx, "[vendor s]\ntype = static\nfields = key\n[profile p]\nvendor = s\n",
		   ":4: [profile p]: vendor 's' is static but its fields have no 'token'");
	load_fails(fx, "[profile h]\nvendor = hautai\nfields = expires\n",
		   ":1: [profile h]: vendor 'hautai' is static but its fields have no 'token'");
}

static void test_error_template_fields(void **state)
{
	struct fixture *fx = *state;

	load_fails(fx, "[vendor x]\nbase_url = https://x.example\nfields = email\n"
		   "token.url = /t\ntoken.body = {\"p\": \"${password}\"}\nresponse.token = t\n"
		   "[profile p]\nvendor = x\n",
		   ":5: [profile p]: token.body names unknown field 'password' "
		   "(known: email, scope, audience)");
	load_fails(fx, "[vendor x]\nbase_url = https://x.example\nfields = email\n"
		   "token.url = /t\ntoken.body = {\"p\": \"${email}\"}\nresponse.token = t\n"
		   "[profile p]\nvendor = x\ntoken.header.X-Key = ${api_key?}\n",
		   ":9: [profile p]: token.header.X-Key names unknown field 'api_key' "
		   "(known: email, scope, audience)");
	load_fails(fx, "[vendor x]\nbase_url = https://x.example\nfields = email\n"
		   "token.url = /t\ntoken.body = {\"r\": \"${refresh_token}\"}\n"
		   "response.token = t\n[profile p]\nvendor = x\n",
		   ":5: [profile p]: token.body names field 'refresh_token', which only "
		   "refresh.* templates may use");
	load_fails(fx, "[profile p]\nvendor = apivideo\nrefresh.header.X-Id = ${id}\n",
		   ":3: [profile p]: refresh.header.X-Id names unknown field 'id' "
		   "(known: api_key, scope, audience, refresh_token)");
	/* a profile narrowing a preset's fields: the error points into the preset */
	load_fails_at(fx, "[profile u]\nvendor = unith\nfields = email\n",
		      VENDORS "/unith.conf", ":11: [profile u]: token.body names unknown "
		      "field 'secret_key' (known: email, scope, audience)");
	/* signed assertions: iat & co. in assertion.* only, ${assertion} where one is signed */
	load_fails(fx, "[profile p]\nvendor = apivideo\ntoken.header.X-At = ${iat}\n",
		   ":3: [profile p]: token.header.X-At names unknown field 'iat' "
		   "(known: api_key, scope, audience)");
	load_fails(fx, "[profile p]\nvendor = apivideo\ntoken.header.X-A = ${assertion}\n",
		   ":3: [profile p]: token.header.X-A names unknown field 'assertion' "
		   "(known: api_key, scope, audience)");
	load_fails(fx, "[profile p]\nvendor = github-app\nassertion.claims = {\"iss\": \"${app}\"}\n",
		   ":3: [profile p]: assertion.claims names unknown field 'app' (known: app_id, "
		   "installation_id, private_key_file, scope, audience, iat, exp, jti, token_url)");
	load_fails(fx, "[profile p]\nvendor = apivideo\nassertion.claims = {\"iat\": ${iat}}\n",
		   ":3: [profile p]: assertion.claims is set but the fields have no "
		   "private_key_file (or key_file) to sign with");
	load_fails(fx, "[profile p]\nvendor = oauth2\nbase_url = https://x.example\n"
		   "client_auth = private_key_jwt\nfields = client_id\n",
		   ":4: [profile p]: client_auth = private_key_jwt needs the fields client_id "
		   "and private_key_file");
	load_fails(fx, "[profile p]\nvendor = oauth2\nbase_url = https://x.example\n"
		   "client_auth = private_key_jwt\ntoken.format = json\n",
		   ":4: [profile p]: client_auth = private_key_jwt sends the assertion in a form "
		   "body; token.format (and refresh.format) must be form");
	load_fails(fx, "[profile p]\nvendor = github-app\ntoken.url = /a/${installation}\n",
		   ":3: [profile p]: token.url names unknown field 'installation' (known: app_id, "
		   "installation_id, private_key_file, scope, audience, assertion)");
}

static void test_error_refresh(void **state)
{
	struct fixture *fx = *state;

	load_fails(fx, "[vendor x]\nbase_url = https://x.example\nfields = k\n"
		   "token.url = /t\nresponse.token = t\nrefresh.url = /r\n"
		   "refresh.body = {\"r\": \"${refresh_token}\"}\n[profile p]\nvendor = x\n",
		   ":6: [profile p]: refresh.url is set but response.refresh_token is not");
	load_fails(fx, "[vendor x]\nbase_url = https://x.example\nfields = k\n"
		   "token.url = /t\nresponse.token = t\nrefresh.url = /r\n"
		   "response.refresh_token = rt\nrefresh.body = {\"k\": \"${k}\"}\n"
		   "[profile p]\nvendor = x\n",
		   ":6: [profile p]: refresh.url is set but no refresh.body or refresh.header.* "
		   "uses ${refresh_token}");
}

static void test_refresh_token_in_header(void **state)
{
	struct pb_config cfg;

	load(*state, "[vendor x]\nbase_url = https://x.example\nfields = k\n"
		     "token.url = /t\nresponse.token = t\nrefresh.url = /r\n"
		     "response.refresh_token = rt\n"
		     "refresh.header.Authorization = Bearer ${refresh_token}\n"
		     "[profile p]\nvendor = x\n", &cfg);
	assert_int_equal(cfg.profiles[0].refresh.nheaders, 1);
	assert_string_equal(cfg.profiles[0].refresh.headers[0].name, "Authorization");
	assert_string_equal(cfg.profiles[0].refresh.headers[0].value, "Bearer ${refresh_token}");
	assert_null(cfg.profiles[0].refresh.body);
	pb_config_free(&cfg);
}

static void test_error_client_auth_basic(void **state)
{
	load_fails(*state, "[profile p]\nvendor = unith\nclient_auth = basic\n",
		   ":3: [profile p]: client_auth = basic needs the fields client_id and "
		   "client_secret");
}

/* broker_socket moves the broker, and its state dir (broker/) with it. */
static void test_broker_socket(void **state)
{
	struct pb_config cfg;
	struct pb_err err;
	char dir[64];

	pb_err_clear(&err);
	load(*state, "[defaults]\nbroker_socket = /srv/pb/b.sock\n"
		     "[profile p]\nvendor = unith\ncredentials = system\n", &cfg);
	assert_string_equal(cfg.broker_socket, "/srv/pb/b.sock");
	assert_int_equal(pb_config_state_dir(&cfg, dir, sizeof(dir), &err), 0);
	assert_string_equal(dir, "/srv/pb/broker");
	pb_config_free(&cfg);
	load(*state, "[profile p]\nvendor = unith\n", &cfg);
	assert_int_equal(pb_config_state_dir(&cfg, dir, sizeof(dir), &err), 0);
	assert_string_equal(dir, "/run/pam_bearer/broker");
	pb_config_free(&cfg);
	load(*state, "[defaults]\nbroker_socket = /b.sock\n[profile p]\nvendor = unith\n", &cfg);
	assert_int_equal(pb_config_state_dir(&cfg, dir, sizeof(dir), &err), -1);
	assert_string_equal(err.msg, "broker_socket /b.sock: not in a directory of its own");
	pb_config_free(&cfg);
}

/* handoff is gone: an old config is told why, and what renews system profiles now */
static void test_error_handoff(void **state)
{
	load_fails(*state, "[profile p]\nvendor = unith\ncredentials = system\nhandoff = yes\n",
		   ":4: handoff was removed: a system secret never reaches a process of the user; "
		   "the broker (bearer-token broker, socket-activated by "
		   "bearer-token-broker.socket) renews credentials = system profiles during a "
		   "session (delete the line)");
	load_fails(*state, "[profile p]\nvendor = unith\nhandoff = no\n",
		   ":3: handoff was removed: a system secret never reaches a process of the user; "
		   "the broker (bearer-token broker, socket-activated by "
		   "bearer-token-broker.socket) renews credentials = system profiles during a "
		   "session (delete the line)");
}

/* ---------------------------------------------------------------- file checks */

static void test_error_config_file(void **state)
{
	struct fixture *fx = *state;
	struct pb_err err = { 0 };
	struct pb_config cfg;
	char link[160], rest[512];

	assert_int_equal(pb_config_load(fx->conf, VENDORS, CREDS_DIR, &cfg, &err), -1);
	assert_int_equal(err.code, PB_E_CONFIG);
	assert_msg(err.msg, fx->conf, ": No such file or directory");

	write_file(fx->conf, "[profile p]\nvendor = apivideo\n", 0664);
	assert_int_equal(pb_config_load(fx->conf, VENDORS, CREDS_DIR, &cfg, &err), -1);
	snprintf(rest, sizeof(rest), ": mode 0664, must not be writable by group or others "
		 "(chmod go-w %s)", fx->conf);
	assert_msg(err.msg, fx->conf, rest);
	assert_int_equal(chmod(fx->conf, 0602), 0);
	assert_int_equal(pb_config_load(fx->conf, VENDORS, CREDS_DIR, &cfg, &err), -1);
	snprintf(rest, sizeof(rest), ": mode 0602, must not be writable by group or others "
		 "(chmod go-w %s)", fx->conf);
	assert_msg(err.msg, fx->conf, rest);

	/* readable by all is fine (it holds no secret) */
	assert_int_equal(chmod(fx->conf, 0444), 0);
	assert_int_equal(pb_config_load(fx->conf, VENDORS, CREDS_DIR, &cfg, &err), 0);
	pb_config_free(&cfg);

	snprintf(link, sizeof(link), "%s/link.conf", fx->dir);
	assert_int_equal(symlink(fx->conf, link), 0);
	assert_int_equal(pb_config_load(link, VENDORS, CREDS_DIR, &cfg, &err), -1);
	assert_msg(err.msg, link, ": is a symlink, refusing it");

	assert_int_equal(pb_config_load(fx->vendors, VENDORS, CREDS_DIR, &cfg, &err), -1);
	assert_msg(err.msg, fx->vendors, ": not a regular file");
}

static void test_error_config_owner(void **state)
{
	struct fixture *fx = *state;
	struct pb_err err = { 0 };
	struct pb_config cfg;

	if (geteuid() != 0)
		skip();
	write_file(fx->conf, "[profile p]\nvendor = apivideo\n", 0644);
	assert_int_equal(chown(fx->conf, 65534, 65534), 0);
	assert_int_equal(pb_config_load(fx->conf, VENDORS, CREDS_DIR, &cfg, &err), -1);
	assert_int_equal(err.code, PB_E_CONFIG);
	{
		char who[64], rest[512];

		pb_user_name(65534, who, sizeof(who));
		snprintf(rest, sizeof(rest), ": owned by %s, must be owned by root (chown root %s)",
			 who, fx->conf);
		assert_msg(err.msg, fx->conf, rest);
	}
}

/* Write a preset into the fixture's vendor dir and load a profile using it. */
static void preset_fails(struct fixture *fx, const char *preset, mode_t mode, const char *rest)
{
	struct pb_err err = { 0 };
	struct pb_config cfg;
	char path[256], text[256];

	snprintf(path, sizeof(path), "%s/acme.conf", fx->vendors);
	write_file(path, preset, mode);
	snprintf(text, sizeof(text), "[defaults]\nvendor_dir = %s\n[profile p]\nvendor = acme\n",
		 fx->vendors);
	write_file(fx->conf, text, 0644);
	assert_int_equal(pb_config_load(fx->conf, VENDORS, CREDS_DIR, &cfg, &err), -1);
	assert_int_equal(err.code, PB_E_CONFIG);
	assert_msg(err.msg, path, rest);
	assert_null(cfg.files);
}

static void test_error_presets(void **state)
{
	struct fixture *fx = *state;
	const char *good = "[vendor acme]\nbase_url = https://a.example\nfields = k\n"
			   "token.url = /t\nresponse.token = t\n";
	char path[256], target[256], text[256];

	preset_fails(fx, "[vendor other]\n", 0644,
		     ":1: the section must be [vendor acme], as the file is named");
	preset_fails(fx, "[profile acme]\n", 0644,
		     ":1: the section must be [vendor acme], as the file is named");
	preset_fails(fx, "[vendor acme]\nfields = k\n[vendor two]\n", 0644,
		     ":3: a preset holds one section, [vendor acme]");
	preset_fails(fx, "[vendor acme]\n[defaults]\n", 0644,
		     ":2: a preset holds one section, [vendor acme]");
	preset_fails(fx, "# empty\n", 0644, ": a preset holds one section, [vendor acme]");
	preset_fails(fx, "[vendor acme]\nfields = k\nusers = bob\n", 0644,
		     ":3: users is not allowed in [vendor] (only in [profile])");
	preset_fails(fx, "[vendor acme]\nscheme = two words\n", 0644,
		     ":2: scheme: 'two words' is not an HTTP authentication scheme such as Bearer");
	snprintf(text, sizeof(text), ": mode 0664, must not be writable by group or others "
		 "(chmod go-w %s/acme.conf)", fx->vendors);
	preset_fails(fx, good, 0664, text);

	/* a symlinked preset is refused like a symlinked config */
	snprintf(target, sizeof(target), "%s/real.conf", fx->dir);
	write_file(target, good, 0644);
	snprintf(path, sizeof(path), "%s/acme.conf", fx->vendors);
	unlink(path);
	assert_int_equal(symlink(target, path), 0);
	snprintf(text, sizeof(text), "[defaults]\nvendor_dir = %s\n[profile p]\nvendor = acme\n",
		 fx->vendors);
	load_fails_at(fx, text, path, ": is a symlink, refusing it");
}

/* ---------------------------------------------------------------- who a profile applies to */

static void test_profile_applies(void **state)
{
	struct pb_config cfg;
	struct group *root = getgrgid(0);
	gid_t gids[] = { 65533, 0 };
	const struct pb_profile *all, *users, *groups;

	assert_non_null(root);
	load(*state, "[profile all]\nvendor = unith\n"
		     "[profile users]\nvendor = unith\nusers = alice, bob\n"
		     "[profile groups]\nvendor = unith\nusers = carol\ngroups = wheel, root\n",
	     &cfg);
	all = pb_config_profile(&cfg, "all");
	users = pb_config_profile(&cfg, "users");
	groups = pb_config_profile(&cfg, "groups");
	assert_true(pb_profile_applies(all, "anyone", NULL, 0));
	assert_true(pb_profile_applies(users, "bob", NULL, 0));
	assert_false(pb_profile_applies(users, "bobby", gids, 2));
	assert_false(pb_profile_applies(users, "Alice", NULL, 0));
	assert_true(pb_profile_applies(groups, "carol", NULL, 0));
	assert_true(pb_profile_applies(groups, "dave", gids, 2));    /* gid 0 is root */
	assert_false(pb_profile_applies(groups, "dave", gids, 1));
	assert_false(pb_profile_applies(groups, NULL, NULL, 0));
	pb_config_free(&cfg);
}

/* ---------------------------------------------------------------- credentials */

static void creds_path(struct fixture *fx, char *path)
{
	snprintf(path, 160, "%s/credentials", fx->dir);
}

static void test_creds_load(void **state)
{
	struct fixture *fx = *state;
	struct pb_creds c;
	struct pb_err err = { 0 };
	char path[160];

	creds_path(fx, path);
	write_file(path, "# mine\n[apivideo]\napi_key = k#1;=x\n"
			 "[unith]\nemail = a@b.example\nsecret_key = s3\n", 0600);
	assert_int_equal(pb_creds_load(path, getuid(), &c, &err), 0);
	assert_string_equal(c.path, path);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.v[0].profile, "apivideo");
	assert_string_equal(c.v[0].field, "api_key");
	assert_string_equal(c.v[0].value, "k#1;=x");
	assert_string_equal(pb_creds_get(&c, "unith", "secret_key"), "s3");
	assert_string_equal(pb_creds_get(&c, "unith", "email"), "a@b.example");
	assert_null(pb_creds_get(&c, "unith", "api_key"));
	assert_null(pb_creds_get(&c, "nope", "email"));
	pb_creds_free(&c);
	assert_null(c.v);
	assert_int_equal(c.n, 0);
	pb_creds_free(&c);

	/* 0400 is stricter than 0600: fine */
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(pb_creds_load(path, getuid(), &c, &err), 0);
	pb_creds_free(&c);
}

/* Load path and expect path + rest, with nothing left in c. */
static void creds_fail(const char *path, uid_t owner, const char *rest)
{
	struct pb_creds c;
	struct pb_err err = { 0 };

	assert_int_equal(pb_creds_load(path, owner, &c, &err), -1);
	assert_int_equal(err.code, PB_E_CONFIG);
	assert_msg(err.msg, path, rest);
	assert_null(c.v);
	assert_null(c.path);
	assert_null(strstr(err.msg, "SECRET"));
}

static void test_creds_refused(void **state)
{
	struct fixture *fx = *state;
	char path[160], link[160], rest[512];

	creds_path(fx, path);
	creds_fail(path, getuid(), ": No such file or directory");
	write_file(path, "[p]\nk = SECRET\n", 0644);
	snprintf(rest, sizeof(rest), ": bad permissions 0644, must be 0600 (chmod 600 %s)", path);
	creds_fail(path, getuid(), rest);
	assert_int_equal(chmod(path, 0640), 0);
	snprintf(rest, sizeof(rest), ": bad permissions 0640, must be 0600 (chmod 600 %s)", path);
	creds_fail(path, getuid(), rest);
	assert_int_equal(chmod(path, 0601), 0);
	snprintf(rest, sizeof(rest), ": bad permissions 0601, must be 0600 (chmod 600 %s)", path);
	creds_fail(path, getuid(), rest);

	assert_int_equal(chmod(path, 0600), 0);
	snprintf(link, sizeof(link), "%s/link", fx->dir);
	assert_int_equal(symlink(path, link), 0);
	creds_fail(link, getuid(), ": is a symlink, refusing it");
	creds_fail(fx->vendors, getuid(), ": not a regular file");
}

static void test_creds_owner(void **state)
{
	struct fixture *fx = *state;
	char path[160], rest[512], who[64], want[64];
	uid_t owner = getuid(), actual = getuid();

	creds_path(fx, path);
	write_file(path, "[p]\nk = SECRET\n", 0600);
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 65534, 65534), 0);
		actual = 65534;
	} else {
		owner = getuid() + 1;
	}
	/* by name, and the fix (issue 13) */
	pb_user_name(actual, who, sizeof(who));
	pb_user_name(owner, want, sizeof(want));
	snprintf(rest, sizeof(rest), ": owned by %s, must be owned by %s (chown %s %s)", who, want,
		 want, path);
	creds_fail(path, owner, rest);
}

static void test_creds_syntax(void **state)
{
	struct fixture *fx = *state;
	char path[160];

	creds_path(fx, path);
	write_file(path, "[profile p]\nk = SECRET\n", 0600);
	creds_fail(path, getuid(), ":1: [profile p]: sections are profile names alone, e.g. [p]");
	write_file(path, "[p]\n.k = SECRET\n", 0600);
	creds_fail(path, getuid(), ":2: '.k' is not a field name");
	write_file(path, "[p]\nk = SECRET\nk = SECRET2\n", 0600);
	creds_fail(path, getuid(), ":3: duplicate key 'k' (first set at line 2)");
	write_file(path, "k = SECRET\n", 0600);
	creds_fail(path, getuid(), ":1: key 'k' outside any section");
	write_file(path, "[p]\nSECRET\n", 0600);
	creds_fail(path, getuid(), ":2: expected 'key = value'");
}

static void test_creds_check(void **state)
{
	const char *fields[] = { "api_key", "other" };
	const char *st_fields[] = { "token", "expires" };
	struct pb_profile p = { .name = "apivideo", .fields = fields, .nfields = 2 };
	struct pb_profile s = { .name = "haut", .type = PB_TYPE_STATIC, .fields = st_fields,
				.nfields = 2 };
	struct pb_creds c = { .path = strdup("/x/credentials") };
	struct pb_err err = { 0 };

	assert_int_equal(pb_creds_add(&c, "apivideo", "api_key", "SECRET", &err), 0);
	assert_int_equal(pb_creds_check(&c, &p, &err), -1);
	assert_int_equal(err.code, PB_E_CONFIG);
	assert_string_equal(err.msg, "/x/credentials: [apivideo] has no 'other'");
	assert_int_equal(pb_creds_add(&c, "apivideo", "other", "", &err), 0);
	assert_int_equal(pb_creds_check(&c, &p, &err), -1);
	assert_string_equal(err.msg, "/x/credentials: [apivideo] has an empty 'other'");
	assert_int_equal(pb_creds_add(&c, "apivideo", "other", "x", &err), 0);
	assert_int_equal(pb_creds_check(&c, &p, &err), 0);

	assert_int_equal(pb_creds_check(&c, &s, &err), -1);
	assert_string_equal(err.msg, "/x/credentials: [haut] has no 'token'");
	assert_int_equal(pb_creds_add(&c, "haut", "token", "SECRET", &err), 0);
	assert_int_equal(pb_creds_add(&c, "haut", "expires", "next year", &err), 0);
	assert_int_equal(pb_creds_check(&c, &s, &err), -1);
	assert_string_equal(err.msg, "/x/credentials: [haut] 'expires' is not an ISO 8601 time "
			    "such as 2027-01-31T00:00:00Z");
	assert_int_equal(pb_creds_add(&c, "haut", "expires", "2027-01-31T00:00:00Z", &err), 0);
	assert_int_equal(pb_creds_check(&c, &s, &err), 0);
	pb_creds_free(&c);
}

static void test_creds_add(void **state)
{
	struct pb_creds c = { 0 };
	struct pb_err err = { 0 };

	assert_int_equal(pb_creds_add(&c, "p", "k", "one", &err), 0);
	assert_int_equal(pb_creds_add(&c, "p", "j", "two", &err), 0);
	/* a second value replaces the first */
	assert_int_equal(pb_creds_add(&c, "p", "k", "three", &err), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(pb_creds_get(&c, "p", "k"), "three");
	assert_string_equal(pb_creds_get(&c, "p", "j"), "two");
	assert_int_equal(pb_creds_add(&c, "../p", "k", "x", &err), -1);
	assert_string_equal(err.msg, "invalid profile or field name");
	assert_int_equal(pb_creds_add(&c, "p", "", "x", &err), -1);
	assert_int_equal(c.n, 2);
	pb_creds_free(&c);
}

static void test_creds_system_path(void **state)
{
	static const struct { const char *user, *msg; } bad[] = {
		{ "", "user name '' is empty: no system credentials file for it" },
		{ "a/b", "user name 'a/b' holds a '/': no system credentials file for it" },
		{ "..", "user name '..' starts with '.': no system credentials file for it" },
		{ ".alice", "user name '.alice' starts with '.': no system credentials file for it" },
		{ "al\nice", "user name 'al?ice' holds a control character: no system "
			     "credentials file for it" },
	};
	struct pb_err err = { 0 };
	char out[512], longname[300];

	assert_int_equal(pb_creds_system_path("/etc/c.d", "alice", out, sizeof(out), &err), 0);
	assert_string_equal(out, "/etc/c.d/alice");
	assert_int_equal(pb_creds_system_path("/etc/c.d", "j.doe@corp-1", out, sizeof(out), &err), 0);
	assert_string_equal(out, "/etc/c.d/j.doe@corp-1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pb_creds_system_path("/etc/c.d", bad[i].user, out, sizeof(out),
						      &err), -1);
		assert_int_equal(err.code, PB_E_CONFIG);
		assert_string_equal(err.msg, bad[i].msg);
	}
	assert_int_equal(pb_creds_system_path("/etc/c.d", NULL, out, sizeof(out), &err), -1);
	memset(longname, 'a', 256);
	longname[256] = '\0';
	assert_int_equal(pb_creds_system_path("/etc/c.d", longname, out, sizeof(out), &err), -1);
	assert_non_null(strstr(err.msg, " is too long: no system credentials file for it"));
	longname[255] = '\0';
	assert_int_equal(pb_creds_system_path("/etc/c.d", longname, out, sizeof(out), &err), 0);
	/* too long for the caller's buffer */
	assert_int_equal(pb_creds_system_path("/etc/c.d", "alice", out, 10, &err), -1);
	assert_string_equal(err.msg, "/etc/c.d/alice: path too long");
}

static void test_creds_user_path(void **state)
{
	struct pb_err err = { 0 };
	char out[256];

	assert_int_equal(pb_creds_user_path("/home/a", "/xdg", out, sizeof(out), &err), 0);
	assert_string_equal(out, "/xdg/pam_bearer/credentials");
	assert_int_equal(pb_creds_user_path("/home/a", NULL, out, sizeof(out), &err), 0);
	assert_string_equal(out, "/home/a/.config/pam_bearer/credentials");
	/* a relative or empty XDG_CONFIG_HOME is ignored (XDG base dir spec) */
	assert_int_equal(pb_creds_user_path("/home/a", "rel", out, sizeof(out), &err), 0);
	assert_string_equal(out, "/home/a/.config/pam_bearer/credentials");
	assert_int_equal(pb_creds_user_path("/home/a", "", out, sizeof(out), &err), 0);
	assert_string_equal(out, "/home/a/.config/pam_bearer/credentials");
	assert_int_equal(pb_creds_user_path(NULL, NULL, out, sizeof(out), &err), -1);
	assert_int_equal(err.code, PB_E_CONFIG);
	assert_string_equal(err.msg, "no home directory (HOME is unset or not absolute): "
			    "cannot find the credentials file");
	assert_int_equal(pb_creds_user_path("relative", NULL, out, sizeof(out), &err), -1);
	assert_int_equal(pb_creds_user_path("/home/a", NULL, out, 12, &err), -1);
	assert_string_equal(err.msg, "/home/a/.config/pam_bearer/credentials: path too long");
}

/* A resolved profile checked against a credentials file loaded from disk. */
static void test_creds_with_config(void **state)
{
	struct fixture *fx = *state;
	struct pb_config cfg;
	struct pb_creds c;
	struct pb_err err = { 0 };
	char path[160], rest[256];

	load(fx, "[profile unith]\nvendor = unith\n", &cfg);
	creds_path(fx, path);
	write_file(path, "[unith]\nemail = a@b.example\n", 0600);
	assert_int_equal(pb_creds_load(path, getuid(), &c, &err), 0);
	assert_int_equal(pb_creds_check(&c, &cfg.profiles[0], &err), -1);
	snprintf(rest, sizeof(rest), "%s:1: [unith] has no 'secret_key'", path);
	assert_string_equal(err.msg, rest);
	pb_creds_free(&c);

	/* a field that looks like a slip for the missing one: named, with its line */
	write_file(path, "# mine\n[unith]\nemail = a@b.example\nsecretkey = SECRET\n", 0600);
	assert_int_equal(pb_creds_load(path, getuid(), &c, &err), 0);
	assert_int_equal(pb_creds_check(&c, &cfg.profiles[0], &err), -1);
	snprintf(rest, sizeof(rest), "%s:2: [unith] has no 'secret_key' (did you mean "
		 "'secretkey' at line 4?)", path);
	assert_string_equal(err.msg, rest);
	pb_creds_free(&c);

	/* an empty field: its own line */
	write_file(path, "[unith]\nemail = a@b.example\nsecret_key =\n", 0600);
	assert_int_equal(pb_creds_load(path, getuid(), &c, &err), 0);
	assert_int_equal(pb_creds_check(&c, &cfg.profiles[0], &err), -1);
	snprintf(rest, sizeof(rest), "%s:3: [unith] has an empty 'secret_key'", path);
	assert_string_equal(err.msg, rest);
	pb_creds_free(&c);

	/* no section at all is not a missing field; a near name is offered */
	write_file(path, "[other]\nk = v\n\n[Unith-]\nemail = a@b.example\n", 0600);
	assert_int_equal(pb_creds_load(path, getuid(), &c, &err), 0);
	assert_int_equal(pb_creds_check(&c, &cfg.profiles[0], &err), -1);
	snprintf(rest, sizeof(rest), "%s: no [unith] section (did you mean [Unith-] at line 4?)",
		 path);
	assert_string_equal(err.msg, rest);
	pb_creds_free(&c);
	write_file(path, "[other]\nk = SECRET\n", 0600);
	assert_int_equal(pb_creds_load(path, getuid(), &c, &err), 0);
	assert_int_equal(pb_creds_check(&c, &cfg.profiles[0], &err), -1);
	snprintf(rest, sizeof(rest), "%s: no [unith] section (it needs 'email')", path);
	assert_string_equal(err.msg, rest);
	assert_null(strstr(err.msg, "SECRET"));
	pb_creds_free(&c);
	pb_config_free(&cfg);
}

/* "Did you mean": slips are found, strangers are not. */
static void test_closest(void **state)
{
	const char *presets[] = { "apivideo", "unith", "rythmex-jwt", "rythmex-apitoken",
				  "hautai", "hautai-login", "oauth2" };
	const size_t n = sizeof(presets) / sizeof(presets[0]);
	(void)state;

	assert_string_equal(pb_closest("api-video", presets, n), "apivideo");
	assert_string_equal(pb_closest("APIVIDEO", presets, n), "apivideo");
	assert_string_equal(pb_closest("unit", presets, n), "unith");
	assert_string_equal(pb_closest("rythmex_jwt", presets, n), "rythmex-jwt");
	assert_string_equal(pb_closest("oauth", presets, n), "oauth2");
	assert_null(pb_closest("github", presets, n));
	assert_null(pb_closest("x", presets, n));
	assert_null(pb_closest("", presets, n));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_preset_apivideo),
		T(test_preset_unith),
		T(test_preset_rythmex_jwt),
		T(test_preset_rythmex_apitoken),
		T(test_preset_rythmex_token),
		T(test_preset_github_app),
		T(test_private_key_jwt),
		T(test_preset_apivideo_sandbox),
		T(test_preset_hautai),
		T(test_preset_hautai_login),
		T(test_preset_oauth2),
		T(test_oauth2_profile_keys),
		T(test_oauth2_absolute_urls),
		T(test_layering),
		T(test_inline_vendor_replaces_preset),
		T(test_profile_overrides_preset),
		T(test_preset_read_once),
		T(test_order_and_lookup),
		T(test_empty_config),
		T(test_formats),
		T(test_vendor_dir),
		T(test_value_edges),
		T(test_error_sections),
		T(test_error_keys),
		T(test_error_values),
		T(test_error_profile_values),
		T(test_error_unused_vendor),
		T(test_error_no_vendor),
		T(test_error_unknown_vendor),
		T(test_error_no_base_url),
		T(test_error_missing_request_keys),
		T(test_error_static_without_token),
		T(test_error_template_fields),
		T(test_error_refresh),
		T(test_refresh_token_in_header),
		T(test_error_client_auth_basic),
		T(test_error_handoff),
		T(test_broker_socket),
		T(test_error_config_file),
		T(test_error_config_owner),
		T(test_error_presets),
		T(test_profile_applies),
		T(test_creds_load),
		T(test_creds_refused),
		T(test_creds_owner),
		T(test_creds_syntax),
		T(test_creds_check),
		T(test_creds_add),
		T(test_creds_system_path),
		T(test_creds_user_path),
		T(test_creds_with_config),
		cmocka_unit_test(test_closest),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
