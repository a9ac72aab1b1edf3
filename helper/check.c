/* SPDX-License-Identifier: MIT */
/*
 * check.c - `bearer-token check-config [--user NAME] [--pam-dir DIR]`:
 * what a login would meet, found before a login fails on it.
 *
 * Without --user: the config (and its presets), its owner and mode as the
 * PAM module judges them, every ca_file, the users and groups it names,
 * the service account and the admin store's dir when a profile is
 * credentials = system, the PAM stack files that load the module (and the
 * profiles= they name), and the caller's own credentials file.
 * With --user NAME (root, or NAME being the caller): also which profiles
 * apply to NAME and why, and each one's credentials as its login reads
 * them: the user's own file as the user, the admin store's file as the
 * service account judges it, and the ca_files as the user can read them.
 *
 * Findings go to stdout; each problem is one line on stderr,
 * "bearer-token: FILE[:LINE]: what (the fix)", and the exit status is 3
 * when there was any. Never a secret: names of sections and fields only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define PB_PAM_DIR "/etc/pam.d"

/* One run of check-config. */
struct check {
	struct cli *c;
	const char *pam_dir;
	unsigned problems;
	/* --user: whom for, and who we are meanwhile (root drops to them to read their files) */
	const struct passwd *user;
	gid_t *gids;
	size_t ngids;
	bool as_root;
	bool module_reads_it;       /* a PAM line loads the module with this config */
};

/* A problem: one line on stderr, counted. */
__attribute__((format(printf, 2, 3)))
static void problem(struct check *k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bearer-token: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	k->problems++;
}

/* Check [p] of creds, a problem when it fails; a warning (not counted) when its expiries disagree. */
static bool check_creds(struct check *k, const struct pb_creds *creds, const struct pb_profile *p)
{
	struct pb_err err;
	char msg[sizeof(err.msg)];

	pb_err_clear(&err);
	if (pb_creds_check(creds, p, &err) < 0) {
		problem(k, "%s", err.msg);
		return false;
	}
	if (pb_creds_expiry_conflict(creds, p, msg, sizeof(msg)))
		fprintf(stderr, "bearer-token: warning: %s\n", msg);
	return true;
}

/*
 * Become the user (effective ids and groups) to read what their login
 * reads, or back to root: 0, or -1 (then nothing is read as anyone).
 * Only when running as root; otherwise we are already whoever we are.
 */
