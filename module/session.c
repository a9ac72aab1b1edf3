/*
 * session.c - what pam_bearer does at session open and close.
 *
 * The module itself never does HTTP and never writes a user's file: it
 * decides which profiles apply, checks the runtime dir, takes the fast
 * path when every token on disk is still good, and otherwise runs
 * `bearer-token pam-session` as the user (spawn.c) with the system-held
 * secrets on its stdin, then logs and judges the one result line per
 * profile that comes back.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <security/pam_ext.h>
#include <security/pam_modutil.h>

#include "config.h"
#include "creds.h"
#include "ctl.h"
#include "proto.h"
#include "session.h"
#include "spawn.h"
#include "store.h"

#define GRACE_MS 100            /* past the deadline, before we kill the helper */
#define MAX_GROUPS 256
#define NOTIFY_MS 500           /* a refresher that does not answer by then is skipped */
#define SESSION_DATA "pam_bearer_session"

/* Everything one open_session works with. */
struct session {
	pam_handle_t *pamh;
	const struct pb_options *o;
	const char *user;
	const struct passwd *pw;
	struct pb_config cfg;
	bool cfg_loaded;
	gid_t groups[MAX_GROUPS];             /* the user's groups, looked up once */
	size_t ngroups;
	const struct pb_profile **profiles;   /* those that apply, in config order */
	bool *seen;                           /* seen[i]: the helper reported on profiles[i] */
	size_t nprofiles;
	char runtime_dir[PATH_MAX];
	char token_dir[PATH_MAX];
	char session[64];                     /* "PID:COOKIE", how the refresher knows this session */
	long long started_ms;                 /* CLOCK_MONOTONIC at open: the timeout counts from here */
};

#define debug(s, ...) do { if ((s)->o->debug) pam_syslog((s)->pamh, LOG_DEBUG, __VA_ARGS__); } while (0)

/* PAM_USER and its passwd entry; PAM_IGNORE for users we are told to skip. */
static int identify_user(struct session *s)
{
	if (pam_get_user(s->pamh, &s->user, NULL) != PAM_SUCCESS || s->user == NULL ||
	    s->user[0] == '\0') {
		pam_syslog(s->pamh, LOG_ERR, "cannot determine the user");
		return PAM_SESSION_ERR;
	}
	s->pw = pam_modutil_getpwnam(s->pamh, s->user);
	if (s->pw == NULL) {
		pam_syslog(s->pamh, LOG_ERR, "unknown user %s", s->user);
		return PAM_SESSION_ERR;
	}
	if (s->pw->pw_uid == 0 && s->o->ignore_root) {
		debug(s, "user %s is root and ignore_root is set: nothing to do", s->user);
		return PAM_IGNORE;
	}
	if ((long)s->pw->pw_uid < s->o->minimum_uid) {
		debug(s, "user %s has uid %u, below minimum_uid %ld: nothing to do", s->user,
		      (unsigned)s->pw->pw_uid, s->o->minimum_uid);
		return PAM_IGNORE;
	}
	return PAM_SUCCESS;
}

/* The config, read as root: a broken one is an internal error, never PAM_IGNORE. */
static int load_config(struct session *s)
{
	struct pb_err err;

	pb_err_clear(&err);
	if (pb_config_load(s->o->config, PB_VENDOR_DIR, PB_SYSTEM_CREDS_DIR, &s->cfg, &err) < 0) {
		pam_syslog(s->pamh, LOG_ERR, "%s", err.msg);
		return PAM_SESSION_ERR;
	}
	s->cfg_loaded = true;
	return PAM_SUCCESS;
}

