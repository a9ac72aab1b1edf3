/*
 * bearer-fetch.c - the HTTP worker: one exchange with a vendor, for
 * bearer-token (see helper/worker.h for why it is a process of its own,
 * and lib/proto.h for what goes over its stdin and stdout).
 *
 *     bearer-fetch --config PATH --deadline MS -- PROFILE   < request   > reply
 *
 * It runs as the user, started by bearer-token with an empty environment;
 * it reads the config and presets itself (the same trust checks as
 * bearer-token) but never a credentials file: the secrets come on stdin.
 * It is the only program of pam_bearer that links libcurl. MS is when the
 * exchange must be over, on the CLOCK_MONOTONIC clock in milliseconds (a
 * login's deadline), or 0 for only the profile's timeout.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"
#include "http.h"
#include "proto.h"

/* A request holds a profile's few secrets and a refresh token. */
#define MAX_REQUEST (1024 * 1024)

/* Load the config and fetch: the token, or -1 with why not. */
static int fetch(const char *config_path, const char *profile, long deadline_ms,
		 struct pb_token *tok, struct pb_err *err)
{
	struct pb_config cfg = { 0 };
	struct pb_creds creds = { 0 };
	struct pb_buf request = { 0 };
	struct pb_profile p;
	const struct pb_profile *found;
	char *refresh_token = NULL;
	int rc = -1;

	if (pb_read_all(0, MAX_REQUEST, -1, &request) < 0) {
		pb_fail(err, PB_E_INTERNAL, "%s: reading the request: %m", profile);
		goto done;
	}
	if (pb_proto_read_fetch_request(request.data, request.len, &creds, &refresh_token, err) < 0 ||
	    pb_config_load(config_path, PB_VENDOR_DIR, PB_SYSTEM_CREDS_DIR, &cfg, err) < 0)
		goto done;
	if ((found = pb_config_profile(&cfg, profile)) == NULL) {
		pb_fail(err, PB_E_CONFIG, "%s: no such profile in %s", profile, config_path);
		goto done;
	}
	p = *found;
	p.deadline_ms = deadline_ms;
	if (pb_http_init(err) < 0)
		goto done;
	rc = pb_fetch_token(&p, creds.path != NULL ? &creds : NULL, refresh_token, tok, err);
	pb_http_cleanup();
done:
	pb_wipe_free(refresh_token);
	pb_creds_free(&creds);
	pb_buf_wipe(&request);
	pb_config_free(&cfg);
	return rc;
}

int main(int argc, char **argv)
{
	struct rlimit no_core = { 0, 0 };
	struct pb_token tok = { 0 };
	struct pb_buf reply = { 0 };
	struct pb_err err;
	bool failed;
	long deadline_ms = -1;
	int rc = 1;

	/* secrets and tokens pass through here: no core dumps, no ptrace by others */
	prctl(PR_SET_DUMPABLE, 0);
	setrlimit(RLIMIT_CORE, &no_core);
	umask(077);
	if (argc != 7 || strcmp(argv[1], "--config") != 0 || strcmp(argv[3], "--deadline") != 0 ||
	    pb_parse_long(argv[4], &deadline_ms) < 0 || deadline_ms < 0 ||
	    strcmp(argv[5], "--") != 0) {
		fputs("bearer-fetch: the HTTP worker of bearer-token(1), not a command to run by hand\n",
		      stderr);
		return 2;
	}
	pb_err_clear(&err);
	failed = fetch(argv[2], argv[6], deadline_ms, &tok, &err) < 0;
	if (pb_proto_put_fetch_reply(&reply, &tok, failed ? &err : NULL) < 0 ||
	    pb_write_all(1, reply.data, reply.len) < 0)
		goto done;
	rc = 0;
done:
	pb_token_free(&tok);
	pb_buf_wipe(&reply);
	return rc;
}
