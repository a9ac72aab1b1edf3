/* SPDX-License-Identifier: MIT */
/*
 * main.c - bearer-token, the command line: get, status, refresh,
 * check-config, and the entry points of its daemons (the user's
 * refresher, the service account's broker) and of what the PAM module
 * runs. An ordinary program (never setuid): run as the user, or, for
 * broker and pam-system, as the service account.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "ctl.h"
#include "expiry.h"
#include "format.h"
#include "proto.h"
#include "system.h"

/* `status` exit codes beyond enum pb_code (documented in --help and bearer-token(1)) */
enum { STATUS_NOT_VALID = 7, STATUS_NONE_APPLIES = 8 };

static const char usage_text[] =
	"Usage: bearer-token [--config FILE] COMMAND [ARGS]\n"
	"\n"
	"Keeps short-lived vendor API tokens in $XDG_RUNTIME_DIR/bearer/.\n"
	"\n"
	"Commands:\n"
	"  get PROFILE [--format=FORMAT] [--min-valid SECONDS]\n"
	"                      print a valid token, renewing it first when needed;\n"
	"                      FORMAT: token (the default), header (the header\n"
	"                      line), json (the metadata), env (shell exports),\n"
	"                      exec-credential (a Kubernetes ExecCredential);\n"
	"                      --header and --json are short for the two formats\n"
	"  status [--json]     every profile, its state and time left\n"
	"  refresh [PROFILE...]\n"
	"                      renew now (every profile that applies to you when\n"
	"                      none is named)\n"
	"  check-config [--user NAME] [--pam-dir DIR]\n"
	"                      validate the configuration, its files and the PAM\n"
	"                      lines that load the module, and your credentials file;\n"
	"                      --user (root): everything NAME's login would meet\n"
	"  daemon [--foreground]\n"
	"                      the refresher: keep every token fresh while you are\n"
	"                      logged in (pam_bearer starts it; or a systemd user unit)\n"
	"  broker [--foreground] [--idle-exit SECONDS]\n"
	"                      the service account's broker: tokens of credentials =\n"
	"                      system profiles for the users they apply to (started by\n"
	"                      bearer-token-broker.socket, or as root)\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE   configuration file (default: $BEARER_CONFIG, else\n"
	"                      " PB_SYSCONF_CONFIG ",\n"
	"                      else $XDG_CONFIG_HOME/pam_bearer/pam_bearer.conf)\n"
	"  -h, --help          show this help\n"
	"  -V, --version       show the version\n"
	"\n"
	"Exit status:\n"
	"  0  success\n"
	"  1  vendor or network trouble; trying again later may work\n"
	"  2  usage error\n"
	"  3  configuration or credentials file error\n"
	"  4  the vendor refused the credentials\n"
	"  5  token directory missing or unsafe\n"
	"  6  internal error\n"
	"  7  status: a profile that applies to you has no valid token\n"
	"  8  status: no profile applies to you\n";

int cli_report(const struct pb_err *err)
{
	fprintf(stderr, "bearer-token: %s\n", err->msg);
	return err->code != PB_OK ? err->code : PB_E_INTERNAL;
}

int cli_usage_error(const char *what)
{
	fprintf(stderr, "bearer-token: %s\nTry 'bearer-token --help'.\n", what);
	return PB_E_USAGE;
}

/*
 * Which config file: --config, $BEARER_CONFIG, the system file, and, when
 * there is no system file, the user's own (so a user can adopt
 * bearer-token on a box whose admin never installed a config).
 */
static void choose_config(struct cli *c, const char *option, const char *config_home)
{
	const char *env = getenv("BEARER_CONFIG");
	struct stat st;

	if (option != NULL || (env != NULL && env[0] != '\0')) {
		snprintf(c->config_path, sizeof(c->config_path), "%s", option ? option : env);
		return;
	}
	snprintf(c->config_path, sizeof(c->config_path), "%s", PB_SYSCONF_CONFIG);
	if (lstat(c->config_path, &st) < 0 && errno == ENOENT && config_home != NULL) {
		char user_config[4096];

		if (snprintf(user_config, sizeof(user_config), "%s/pam_bearer/pam_bearer.conf",
			     config_home) < (int)sizeof(user_config) &&
		    lstat(user_config, &st) == 0)
			snprintf(c->config_path, sizeof(c->config_path), "%s", user_config);
	}
}