/* Keep the profiles that profiles= names and whose users/groups include the user. */
static int select_profiles(struct session *s)
{
	int ngids = MAX_GROUPS;

	/* also the groups the helper runs with (spawn.c): one NSS lookup per login */
	if (getgrouplist(s->pw->pw_name, s->pw->pw_gid, s->groups, &ngids) < 0) {
		s->groups[0] = s->pw->pw_gid;   /* more than MAX_GROUPS: the primary group only */
		ngids = 1;
	}
	s->ngroups = (size_t)ngids;
	s->profiles = calloc(s->cfg.nprofiles + 1, sizeof(const struct pb_profile *));
	s->seen = calloc(s->cfg.nprofiles + 1, sizeof(*s->seen));
	if (s->profiles == NULL || s->seen == NULL)
		return PAM_BUF_ERR;
	for (size_t i = 0; i < s->cfg.nprofiles; i++) {
		const struct pb_profile *p = &s->cfg.profiles[i];

		if (pb_options_want_profile(s->o, p->name) &&
		    pb_profile_applies(p, s->user, s->groups, s->ngroups))
			s->profiles[s->nprofiles++] = p;
	}
	if (s->nprofiles == 0) {
		debug(s, "no profile applies to user %s", s->user);
		return PAM_IGNORE;
	}
	return PAM_SUCCESS;
}

/*
 * The user's runtime dir: the PAM environment's XDG_RUNTIME_DIR (set by
 * pam_systemd), else /run/user/UID, from the uid and never the name. It
 * must be a real directory owned by the user; we never create it (logind
 * owns it, and `su` to a user without a session has none).
 */
static int find_runtime_dir(struct session *s)
{
	const char *env = pam_getenv(s->pamh, "XDG_RUNTIME_DIR");
	struct stat st;
	int fd;

	if (env != NULL && env[0] == '/')
		snprintf(s->runtime_dir, sizeof(s->runtime_dir), "%s", env);
	else
		snprintf(s->runtime_dir, sizeof(s->runtime_dir), "/run/user/%u",
			 (unsigned)s->pw->pw_uid);
	fd = open(s->runtime_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != s->pw->pw_uid) {
		pam_syslog(s->pamh, LOG_NOTICE, "no usable runtime dir %s for %s (%s): no tokens",
			   s->runtime_dir, s->user, fd < 0 ? strerror(errno) : "not owned by the user");
		if (fd >= 0)
			close(fd);
		return PAM_IGNORE;
	}
	close(fd);
	if (snprintf(s->token_dir, sizeof(s->token_dir), "%s/bearer", s->runtime_dir) >=
	    (int)sizeof(s->token_dir))
		return PAM_IGNORE;
	return PAM_SUCCESS;
}

/*
 * Send one line to the user's refresher, if one runs: 0 when it answered.
 * With the user's fs identity, through the checked token dir; the socket
 * itself is checked and connected by inode (pb_ctl_connect).
 */
static int notify_refresher(const struct pb_store *st, const char *what, const char *session)
{
	struct pb_buf req = { 0 }, reply = { 0 };
	int rc = -1;

	if (pb_buf_addf(&req, "%s %s\n", what, session) == 0 &&
	    pb_ctl_call(st->dirfd, st->uid, req.data, req.len, NOTIFY_MS, &reply) == 0 &&
	    reply.data != NULL && strncmp(reply.data, "ok", 2) == 0)
		rc = 0;
	pb_buf_wipe(&req);
	pb_buf_wipe(&reply);
	return rc;
}

/*
 * The fast path: a second session of a user whose tokens are all still
 * good makes no network call and starts no process; it only tells the
 * refresher (unless nodaemon) that one more session uses them. If none
 * answers, the slow path starts one. The files are read with the user's fs
 * identity (pam_modutil_drop_priv), so a link planted in the user's dir
 * cannot make root read something it should not.
 */
