/* SPDX-License-Identifier: MIT */
/*
 * bearer-fetch.c - the HTTP worker: a batch of exchanges with vendors, all
 * at once, for bearer-token (see helper/worker.h for why it is a process
 * of its own, and lib/proto.h for what goes over its stdin and stdout).
 *
 *     bearer-fetch --config PATH --deadline MS   < batch   > replies
 *
 * It runs as the user (or the service account), started by bearer-token
 * with an empty environment; it reads the config and presets itself (the
 * same trust checks as bearer-token) but never a credentials file: the
 * secrets come on stdin, one request per profile. The exchanges run side
 * by side (lib/fetch.c, pb_fetch_many) and each profile's reply is written
 * as soon as it is over, so one hung vendor holds back no other. It is
 * the only program of pam_bearer that links libcurl. MS is when every
 * exchange must be over, on the CLOCK_MONOTONIC clock in milliseconds (a
 * login's deadline), or 0 for only each profile's timeout.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"
#include "http.h"
#include "proto.h"

/* A batch holds a few secrets and a refresh token for each of its profiles. */
#define MAX_BATCH_BYTES (4 * 1024 * 1024)

/* Write one profile's reply to stdout at once (the pipe's reader parses frames). */
static void reply(const char *profile, const struct pb_token *tok, const struct pb_err *err)
{
	struct pb_buf out = { 0 };

	if (pb_proto_put_batch_reply(&out, profile, tok, tok != NULL ? NULL : err) == 0)
		(void)pb_write_all(1, out.data, out.len);
	pb_buf_wipe(&out);
}

/* What the done callback needs: the jobs' profiles. */
struct batch {
	struct pb_profile *profiles;
};

static void on_done(void *arg, size_t i, struct pb_token *tok, const struct pb_err *err)
{
	const struct batch *b = arg;

	reply(b->profiles[i].name, tok, err);
}

/*
 * Run every request of the batch on stdin: a profile the config does not
 * have is answered at once; the rest are fetched together.
 */
static int run(const char *config_path, long deadline_ms, struct pb_err *err)
{
	struct pb_config cfg = { 0 };
	struct pb_buf in = { 0 };
	struct pb_batch_item *items = NULL;
	struct pb_fetch_job *jobs = NULL;
	struct batch b = { 0 };
	size_t n = 0, njobs = 0;
	int rc = -1;

	if (pb_read_all(0, MAX_BATCH_BYTES, -1, &in) < 0) {
		pb_fail(err, PB_E_INTERNAL, "reading the batch: %m");
		goto done;
	}
	if (pb_proto_read_batch(in.data != NULL ? in.data : "", in.len, &items, &n, err) < 0)
		goto done;
	if (pb_config_load(config_path, PB_VENDOR_DIR, PB_SYSTEM_CREDS_DIR, &cfg, err) < 0 ||
	    pb_http_init(err) < 0) {
		for (size_t i = 0; i < n; i++)
			reply(items[i].profile, NULL, err);
		rc = 0;
		goto done;
	}
	jobs = calloc(n + 1, sizeof(*jobs));
	b.profiles = calloc(n + 1, sizeof(*b.profiles));
	if (jobs == NULL || b.profiles == NULL) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pb_profile *p = pb_config_profile(&cfg, items[i].profile);
		struct pb_err missing;

		if (p == NULL) {
			pb_fail(&missing, PB_E_CONFIG, "%s: no such profile in %s", items[i].profile,
				config_path);
			reply(items[i].profile, NULL, &missing);
			continue;
		}
		b.profiles[njobs] = *p;
		b.profiles[njobs].deadline_ms = deadline_ms;
		jobs[njobs] = (struct pb_fetch_job){ .p = &b.profiles[njobs],
			.creds = items[i].creds.path != NULL ? &items[i].creds : NULL,
			.refresh_token = items[i].refresh_token };
		njobs++;
	}
	pb_fetch_many(jobs, njobs, on_done, &b);
	pb_http_cleanup();
	rc = 0;
done:
	free(jobs);
	free(b.profiles);
	pb_batch_items_free(items, n);
	pb_buf_wipe(&in);
	pb_config_free(&cfg);
	return rc;
}

int main(int argc, char **argv)
{
	struct rlimit no_core = { 0, 0 };
	struct pb_err err;
	long deadline_ms = -1;

	/* secrets and tokens pass through here: no core dumps, no ptrace by others */
	prctl(PR_SET_DUMPABLE, 0);
	setrlimit(RLIMIT_CORE, &no_core);
	umask(077);
	if (argc != 5 || strcmp(argv[1], "--config") != 0 || strcmp(argv[3], "--deadline") != 0 ||
	    pb_parse_long(argv[4], &deadline_ms) < 0 || deadline_ms < 0) {
		fputs("bearer-fetch: the HTTP worker of bearer-token(1), not a command to run by hand\n",
		      stderr);
		return 2;
	}
	pb_err_clear(&err);
	if (run(argv[2], deadline_ms, &err) < 0) {
		/* no reply for anyone: bearer-token reports this for each profile */
		fprintf(stderr, "bearer-fetch: %s\n", err.msg);
		return 1;
	}
	return 0;
}
