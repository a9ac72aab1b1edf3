/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what bearer-token's commands share: the loaded config and the
 * context of the user they run for.
 */
#ifndef PB_CLI_H
#define PB_CLI_H

#include "conf.h"
#include "ctl.h"
#include "renew.h"

struct cli {
	struct pb_config cfg;
	bool cfg_loaded;
	struct pb_ctx ctx;
	char config_path[4096];
	char runtime_dir[4096];
};

/* Print "bearer-token: <reason>" on stderr; returns the exit code for it. */
int cli_report(const struct pb_err *err);
int cli_usage_error(const char *what);
int cli_load_config(struct cli *c, struct pb_err *err);
int cli_open_store(struct cli *c, struct pb_err *err);

/* bearer-token pam-session: the command pam_bearer.so runs (session.c). */
int cmd_pam_session(struct cli *c, int argc, char **argv);

/* bearer-token check-config: what a login would meet (check.c). */
int cmd_check_config(struct cli *c, int argc, char **argv);

/* bearer-token daemon: the refresher (daemon.c). */
int cmd_daemon(struct cli *c, int argc, char **argv);

/* bearer-token broker: the service account's broker (broker.c). */
int cmd_broker(struct cli *c, int argc, char **argv);

/* Detach from whoever started us: a new session, stdio on /dev/null, cwd /. 0 or -1. */
int cli_detach(void);

/*
 * Ask the running refresher to renew (PB_CTL_REFRESH) or make sure of
 * (PB_CTL_GET, min_valid) one profile. 1 when no refresher runs (do it yourself), else
 * 0 with its verdict in err (err->code PB_OK on success).
 */
int cli_ask_daemon(struct cli *c, enum pb_ctl_cmd cmd, const char *profile, long min_valid,
		   struct pb_err *err);

#endif