static bool all_fresh(struct session *s)
{
	PAM_MODUTIL_DEF_PRIVS(privs);
	struct pb_store st = { .dirfd = -1 };
	bool fresh = true;

	if (pam_modutil_drop_priv(s->pamh, &privs, s->pw) != 0)
		return false;
	if (pb_store_open(s->runtime_dir, s->pw->pw_uid, false, &st, NULL) < 0)
		fresh = false;
	for (size_t i = 0; fresh && i < s->nprofiles; i++)
		fresh = pb_store_token_fresh(&st, s->profiles[i]->name, 0);
	if (fresh && !s->o->nodaemon && notify_refresher(&st, "session-open", s->session) < 0)
		fresh = false;
	pb_store_close(&st);
	if (pam_modutil_regain_priv(s->pamh, &privs) != 0) {
		pam_syslog(s->pamh, LOG_CRIT, "cannot regain privileges");
		return false;
	}
	return fresh;
}

/*
 * The secrets of credentials = system profiles, read as root from the
 * admin store and encoded for the helper's stdin. Only the fields the
 * vendor needs are sent.
 */
static int collect_secrets(struct session *s, struct pb_buf *input)
{
	struct pb_creds creds = { 0 };
	struct pb_err err;
	char path[PATH_MAX];
	bool loaded = false;
	int rc = PAM_SESSION_ERR;

	pb_err_clear(&err);
	for (size_t i = 0; i < s->nprofiles; i++) {
		const struct pb_profile *p = s->profiles[i];

		if (p->credentials != PB_CRED_SYSTEM)
			continue;
		if (!loaded) {
			if (pb_creds_system_path(s->cfg.system_credentials_dir, s->user, path,
						 sizeof(path), &err) < 0 ||
			    pb_creds_load(path, 0, &creds, &err) < 0)
				goto done;
			loaded = true;
		}
		if (pb_creds_check(&creds, p, &err) < 0)
			goto done;
		for (size_t f = 0; f < p->nfields; f++)
			if (pb_proto_put_secret(input, p->name, p->fields[f],
						pb_creds_get(&creds, p->name, p->fields[f])) < 0)
				goto oom;
	}
	if (pb_proto_put_end(input) < 0)
		goto oom;
	rc = PAM_SUCCESS;
	goto done;
oom:
	pb_fail(&err, PB_E_INTERNAL, "out of memory");
	rc = PAM_BUF_ERR;
done:
	if (rc != PAM_SUCCESS)
		pam_syslog(s->pamh, LOG_ERR, "%s", err.msg);
	if (loaded)
		pb_creds_free(&creds);
	return rc;
}

/* Log one result line; returns its code (PB_E_INTERNAL for a line we cannot read). */
static int judge_result(struct session *s, char *line)
{
	const char *profile, *text;
	int code;

	if (pb_proto_parse_result(line, &profile, &code, &text) < 0) {
		pam_syslog(s->pamh, LOG_ERR, "bearer-token sent a malformed line");
		return PB_E_INTERNAL;
	}
	for (size_t i = 0; i < s->nprofiles; i++)
		if (strcmp(s->profiles[i]->name, profile) == 0)
			s->seen[i] = true;
	if (code == PB_OK) {
		if (!s->o->quiet)
			pam_syslog(s->pamh, LOG_INFO, "%s: token %s", profile, text);
		return PB_OK;
	}
	pam_syslog(s->pamh, LOG_ERR, "%s", text);
	return code;
}

/*
 * Turn the helper's output and exit into the PAM answer: PAM_SUCCESS when
 * every profile has a valid token, PAM_SESSION_ERR for internal errors,
 * else vendor trouble (PAM_IGNORE, or PAM_SESSION_ERR with onerror=fail).
 */