int cli_detach(void)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	pid_t pid;

	if (devnull < 0)
		return -1;
	pid = fork();
	if (pid < 0 || (pid == 0 && setsid() < 0)) {
		close(devnull);
		return -1;
	}
	if (pid > 0)
		_exit(0);
	dup2(devnull, 0);
	dup2(devnull, 1);
	dup2(devnull, 2);
	close(devnull);
	return chdir("/");
}

/*
 * Who we are and where things are: HOME, XDG_CONFIG_HOME and
 * XDG_RUNTIME_DIR from the environment (this is the user's own process),
 * falling back to the passwd entry and /run/user/UID, or, on a host
 * without logind, the module's stand-in PB_USERS_DIR/UID.
 */
static int setup_user(struct cli *c, const char *config_option, struct pb_err *err)
{
	struct passwd *pw;
	const char *home, *config_home, *runtime;
	static char user[256];

	c->ctx.uid = getuid();
	/* single-threaded: getpwuid's static result is ours until the next call */
	/* cppcheck-suppress getpwuidCalled */
	pw = getpwuid(c->ctx.uid);
	home = getenv("HOME");
	if (pw != NULL) {
		snprintf(user, sizeof(user), "%s", pw->pw_name);
		if (pb_user_groups(pw->pw_name, pw->pw_gid, &c->ctx.gids, &c->ctx.ngids, err) < 0)
			return -1;
		if (home == NULL || home[0] != '/')
			home = pw->pw_dir;
	} else {
		/* no passwd entry (a directory service that is down): trust our own environment */
		const char *env_user = getenv("USER");

		if (env_user == NULL || env_user[0] == '\0' || home == NULL || home[0] != '/')
			return pb_fail(err, PB_E_CONFIG, "uid %u has no passwd entry and no "
				       "USER/HOME", (unsigned)c->ctx.uid);
		snprintf(user, sizeof(user), "%s", env_user);
	}
	c->ctx.user = user;
	config_home = getenv("XDG_CONFIG_HOME");
	if (pb_creds_user_path(home, config_home, c->ctx.user_creds_path,
			       sizeof(c->ctx.user_creds_path), err) < 0)
		return -1;
	runtime = getenv("XDG_RUNTIME_DIR");
	if (runtime != NULL && runtime[0] == '/') {
		snprintf(c->runtime_dir, sizeof(c->runtime_dir), "%s", runtime);
	} else {
		char standin[64];
		struct stat st;

		/* no logind: the module's stand-in, when there is one */
		snprintf(c->runtime_dir, sizeof(c->runtime_dir), "/run/user/%u",
			 (unsigned)c->ctx.uid);
		snprintf(standin, sizeof(standin), PB_USERS_DIR "/%u", (unsigned)c->ctx.uid);
		if (stat(c->runtime_dir, &st) < 0 && errno == ENOENT && stat(standin, &st) == 0)
			snprintf(c->runtime_dir, sizeof(c->runtime_dir), "%s", standin);
	}
	{
		char default_config_home[4096];

		if (config_home == NULL || config_home[0] != '/') {
			snprintf(default_config_home, sizeof(default_config_home), "%s/.config", home);
			config_home = default_config_home;
		}
		choose_config(c, config_option, config_home);
	}
	c->ctx.store.dirfd = -1;
	return 0;
}

int cli_load_config(struct cli *c, struct pb_err *err)
{
	if (pb_config_load(c->config_path, PB_VENDOR_DIR, PB_SYSTEM_CREDS_DIR, &c->cfg, err) < 0)
		return -1;
	c->cfg_loaded = true;
	c->ctx.cfg = &c->cfg;
	return 0;
}

int cli_open_store(struct cli *c, struct pb_err *err)
{
	if (pb_store_open(c->runtime_dir, c->ctx.uid, true, &c->ctx.store, err) < 0)
		return -1;
	c->ctx.store.wlcg_profile = c->cfg.wlcg_discovery;    /* NULL until a config is loaded */
	return 0;
}

int cli_ask_daemon(struct cli *c, enum pb_ctl_cmd cmd, const char *profile, long min_valid,
		   struct pb_err *err)
{
	struct pb_ctl_request req = { .cmd = cmd, .min_valid = min_valid };
	struct pb_buf reply = { 0 };
	const char *name, *text;
	char *nl;
	int code, rc = 1;