static int become_user(struct check *k, bool user)
{
	if (!k->as_root)
		return 0;
	if (user)
		return setgroups(k->ngids, k->gids) == 0 && setegid(k->user->pw_gid) == 0 &&
		       seteuid(k->user->pw_uid) == 0 ? 0 : -1;
	return seteuid(0) == 0 && setegid(0) == 0 && setgroups(0, NULL) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ the config */

/*
 * The config's owner as the module (root) judges it, when the module reads
 * this config: the default one, or one a PAM line names with config=.
 * (bearer-token, run by a user, also trusts a config of the user's own.)
 */
static void check_config_file(struct check *k)
{
	const char *path = k->c->config_path;
	struct stat st;
	char who[64];

	if (stat(path, &st) < 0)
		return;
	if (st.st_uid != 0 && (k->module_reads_it || strcmp(path, PB_SYSCONF_CONFIG) == 0)) {
		pb_user_name(st.st_uid, who, sizeof(who));
		problem(k, "%s: owned by %s: the PAM module reads only a config owned by root "
			"(chown root %s)", path, who, path);
	}
}

/* Can the ca_file of p be read (as whoever we are now)? */
static void check_ca_file(struct check *k, const struct pb_profile *p, const char *as)
{
	struct stat st;
	int fd;

	if (p->ca_file == NULL)
		return;
	/* O_NONBLOCK: a FIFO put there holds nothing up; fstat then refuses it */
	fd = open(p->ca_file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		problem(k, "%s:%u: [profile %s]: ca_file %s: %s%s (a PEM file of the CA that "
			"signs the vendor's certificate, readable by every user)", p->origin.file,
			p->origin.line, p->name, p->ca_file, strerror(errno), as);
	else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		problem(k, "%s:%u: [profile %s]: ca_file %s: not a regular file", p->origin.file,
			p->origin.line, p->name, p->ca_file);
	if (fd >= 0)
		close(fd);
}

/* Is there a group of this name? (A big group needs a big buffer: grown until it fits.) */
static bool group_exists(const char *name)
{
	struct group gr, *found = NULL;
	size_t size = 4096;
	char *buf = NULL;
	int rc = 0;

	do {
		char *grown = realloc(buf, size *= 2);

		if (grown == NULL)
			break;
		buf = grown;
		rc = getgrnam_r(name, &gr, buf, size, &found);
	} while (rc == ERANGE && size < (1U << 24));
	free(buf);
	return found != NULL;
}

/* Does every name in users = and groups = exist on this host? */
static void check_names(struct check *k, const struct pb_profile *p)
{
	char buf[4096];

	for (size_t i = 0; i < p->nusers; i++) {
		struct passwd pw, *found = NULL;

		if (getpwnam_r(p->users[i], &pw, buf, sizeof(buf), &found) != 0 || found == NULL)
			problem(k, "%s:%u: [profile %s]: users names '%s', who has no account here",
				p->origin.file, p->origin.line, p->name, p->users[i]);
	}
	for (size_t i = 0; i < p->ngroups; i++)
		if (!group_exists(p->groups[i]))
			problem(k, "%s:%u: [profile %s]: groups names '%s', which is not a group "
				"here (getent group %s)", p->origin.file, p->origin.line, p->name,
				p->groups[i], p->groups[i]);
}

/* The service account and the admin store's dir, when some profile is credentials = system. */
static void check_service_account(struct check *k)
{
	const char *dir = k->c->cfg.system_credentials_dir;
	struct passwd pw, *svc = NULL;
	char buf[4096], who[64], group[64];
	struct stat st;
	bool any = false;

	for (size_t i = 0; i < k->c->cfg.nprofiles; i++)
		any = any || k->c->cfg.profiles[i].credentials == PB_CRED_SYSTEM;
	if (!any)
		return;
	if (getpwnam_r(PB_SERVICE_USER, &pw, buf, sizeof(buf), &svc) != 0 || svc == NULL) {
		problem(k, "no service account " PB_SERVICE_USER ": credentials = system profiles "
			"get no token (useradd --system --user-group --home-dir /nonexistent "
			"--shell /usr/sbin/nologin " PB_SERVICE_USER ")");
		return;
	}
	printf("service account %s: uid %u\n", PB_SERVICE_USER, (unsigned)svc->pw_uid);
	if (lstat(dir, &st) < 0) {
		problem(k, "%s: %s (install -d -m 0750 -o root -g %s %s)", dir, strerror(errno),
			PB_SERVICE_USER, dir);
	} else if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || st.st_gid != svc->pw_gid ||
		   (st.st_mode & 0027) != 0) {
		pb_user_name(st.st_uid, who, sizeof(who));
		pb_group_name(st.st_gid, group, sizeof(group));
		problem(k, "%s: %s %s:%s %04o, must be a dir root:%s 0750 (chown root:%s %s; "
			"chmod 0750 %s)", dir, S_ISDIR(st.st_mode) ? "dir" : "not a dir:", who,
			group, (unsigned)(st.st_mode & 07777), PB_SERVICE_USER, PB_SERVICE_USER, dir,
			dir);
	}
}

/* ------------------------------------------------------------------ PAM stack */

/* One line of a PAM stack file that loads the module: show it, judge its profiles=. */
static void check_pam_line(struct check *k, const char *file, unsigned n, char *line)
{
	char *save = NULL;

	printf("PAM: %s:%u: %s\n", file, n, line);
	for (char *w = strtok_r(line, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		char *list, *item, *isave = NULL;

		if (strncmp(w, "config=", 7) == 0 && strcmp(w + 7, k->c->config_path) == 0)
			k->module_reads_it = true;
		if (strncmp(w, "profiles=", 9) != 0)
			continue;
		list = w + 9;
		for (item = strtok_r(list, ",", &isave); item != NULL;
		     item = strtok_r(NULL, ",", &isave)) {
			const char *near;

			if (pb_config_profile(&k->c->cfg, item) != NULL)
				continue;
			near = pb_config_closest_profile(&k->c->cfg, item);
			problem(k, "%s:%u: profiles= names '%s', not a profile of %s%s%s%s", file, n,
				item, k->c->config_path, near ? " (did you mean '" : "",
				near ? near : "", near ? "'?)" : "");
		}
	}
}

/* Every file of the PAM dir that loads pam_bearer.so, with its lines. */
static void check_pam_stack(struct check *k)
{
	struct dirent **names = NULL;
	int n = scandir(k->pam_dir, &names, NULL, alphasort);
	unsigned found = 0;

	for (int i = 0; i < n; i++) {
		char path[4096], line[1024];
		unsigned lineno = 0;
		FILE *f;

		if (names[i]->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", k->pam_dir, names[i]->d_name) >=
		    (int)sizeof(path) ||
		    (f = fopen(path, "re")) == NULL) {
			free(names[i]);
			continue;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			char *hash = strchr(line, '#');

			lineno++;
			if (hash != NULL)
				*hash = '\0';
			line[strcspn(line, "\n")] = '\0';
			if (strstr(line, "pam_bearer.so") != NULL) {
				check_pam_line(k, path, lineno, pb_trim(line));
				found++;
			}
		}
		fclose(f);
		free(names[i]);
	}
	free(names);
	if (found == 0)
		printf("PAM: no file in %s loads pam_bearer.so (see pam_bearer(8))\n", k->pam_dir);
}

/* ------------------------------------------------------------------ one user */

/* Why p applies to the user, or does not, in words. */
static void why_applies(struct check *k, const struct pb_profile *p, bool applies,
			char *out, size_t len)
{
	if (p->nusers == 0 && p->ngroups == 0)
		snprintf(out, len, "applies: no users = or groups =, so everyone");
	else if (applies && pb_profile_applies(p, k->user->pw_name, NULL, 0))
		snprintf(out, len, "applies: users = names %s", k->user->pw_name);
	else if (applies)
		snprintf(out, len, "applies: %s is in a group that groups = names",
			 k->user->pw_name);
	else
		snprintf(out, len, "does not apply: neither users = nor groups = takes %s",
			 k->user->pw_name);
}

/* The user's own credentials file, read as the user, against the profiles that need it. */
static void check_user_creds(struct check *k, const struct pb_profile **v, size_t n)
{
	struct pb_creds creds = { 0 };
	struct pb_err err;
	char path[4096];

	pb_err_clear(&err);
	if (n == 0)
		return;
	if (pb_creds_user_path(k->user->pw_dir, NULL, path, sizeof(path), &err) < 0) {
		problem(k, "%s", err.msg);
		return;
	}
	if (become_user(k, true) < 0) {
		problem(k, "cannot take on the identity of %s to read %s", k->user->pw_name, path);
		become_user(k, false);
		return;
	}
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		problem(k, "%s: missing: %s keeps the secrets of %s there, mode 0600 (see "
			"pam_bearer.conf(5))", path, k->user->pw_name, v[0]->name);
	} else if (pb_creds_load(path, k->user->pw_uid, &creds, &err) < 0) {
		problem(k, "%s", err.msg);
	} else {
		for (size_t i = 0; i < n; i++)
			if (check_creds(k, &creds, v[i]))
				printf("  %s: credentials in %s: OK\n", v[i]->name, path);
	}
	for (size_t i = 0; i < n; i++)
		check_ca_file(k, v[i], " (as the user)");
	pb_creds_free(&creds);
	become_user(k, false);
}

/* The admin store's file of the user, as the service account judges it. */
static void check_system_creds(struct check *k, const struct pb_profile **v, size_t n)
{
	struct pb_creds creds = { 0 };
	struct passwd pw, *svc = NULL;
	struct pb_err err;
	char path[4096], buf[4096];

	pb_err_clear(&err);
	if (n == 0)
		return;
	if (pb_creds_system_path(k->c->cfg.system_credentials_dir, k->user->pw_name, path,
				 sizeof(path), &err) < 0) {
		problem(k, "%s", err.msg);
		return;
	}
	if (!k->as_root) {
		printf("  credentials = system profiles: %s is the admin's; only root can check "
		       "it\n", path);
		return;
	}
	if (getpwnam_r(PB_SERVICE_USER, &pw, buf, sizeof(buf), &svc) != 0 || svc == NULL)
		return;     /* said already */
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		problem(k, "%s: missing: the admin keeps the secrets of %s there, root:"
			PB_SERVICE_USER " 0640 (see pam_bearer.conf(5))", path, v[0]->name);
		return;
	}
	if (pb_creds_load_admin(path, svc->pw_gid, PB_SERVICE_USER, &creds, &err) < 0) {
		problem(k, "%s", err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (check_creds(k, &creds, v[i]))
			printf("  %s: credentials in %s: OK\n", v[i]->name, path);
	pb_creds_free(&creds);
}

/* Everything one user's login meets. */
static void check_user(struct check *k)
{
	const struct pb_config *cfg = &k->c->cfg;
	const struct pb_profile **mine = calloc(cfg->nprofiles + 1,
						 sizeof(const struct pb_profile *));
	const struct pb_profile **sys = calloc(cfg->nprofiles + 1,
						sizeof(const struct pb_profile *));
	size_t nmine = 0, nsys = 0;
	char why[256], dir[64];
	struct stat st;

	if (mine == NULL || sys == NULL) {
		problem(k, "out of memory");
		goto done;
	}
	printf("user %s: uid %u, %zu group%s\n", k->user->pw_name, (unsigned)k->user->pw_uid,
	       k->ngids, k->ngids == 1 ? "" : "s");
	for (size_t i = 0; i < cfg->nprofiles; i++) {
		const struct pb_profile *p = &cfg->profiles[i];
		bool applies = pb_profile_applies(p, k->user->pw_name, k->gids, k->ngids);

		why_applies(k, p, applies, why, sizeof(why));
		printf("  %s (%s, credentials = %s): %s\n", p->name, p->vendor,
		       p->credentials == PB_CRED_SYSTEM ? "system" : "user", why);
		if (applies && p->credentials == PB_CRED_SYSTEM)
			sys[nsys++] = p;
		else if (applies)
			mine[nmine++] = p;
	}
	if (nmine + nsys == 0)
		printf("  no profile applies to %s: a login does nothing\n", k->user->pw_name);
	check_user_creds(k, mine, nmine);
	check_system_creds(k, sys, nsys);
	snprintf(dir, sizeof(dir), "/run/user/%u", (unsigned)k->user->pw_uid);
	if (nmine + nsys > 0 && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)))
		printf("  %s: none now (logind makes it at login; see pam_bearer(8) for hosts "
		       "without it)\n", dir);
done:
	free(mine);
	free(sys);
}