static int judge(struct session *s, struct pb_spawn_result *r, double timeout)
{
	bool failed = false, internal = false;
	char *save = NULL;

	/*
	 * Killed at the deadline: what it reported before stands (it may have
	 * been only telling the refresher); profiles without a result failed.
	 */
	if (r->timed_out) {
		pam_syslog(s->pamh, LOG_WARNING, "bearer-token did not finish within %.1f s; "
			   "stopped it", timeout);
	} else if (WIFEXITED(r->status) && WEXITSTATUS(r->status) >= 126) {
		pam_syslog(s->pamh, LOG_ERR, "cannot run %s as %s (exit %d)", PB_HELPER_PATH,
			   s->user, WEXITSTATUS(r->status));
		return PAM_SESSION_ERR;
	}
	for (char *line = r->output.data != NULL ? strtok_r(r->output.data, "\n", &save) : NULL;
	     line != NULL; line = strtok_r(NULL, "\n", &save)) {
		int code = judge_result(s, line);

		internal |= code == PB_E_INTERNAL;
		failed |= code != PB_OK;
	}
	for (size_t i = 0; i < s->nprofiles; i++) {
		if (s->seen[i])
			continue;
		if (r->timed_out)
			pam_syslog(s->pamh, LOG_ERR, "%s: no token: timed out after %.1f s",
				   s->profiles[i]->name, timeout);
		else
			pam_syslog(s->pamh, LOG_ERR, "%s: no token: bearer-token gave no result",
				   s->profiles[i]->name);
		failed = true;
	}
	if (internal)
		return PAM_SESSION_ERR;
	if (failed)
		return s->o->onerror_fail ? PAM_SESSION_ERR : PAM_IGNORE;
	return PAM_SUCCESS;
}

/* Build argv and the clean environment, run the helper, judge its answer. */
static int run_helper(struct session *s)
{
	double timeout = s->o->timeout > 0 ? s->o->timeout : s->cfg.timeout;
	/* one absolute deadline (CLOCK_MONOTONIC is the same in the helper and
	 * its worker), so that no process's start-up is added to the timeout */
	long long deadline_ms = s->started_ms + (long long)(timeout * 1000.0);
	long long left_ms;
	char deadline[32], env_home[PATH_MAX + 8], env_user[300], env_logname[300];
	char env_runtime[PATH_MAX + 20];
	/* the helper's whole environment: nothing of the caller's gets through */
	const char *env[] = { env_home, env_user, env_logname,
			      "PATH=/usr/local/bin:/usr/bin:/bin", env_runtime, NULL };
	const char **argv = calloc(s->nprofiles + 11, sizeof(*argv));
	struct pb_buf input = { 0 };
	struct pb_spawn spawn = { 0 };
	struct pb_spawn_result r = { 0 };
	size_t n = 0;
	int rc;

	if (argv == NULL)
		return PAM_BUF_ERR;
	rc = collect_secrets(s, &input);
	if (rc != PAM_SUCCESS)
		goto done;
	snprintf(deadline, sizeof(deadline), "%lld", deadline_ms);
	snprintf(env_home, sizeof(env_home), "HOME=%s", s->pw->pw_dir);
	snprintf(env_user, sizeof(env_user), "USER=%s", s->user);
	snprintf(env_logname, sizeof(env_logname), "LOGNAME=%s", s->user);
	snprintf(env_runtime, sizeof(env_runtime), "XDG_RUNTIME_DIR=%s", s->runtime_dir);
	argv[n++] = PB_HELPER_PATH;
	argv[n++] = "--config";
	argv[n++] = s->o->config;
	argv[n++] = "pam-session";
	argv[n++] = "--deadline";
	argv[n++] = deadline;
	argv[n++] = "--session";
	argv[n++] = s->session;
	if (s->o->nodaemon)
		argv[n++] = "--nodaemon";
	argv[n++] = "--";
	for (size_t i = 0; i < s->nprofiles; i++)
		argv[n++] = s->profiles[i]->name;
	spawn.pw = s->pw;
	spawn.groups = s->groups;
	spawn.ngroups = s->ngroups;
	spawn.argv = argv;
	spawn.envp = env;
	spawn.input = input.data;
	spawn.input_len = input.len;
	left_ms = deadline_ms - pb_monotonic_ms();
	spawn.timeout_ms = (long)(left_ms > 0 ? left_ms : 0) + GRACE_MS;
	debug(s, "running %s for %zu profile(s) of %s", PB_HELPER_PATH, s->nprofiles, s->user);
	if (pb_spawn_run(s->pamh, &spawn, &r) < 0) {
		rc = PAM_SESSION_ERR;
		goto done;
	}
	rc = judge(s, &r, timeout);
done:
	pb_buf_wipe(&input);
	pb_buf_wipe(&r.output);
	free(argv);
	return rc;
}

