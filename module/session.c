/* SPDX-License-Identifier: MIT */
/*
 * session.c - what pam_bearer does at session open and close.
 *
 * The module itself never does HTTP, never writes a user's file and never
 * holds a secret: it decides which profiles apply, checks the runtime dir,
 * takes the fast path when every token on disk is still good, and
 * otherwise runs two programs side by side (spawn.c) under the login's
 * deadline: `bearer-token pam-session` as the user, which renews the
 * user's own profiles, and, when a credentials = system profile applies,
 * `bearer-token pam-system` as the service account, which alone reads the
 * admin store and hands back bearer tokens. Those tokens (never a secret)
 * go on to the user's helper to be stored. Then it logs and judges the
 * one result per profile.
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

#include "conf.h"
#include "ctl.h"
#include "proto.h"
#include "session.h"
#include "spawn.h"
#include "store.h"
#include "userdir.h"

#define GRACE_MS 100            /* past the deadline, before we kill the helper */
#define NOTIFY_MS 500           /* a refresher that does not answer by then is skipped */
#define SESSION_DATA "pam_bearer_session"
/* pam_set_data: the stand-in runtime dir this session uses, on a host without logind */
#define USERDIR_DATA "pam_bearer_userdir"

/* Everything one open_session works with. */
struct session {
	pam_handle_t *pamh;
	const struct pb_options *o;
	const char *user;
	const struct passwd *pw;
	struct pb_config cfg;
	bool cfg_loaded;
	gid_t *groups;                        /* the user's groups, looked up once */
	size_t ngroups;
	const struct pb_profile **profiles;   /* those that apply, in config order */
	bool *seen;                           /* seen[i]: a result came for profiles[i] */
	size_t nprofiles, nsystem;            /* nsystem: how many are credentials = system */
	char runtime_dir[PATH_MAX];
	char token_dir[PATH_MAX];
	char session[PB_SESSION_ID_MAX];      /* "PID:COOKIE", how the refresher knows this session */
	long long started_ms;                 /* CLOCK_MONOTONIC at open: the timeout counts from here */
	struct run *run;                      /* the slow path's children, while they run */
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
	struct pb_err err;

	/* also the groups the helper runs with (spawn.c): one NSS lookup per login */
	pb_err_clear(&err);
	if (pb_user_groups(s->pw->pw_name, s->pw->pw_gid, &s->groups, &s->ngroups, &err) < 0)
		return PAM_BUF_ERR;
	s->profiles = calloc(s->cfg.nprofiles + 1, sizeof(const struct pb_profile *));
	s->seen = calloc(s->cfg.nprofiles + 1, sizeof(*s->seen));
	if (s->profiles == NULL || s->seen == NULL)
		return PAM_BUF_ERR;
	for (size_t i = 0; i < s->cfg.nprofiles; i++) {
		const struct pb_profile *p = &s->cfg.profiles[i];

		if (pb_options_want_profile(s->o, p->name) &&
		    pb_profile_applies(p, s->user, s->groups, s->ngroups)) {
			s->profiles[s->nprofiles++] = p;
			s->nsystem += p->credentials == PB_CRED_SYSTEM;
		}
	}
	if (s->nprofiles == 0) {
		debug(s, "no profile applies to user %s", s->user);
		return PAM_IGNORE;
	}
	return PAM_SUCCESS;
}

/* pam_set_data's cleanup for the strings we keep */
static void free_string_data(pam_handle_t *pamh, void *data, int status)
{
	(void)pamh;
	(void)status;
	free(data);
}

/*
 * A host without logind: the stand-in runtime dir (userdir.h), made and
 * marked for this session, and kept for close_session.
 */
static int use_userdir(struct session *s)
{
	char *copy;

	if (pb_userdir_open(s->pamh, &s->cfg, s->pw, s->session, s->runtime_dir,
			    sizeof(s->runtime_dir)) < 0)
		return PAM_IGNORE;
	debug(s, "no /run/user/%u (no logind): tokens in %s/bearer", (unsigned)s->pw->pw_uid,
	      s->runtime_dir);
	copy = strdup(s->runtime_dir);
	if (copy == NULL || pam_set_data(s->pamh, USERDIR_DATA, copy, free_string_data) !=
	    PAM_SUCCESS) {
		pb_userdir_close(s->pamh, s->runtime_dir, s->pw, s->session);
		free(copy);
		return PAM_BUF_ERR;
	}
	return PAM_SUCCESS;
}