/* --user NAME: who, and whether we may. 0, or -1 after saying why not. */
static int set_user(struct check *k, const char *name)
{
	static struct passwd pw;
	static char buf[4096];
	struct passwd *found = NULL;
	struct pb_err err;

	pb_err_clear(&err);
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &found) != 0 || found == NULL) {
		fprintf(stderr, "bearer-token: check-config --user %s: no such user\n", name);
		return -1;
	}
	k->as_root = geteuid() == 0;
	if (!k->as_root && found->pw_uid != getuid()) {
		fprintf(stderr, "bearer-token: check-config --user %s: only root may check "
			"another user\n", name);
		return -1;
	}
	if (pb_user_groups(found->pw_name, found->pw_gid, &k->gids, &k->ngids, &err) < 0) {
		fprintf(stderr, "bearer-token: %s\n", err.msg);
		return -1;
	}
	k->user = found;
	return 0;
}

/* The caller's own credentials file, when there is one (plain check-config). */
static void check_own_creds(struct check *k)
{
	struct cli *c = k->c;
	struct pb_creds creds = { 0 };
	struct pb_err err;
	struct stat st;
	size_t checked = 0;

	pb_err_clear(&err);
	if (lstat(c->ctx.user_creds_path, &st) < 0)
		return;
	if (pb_creds_load(c->ctx.user_creds_path, c->ctx.uid, &creds, &err) < 0) {
		problem(k, "%s", err.msg);
		return;
	}
	for (size_t i = 0; i < c->cfg.nprofiles; i++) {
		const struct pb_profile *p = &c->cfg.profiles[i];

		if (p->credentials != PB_CRED_USER || !pb_ctx_applies(&c->ctx, p))
			continue;
		if (check_creds(k, &creds, p))
			checked++;
	}
	pb_creds_free(&creds);
	printf("%s: OK, %zu profile%s\n", c->ctx.user_creds_path, checked,
	       checked == 1 ? "" : "s");
}