static void free_session_data(pam_handle_t *pamh, void *data, int status)
{
	(void)pamh;
	(void)status;
	free(data);
}

/*
 * Name this session for the refresher: the PAM host's pid (the refresher
 * watches it with a pidfd, so a session that ends without close_session
 * still counts as ended) and a random cookie (two sessions in one process
 * stay two). Kept with pam_set_data for close_session.
 */
static int name_session(struct session *s)
{
	unsigned char r[8];
	char *copy;

	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		return PAM_SYSTEM_ERR;
	snprintf(s->session, sizeof(s->session), "%ld:%02x%02x%02x%02x%02x%02x%02x%02x",
		 (long)getpid(), r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
	copy = strdup(s->session);
	if (copy == NULL)
		return PAM_BUF_ERR;
	if (pam_set_data(s->pamh, SESSION_DATA, copy, free_session_data) != PAM_SUCCESS) {
		free(copy);
		return PAM_BUF_ERR;
	}
	return PAM_SUCCESS;
}

int pb_session_open(pam_handle_t *pamh, const struct pb_options *o)
{
	struct session s = { .pamh = pamh, .o = o, .started_ms = pb_monotonic_ms() };
	char env[PATH_MAX + 32];
	int rc;

	if ((rc = identify_user(&s)) != PAM_SUCCESS || (rc = load_config(&s)) != PAM_SUCCESS ||
	    (rc = select_profiles(&s)) != PAM_SUCCESS || (rc = find_runtime_dir(&s)) != PAM_SUCCESS ||
	    (rc = name_session(&s)) != PAM_SUCCESS)
		goto done;
	snprintf(env, sizeof(env), "BEARER_TOKEN_DIR=%s", s.token_dir);
	if (pam_putenv(pamh, env) != PAM_SUCCESS) {
		rc = PAM_BUF_ERR;
		goto done;
	}
	if (all_fresh(&s)) {
		debug(&s, "every token of %s is still valid: nothing to fetch", s.user);
		rc = PAM_SUCCESS;
		goto done;
	}
	rc = run_helper(&s);
done:
	free(s.profiles);
	free(s.seen);
	if (s.cfg_loaded)
		pb_config_free(&s.cfg);
	return rc;
}

int pb_session_close(pam_handle_t *pamh, const struct pb_options *o)
{
	PAM_MODUTIL_DEF_PRIVS(privs);
	struct session s = { .pamh = pamh, .o = o };
	struct pb_store st = { .dirfd = -1 };
	const void *session = NULL;

	/*
	 * Nothing is deleted: other sessions of the user may still use the
	 * tokens, and logind removes the runtime dir after the last one. The
	 * refresher is told, and stops after the last session.
	 */
	if (o->nodaemon || pam_get_data(pamh, SESSION_DATA, &session) != PAM_SUCCESS ||
	    session == NULL || identify_user(&s) != PAM_SUCCESS ||
	    find_runtime_dir(&s) != PAM_SUCCESS)
		goto done;
	if (pam_modutil_drop_priv(pamh, &privs, s.pw) != 0)
		goto done;
	if (pb_store_open(s.runtime_dir, s.pw->pw_uid, false, &st, NULL) == 0 &&
	    notify_refresher(&st, "session-close", session) < 0 && o->debug)
		pam_syslog(pamh, LOG_DEBUG, "no refresher answered at session close");
	pb_store_close(&st);
	if (pam_modutil_regain_priv(pamh, &privs) != 0)
		pam_syslog(pamh, LOG_CRIT, "cannot regain privileges");
done:
	if (o->debug)
		pam_syslog(pamh, LOG_DEBUG, "session closed; tokens stay for other sessions");
	return PAM_SUCCESS;
}