	snprintf(req.profile, sizeof(req.profile), "%s", profile);
	/* it answers once the profile's renewal is over: bounded by the worker's own limit */
	if (pb_ctl_ask(c->ctx.store.dirfd, c->ctx.uid, &req, 310 * 1000, &reply) < 0 ||
	    reply.data == NULL)
		goto done;
	if ((nl = strchr(reply.data, '\n')) != NULL)
		*nl = '\0';
	if (pb_proto_parse_result(reply.data, &name, &code, &text) < 0) {
		pb_fail(err, PB_E_INTERNAL, "the refresher gave a malformed answer");
		rc = 0;
		goto done;
	}
	pb_err_clear(err);
	if (code != PB_OK)
		pb_fail(err, code, "%s", text);
	rc = 0;
done:
	pb_buf_wipe(&reply);
	return rc;
}

/* A profile by name that applies to this user, or an error saying why not. */
static const struct pb_profile *find_profile(struct cli *c, const char *name, struct pb_err *err)
{
	const struct pb_profile *p = pb_config_profile(&c->cfg, name);

	if (p == NULL) {
		const char *near = pb_config_closest_profile(&c->cfg, name);

		pb_fail(err, PB_E_CONFIG, "%s: no profile named '%s'%s%s%s", c->config_path, name,
			near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
		return NULL;
	}
	if (!pb_ctx_applies(&c->ctx, p)) {
		pb_fail(err, PB_E_CONFIG, "%s: profile '%s' does not apply to user %s",
			c->config_path, name, c->ctx.user);
		return NULL;
	}
	return p;
}

/*
 * bearer-token get PROFILE [--format=NAME|--header|--json] [--min-valid SECONDS]
 * (--header and --json: the older spellings of --format=header and =json)
 */
static int cmd_get(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "header", no_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "min-valid", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_format *format = cli_format_find("token");
	const struct pb_profile *p;
	enum pb_outcome outcome;
	struct pb_err err;
	long min_valid = 0;
	int opt, rc;

	pb_err_clear(&err);
	optind = 0;     /* 0: a full reset of GNU getopt; options may follow PROFILE */
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (opt == ':')
			return cli_usage_error("get: an option is missing its argument");
		if (opt == 'H' || opt == 'j')
			format = cli_format_find(opt == 'H' ? "header" : "json");
		else if (opt == 'f' && (format = cli_format_find(optarg)) == NULL)
			return cli_report((pb_fail(&err, PB_E_USAGE, "get: unknown format '%s' "
						   "(one of %s)", optarg, cli_format_names()), &err));
		else if (opt == 'm' && (pb_parse_long(optarg, &min_valid) < 0 || min_valid < 0 ||
					min_valid > PB_MAX_LIFETIME))
			return cli_usage_error("--min-valid takes a number of seconds");
		else if (opt != 'm' && opt != 'f')
			return cli_usage_error("get: unknown option");
	}
	if (argc - optind != 1)
		return cli_usage_error("get takes exactly one PROFILE");
	if (cli_format_check(format, &err) < 0 || cli_load_config(c, &err) < 0 || (p = find_profile(c, argv[optind], &err)) == NULL ||
	    cli_open_store(c, &err) < 0)
		return cli_report(&err);
	/* renewing is the refresher's job when one runs: two renewals never race */
	if (pb_token_good(&c->ctx, p, min_valid)) {
		pb_renew_mend(&c->ctx, p);      /* a crash may have left .header behind .token */
		rc = 1;
	} else {
		rc = cli_ask_daemon(c, PB_CTL_GET, p->name, min_valid, &err);
	}
	if (rc == 0 && err.code != PB_OK)
		return cli_report(&err);
	if (rc == 1 && pb_renew(&c->ctx, p, min_valid, false, &outcome, &err) < 0)
		return cli_report(&err);
	return cli_format_print(format, &c->ctx.store, p->name, &err) < 0 ? cli_report(&err) : 0;
}

/* "in 59m 12s", "2h 3m ago" */
static void describe_left(time_t t, time_t now, char *out, size_t len)
{
	long d = (long)(t > now ? t - now : now - t);
	char span[64];

	if (d >= 86400)
		snprintf(span, sizeof(span), "%ldd %ldh", d / 86400, d % 86400 / 3600);
	else if (d >= 3600)
		snprintf(span, sizeof(span), "%ldh %ldm", d / 3600, d % 3600 / 60);
	else if (d >= 60)
		snprintf(span, sizeof(span), "%ldm %lds", d / 60, d % 60);
	else
		snprintf(span, sizeof(span), "%lds", d);
	snprintf(out, len, t > now ? "in %s" : "%s ago", span);
}