int cmd_check_config(struct cli *c, int argc, char **argv)
{
	struct check k = { .c = c, .pam_dir = PB_PAM_DIR };
	const char *user = NULL;
	struct pb_err err;

	pb_err_clear(&err);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else if (strcmp(argv[i], "--pam-dir") == 0 && i + 1 < argc)
			k.pam_dir = argv[++i];
		else
			return cli_usage_error("check-config takes only --user NAME and --pam-dir DIR");
	}
	if (cli_load_config(c, &err) < 0)
		return cli_report(&err);
	if (user != NULL && set_user(&k, user) < 0)
		return PB_E_USAGE;
	printf("%s: OK, %zu profile%s\n", c->config_path, c->cfg.nprofiles,
	       c->cfg.nprofiles == 1 ? "" : "s");
	check_pam_stack(&k);
	check_config_file(&k);
	for (size_t i = 0; i < c->cfg.nprofiles; i++) {
		check_names(&k, &c->cfg.profiles[i]);
		if (user == NULL)
			check_ca_file(&k, &c->cfg.profiles[i], "");
	}
	check_service_account(&k);
	if (user != NULL)
		check_user(&k);
	else
		check_own_creds(&k);
	free(k.gids);
	if (k.problems > 0)
		printf("%u problem%s\n", k.problems, k.problems == 1 ? "" : "s");
	return k.problems > 0 ? PB_E_CONFIG : 0;
}
