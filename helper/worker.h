/* SPDX-License-Identifier: MIT */
/*
 * worker.h - exchanges with vendors, done by bearer-fetch, the HTTP
 * worker: a process of its own, started for a batch of exchanges (every
 * profile a login or a renewal needs at once) and gone after.
 *
 * Why a process: bearer-token never links libcurl or OpenSSL, so the
 * refresher that sits idle all day stays small (no TLS library mapped)
 * and never holds a vendor's answer; the worker parses what the network
 * sends, in an empty environment (no SSLKEYLOGFILE, proxy or LD_
 * variables reach libcurl), and exits. Why one for a batch: starting
 * libcurl's dependencies costs more CPU than an exchange; a batch pays it
 * once, and its exchanges share connections.
 *
 * A worker dies with the process that started it (PR_SET_PDEATHSIG): a
 * refresher killed mid-exchange leaves no worker behind to finish it and
 * throw away a rotated refresh token.
 */
#ifndef PB_WORKER_H
#define PB_WORKER_H

#include "conf.h"
#include "creds.h"
#include "token.h"
#include "util.h"

/* One profile's request to the worker. */
struct pb_worker_job {
	const struct pb_profile *p;
	const struct pb_creds *creds;   /* NULL: none */
	const char *refresh_token;      /* NULL: none */
};

/*
 * pb_fetch_many() (fetch.h) for these jobs of the config at config_path,
 * run in one bearer-fetch, each job's answer reported as soon as it comes.
 * Same results and errors; in addition PB_E_TEMP for a job with no answer
 * once the worker's time is up (the jobs' longest two timeouts and a
 * little more, never past a job's deadline_ms: it is killed) and
 * PB_E_INTERNAL when it cannot run or dies. done is called exactly once
 * for each job.
 */
void pb_worker_run(const char *config_path, const struct pb_worker_job *jobs, size_t n,
		   pb_token_done done, void *arg);

#endif