/* The state a script should believe: a "valid" token whose time is up is expired. */
static enum pb_state effective_state(const struct pb_meta *m, time_t now)
{
	if (m->state == PB_STATE_VALID && m->has_expiry && m->expires_at <= now)
		return PB_STATE_EXPIRED;
	return m->state;
}

/* An RFC 3339 time, to the millisecond as P.json has it; NULL (null) when !present. */
static struct json_object *json_time(long long ms, bool present)
{
	char buf[32];

	if (!present)
		return NULL;
	pb_time_format_ms(ms, buf);
	return json_object_new_string(buf);
}

/*
 * The refresher's plan, as plan lines (lib/ctl.h), then ".".
 * NULL when no refresher runs. The caller wipes the buffer.
 */
static const char *ask_schedule(struct cli *c, struct pb_buf *reply)
{
	struct pb_ctl_request req = { .cmd = PB_CTL_SCHEDULE };

	if (pb_ctl_ask(c->ctx.store.dirfd, c->ctx.uid, &req, 2000, reply) < 0 ||
	    reply->data == NULL)
		return NULL;
	return reply->data;
}

/*
 * One profile's line of the refresher's schedule: false when there is
 * none (no refresher runs, or it does not know the profile).
 */
static bool plan_of(const char *schedule, const char *profile, struct pb_ctl_plan *plan)
{
	for (const char *l = schedule; l != NULL && *l != '\0';) {
		const char *nl = strchr(l, '\n');
		size_t len = nl != NULL ? (size_t)(nl - l) : strlen(l);

		if (pb_ctl_parse_plan(l, len, plan) == 0 && strcmp(plan->profile, profile) == 0)
			return true;
		l = nl != NULL ? nl + 1 : NULL;
	}
	return false;
}

/*
 * The next refresh of one profile in a schedule: -1 when none is planned,
 * no refresher runs, or its next wake-up only expires the token (a system
 * profile it cannot renew); *renewing says one is under way now.
 */
static time_t next_refresh(const char *schedule, const char *profile, bool *renewing)
{
	struct pb_ctl_plan plan;

	*renewing = false;
	if (!plan_of(schedule, profile, &plan))
		return -1;
	*renewing = plan.what == PB_PLAN_RENEWING;
	return plan.at > 0 && plan.what == PB_PLAN_RENEW ? (time_t)plan.at : -1;
}

/*
 * Why a profile has no valid token, and what to do ("" when it has one):
 * the last failure when there was one (a system profile's says to ask the
 * admin, as recorded), else what gets it a token.
 */
static void status_reason(const struct pb_profile *p, const struct pb_meta *m,
			  enum pb_state state, const char *renewal, char *out, size_t len)
{
	bool system = p->credentials == PB_CRED_SYSTEM, at_login = strcmp(renewal, "next login") == 0;

	if (state == PB_STATE_VALID)
		snprintf(out, len, "%s", "");
	else if (m->last_error[0] != '\0')
		snprintf(out, len, "%s", m->last_error);
	else if (system && at_login)
		snprintf(out, len, "%s: the next login fetches it; if logins get none, the system "
			 "credential may be missing: ask your admin",
			 state == PB_STATE_EXPIRED ? "expired" : "no token yet");
	else
		snprintf(out, len, "%s: 'bearer-token get %s' %s", state == PB_STATE_EXPIRED
			 ? "expired" : "no token yet", p->name, system ? "asks the broker for one"
			 : state == PB_STATE_EXPIRED ? "renews it" : "fetches one");
}

/* One profile as a JSON object for `status --json`. */
static struct json_object *status_json(const struct pb_profile *p, const struct pb_meta *m,
				       time_t now, time_t next, bool renewing, const char *renewal,
				       const char *reason)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "profile", json_object_new_string(p->name));
	json_object_object_add(o, "vendor", json_object_new_string(p->vendor));
	json_object_object_add(o, "credentials", json_object_new_string(
		p->credentials == PB_CRED_SYSTEM ? "system" : "user"));
	json_object_object_add(o, "renewal", json_object_new_string(renewal));
	json_object_object_add(o, "state", json_object_new_string(
		pb_state_name(effective_state(m, now))));
	json_object_object_add(o, "obtained_at", json_time(m->obtained_ms, m->obtained_ms != 0));
	json_object_object_add(o, "expires_at", json_time(m->expires_ms,
		m->obtained_ms != 0 && m->has_expiry));
	json_object_object_add(o, "last_error", m->last_error[0] != '\0'
		? json_object_new_string(m->last_error) : NULL);
	json_object_object_add(o, "next_attempt_at", json_time(m->next_attempt_at * 1000LL,
		m->next_attempt_at != 0));
	json_object_object_add(o, "next_refresh_at", json_time(next * 1000LL, next > 0));
	json_object_object_add(o, "renewing", json_object_new_boolean(renewing));
	json_object_object_add(o, "reason", reason[0] != '\0' ? json_object_new_string(reason)
			       : NULL);
	return o;
}

