/*
 * worker.h - one exchange with a vendor, done by bearer-fetch, the HTTP
 * worker: a process of its own, started for the exchange and gone after.
 *
 * Why a process: bearer-token never links libcurl or OpenSSL, so the
 * refresher that sits idle all day stays small (no TLS library mapped)
 * and never holds a vendor's answer; the worker parses what the network
 * sends, in an empty environment (no SSLKEYLOGFILE, proxy or LD_
 * variables reach libcurl), and exits.
 */
#ifndef PB_WORKER_H
#define PB_WORKER_H

#include "config.h"
#include "creds.h"
#include "token.h"

/*
 * pb_fetch_token() (fetch.h) for profile p of the config at config_path,
 * run in bearer-fetch. Same results and errors; in addition PB_E_TEMP when
 * the worker outlives its deadline (two exchanges' timeouts and a little
 * more: it is killed) and PB_E_INTERNAL when it cannot run or dies.
 */
int pb_worker_fetch(const char *config_path, const struct pb_profile *p,
		    const struct pb_creds *creds, const char *refresh_token,
		    struct pb_token *out, struct pb_err *err);

#endif
