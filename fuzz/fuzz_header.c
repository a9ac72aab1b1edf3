/* SPDX-License-Identifier: MIT */
/*
 * fuzz_header.c - libFuzzer target for the way to the header line: a
 * vendor's answer read by the vendor engine (lib/fetch.c: response
 * mapping, pb_token_check, expiry), the token written to the store and
 * the "Authorization: <scheme> <token>" line built (lib/store.c), and
 * the store's P.json metadata read back.
 *
 * Input: byte 0 picks the status, the profile's lifetime and scheme and
 * the mode; byte 1 the Retry-After; the rest is the answer's body (for a
 * static vendor: token NUL expires). The HTTP layer is fuzz/fake_http.c.
 * Invariants: an accepted token is 1..16384 visible ASCII bytes; the
 * header file is exactly "Authorization: <scheme> <token>\n" (one line:
 * no CR, no LF but the last); .token reads back as the token; .json says
 * valid; an error is one line and never quotes a token; a non-2xx answer
 * is never a token. A body written as P.json is either refused or read
 * into sane metadata.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expiry.h"
#include "fake_http.h"
#include "fetch.h"
#include "fuzz.h"
#include "store.h"

static char runtime_dir[64];
static struct pb_store store;

static const long statuses[8] = { 200, 200, 201, 400, 401, 429, 503, 302 };
static const char *const lifetimes[4] = { "jwt | 3600", "none", "jwt", "600" };
static const char *const schemes[2] = { "Bearer", "Token" };
static const char *vendor_fields[] = { "api_key" };

/* Remove what the store holds and the dirs, at exit. */
static void cleanup(void)
{
	static const char *const names[] = { "p.token", "p.header", "p.json", "p.state",
					     "p.lock", "m.json" };
	char path[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlinkat(store.dirfd, names[i], 0);
	pb_store_close(&store);
	snprintf(path, sizeof(path), "%s/bearer", runtime_dir);
	rmdir(path);
	rmdir(runtime_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* a tmpfs like the real runtime dir: a disk would make every run slow */
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	struct pb_err err;

	(void)argc;
	(void)argv;
	snprintf(runtime_dir, sizeof(runtime_dir), "%s/pb-fuzz-XXXXXX",
		 tmp != NULL && strlen(tmp) < 40 ? tmp : "/tmp");
	if (mkdtemp(runtime_dir) == NULL ||
	    pb_store_open(runtime_dir, getuid(), true, &store, &err) < 0) {
		fprintf(stderr, "fuzz_header: cannot make a token store in %s\n", runtime_dir);
		exit(1);
	}
	atexit(cleanup);
	return 0;
}

/* Visible ASCII without spaces, 1..PB_TOKEN_MAX bytes? */
static bool clean_token(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > PB_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return false;
	return true;
}

/* Save the token, then check the files the user relies on. */
static void check_saved(const struct pb_token *tok, const char *scheme)
{
	struct pb_store_token t = {
		.profile = "p", .vendor = "fuzzvendor", .scheme = scheme, .token = tok->token,
		.refresh_token = tok->refresh_token, .obtained_ms = tok->obtained_ms,
		.has_expiry = tok->has_expiry, .expires_ms = tok->expires_ms,
	};
	struct pb_buf header = { 0 }, want = { 0 };
	struct pb_meta m;
	struct pb_err err;
	char *back = NULL;
	int rc;

	pb_err_clear(&err);
	/* an older run's token may be newer by a second: 1 means "kept it" */
	rc = pb_store_save(&store, &t, &err);
	if (rc < 0 && tok->refresh_token != NULL && pb_has_ctrl(tok->refresh_token))
		return;   /* a refresh token with a control character is refused */
	if (rc != 0) {
		fprintf(stderr, "save: %d %s\n", rc, err.msg);
		FUZZ_CHECK(rc == 0);
	}
	FUZZ_CHECK(pb_store_read(&store, "p", "header", &header, &err) == 0);
	FUZZ_CHECK(pb_buf_addf(&want, "Authorization: %s %s\n", scheme, tok->token) == 0);
	FUZZ_CHECK(header.len == want.len && memcmp(header.data, want.data, want.len) == 0);
	FUZZ_CHECK(memchr(header.data, '\r', header.len) == NULL);
	FUZZ_CHECK(memchr(header.data, '\n', header.len) == header.data + header.len - 1);
	FUZZ_CHECK(pb_store_read_token(&store, "p", &back, &err) == 0);
	FUZZ_CHECK(strcmp(back, tok->token) == 0);
	FUZZ_CHECK(pb_store_read_meta(&store, "p", &m, &err) == 0);
	FUZZ_CHECK(m.state == PB_STATE_VALID && strcmp(m.scheme, scheme) == 0);
	FUZZ_CHECK(m.has_expiry == tok->has_expiry);
	FUZZ_CHECK(!m.has_expiry || m.expires_ms == tok->expires_ms);
	pb_wipe_free(back);
	pb_buf_wipe(&header);
	pb_buf_wipe(&want);
}

/* Error text is one line and does not quote the token the body carried. */
static void check_error(const struct pb_err *err, const char *body)
{
	const char *tok = strstr(body, "\"access_token\":\"");
	char t[64];
	size_t n;

	FUZZ_CHECK(err->msg[0] != '\0' && strchr(err->msg, '\n') == NULL);
	FUZZ_CHECK(strchr(err->msg, '\r') == NULL);
	if (tok == NULL)
		return;
	tok += strlen("\"access_token\":\"");
	n = strcspn(tok, "\"\\");
	if (n < 16 || n >= sizeof(t))
		return;
	memcpy(t, tok, n);
	t[n] = '\0';
	if (strstr("https://vendor.example/token answer has no token (string) at "
		   "'access_token | data.token'", t) == NULL)
		FUZZ_CHECK(strstr(err->msg, t) == NULL);
}

/* The body's bytes as P.json: refused, or sane metadata. */
static void check_meta(const uint8_t *body, size_t len)
{
	struct pb_meta m;
	struct pb_err err;
	int fd, rc;

	fd = openat(store.dirfd, "m.json", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(len == 0 || write(fd, body, len) == (ssize_t)len);
	close(fd);
	pb_err_clear(&err);
	rc = pb_store_read_meta(&store, "m", &m, &err);
	FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2);   /* -2: corrupt, which the next save replaces */
	if (rc == 0) {
		FUZZ_CHECK(m.state == PB_STATE_VALID || m.state == PB_STATE_EXPIRED ||
			   m.state == PB_STATE_ERROR);
		FUZZ_CHECK(strlen(m.vendor) < sizeof(m.vendor) &&
			   strlen(m.scheme) < sizeof(m.scheme) && strlen(m.renewal) < sizeof(m.renewal));
		FUZZ_CHECK(strlen(m.last_error) < sizeof(m.last_error));
		FUZZ_CHECK(!pb_has_ctrl(m.last_error));
	} else {
		FUZZ_CHECK(err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL);
	}
	(void)pb_store_token_fresh(&store, "m", 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pb_profile p;
	struct pb_creds creds = { 0 };
	struct pb_token tok;
	struct pb_err err;
	struct fuzz_parts fp;
	const char *scheme;
	bool static_vendor;
	char *body;
	time_t before;
	int rc;

	if (size < 2)
		return 0;
	if ((body = fuzz_cstr(data + 2, size - 2)) == NULL)
		return 0;
	if (data[0] & 0x80) {
		check_meta(data + 2, size - 2);
		free(body);
		return 0;
	}
	scheme = schemes[data[0] >> 5 & 1];
	static_vendor = data[0] & 0x40;
	memset(&p, 0, sizeof(p));
	p.name = "p";
	p.vendor = "fuzzvendor";
	p.type = static_vendor ? PB_TYPE_STATIC : PB_TYPE_EXCHANGE;
	p.base_url = "https://vendor.example";
	p.fields = vendor_fields;
	p.nfields = 1;
	p.token.url = "/token";
	p.token.body = "{\"key\": \"${api_key}\"}";
	p.token.format = PB_FMT_JSON;
	p.resp_token = "access_token | data.token";
	p.resp_expires_in = "expires_in";
	p.resp_refresh_token = "refresh_token";
	p.lifetime = lifetimes[data[0] >> 3 & 3];
	p.scheme = scheme;
	p.timeout = 5;
	p.refresh_at = 0.75;

	memset(&fake_answer, 0, sizeof(fake_answer));
	fake_answer.status = statuses[data[0] & 7];
	fake_answer.retry_after = data[1] == 0xff ? -1 : (long)data[1];
	fake_answer.body = (const char *)data + 2;
	fake_answer.body_len = size - 2;

	pb_err_clear(&err);
	if (fuzz_split(data + 2, size - 2, 2, &fp) < 0) {
		free(body);
		return 0;
	}
	if (pb_creds_add(&creds, "p", "api_key", "k\"ey\\", &err) < 0 ||
	    (static_vendor && pb_creds_add(&creds, "p", "token", fp.part[0], &err) < 0) ||
	    (static_vendor && fp.n > 1 &&
	     pb_creds_add(&creds, "p", "expires", fp.part[1], &err) < 0))
		goto done;
	before = time(NULL);
	rc = pb_fetch_token(&p, &creds, NULL, &tok, &err);
	if (rc == 0) {
		FUZZ_CHECK(tok.token != NULL && clean_token(tok.token));
		FUZZ_CHECK(pb_token_check(tok.token, NULL) == 0);
		FUZZ_CHECK(static_vendor || (fake_answer.status >= 200 && fake_answer.status < 300));
		FUZZ_CHECK(tok.obtained_ms >= before * 1000LL);
		if (!static_vendor && tok.has_expiry)
			FUZZ_CHECK(tok.expires_ms > before * 1000LL &&
				   tok.expires_ms <= (time(NULL) + PB_MAX_LIFETIME) * 1000LL);
		check_saved(&tok, scheme);
		pb_token_free(&tok);
	} else {
		FUZZ_CHECK(tok.token == NULL && tok.refresh_token == NULL);
		check_error(&err, body);
	}
	/* the token rule on its own, on the raw input */
	if (pb_token_check(body, NULL) == 0)
		FUZZ_CHECK(clean_token(body));
	else
		FUZZ_CHECK(!clean_token(body));
done:
	pb_creds_free(&creds);
	fuzz_parts_free(&fp);
	free(body);
	return 0;
}