/* One profile as a line (plus a line for the last error) for `status`. */
static void status_line(const struct pb_profile *p, const struct pb_meta *m, time_t now,
			time_t next, bool renewing, bool refresher, const char *renewal,
			const char *reason)
{
	enum pb_state state = effective_state(m, now);
	char when[128], left[64];

	if (m->obtained_at == 0)
		snprintf(when, sizeof(when), "no token yet");
	else if (!m->has_expiry)
		snprintf(when, sizeof(when), "never expires");
	else {
		char at[32];

		pb_time_format(m->expires_at, at);
		describe_left(m->expires_at, now, left, sizeof(left));
		snprintf(when, sizeof(when), "%s (%s)", at, left);
	}
	printf("%-20s %-18s %-8s %s\n", p->name, p->vendor, pb_state_name(state), when);
	if (renewing) {
		printf("%-20s next refresh: renewing now\n", "");
	} else if (next > 0) {
		char at[32];

		pb_time_format(next, at);
		describe_left(next, now, left, sizeof(left));
		printf("%-20s next refresh: %s (%s)\n", "", at, left);
	} else if (!refresher && m->has_expiry && state == PB_STATE_VALID) {
		printf("%-20s next refresh: when next used (no refresher running)\n", "");
	}
	if (reason[0] != '\0')
		printf("%-20s not valid: %s\n", "", reason);
	else if (m->last_error[0] != '\0')
		printf("%-20s last error: %s\n", "", m->last_error);
	if (p->credentials == PB_CRED_SYSTEM)
		printf("%-20s %s\n", "", strcmp(renewal, "broker") == 0
		       ? "credentials held by the system: renewed through the broker"
		       : "credentials held by the system, no broker runs: the next login renews it");
}

/*
 * bearer-token status [--json]: exit 0 when every profile that applies
 * has a valid token, STATUS_NOT_VALID when one has not,
 * STATUS_NONE_APPLIES when none applies (monitoring tells them apart).
 */
static int cmd_status(struct cli *c, int argc, char **argv)
{
	struct json_object *list = NULL, *root = NULL;
	bool as_json = argc == 2 && strcmp(argv[1], "--json") == 0;
	size_t applies = 0, not_valid = 0;
	time_t now = time(NULL);
	struct pb_buf reply = { 0 };
	const char *schedule;
	struct pb_err err;

	pb_err_clear(&err);
	if (argc > 2 || (argc == 2 && !as_json))
		return cli_usage_error("status takes only --json");
	if (cli_load_config(c, &err) < 0 || cli_open_store(c, &err) < 0)
		return cli_report(&err);
	schedule = ask_schedule(c, &reply);
	if (as_json) {
		root = json_object_new_object();
		list = json_object_new_array();
		json_object_object_add(root, "profiles", list);
	} else {
		printf("%-20s %-18s %-8s %s\n", "PROFILE", "VENDOR", "STATE", "EXPIRES");
	}
	for (size_t i = 0; i < c->cfg.nprofiles; i++) {
		const struct pb_profile *p = &c->cfg.profiles[i];
		const char *renewal;
		char reason[640];
		struct pb_meta m;
		bool renewing;
		time_t next;

		if (!pb_ctx_applies(&c->ctx, p))
			continue;
		applies++;
		if (pb_store_read_meta(&c->ctx.store, p->name, &m, &err) < 0) {
			memset(&m, 0, sizeof(m));
			m.state = PB_STATE_ERROR;
			snprintf(m.last_error, sizeof(m.last_error), "%s", err.msg);
		}
		/* who renews it, now: the refresher (or `get`), the broker, or the next login */
		renewal = p->credentials == PB_CRED_SYSTEM ? pb_system_renewal(&c->cfg)
			: schedule != NULL ? "refresher" : "on use";
		next = next_refresh(schedule, p->name, &renewing);
		status_reason(p, &m, effective_state(&m, now), renewal, reason, sizeof(reason));
		not_valid += reason[0] != '\0';
		if (as_json)
			json_object_array_add(list, status_json(p, &m, now, next, renewing, renewal,
								reason));
		else
			status_line(p, &m, now, next, renewing, schedule != NULL, renewal, reason);
	}
	if (as_json) {
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	}
	pb_buf_wipe(&reply);
	if (applies == 0)
		fprintf(stderr, "bearer-token: no profile of %s applies to %s (see users = and "
			"groups = there)\n", c->cfg.path, c->ctx.user);
	return applies == 0 ? STATUS_NONE_APPLIES : not_valid > 0 ? STATUS_NOT_VALID : 0;
}