/*
 * The user's runtime dir: the PAM environment's XDG_RUNTIME_DIR (set by
 * pam_systemd), else /run/user/UID, from the uid and never the name. It
 * must be a real directory owned by the user; we never create it (logind
 * owns it). When there is none at all (no logind, or `su` to a user
 * without a session), the stand-in of userdir.h; one that is there but
 * not the user's, or an XDG_RUNTIME_DIR that points nowhere, gets nothing.
 */
static int find_runtime_dir(struct session *s, bool opening)
{
	const char *env = pam_getenv(s->pamh, "XDG_RUNTIME_DIR");
	const void *userdir = NULL;
	struct stat st;
	int fd, saved;

	if (env != NULL && env[0] == '/')
		snprintf(s->runtime_dir, sizeof(s->runtime_dir), "%s", env);
	else
		snprintf(s->runtime_dir, sizeof(s->runtime_dir), "/run/user/%u",
			 (unsigned)s->pw->pw_uid);
	fd = open(s->runtime_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	saved = errno;
	if (fd < 0 && saved == ENOENT && (env == NULL || env[0] != '/')) {
		if (!opening && pam_get_data(s->pamh, USERDIR_DATA, &userdir) == PAM_SUCCESS &&
		    userdir != NULL)
			snprintf(s->runtime_dir, sizeof(s->runtime_dir), "%s", (const char *)userdir);
		else if (!opening || use_userdir(s) != PAM_SUCCESS)
			return PAM_IGNORE;
	} else if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != s->pw->pw_uid) {
		pam_syslog(s->pamh, LOG_NOTICE, "no usable runtime dir %s for %s (%s): no tokens",
			   s->runtime_dir, s->user, fd < 0 ? strerror(saved) : "not owned by the user");
		if (fd >= 0)
			close(fd);
		return PAM_IGNORE;
	}
	if (fd >= 0)
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
static int notify_refresher(const struct pb_store *st, enum pb_ctl_cmd cmd, const char *session,
			    long timeout_ms)
{
	struct pb_ctl_request req = { .cmd = cmd };
	struct pb_buf reply = { 0 };
	int rc = -1;

	if (pb_ctl_parse_session(session, &req.session) == 0 &&
	    pb_ctl_ask(st->dirfd, st->uid, &req, timeout_ms, &reply) == 0 &&
	    reply.data != NULL && strncmp(reply.data, "ok", 2) == 0)
		rc = 0;
	pb_buf_wipe(&reply);
	return rc;
}

/*
 * How long the fast path may wait for the refresher: NOTIFY_MS, and never
 * past the login's timeout (the slow path gets what is left).
 */
static long notify_ms(const struct session *s)
{
	double timeout = s->o->timeout > 0 ? s->o->timeout : s->cfg.timeout;
	long long left = s->started_ms + (long long)(timeout * 1000.0) - pb_monotonic_ms();

	return left < 1 ? 1 : left > NOTIFY_MS ? NOTIFY_MS : (long)left;
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
	if (fresh && !s->o->nodaemon &&
	    notify_refresher(&st, PB_CTL_SESSION_OPEN, s->session, notify_ms(s)) < 0)
		fresh = false;
	pb_store_close(&st);
	if (pam_modutil_regain_priv(s->pamh, &privs) != 0) {
		pam_syslog(s->pamh, LOG_CRIT, "cannot regain privileges");
		return false;
	}
	return fresh;
}

/* Mark profile seen; false when it is not one of ours. */
static bool mark_seen(struct session *s, const char *profile)
{
	for (size_t i = 0; i < s->nprofiles; i++)
		if (strcmp(s->profiles[i]->name, profile) == 0)
			return s->seen[i] = true;
	return false;
}

/* Log one result; returns its code. */
static int judge_one(struct session *s, const char *profile, int code, const char *text)
{
	if (!mark_seen(s, profile)) {
		pam_syslog(s->pamh, LOG_ERR, "a result for %s, which is not a profile of this login",
			   profile);
		return PB_E_INTERNAL;
	}
	if (code == PB_OK) {
		if (!s->o->quiet)
			pam_syslog(s->pamh, LOG_INFO, "%s: token %s", profile, text);
		return PB_OK;
	}
	pam_syslog(s->pamh, LOG_ERR, "%s", text);
	return code;
}

/* The two programs a slow-path login runs, and what came of them. */
struct run {
	struct pb_child user;       /* bearer-token pam-session, as the user */
	struct pb_child system;     /* bearer-token pam-system, as the service account */
	bool system_started;
	const struct passwd *svc;   /* the service account */
	gid_t svc_gid;
	bool failed, internal;      /* some profile failed; an internal error happened */
};

/* Fold one code into the verdict. */
static void count(struct run *r, int code)
{
	r->internal |= code == PB_E_INTERNAL;
	r->failed |= code != PB_OK;
}

/*
 * How a child ended, when it ended badly: killed at the deadline, or
 * unable to drop privileges or exec (126, 127). True for the latter.
 */
static bool child_broken(struct session *s, const struct pb_child *c, const char *who,
			 double timeout)
{
	if (c->timed_out) {
		pam_syslog(s->pamh, LOG_WARNING, "%s did not finish within %.1f s; stopped it", who,
			   timeout);
		return false;
	}
	if (WIFEXITED(c->status) && WEXITSTATUS(c->status) >= 126) {
		pam_syslog(s->pamh, LOG_ERR, "cannot run %s as %s (exit %d)", PB_HELPER_PATH, who,
			   WEXITSTATUS(c->status));
		return true;
	}
	return false;
}

/*
 * The service account's state dir (/run/pam_bearer/broker): made here, as
 * root, when it is not there yet (systemd makes it for the broker; a host
 * where the broker never ran still logs in). Its parent is root's and
 * 0755, the dir the service account's and 0700; both are refused if they
 * are anything else, a symlink included.
 */
static int prepare_state_dir(struct session *s)
{
	char dir[PATH_MAX], parent[PATH_MAX];
	struct stat st;
	struct pb_err err;

	pb_err_clear(&err);
	if (pb_config_state_dir(&s->cfg, dir, sizeof(dir), &err) < 0) {
		pam_syslog(s->pamh, LOG_ERR, "%s", err.msg);
		return -1;
	}
	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = '\0';
	if (pb_root_dir(s->pamh, parent) < 0)
		return -1;
	if (mkdir(dir, 0700) == 0 && chown(dir, s->run->svc->pw_uid, s->run->svc_gid) < 0)
		goto fail;
	if (lstat(dir, &st) < 0)
		goto fail;
	if (!S_ISDIR(st.st_mode) || st.st_uid != s->run->svc->pw_uid || (st.st_mode & 077)) {
		pam_syslog(s->pamh, LOG_ERR, "%s must be a directory of " PB_SERVICE_USER "'s, "
			   "mode 0700", dir);
		return -1;
	}
	return 0;
fail:
	pam_syslog(s->pamh, LOG_ERR, "cannot make %s: %m", dir);
	return -1;
}

/*
 * Start bearer-token pam-system as the service account for the system
 * profiles: a clean environment, the login's deadline, nothing on its
 * stdin (it reads the admin store itself). False when it cannot start
 * (logged: an admin's error, never PAM_IGNORE).
 */
static bool start_system(struct session *s, const char *deadline, const char **argv)
{
	static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
	struct run *r = s->run;
	char uid[16];
	size_t n = 0;

	r->svc = pam_modutil_getpwnam(s->pamh, PB_SERVICE_USER);
	if (r->svc == NULL) {
		pam_syslog(s->pamh, LOG_ERR, "the service account " PB_SERVICE_USER " does not "
			   "exist: credentials = system profiles need it (see pam_bearer(8))");
		return false;
	}
	r->svc_gid = r->svc->pw_gid;
	if (prepare_state_dir(s) < 0)
		return false;
	snprintf(uid, sizeof(uid), "%u", (unsigned)s->pw->pw_uid);
	argv[n++] = PB_HELPER_PATH;
	argv[n++] = "--config";
	argv[n++] = s->o->config;
	argv[n++] = "pam-system";
	argv[n++] = "--user";
	argv[n++] = s->user;
	argv[n++] = "--uid";
	argv[n++] = uid;
	argv[n++] = "--deadline";
	argv[n++] = deadline;
	argv[n++] = "--";
	for (size_t i = 0; i < s->nprofiles; i++)
		if (s->profiles[i]->credentials == PB_CRED_SYSTEM)
			argv[n++] = s->profiles[i]->name;
	argv[n] = NULL;
	r->system.pw = r->svc;
	r->system.groups = &r->svc_gid;
	r->system.ngroups = 1;
	r->system.argv = argv;
	r->system.envp = env;
	if (pb_child_start(s->pamh, &r->system) < 0)
		return false;
	r->system_started = true;
	return true;
}

/*
 * What pam-system said: its failures are logged and judged here, its
 * tokens queued (re-encoded after checking) for the user's helper, whose
 * stdin is then closed. The failures go along too (one line, never a
 * secret), so that the user's `status` can say why a profile has no token.
 */
static void pass_tokens(struct session *s)
{
	struct run *r = s->run;
	struct pb_buf tokens = { 0 };
	struct pb_record rec;
	struct pb_err err;
	size_t pos = 0;
	int more;

	pb_err_clear(&err);
	while ((more = pb_proto_next_record(r->system.output.data != NULL ? r->system.output.data
					    : "", r->system.output.len, &pos, &rec, &err)) > 0) {
		if (rec.kind == PB_REC_RESULT) {
			int code = judge_one(s, rec.profile, rec.code, rec.text);

			/* the system store is the admin's: a missing or bad file is theirs to fix */
			count(r, code == PB_E_CONFIG ? PB_E_INTERNAL : code);
			if (rec.code != PB_OK)
				(void)pb_proto_put_result(&tokens, rec.profile, rec.code, rec.text);
		}
		else if (pb_proto_put_token(&tokens, rec.profile, &rec.tok) < 0)
			count(r, PB_E_INTERNAL);
		pb_record_free(&rec);
	}
	if (more < 0 && r->system.output.len > 0 && !r->system.timed_out) {
		pam_syslog(s->pamh, LOG_ERR, "bearer-token pam-system: %s", err.msg);
		count(r, PB_E_INTERNAL);
	}
	pb_proto_put_end(&tokens);
	pb_child_write(&r->user, tokens.data, tokens.len, true);
	pb_buf_wipe(&tokens);
}

/* The user's helper's result lines, judged. */
static void judge_user_output(struct session *s)
{
	struct run *r = s->run;
	char *save = NULL;
	const char *profile, *text;
	int code;

	for (char *line = r->user.output.data != NULL ? strtok_r(r->user.output.data, "\n", &save)
							: NULL;
	     line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (pb_proto_parse_result(line, &profile, &code, &text) < 0) {
			pam_syslog(s->pamh, LOG_ERR, "bearer-token sent a malformed line");
			count(r, PB_E_INTERNAL);
			continue;
		}
		count(r, judge_one(s, profile, code, text));
	}
}

/*
 * The PAM answer: PAM_SUCCESS when every profile has a valid token,
 * PAM_SESSION_ERR for internal errors, else vendor trouble (PAM_IGNORE, or
 * PAM_SESSION_ERR with onerror=fail). Profiles nobody reported on failed.
 */
static int verdict(struct session *s)
{
	struct run *r = s->run;

	for (size_t i = 0; i < s->nprofiles; i++) {
		if (s->seen[i])
			continue;
		pam_syslog(s->pamh, LOG_ERR, "%s: no token: %s", s->profiles[i]->name,
			   r->user.timed_out || r->system.timed_out ? "timed out" : "no result");
		r->failed = true;
	}
	if (r->internal)
		return PAM_SESSION_ERR;
	if (r->failed)
		return s->o->onerror_fail ? PAM_SESSION_ERR : PAM_IGNORE;
	return PAM_SUCCESS;
}

/*
 * The slow path: the user's helper and, for system profiles, pam-system,
 * side by side under one deadline; pam-system's tokens go to the helper
 * as soon as it is done. Then judge what came back.
 */
static int run_helpers(struct session *s)
{
	double timeout = s->o->timeout > 0 ? s->o->timeout : s->cfg.timeout;
	/* one absolute deadline (CLOCK_MONOTONIC is the same in every child),
	 * so that no process's start-up is added to the timeout */
	long long deadline_ms = s->started_ms + (long long)(timeout * 1000.0);
	long long hard = deadline_ms + GRACE_MS;
	char deadline[32], env_home[PATH_MAX + 8], env_user[300], env_logname[300];
	char env_runtime[PATH_MAX + 20];
	/* the helper's whole environment: nothing of the caller's gets through */
	const char *env[] = { env_home, env_user, env_logname,
			      "PATH=/usr/local/bin:/usr/bin:/bin", env_runtime, NULL };
	const char **argv = calloc(s->nprofiles + 12, sizeof(*argv));
	const char **sys_argv = calloc(s->nprofiles + 12, sizeof(*sys_argv));
	struct run r = { .user = PB_CHILD_INIT, .system = PB_CHILD_INIT };
	struct pb_child *both[2] = { &r.system, &r.user }, *user_only[1] = { &r.user };
	struct sigaction saved;
	size_t n = 0;
	int rc = PAM_SESSION_ERR;

	s->run = &r;
	if (argv == NULL || sys_argv == NULL) {
		rc = PAM_BUF_ERR;
		goto done;
	}
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
		if (s->profiles[i]->credentials == PB_CRED_USER)
			argv[n++] = s->profiles[i]->name;
	r.user.pw = s->pw;
	r.user.groups = s->groups;
	r.user.ngroups = s->ngroups;
	r.user.argv = argv;
	r.user.envp = env;
	debug(s, "running %s for %zu profile(s) of %s (%zu held by the system)", PB_HELPER_PATH,
	      s->nprofiles, s->user, s->nsystem);
	pb_spawn_begin(&saved);
	if (pb_child_start(s->pamh, &r.user) < 0)
		goto restore;
	if (s->nsystem > 0 && !start_system(s, deadline, sys_argv))
		count(&r, PB_E_INTERNAL);
	if (r.system_started)
		pb_children_run(both, 2, 1, hard);
	pass_tokens(s);
	pb_children_run(user_only, 1, 1, hard);
	pb_child_finish(&r.system);
	pb_child_finish(&r.user);
	if (child_broken(s, &r.user, s->user, timeout) ||
	    (r.system_started && child_broken(s, &r.system, PB_SERVICE_USER, timeout)))
		count(&r, PB_E_INTERNAL);
	judge_user_output(s);
	rc = verdict(s);
restore:
	pb_spawn_end(&saved);
done:
	pb_child_finish(&r.system);
	pb_child_finish(&r.user);
	pb_buf_wipe(&r.user.output);
	pb_buf_wipe(&r.system.output);
	s->run = NULL;
	free(argv);
	free(sys_argv);
	return rc;
}

/*
 * Name this session for the refresher: the PAM host's pid (the refresher
 * watches it with a pidfd, so a session that ends without close_session
 * still counts as ended) and a random cookie (two sessions in one process
 * stay two). Kept with pam_set_data for close_session.
 */
static int name_session(struct session *s)
{
	struct pb_session_id id = { .pid = getpid() };
	unsigned char r[8];
	char *copy;

	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		return PAM_SYSTEM_ERR;
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(id.cookie + 2 * i, 3, "%02x", r[i]);
	pb_ctl_put_session(&id, s->session);
	copy = strdup(s->session);
	if (copy == NULL)
		return PAM_BUF_ERR;
	if (pam_set_data(s->pamh, SESSION_DATA, copy, free_string_data) != PAM_SUCCESS) {
		free(copy);
		return PAM_BUF_ERR;
	}
	return PAM_SUCCESS;
}

/*
 * WLCG Bearer Token Discovery: when the wlcg_discovery profile is one of
 * this login's, BEARER_TOKEN_FILE names the bt_u<uid> file its token is
 * kept in (lib/store.c), beside the token dir.
 */
static int export_discovery(struct session *s)
{
	char env[PATH_MAX + 48];
	bool ours = false;

	for (size_t i = 0; s->cfg.wlcg_discovery != NULL && i < s->nprofiles; i++)
		ours = ours || strcmp(s->profiles[i]->name, s->cfg.wlcg_discovery) == 0;
	if (!ours)
		return PAM_SUCCESS;
	snprintf(env, sizeof(env), "BEARER_TOKEN_FILE=%s/bt_u%u", s->runtime_dir,
		 (unsigned)s->pw->pw_uid);
	return pam_putenv(s->pamh, env);
}

int pb_session_open(pam_handle_t *pamh, const struct pb_options *o)
{
	struct session s = { .pamh = pamh, .o = o, .started_ms = pb_monotonic_ms() };
	char env[PATH_MAX + 32];
	int rc;

	if ((rc = identify_user(&s)) != PAM_SUCCESS || (rc = load_config(&s)) != PAM_SUCCESS ||
	    (rc = select_profiles(&s)) != PAM_SUCCESS || (rc = name_session(&s)) != PAM_SUCCESS ||
	    (rc = find_runtime_dir(&s, true)) != PAM_SUCCESS)
		goto done;
	snprintf(env, sizeof(env), "BEARER_TOKEN_DIR=%s", s.token_dir);
	if (pam_putenv(pamh, env) != PAM_SUCCESS || export_discovery(&s) != PAM_SUCCESS) {
		rc = PAM_BUF_ERR;
		goto done;
	}
	if (all_fresh(&s)) {
		debug(&s, "every token of %s is still valid: nothing to fetch", s.user);
		rc = PAM_SUCCESS;
		goto done;
	}
	rc = run_helpers(&s);
done:
	free(s.profiles);
	free(s.seen);
	free(s.groups);
	if (s.cfg_loaded)
		pb_config_free(&s.cfg);
	return rc;
}

int pb_session_close(pam_handle_t *pamh, const struct pb_options *o)
{
	PAM_MODUTIL_DEF_PRIVS(privs);
	struct session s = { .pamh = pamh, .o = o };
	struct pb_store st = { .dirfd = -1 };
	const void *session = NULL, *userdir = NULL;

	/*
	 * Nothing is deleted: other sessions of the user may still use the
	 * tokens, and logind removes the runtime dir after the last one. The
	 * refresher is told, and stops after the last session. On a host
	 * without logind, the last session removes the stand-in (userdir.h).
	 */
	if (pam_get_data(pamh, SESSION_DATA, &session) != PAM_SUCCESS || session == NULL ||
	    identify_user(&s) != PAM_SUCCESS || find_runtime_dir(&s, false) != PAM_SUCCESS)
		goto done;
	if (!o->nodaemon && pam_modutil_drop_priv(pamh, &privs, s.pw) == 0) {
		if (pb_store_open(s.runtime_dir, s.pw->pw_uid, false, &st, NULL) == 0 &&
		    notify_refresher(&st, PB_CTL_SESSION_CLOSE, session, NOTIFY_MS) < 0 &&
		    o->debug)
			pam_syslog(pamh, LOG_DEBUG, "no refresher answered at session close");
		pb_store_close(&st);
		if (pam_modutil_regain_priv(pamh, &privs) != 0) {
			pam_syslog(pamh, LOG_CRIT, "cannot regain privileges");
			goto done;
		}
	}
	if (pam_get_data(pamh, USERDIR_DATA, &userdir) == PAM_SUCCESS && userdir != NULL)
		pb_userdir_close(pamh, userdir, s.pw, session);
done:
	if (o->debug)
		pam_syslog(pamh, LOG_DEBUG, "session closed");
	return PAM_SUCCESS;
}