/* Renew one profile now and say how it went; returns its exit code. */
static int refresh_one(struct cli *c, const struct pb_profile *p)
{
	enum pb_outcome outcome;
	struct pb_err err;
	char text[128];
	int rc;

	pb_err_clear(&err);
	rc = cli_ask_daemon(c, PB_CTL_REFRESH, p->name, 0, &err);
	if (rc == 0 && err.code != PB_OK)
		return cli_report(&err);
	if (rc == 0)
		outcome = PB_REFRESHED;     /* the refresher did it; the files say how it went */
	else if (pb_renew(&c->ctx, p, 0, true, &outcome, &err) < 0)
		return cli_report(&err);
	pb_renew_describe(&c->ctx, p, outcome, text, sizeof(text));
	printf("%s: %s\n", p->name, text);
	return 0;
}

/* bearer-token refresh [PROFILE...] */
static int cmd_refresh(struct cli *c, int argc, char **argv)
{
	struct pb_err err;
	int worst = 0, rc;

	pb_err_clear(&err);
	if (cli_load_config(c, &err) < 0 || cli_open_store(c, &err) < 0)
		return cli_report(&err);
	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			const struct pb_profile *p = find_profile(c, argv[i], &err);

			rc = p == NULL ? cli_report(&err) : refresh_one(c, p);
			worst = rc > worst ? rc : worst;
		}
		return worst;
	}
	for (size_t i = 0; i < c->cfg.nprofiles; i++) {
		if (!pb_ctx_applies(&c->ctx, &c->cfg.profiles[i]))
			continue;
		rc = refresh_one(c, &c->cfg.profiles[i]);
		worst = rc > worst ? rc : worst;
	}
	return worst;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	/* for_user: works for the user who runs it (their dirs, groups, config) */
	static const struct {
		const char *name;
		int (*run)(struct cli *, int, char **);
		bool for_user;
	} commands[] = {
		{ "get", cmd_get, true },
		{ "status", cmd_status, true },
		{ "refresh", cmd_refresh, true },
		{ "check-config", cmd_check_config, true },
		{ "pam-session", cmd_pam_session, true },
		{ "daemon", cmd_daemon, true },
		{ "broker", cmd_broker, false },
		{ "pam-system", cmd_pam_system, false },
	};
	static struct cli c;
	struct rlimit no_core = { 0, 0 };
	const char *config_option = NULL;
	struct pb_err err;
	int opt, rc = PB_E_USAGE;

	/* secrets pass through every command: no core dumps, no ptrace by others */
	prctl(PR_SET_DUMPABLE, 0);
	setrlimit(RLIMIT_CORE, &no_core);
	pb_err_clear(&err);
	umask(077);
	/* a worker or the module that went away shows as EPIPE, not as our death */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;     /* our own one-line errors, not getopt's */
	/* "+": stop at the command, whose own options come after it */
	while ((opt = getopt_long(argc, argv, "+:c:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_option = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("bearer-token (pam_bearer) %s\n", PACKAGE_VERSION);
			return 0;
		case ':':
			return cli_usage_error("an option is missing its argument");
		default:
			return cli_usage_error("unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("no command given");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		if (!commands[i].for_user)
			choose_config(&c, config_option, NULL);
		else if (setup_user(&c, config_option, &err) < 0)
			return cli_report(&err);
		c.ctx.store.dirfd = -1;
		rc = commands[i].run(&c, argc - optind, argv + optind);
		pb_ctx_free(&c.ctx);
		if (c.cfg_loaded)
			pb_config_free(&c.cfg);
		return rc;
	}
	return cli_usage_error("unknown command");
}
