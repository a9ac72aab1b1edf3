/* SPDX-License-Identifier: MIT */
/*
 * test_pam_bearer.c - pam_bearer.so through a real libpam stack under cwrap
 * (pam_wrapper, nss_wrapper, uid_wrapper when not root), driven by
 * libpamtest + cmocka, against the TLS mock vendor.
 *
 * Run by tests/pam/run-wrapped.sh (make check), which builds the world and
 * passes it in PB_TEST_DIR (T), PB_TEST_UID (alice's uid), PB_TEST_ROOT,
 * PB_TEST_BOB_UID (empty when not root), PB_MOCK_URL (the vendor),
 * PB_MOCK_CTL (its plain-HTTP control port, if any), PB_TEST_CA and
 * BEARER_TOKEN_BIN. Its service files (T/services) put pam_env (result
 * ignored) in front of "session required pam_bearer_test.so ...", so what
 * pam_open_session() returns is pam_bearer's own answer, except that
 * PAM_IGNORE comes back as PAM_PERM_DENIED (libpam: nobody decided).
 *
 * Whether the module started a process during a PAM call is read from
 * getrusage(RUSAGE_CHILDREN) (page faults of reaped children), and helper
 * processes are found in /proc by their executable or argv[0] plus a
 * mention of T (their --config) in argv or environment.
 *
 * Module logs: pam_wrapper turns pam_syslog() into stderr lines like
 *     PWRAP_ERROR[prog (pid)] - SYSLOG(3): message
 * (SYSLOG(n): n is the priority; PAM_WRAPPER_DEBUGLEVEL=2 shows all of
 * them). Each PAM call runs with fd 2 redirected into T/logs/<name>.log,
 * which the test reads back; the log is echoed into the test's own output
 * as "# " lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libpamtest.h>
#include <security/pam_appl.h>

/* what pam_open_session() returns when pam_bearer said PAM_IGNORE */
#define PB_IGNORED PAM_PERM_DENIED

static const char *T, *MOCK, *CTL, *CA, *HELPER;
static uid_t U;                 /* alice */
static bool ROOT;               /* really root: alice, bob are real other uids */
static long BOB = -1;           /* bob's uid, -1 when there is none */
static char RUNDIR[PATH_MAX];   /* T/run/U, alice's XDG_RUNTIME_DIR */
static char TOKDIR[PATH_MAX];   /* RUNDIR/bearer */

/* ------------------------------------------------------------------ utils */

/* snprintf that fails the test instead of truncating */
static void xsnprintf(char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void xsnprintf(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen) {
		fprintf(stderr, "path or text too long: %s\n", fmt);
		abort();
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *need_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || v[0] == '\0') {
		fprintf(stderr, "%s is not set: run me through tests/pam/run-wrapped.sh\n", name);
		exit(99);
	}
	return v;
}

/* Read a whole file (at most 4 MiB); NULL when it cannot be opened. */
static char *read_all(const char *path, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t r;

		if (len + 4096 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			if (nb == NULL)
				break;
			buf = nb;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || len > 4 * 1024 * 1024)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (buf == NULL)
		return NULL;
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

static bool mem_has(const char *hay, size_t len, const char *needle)
{
	return hay != NULL && memmem(hay, len, needle, strlen(needle)) != NULL;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Names in a directory (not . and ..), space-separated; "" when empty. */
static void list_dir(const char *path, char *out, size_t outlen)
{
	DIR *d = opendir(path);
	struct dirent *e;

	out[0] = '\0';
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		xsnprintf(out + strlen(out), outlen - strlen(out), "%s%s", out[0] ? " " : "",
			 e->d_name);
	}
	closedir(d);
}

/*
 * Run a command (absolute path or PATH lookup) with a minimal environment
 * (none of the wrappers, no SSLKEYLOGFILE, no proxies) and its stdout in
 * out. Returns the exit status, -1 if it did not exit normally.
 */
static int run_cmd(const char *const *argv, char *out, size_t outlen)
{
	char *envp[] = { NULL, NULL };
	char **av;
	size_t n = 0, len = 0;
	int pfd[2], status;
	pid_t pid;

	while (argv[n] != NULL)
		n++;
	av = calloc(n + 1, sizeof(*av));
	assert_non_null(av);
	for (size_t i = 0; i < n; i++)
		av[i] = strdup(argv[i]);
	envp[0] = strdup("PATH=/usr/local/bin:/usr/bin:/bin");
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		execvpe(av[0], av, envp);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char junk[512];
		char *dst = out != NULL && len + 1 < outlen ? out + len : junk;
		size_t room = out != NULL && len + 1 < outlen ? outlen - len - 1 : sizeof(junk);
		ssize_t r = read(pfd[0], dst, room);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (dst != junk)
			len += (size_t)r;
	}
	close(pfd[0]);
	if (out != NULL && outlen > 0)
		out[len] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	for (size_t i = 0; i < n; i++)
		free(av[i]);
	free(av);
	free(envp[0]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void rm_rf(const char *path)
{
	const char *argv[] = { "rm", "-rf", "--", path, NULL };

	assert_int_equal(run_cmd(argv, NULL, 0), 0);
}

/* ------------------------------------------------------------------ mock */

static void mock_post(const char *path, const char *json)
{
	char url[1024];
	const char *argv[] = { "curl", "-sS", "-f", "--max-time", "10", "--noproxy", "*",
			       "--cacert", CA, "-X", "POST", "-H", "Content-Type: application/json",
			       "--data-binary", json, url, NULL };

	xsnprintf(url, sizeof(url), "%s%s", CTL, path);
	if (run_cmd(argv, NULL, 0) != 0)
		fail_msg("mock control %s %s failed", path, json);
}

static struct json_object *mock_stats(void)
{
	static char out[1 << 20];
	char url[1024];
	const char *argv[] = { "curl", "-sS", "-f", "--max-time", "10", "--noproxy", "*",
			       "--cacert", CA, url, NULL };
	struct json_object *j;

	xsnprintf(url, sizeof(url), "%s/_mock/stats", CTL);
	assert_int_equal(run_cmd(argv, out, sizeof(out)), 0);
	j = json_tokener_parse(out);
	assert_non_null(j);
	return j;
}

/* requests the mock saw on path */
static int mock_count(const char *path)
{
	struct json_object *j = mock_stats(), *counts, *n;
	int v = 0;

	if (json_object_object_get_ex(j, "counts", &counts) &&
	    json_object_object_get_ex(counts, path, &n))
		v = json_object_get_int(n);
	json_object_put(j);
	return v;
}

/* vendor requests the mock saw in all */
static int mock_total(void)
{
	struct json_object *j = mock_stats(), *reqs;
	int v = -1;

	if (json_object_object_get_ex(j, "requests", &reqs))
		v = (int)json_object_array_length(reqs);
	json_object_put(j);
	return v;
}

/* HTTP status of the mock's protected resource with a .header file */
static int whoami(const char *header_file)
{
	char url[1024], hdr[PATH_MAX + 2], out[64];
	const char *argv[] = { "curl", "-sS", "--max-time", "10", "--noproxy", "*",
			       "--cacert", CA, "-o", "/dev/null", "-w", "%{http_code}",
			       "-H", hdr, url, NULL };

	xsnprintf(url, sizeof(url), "%s/v1/whoami", MOCK);
	xsnprintf(hdr, sizeof(hdr), "@%s", header_file);
	run_cmd(argv, out, sizeof(out));
	return atoi(out);
}

/* ------------------------------------------------------------------ logs */

struct capture {
	int saved, fd;
};

static void cap_begin(struct capture *c, const char *name)
{
	char path[PATH_MAX];

	xsnprintf(path, sizeof(path), "%s/logs/%s.log", T, name);
	fflush(stderr);
	c->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	assert_true(c->fd >= 0);
	c->saved = fcntl(2, F_DUPFD_CLOEXEC, 10);
	assert_true(c->saved >= 0);
	assert_int_equal(dup2(c->fd, 2), 2);
}

/* Stop capturing; the text captured since cap_begin, malloc()ed. */
static char *cap_end(struct capture *c)
{
	off_t end;
	char *text;
	ssize_t r;

	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	end = lseek(c->fd, 0, SEEK_END);
	text = calloc(1, (size_t)end + 1);
	assert_non_null(text);
	r = pread(c->fd, text, (size_t)end, 0);
	close(c->fd);
	text[r > 0 ? r : 0] = '\0';
	return text;
}

static void echo_log(const char *what, const char *log)
{
	const char *p = log;

	fprintf(stderr, "# --- %s\n", what);
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(stderr, "#   %.*s\n", n, p);
		p += n + (nl ? 1 : 0);
	}
}

/*
 * The first module log line (SYSLOG(n) from pam_wrapper) that contains
 * every one of the given strings (case-insensitive); its priority in
 * *prio. NULL when there is none. The result is a malloc()ed copy.
 */
static char *log_line(const char *log, int *prio, ...)
{
	const char *p = log;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, n);
		const char *s = strstr(line, "SYSLOG(");
		bool all = s != NULL;
		va_list ap;
		const char *want;

		va_start(ap, prio);
		while (all && (want = va_arg(ap, const char *)) != NULL)
			all = strcasestr(s, want) != NULL;
		va_end(ap);
		if (all) {
			if (prio != NULL)
				*prio = atoi(s + strlen("SYSLOG(")) & 7;
			return line;
		}
		free(line);
		p += n + (nl ? 1 : 0);
	}
	return NULL;
}

#define assert_log_has(log, ...) do { \
		char *l_ = log_line((log), NULL, __VA_ARGS__, (const char *)NULL); \
		if (l_ == NULL) \
			fail_msg("no module log line with all of: %s", #__VA_ARGS__); \
		free(l_); \
	} while (0)

/* ------------------------------------------------------------------ PAM */

/* libpamtest writes PAM_ERROR_MSG/TEXT_INFO into these without a NUL
 * and dereferences conv data on every message: never pass NULL. */
#define NMSG 32
struct msgs {
	char err[NMSG][PAM_MAX_MSG_SIZE];
	char info[NMSG][PAM_MAX_MSG_SIZE];
	char *errp[NMSG + 1];
	char *infop[NMSG + 1];
	struct pamtest_conv_data conv;
};

static struct msgs msgs_buf;

static struct pamtest_conv_data *msgs_init(struct msgs *m)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < NMSG; i++) {
		m->errp[i] = m->err[i];
		m->infop[i] = m->info[i];
	}
	m->conv.out_err = m->errp;
	m->conv.out_info = m->infop;
	return &m->conv;
}

struct sess {
	char **env;          /* the PAM environment after open_session */
	pam_handle_t *ph;
	char *log;           /* module log of the open_session */
	double secs;         /* how long open_session took */
	bool spawned;        /* it started (and reaped) at least one process */
};

/*
 * Page faults of all reaped children of this process: any process the
 * module forks and waits for adds to it (an exec alone costs hundreds), so
 * an unchanged value means no process was started.
 */
static long child_faults(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_CHILDREN, &ru), 0);
	return ru.ru_minflt + ru.ru_majflt;
}

/*
 * pam_start(svc, user) + pam_open_session (expecting `expect`) +
 * pam_getenvlist, keeping the handle. Fails the test on any other result,
 * printing the module log.
 */
static void sess_open(struct sess *s, const char *svc, const char *user, int expect)
{
	struct pam_testcase tc[] = {
		pam_test(PAMTEST_OPEN_SESSION, expect),
		pam_test(PAMTEST_GETENVLIST, PAM_SUCCESS),
		pam_test(PAMTEST_KEEPHANDLE, PAM_SUCCESS),
	};
	struct capture c;
	enum pamtest_err perr;
	char what[256];
	double t0;
	long faults0;

	memset(s, 0, sizeof(*s));
	cap_begin(&c, svc);
	faults0 = child_faults();
	t0 = now();
	perr = run_pamtest(svc, user, msgs_init(&msgs_buf), tc, NULL);
	s->secs = now() - t0;
	s->spawned = child_faults() != faults0;
	s->log = cap_end(&c);
	xsnprintf(what, sizeof(what), "%s as %s: open_session -> %d in %.2f s (expected %d)%s",
		  svc, user, tc[0].op_rv, s->secs, expect, s->spawned ? ", started a process" : "");
	echo_log(what, s->log);
	if (perr != PAMTEST_ERR_OK)
		fail_msg("%s: %s: pam_open_session returned %d (%s), expected %d (%s)",
			 svc, pamtest_strerror(perr), tc[0].op_rv, pam_strerror(NULL, tc[0].op_rv),
			 expect, pam_strerror(NULL, expect));
	s->env = tc[1].case_out.envlist;
	s->ph = tc[2].case_out.ph;
}

/* pam_close_session (its result when check_close), then pam_end. */
static int sess_end(struct sess *s, bool check_close)
{
	int rv = PAM_SUCCESS;

	if (s->ph != NULL) {
		struct capture c;
		char *log;

		cap_begin(&c, "close");
		rv = pam_close_session(s->ph, 0);
		pam_end(s->ph, rv);
		log = cap_end(&c);
		echo_log("close_session", log);
		free(log);
		s->ph = NULL;
	}
	pamtest_free_env(s->env);
	s->env = NULL;
	free(s->log);
	s->log = NULL;
	if (check_close)
		assert_int_equal(rv, PAM_SUCCESS);
	return rv;
}

static const char *env_get(char **envlist, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; envlist != NULL && envlist[i] != NULL; i++)
		if (strncmp(envlist[i], name, n) == 0 && envlist[i][n] == '=')
			return envlist[i] + n + 1;
	return NULL;
}

static void assert_tokdir_env(struct sess *s)
{
	const char *v = env_get(s->env, "BEARER_TOKEN_DIR");

	if (v == NULL)
		fail_msg("BEARER_TOKEN_DIR is not in the PAM environment");
	assert_string_equal(v, TOKDIR);
}

#define assert_no_helper(s) do { \
		if ((s)->spawned) \
			fail_msg("the module started a process (the helper) here"); \
	} while (0)

static void assert_no_tokdir_env(struct sess *s)
{
	const char *v = env_get(s->env, "BEARER_TOKEN_DIR");

	if (v != NULL)
		fail_msg("BEARER_TOKEN_DIR=%s is in the PAM environment", v);
}

/* ------------------------------------------------------------------ files */

static void tok_path(char *out, size_t outlen, const char *profile, const char *ext)
{
	xsnprintf(out, outlen, "%s/%s.%s", TOKDIR, profile, ext);
}

static void assert_owned_file(const char *path, mode_t mode)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		fail_msg("%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		fail_msg("%s is not a regular file", path);
	if ((st.st_mode & 07777) != mode)
		fail_msg("%s has mode %04o, want %04o", path, (unsigned)(st.st_mode & 07777),
			 (unsigned)mode);
	if (st.st_uid != U)
		fail_msg("%s is owned by %u, want %u", path, (unsigned)st.st_uid, (unsigned)U);
}

static void assert_tokdir_ok(void)
{
	struct stat st;

	if (lstat(TOKDIR, &st) != 0)
		fail_msg("%s: %s", TOKDIR, strerror(errno));
	assert_true(S_ISDIR(st.st_mode));
	if ((st.st_mode & 07777) != 0700)
		fail_msg("%s has mode %04o, want 0700", TOKDIR, (unsigned)(st.st_mode & 07777));
	assert_int_equal(st.st_uid, U);
}

/*
 * The profile's three files: 0600, alice's; the header is exactly
 * "Authorization: Bearer <token>\n"; the .json names the profile, state
 * valid. The token (malloc()ed) in *token_out when not NULL.
 */
static void assert_profile_files(const char *profile, const char *vendor, char **token_out)
{
	char p_tok[PATH_MAX], p_hdr[PATH_MAX], p_json[PATH_MAX], *tok, *hdr, *want;
	struct json_object *j, *v;

	assert_tokdir_ok();
	tok_path(p_tok, sizeof(p_tok), profile, "token");
	tok_path(p_hdr, sizeof(p_hdr), profile, "header");
	tok_path(p_json, sizeof(p_json), profile, "json");
	assert_owned_file(p_tok, 0600);
	assert_owned_file(p_hdr, 0600);
	assert_owned_file(p_json, 0600);

	tok = read_all(p_tok, NULL);
	hdr = read_all(p_hdr, NULL);
	assert_non_null(tok);
	assert_non_null(hdr);
	assert_true(strlen(tok) > 10);
	for (const char *c = tok; *c; c++)
		if (!isgraph((unsigned char)*c))
			fail_msg("%s holds a non-printable or blank byte 0x%02x", p_tok, *c);
	assert_true(asprintf(&want, "Authorization: Bearer %s\n", tok) > 0);
	assert_string_equal(hdr, want);
	free(want);
	free(hdr);

	j = json_object_from_file(p_json);
	if (j == NULL)
		fail_msg("%s is not JSON", p_json);
	assert_true(json_object_object_get_ex(j, "profile", &v));
	assert_string_equal(json_object_get_string(v), profile);
	assert_true(json_object_object_get_ex(j, "vendor", &v));
	assert_string_equal(json_object_get_string(v), vendor);
	assert_true(json_object_object_get_ex(j, "state", &v));
	assert_string_equal(json_object_get_string(v), "valid");
	json_object_put(j);

	if (token_out != NULL)
		*token_out = tok;
	else
		free(tok);
}

/* ------------------------------------------------------------------ /proc */

struct procscan {
	int helpers;          /* our bearer-token processes */
	pid_t pids[64];       /* the first of them */
	int zombies;          /* children of this process not reaped */
	int children;         /* children of this process */
	int hits;             /* canary sightings */
	char where[256];      /* first sighting */
};

static bool is_helper(const char *pid, const char *cmd, size_t cmdlen)
{
	char path[64], exe[PATH_MAX], *env;
	size_t envlen = 0;
	ssize_t n;
	bool helper, ours;
	const char *base;

	if (cmdlen == 0)
		return false;
	base = strrchr(cmd, '/');
	base = base ? base + 1 : cmd;
	helper = strcmp(cmd, HELPER) == 0 || strcmp(base, "bearer-token") == 0;
	xsnprintf(path, sizeof(path), "/proc/%s/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		helper = helper || strcmp(exe, HELPER) == 0;
	}
	if (!helper)
		return false;
	/*
	 * ours, not another test's: every helper and refresher this suite
	 * starts names T in its argv (--config T/...), or else its environment
	 * does. An environment we may not read proves nothing: every refresher
	 * is non-dumpable, the ones another test runs in parallel too.
	 */
	xsnprintf(path, sizeof(path), "/proc/%s/environ", pid);
	env = read_all(path, &envlen);
	ours = mem_has(cmd, cmdlen, T) || (env != NULL && mem_has(env, envlen, T));
	free(env);
	return ours;
}

static void proc_scan(const char *canary, struct procscan *ps)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t self = getpid();

	memset(ps, 0, sizeof(*ps));
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[64], *cmd, *env, *stat;
		size_t cmdlen = 0, envlen = 0;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		xsnprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		stat = read_all(path, NULL);
		if (stat != NULL) {
			const char *rp = strrchr(stat, ')');
			char state = 0;
			int ppid = 0;

			if (rp != NULL && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 &&
			    ppid == (int)self) {
				ps->children++;
				if (state == 'Z')
					ps->zombies++;
			}
			free(stat);
		}
		xsnprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		cmd = read_all(path, &cmdlen);
		if (cmd == NULL)
			continue;
		if (is_helper(e->d_name, cmd, cmdlen) && ps->helpers++ < 64)
			ps->pids[ps->helpers - 1] = (pid_t)atol(e->d_name);
		if (canary != NULL && mem_has(cmd, cmdlen, canary) && ps->hits++ == 0)
			xsnprintf(ps->where, sizeof(ps->where), "/proc/%s/cmdline", e->d_name);
		free(cmd);
		if (canary == NULL)
			continue;
		xsnprintf(path, sizeof(path), "/proc/%s/environ", e->d_name);
		env = read_all(path, &envlen);
		if (mem_has(env, envlen, canary) && ps->hits++ == 0)
			xsnprintf(ps->where, sizeof(ps->where), "/proc/%s/environ", e->d_name);
		free(env);
	}
	closedir(d);
}

/* Wait up to ms for our helpers to be gone; the last scan in *ps. */
static void wait_helpers_gone(long ms, struct procscan *ps)
{
	double end = now() + (double)ms / 1000.0;

	for (;;) {
		proc_scan(NULL, ps);
		if ((ps->helpers == 0 && ps->children == 0) || now() > end)
			return;
		sleep_ms(20);
	}
}

/* A sampler thread scanning /proc while a PAM call runs. */
struct sampler {
	pthread_t th;
	atomic_bool stop;
	const char *canary;
	int scans, helper_scans, hits;
	char where[256];
	char env[16384];     /* the first helper environment it could read */
	size_t envlen;
};

static void *sampler_main(void *arg)
{
	struct sampler *s = arg;

	for (;;) {
		struct procscan ps;
		bool last = atomic_load(&s->stop);

		proc_scan(s->canary, &ps);
		s->scans++;
		if (ps.helpers > 0)
			s->helper_scans++;
		if (ps.hits > 0 && s->hits++ == 0)
			xsnprintf(s->where, sizeof(s->where), "%s", ps.where);
		for (int i = 0; s->envlen == 0 && i < ps.helpers && i < 64; i++) {
			char path[64], *env;
			size_t len = 0;

			xsnprintf(path, sizeof(path), "/proc/%ld/environ", (long)ps.pids[i]);
			env = read_all(path, &len);
			if (env != NULL && len > 0 && len <= sizeof(s->env)) {
				memcpy(s->env, env, len);
				s->envlen = len;
			}
			free(env);
		}
		if (last)
			return NULL;
		sleep_ms(10);
	}
}

/* A thread that SIGSTOPs every helper process of ours it finds: a helper
 * stuck for good (say in a DNS lookup or on a dead NFS home). */
struct stopper {
	pthread_t th;
	atomic_bool stop;
	int stopped;
	bool rescued;   /* the module never gave up: we killed them after 4 s */
};

static void *stopper_main(void *arg)
{
	struct stopper *s = arg;
	double rescue_at = now() + 4.0;

	while (!atomic_load(&s->stop)) {
		struct procscan ps;
		bool rescue = now() > rescue_at;

		proc_scan(NULL, &ps);
		for (int i = 0; i < ps.helpers && i < 64; i++) {
			if (rescue) {
				kill(ps.pids[i], SIGKILL);   /* so that this test ends */
				s->rescued = true;
			} else if (kill(ps.pids[i], SIGSTOP) == 0) {
				s->stopped++;
			}
		}
		sleep_ms(5);
	}
	return NULL;
}

/* SIGKILL helpers of ours that are left over (a failed test), so that
 * nothing stays behind stopped. */
static void kill_leftover_helpers(void)
{
	struct procscan ps;

	proc_scan(NULL, &ps);
	for (int i = 0; i < ps.helpers && i < 64; i++)
		kill(ps.pids[i], SIGKILL);
}

/* ------------------------------------------------------------------ fixtures */

static int setup(void **state)
{
	(void)state;
	mock_post("/_mock/reset", "{}");
	rm_rf(TOKDIR);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unsetenv("SSLKEYLOGFILE");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("http_proxy");
	unsetenv("ALL_PROXY");
	return 0;
}

/* ------------------------------------------------------------------ tests */

/*
 * (1) A login with a user-held api.video key places a working token:
 * apivideo.{token,header,json} in $XDG_RUNTIME_DIR/bearer (dir 0700, files
 * 0600, all the user's), the header usable as `curl -H @file`, one line per
 * profile in the log, BEARER_TOKEN_DIR in the session environment, exactly
 * one exchange at the vendor; closing the session deletes nothing.
 */
static void test_user_profile(void **state)
{
	struct sess s;
	char hdr[PATH_MAX], listing[1024], *tok;
	(void)state;

	sess_open(&s, "pb", "alice", PAM_SUCCESS);
	assert_true(s.spawned);   /* the helper ran (and this detector works) */
	assert_tokdir_env(&s);
	assert_profile_files("apivideo", "apivideo", &tok);
	assert_log_has(s.log, "apivideo");
	if (strstr(s.log, tok) != NULL)
		fail_msg("the token is in the log");
	free(tok);
	assert_int_equal(mock_count("/auth/api-key"), 1);
	assert_int_equal(mock_total(), 1);
	tok_path(hdr, sizeof(hdr), "apivideo", "header");
	assert_int_equal(whoami(hdr), 200);

	sess_end(&s, true);   /* close_session -> PAM_SUCCESS */
	assert_profile_files("apivideo", "apivideo", NULL);
	list_dir(TOKDIR, listing, sizeof(listing));
	print_message("# token dir after close: %s\n", listing);
}

/*
 * (2) An admin-held secret (credentials = system, root:_pam_bearer 0640
 * store) gives the user a token but never shows up where the user could
 * see it: not in any process's command line or environment while the
 * login runs (the vendor is slowed down to 1 s so the processes are caught
 * running), not in the log, not in the token dir; and no refresh token
 * lands in the user's dir (the service account keeps it, in T/pb/broker,
 * 0700). The login's one-shot ran as the service account, not the user.
 */
static void test_system_secret(void **state)
{
	struct sampler smp;
	struct sess s;
	struct stat st;
	unsigned char rnd[12];
	char canary[64], store[PATH_MAX], text[256], listing[1024], where[PATH_MAX];
	int fd;
	(void)state;

	if (!ROOT) {
		print_message("# SKIP system secret: needs real root (a root-owned store); "
			      "run make check as root\n");
		skip();
	}
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, rnd, sizeof(rnd)), (ssize_t)sizeof(rnd));
	close(fd);
	strcpy(canary, "canary-SYSTEM-secret-");
	for (size_t i = 0; i < sizeof(rnd); i++)
		sprintf(canary + strlen(canary), "%02x", rnd[i]);
	xsnprintf(store, sizeof(store), "%s/credentials.d/alice", T);
	xsnprintf(text, sizeof(text), "[sysvideo]\napi_key = %s\n", canary);
	write_file(store, text, 0640);
	assert_int_equal(chown(store, 0, (gid_t)atol(need_env("PB_TEST_SVC_GID"))), 0);
	mock_post("/_mock/fault", "{\"path\": \"/auth/api-key\", \"mode\": \"slow\", \"delay\": 1}");

	memset(&smp, 0, sizeof(smp));
	smp.canary = canary;
	atomic_init(&smp.stop, false);
	assert_int_equal(pthread_create(&smp.th, NULL, sampler_main, &smp), 0);
	sess_open(&s, "pb_sys", "alice", PAM_SUCCESS);
	atomic_store(&smp.stop, true);
	pthread_join(smp.th, NULL);
	print_message("# sampler: %d scans, helper seen in %d\n", smp.scans, smp.helper_scans);

	assert_true(smp.helper_scans > 0);   /* else this test proved nothing */
	if (smp.hits > 0)
		fail_msg("the system secret is visible in %s", smp.where);
	if (strstr(s.log, canary) != NULL)
		fail_msg("the system secret is in the log");
	assert_profile_files("sysvideo", "apivideo", NULL);
	assert_int_equal(mock_count("/auth/api-key"), 1);
	tok_path(where, sizeof(where), "sysvideo", "state");
	if (exists(where))
		fail_msg("a refresh token of a system profile is in the user's dir: %s", where);
	xsnprintf(where, sizeof(where), "%s/pb/broker", T);
	if (stat(where, &st) != 0 || st.st_uid != (uid_t)atol(need_env("PB_TEST_SVC_UID")) ||
	    (st.st_mode & 0777) != 0700)
		fail_msg("%s is not the service account's 0700 dir", where);
	xsnprintf(where, sizeof(where), "%s/pb/broker/%u/sysvideo.state", T, (unsigned)U);
	if (!exists(where))
		fail_msg("the service account kept no refresh token (%s)", where);
	list_dir(TOKDIR, listing, sizeof(listing));
	{
		char *p = listing;

		while (*p) {
			char name[256], path[PATH_MAX], *body;
			size_t n = strcspn(p, " "), len = 0;

			xsnprintf(name, sizeof(name), "%.*s", (int)n, p);
			xsnprintf(path, sizeof(path), "%s/%s", TOKDIR, name);
			body = read_all(path, &len);
			if (mem_has(body, len, canary))
				fail_msg("the system secret is in %s", path);
			free(body);
			p += n + (p[n] == ' ');
		}
	}
	sess_end(&s, true);

	/* no file in the admin store: the admin's error, PAM_SESSION_ERR, the file named */
	unlink(store);
	tok_path(where, sizeof(where), "sysvideo", "token");
	unlink(where);
	sess_open(&s, "pb_sys", "alice", PAM_SESSION_ERR);
	assert_log_has(s.log, "sysvideo", "credentials.d/alice");
	/* and the user's status can tell why: P.json says so (issue 13) */
	tok_path(where, sizeof(where), "sysvideo", "json");
	{
		size_t len = 0;
		char *body = read_all(where, &len);

		if (body == NULL || !mem_has(body, len, "\"error\"") ||
		    !mem_has(body, len, "system credential missing or unusable: ask your admin") ||
		    !mem_has(body, len, "credentials.d/alice"))
			fail_msg("sysvideo.json does not say the system credential is missing: %s",
				 body != NULL ? body : "(no file)");
		free(body);
	}
	sess_end(&s, false);
}

/*
 * (3) A second session of the same user while the token is still valid
 * makes no request at all and starts no process (the fast path), and still
 * succeeds, with the same token.
 */
static void test_second_session_no_request(void **state)
{
	struct sess s;
	char p_tok[PATH_MAX], *tok1, *tok2;
	(void)state;

	sess_open(&s, "pb", "alice", PAM_SUCCESS);
	sess_end(&s, true);
	assert_int_equal(mock_total(), 1);
	tok_path(p_tok, sizeof(p_tok), "apivideo", "token");
	tok1 = read_all(p_tok, NULL);
	assert_non_null(tok1);

	sess_open(&s, "pb", "alice", PAM_SUCCESS);
	assert_tokdir_env(&s);
	assert_no_helper(&s);
	sess_end(&s, true);
	assert_int_equal(mock_total(), 1);
	tok2 = read_all(p_tok, NULL);
	assert_non_null(tok2);
	assert_string_equal(tok1, tok2);
	free(tok1);
	free(tok2);
}

/*
 * (4) A vendor that is down (nothing listens) does not hold up the login:
 * open_session gives up within 1 s, says PAM_IGNORE (the login goes on),
 * and logs the profile with the reason.
 */
static void test_vendor_down(void **state)
{
	struct sess s;
	char p_tok[PATH_MAX];
	(void)state;

	sess_open(&s, "pb_down", "alice", PB_IGNORED);
	if (s.secs >= 1.0)
		fail_msg("open_session took %.2f s with the vendor down", s.secs);
	assert_log_has(s.log, "apivideo", "connect");
	assert_tokdir_env(&s);
	tok_path(p_tok, sizeof(p_tok), "apivideo", "token");
	assert_false(exists(p_tok));
	sess_end(&s, false);
}

/*
 * (5) A vendor that accepts the connection and never answers costs the
 * login at most timeout= (1 s here) plus the module's grace (0.1 s), counted
 * from the start of open_session whatever the helper's own start-up costs:
 * PAM_IGNORE after at most 1.35 s (the rest is pam_start and loading the
 * module), and no helper process is left behind (its whole process group
 * is killed and reaped).
 */
static void test_vendor_hangs(void **state)
{
	struct procscan ps;
	struct sess s;
	(void)state;

	mock_post("/_mock/fault", "{\"path\": \"/auth/api-key\", \"mode\": \"hang\"}");
	sess_open(&s, "pb_hang", "alice", PB_IGNORED);
	if (s.secs > 1.35)
		fail_msg("open_session took %.2f s with timeout=1", s.secs);
	/* it did wait for the vendor (else the timeout was never exercised) */
	if (s.secs < 0.8)
		fail_msg("open_session returned after %.2f s: it did not wait for the hanging vendor",
			 s.secs);
	wait_helpers_gone(1000, &ps);
	if (ps.helpers > 0)
		fail_msg("%d bearer-token process(es) still running 1 s after open_session",
			 ps.helpers);
	if (ps.children > 0)
		fail_msg("%d child process(es) of the PAM caller left (%d zombies)",
			 ps.children, ps.zombies);
	assert_log_has(s.log, "apivideo");
	assert_tokdir_env(&s);
	sess_end(&s, false);
}

/*
 * (5b) A helper that is stuck for good (here: every bearer-token process
 * of the session is SIGSTOPped as soon as it appears, so it can neither
 * finish nor enforce its own deadline) still costs the login at most
 * timeout= plus a small grace: the module kills the helper's whole process
 * group (SIGKILL works on stopped processes), reaps it, and says PAM_IGNORE.
 */
static void test_stuck_helper_killed(void **state)
{
	struct stopper stp;
	struct procscan ps;
	struct sess s;
	(void)state;

	mock_post("/_mock/fault", "{\"path\": \"/auth/api-key\", \"mode\": \"hang\"}");
	memset(&stp, 0, sizeof(stp));
	atomic_init(&stp.stop, false);
	assert_int_equal(pthread_create(&stp.th, NULL, stopper_main, &stp), 0);
	sess_open(&s, "pb_hang", "alice", PB_IGNORED);
	atomic_store(&stp.stop, true);
	pthread_join(stp.th, NULL);
	print_message("# %d SIGSTOPs sent\n", stp.stopped);
	if (stp.rescued)
		fail_msg("open_session waited %.2f s for a stuck helper; the test killed it", s.secs);
	if (stp.stopped == 0) {
		sess_end(&s, false);
		fail_msg("no helper process was ever seen: the test proved nothing");
	}
	if (s.secs > 1.35) {
		kill_leftover_helpers();
		fail_msg("open_session took %.2f s with a stuck helper and timeout=1", s.secs);
	}
	wait_helpers_gone(1000, &ps);
	if (ps.helpers > 0) {
		kill_leftover_helpers();
		fail_msg("%d stopped bearer-token process(es) survived open_session", ps.helpers);
	}
	if (ps.children > 0)
		fail_msg("%d child process(es) of the PAM caller left (%d zombies)",
			 ps.children, ps.zombies);
	/* the log still says which profile went without a token */
	assert_log_has(s.log, "apivideo");
	sess_end(&s, false);
}

/*
 * (6) With onerror=fail a vendor error fails the session (PAM_SESSION_ERR)
 * and the log names the profile and the reason (HTTP 500).
 */
static void test_onerror_fail(void **state)
{
	struct sess s;
	(void)state;

	mock_post("/_mock/fault", "{\"path\": \"/auth/api-key\", \"mode\": \"500\"}");
	sess_open(&s, "pb_fail", "alice", PAM_SESSION_ERR);
	assert_log_has(s.log, "apivideo", "500");
	assert_true(mock_count("/auth/api-key") >= 1);
	assert_tokdir_env(&s);
	sess_end(&s, false);
}

/*
 * (7) An unknown module option is logged at LOG_ERR, naming it, and is
 * otherwise ignored: the session still gets its token.
 */
static void test_unknown_option(void **state)
{
	struct sess s;
	char *line;
	int prio = -1;
	(void)state;

	sess_open(&s, "pb_unknownopt", "alice", PAM_SUCCESS);
	line = log_line(s.log, &prio, "unknown option", "frobnicate", (const char *)NULL);
	if (line == NULL)
		fail_msg("no log line says 'unknown option' and names frobnicate=yes");
	free(line);
	assert_int_equal(prio, 3);   /* LOG_ERR */
	assert_profile_files("apivideo", "apivideo", NULL);
	sess_end(&s, true);
}

/*
 * (8) A broken config is an internal error, not "nothing to do":
 * PAM_SESSION_ERR, and the log points at the file and line.
 */
static void test_broken_config(void **state)
{
	struct sess s;
	(void)state;

	sess_open(&s, "pb_broken", "alice", PAM_SESSION_ERR);
	assert_log_has(s.log, "broken.conf:5");
	assert_no_helper(&s);
	assert_int_equal(mock_total(), 0);
	sess_end(&s, false);
}

/*
 * (9) minimum_uid=: a user below it is left alone (PAM_IGNORE, a debug
 * line with `debug`), no process, no request, nothing created. Alice (uid U) with
 * minimum_uid=U+1, and lowuid.
 */
static void test_minimum_uid(void **state)
{
	struct sess s;
	char *line;
	int prio = -1;
	(void)state;

	sess_open(&s, "pb_minuid", "alice", PB_IGNORED);
	assert_no_tokdir_env(&s);
	assert_no_helper(&s);
	line = log_line(s.log, &prio, "alice", (const char *)NULL);
	if (line == NULL)
		fail_msg("no log line about alice with debug");
	free(line);
	assert_int_equal(prio, 7);   /* LOG_DEBUG */
	sess_end(&s, false);

	sess_open(&s, "pb_minuid", "lowuid", PB_IGNORED);
	assert_no_tokdir_env(&s);
	assert_no_helper(&s);
	sess_end(&s, false);

	assert_int_equal(mock_total(), 0);
	assert_false(exists(TOKDIR));
}

/* ignore_root: root's session is left alone (PAM_IGNORE), no request. */
static void test_ignore_root(void **state)
{
	struct sess s;
	(void)state;

	sess_open(&s, "pb_ignoreroot", "root", PB_IGNORED);
	assert_no_tokdir_env(&s);
	assert_no_helper(&s);
	sess_end(&s, false);
	assert_int_equal(mock_total(), 0);
}

/* A user unknown to the system is an error, not "nothing to do". */
static void test_unknown_user(void **state)
{
	struct sess s;
	(void)state;

	sess_open(&s, "pb", "nosuchuser", PAM_SESSION_ERR);
	assert_no_helper(&s);
	sess_end(&s, false);
	assert_int_equal(mock_total(), 0);
}

/*
 * (10) A runtime dir that XDG_RUNTIME_DIR names but is not there: PAM_IGNORE
 * with a log line naming it, and the module never creates it.
 */
static void test_no_runtime_dir(void **state)
{
	struct sess s;
	char missing[PATH_MAX];
	(void)state;

	xsnprintf(missing, sizeof(missing), "%s/run/missing-%u", T, (unsigned)U);
	sess_open(&s, "pb_norundir", "alice", PB_IGNORED);
	assert_log_has(s.log, missing);
	assert_no_tokdir_env(&s);
	assert_no_helper(&s);
	sess_end(&s, false);
	assert_false(exists(missing));
	assert_int_equal(mock_total(), 0);
}

/* Is path a dir of uid's with this mode? */
static void assert_dir(const char *path, uid_t uid, mode_t mode)
{
	struct stat st;

	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		fail_msg("%s is not a dir", path);
	if (st.st_uid != uid || (st.st_mode & 07777) != mode)
		fail_msg("%s: uid %u mode %04o, want uid %u mode %04o", path, (unsigned)st.st_uid,
			 (unsigned)(st.st_mode & 07777), (unsigned)uid, (unsigned)mode);
}

/*
 * (10b, issue 13) A host without logind (no XDG_RUNTIME_DIR, no
 * /run/user/<uid>): the module makes the stand-in T/pb/users/<uid> (the
 * users/ dir beside the config's broker socket), the user's, 0700, the
 * tokens in its bearer/, and exports BEARER_TOKEN_DIR there; it never
 * creates /run/user/<uid>. Sessions are counted: the first close leaves
 * the dir to the second session, the last close removes it.
 */
static void test_no_logind(void **state)
{
	struct sess a, b;
	char logind[64], users[PATH_MAX], dir[PATH_MAX], tok[PATH_MAX], marks[PATH_MAX];
	const char *env;
	char *token;
	size_t len = 0;
	(void)state;

	xsnprintf(logind, sizeof(logind), "/run/user/%u", (unsigned)U);
	if (exists(logind)) {
		print_message("# SKIP no logind: %s exists on this host\n", logind);
		skip();
	}
	xsnprintf(users, sizeof(users), "%s/pb/users", T);
	xsnprintf(dir, sizeof(dir), "%s/%u", users, (unsigned)U);
	xsnprintf(tok, sizeof(tok), "%s/bearer/apivideo.token", dir);
	xsnprintf(marks, sizeof(marks), "%s/.%u.sessions", users, (unsigned)U);

	sess_open(&a, "pb_noenv", "alice", PAM_SUCCESS);
	assert_dir(dir, U, 0700);
	assert_dir(users, ROOT ? 0 : U, 0755);   /* (not getuid(): uid_wrapper says 0) */
	token = read_all(tok, &len);
	if (token == NULL || len == 0)
		fail_msg("no token at %s", tok);
	free(token);
	env = env_get(a.env, "BEARER_TOKEN_DIR");
	if (env == NULL || strncmp(env, dir, strlen(dir)) != 0 || strcmp(env + strlen(dir), "/bearer"))
		fail_msg("BEARER_TOKEN_DIR=%s, want %s/bearer", env ? env : "(unset)", dir);
	assert_false(exists(logind));

	sess_open(&b, "pb_noenv", "alice", PAM_SUCCESS);
	assert_int_equal(mock_total(), 1);      /* the second session: the token on disk */
	sess_end(&a, true);
	if (!exists(tok))
		fail_msg("the first close removed %s while another session uses it", dir);
	sess_end(&b, true);
	if (exists(dir) || exists(marks))
		fail_msg("%s (or its session markers) still there after the last close", dir);
	assert_false(exists(logind));
}

/*
 * (11a) A runtime dir that is a symlink (even to a dir of the user's) is
 * not used: PAM_IGNORE, a log line naming it, nothing created in the target.
 */
static void test_runtime_dir_symlink(void **state)
{
	struct sess s;
	char link[PATH_MAX], target[PATH_MAX], listing[1024];
	(void)state;

	xsnprintf(link, sizeof(link), "%s/run/link-%u", T, (unsigned)U);
	xsnprintf(target, sizeof(target), "%s/run/elsewhere-%u", T, (unsigned)U);
	rm_rf(link);
	rm_rf(target);
	assert_int_equal(mkdir(target, 0700), 0);
	if (ROOT)
		assert_int_equal(chown(target, U, (gid_t)atol(getenv("PB_TEST_GID"))), 0);
	assert_int_equal(symlink(target, link), 0);

	sess_open(&s, "pb_linkrundir", "alice", PB_IGNORED);
	assert_log_has(s.log, link);
	assert_no_tokdir_env(&s);
	assert_no_helper(&s);
	sess_end(&s, false);
	list_dir(target, listing, sizeof(listing));
	if (listing[0] != '\0')
		fail_msg("written through the symlinked runtime dir: %s", listing);
	assert_int_equal(mock_total(), 0);
	unlink(link);
	rmdir(target);
}

/*
 * (11a') A runtime dir owned by someone else (bob; world-writable, so
 * alice's helper could write there) is not used: PAM_IGNORE, a log line
 * naming it, nothing created in it. Needs a real second uid (root).
 */
static void test_runtime_dir_foreign(void **state)
{
	struct sess s;
	char dir[PATH_MAX], listing[1024];
	(void)state;

	if (!ROOT || BOB < 0) {
		print_message("# SKIP runtime dir of another user: needs real root for bob's uid\n");
		skip();
	}
	xsnprintf(dir, sizeof(dir), "%s/run/foreign-%u", T, (unsigned)U);
	rm_rf(dir);
	assert_int_equal(mkdir(dir, 0777), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(chown(dir, (uid_t)BOB, (gid_t)BOB), 0);

	sess_open(&s, "pb_foreignrundir", "alice", PB_IGNORED);
	assert_log_has(s.log, dir);
	assert_no_tokdir_env(&s);
	assert_no_helper(&s);
	sess_end(&s, false);
	list_dir(dir, listing, sizeof(listing));
	if (listing[0] != '\0')
		fail_msg("written into bob's runtime dir: %s", listing);
	assert_int_equal(mock_total(), 0);
	rmdir(dir);
}

/*
 * (11b) A token dir ($XDG_RUNTIME_DIR/bearer) that is a symlink is refused
 * and nothing is written through it: PAM_IGNORE (PAM_SESSION_ERR with
 * onerror=fail), the target stays empty. Targets: a world-writable dir of
 * bob's and a dir of root's (real root only), and a dir of alice's own.
 */
static void test_token_dir_symlink(void **state)
{
	struct {
		const char *name;
		long owner;
		mode_t mode;
	} targets[] = {
		{ "victim-self", (long)U, 0700 },
		{ "victim-bob", BOB, 0777 },
		{ "victim-root", 0, 0755 },
	};
	(void)state;

	if (!ROOT)
		print_message("# not root: only the symlink to a dir of alice's own; "
			      "bob's and root's dirs need a real second uid\n");
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		const char *svc[] = { "pb", "pb_fail" };
		const int want[] = { PB_IGNORED, PAM_SESSION_ERR };
		char target[PATH_MAX], listing[1024];

		if (!ROOT && i > 0)
			break;
		xsnprintf(target, sizeof(target), "%s/%s", T, targets[i].name);
		rm_rf(target);
		assert_int_equal(mkdir(target, targets[i].mode), 0);
		assert_int_equal(chmod(target, targets[i].mode), 0);
		if (ROOT)
			assert_int_equal(chown(target, (uid_t)targets[i].owner,
					       (gid_t)targets[i].owner), 0);
		for (size_t k = 0; k < 2; k++) {
			struct sess s;

			rm_rf(TOKDIR);
			assert_int_equal(symlink(target, TOKDIR), 0);
			print_message("# bearer -> %s, service %s\n", target, svc[k]);
			sess_open(&s, svc[k], "alice", want[k]);
			sess_end(&s, false);
			list_dir(target, listing, sizeof(listing));
			if (listing[0] != '\0')
				fail_msg("written through bearer -> %s: %s", target, listing);
		}
		rm_rf(TOKDIR);
		rm_rf(target);
	}
}

/*
 * (12) The caller's environment does not reach the helper: with
 * SSLKEYLOGFILE (pointing where the user could write) and a dead proxy in
 * the PAM caller's environment, as an unprivileged user can arrange around
 * su, the session still gets its token straight from the vendor, no TLS
 * key log appears, and the helper's environment (sampled while a slowed
 * vendor keeps it running) holds HOME, USER, LOGNAME, PATH and
 * XDG_RUNTIME_DIR and nothing else (no LD_PRELOAD of the wrappers either).
 */
static void test_hostile_caller_env(void **state)
{
	static const char *const allowed[] = { "HOME", "USER", "LOGNAME", "PATH",
					       "XDG_RUNTIME_DIR", NULL };
	struct sampler smp;
	struct sess s;
	char dir[PATH_MAX], keylog[PATH_MAX];
	(void)state;

	xsnprintf(dir, sizeof(dir), "%s/keylog.d", T);
	xsnprintf(keylog, sizeof(keylog), "%s/keylog", dir);
	rm_rf(dir);
	assert_int_equal(mkdir(dir, 01777), 0);
	assert_int_equal(chmod(dir, 01777), 0);   /* the helper could create it */
	setenv("SSLKEYLOGFILE", keylog, 1);
	setenv("https_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
	mock_post("/_mock/fault", "{\"path\": \"/auth/api-key\", \"mode\": \"slow\", \"delay\": 0.5}");

	memset(&smp, 0, sizeof(smp));
	atomic_init(&smp.stop, false);
	assert_int_equal(pthread_create(&smp.th, NULL, sampler_main, &smp), 0);
	sess_open(&s, "pb", "alice", PAM_SUCCESS);
	atomic_store(&smp.stop, true);
	pthread_join(smp.th, NULL);
	sess_end(&s, true);

	assert_profile_files("apivideo", "apivideo", NULL);
	assert_int_equal(mock_count("/auth/api-key"), 1);
	if (exists(keylog))
		fail_msg("%s was written: SSLKEYLOGFILE reached the helper", keylog);
	assert_true(smp.helper_scans > 0);
	if (smp.envlen == 0) {
		print_message("# the helper's environment was not readable here (not root)\n");
	} else {
		for (size_t off = 0; off < smp.envlen;) {
			const char *var = smp.env + off;
			size_t len = strnlen(var, smp.envlen - off);
			size_t name = strcspn(var, "=");
			bool ok = false;

			for (size_t i = 0; allowed[i] != NULL; i++)
				ok |= strlen(allowed[i]) == name && strncmp(var, allowed[i], name) == 0;
			print_message("# helper env: %.*s\n", (int)name, var);
			if (!ok)
				fail_msg("the helper's environment has %.*s", (int)len, var);
			off += len + 1;
		}
	}
	rm_rf(dir);
}

/* (13) A bad option value is a configuration error: PAM_SESSION_ERR. */
static void test_bad_option_value(void **state)
{
	struct sess s;
	(void)state;

	sess_open(&s, "pb_badtimeout", "alice", PAM_SESSION_ERR);
	assert_log_has(s.log, "timeout");
	assert_no_helper(&s);
	sess_end(&s, false);
	sess_open(&s, "pb_badonerror", "alice", PAM_SESSION_ERR);
	assert_log_has(s.log, "onerror");
	sess_end(&s, false);
	assert_int_equal(mock_total(), 0);
}

/* (14) profiles= selects a subset: only that profile is fetched. */
static void test_profiles_subset(void **state)
{
	struct sess s;
	char listing[1024];
	(void)state;

	sess_open(&s, "pb_subset", "alice", PAM_SUCCESS);
	assert_tokdir_env(&s);
	sess_end(&s, true);
	assert_profile_files("unith", "unith", NULL);
	list_dir(TOKDIR, listing, sizeof(listing));
	if (strstr(listing, "apivideo") != NULL)
		fail_msg("apivideo files with profiles=unith: %s", listing);
	assert_int_equal(mock_count("/auth/token"), 1);
	assert_int_equal(mock_count("/auth/api-key"), 0);
}

/*
 * No profile applies to the user (users = bob): PAM_IGNORE, no request,
 * nothing created, no BEARER_TOKEN_DIR.
 */
static void test_no_profile_applies(void **state)
{
	struct sess s;
	(void)state;

	sess_open(&s, "pb_nobody", "alice", PB_IGNORED);
	assert_no_tokdir_env(&s);
	assert_no_helper(&s);
	sess_end(&s, false);
	assert_int_equal(mock_total(), 0);
	assert_false(exists(TOKDIR));
}

/*
 * A profile for grp300, the last of alice's 300 extra groups: it applies
 * at login as it does in the CLI (lib/util.c pb_user_groups; the module
 * once kept only the primary group above 256 and returned PAM_IGNORE).
 */
static void test_many_groups(void **state)
{
	struct sess s;
	(void)state;

	sess_open(&s, "pb_grp300", "alice", PAM_SUCCESS);
	assert_tokdir_env(&s);
	sess_end(&s, true);
	assert_profile_files("apivideo", "apivideo", NULL);
	assert_int_equal(mock_count("/auth/api-key"), 1);
}

/*
 * WLCG Bearer Token Discovery: with wlcg_discovery = apivideo, the login
 * exports BEARER_TOKEN_FILE=RUNDIR/bt_u<uid>, and that file is apivideo's
 * bare token, alice's, 0600. A login whose profiles leave apivideo out
 * exports nothing of the kind.
 */
static void test_wlcg_discovery(void **state)
{
	struct sess s;
	char want[PATH_MAX + 32];
	char *tok, *bt;
	const char *v;
	(void)state;

	sess_open(&s, "pb_wlcg_unith", "alice", PAM_SUCCESS);
	if ((v = env_get(s.env, "BEARER_TOKEN_FILE")) != NULL)
		fail_msg("BEARER_TOKEN_FILE=%s with profiles=unith", v);
	sess_end(&s, true);

	sess_open(&s, "pb_wlcg", "alice", PAM_SUCCESS);
	xsnprintf(want, sizeof(want), "%s/bt_u%u", RUNDIR, (unsigned)U);
	if ((v = env_get(s.env, "BEARER_TOKEN_FILE")) == NULL)
		fail_msg("BEARER_TOKEN_FILE is not in the PAM environment");
	assert_string_equal(v, want);
	sess_end(&s, true);
	assert_profile_files("apivideo", "apivideo", &tok);
	assert_owned_file(want, 0600);
	bt = read_all(want, NULL);
	assert_non_null(bt);
	assert_string_equal(bt, tok);
	free(bt);
	free(tok);
	unlink(want);      /* the other tests' runtime dir holds bearer/ alone */
}

/*
 * OAuth 2.0 private_key_jwt through a login: the worker signs an ES256
 * assertion with alice's key file (0600, hers), the mock verifies it with
 * the public key, and the token lands as any other. No line of the key is
 * in the log.
 */
static void test_private_key_jwt(void **state)
{
	char path[PATH_MAX], piece[33] = "", *reg, *key, *nl;
	struct sess s;
	(void)state;

	if (system("\"${PYTHON3:-python3}\" -c 'import cryptography' 2>/dev/null") != 0)
		skip();
	xsnprintf(path, sizeof(path), "%s/conf/pkjwt.json", T);
	reg = read_all(path, NULL);
	assert_non_null(reg);
	mock_post("/_mock/config", reg);
	free(reg);
	xsnprintf(path, sizeof(path), "%s/home/alice/.config/pam_bearer/pkjwt.pem", T);
	key = read_all(path, NULL);
	assert_non_null(key);
	if ((nl = strchr(key, '\n')) != NULL)      /* 32 characters of the key's base64 */
		snprintf(piece, sizeof(piece), "%.32s", nl + 1);
	assert_int_equal(strlen(piece), 32);
	sess_open(&s, "pb_pkjwt", "alice", PAM_SUCCESS);
	if (strstr(s.log, piece) != NULL || strstr(s.log, "PRIVATE KEY") != NULL)
		fail_msg("the private key is in the log");
	free(key);
	sess_end(&s, true);
	assert_profile_files("pkjwt", "oauth2", NULL);
	assert_int_equal(mock_count("/oauth/token"), 1);
}

/*
 * The presets that sign, through a login: a GitHub App's installation
 * token (the app's RS256 JWT as bearer; the expiry is the answer's
 * expires_at) and a Google service account's access token (its JSON key
 * file, the jwt-bearer grant at its token_uri), each verified by the mock
 * with the public key.
 */
static void login_signed(const char *service, const char *profile, const char *vendor,
			 const char *path)
{
	char reg_path[PATH_MAX], *reg;
	struct sess s;

	if (system("\"${PYTHON3:-python3}\" -c 'import cryptography' 2>/dev/null") != 0)
		skip();
	xsnprintf(reg_path, sizeof(reg_path), "%s/conf/rsa.json", T);
	reg = read_all(reg_path, NULL);
	assert_non_null(reg);
	mock_post("/_mock/config", reg);
	free(reg);
	sess_open(&s, service, "alice", PAM_SUCCESS);
	if (strstr(s.log, "PRIVATE KEY") != NULL)
		fail_msg("the private key is in the log");
	sess_end(&s, true);
	assert_profile_files(profile, vendor, NULL);
	assert_int_equal(mock_count(path), 1);
}

static void test_github_app(void **state)
{
	(void)state;
	login_signed("pb_github", "github", "github-app", "/app/installations/67890/access_tokens");
}

static void test_google_service_account(void **state)
{
	(void)state;
	login_signed("pb_gcp", "gcp", "google-service-account", "/google/token");
}

/* ------------------------------------------------------------------ the refresher */

/*
 * Our refreshers: `bearer-token ... daemon ...` processes naming T (their
 * --config) in argv and running as alice. The uid comes from the Uid: line
 * of /proc/PID/status: a refresher is not dumpable, so its other /proc
 * files belong to root. A zombie has no argv and does not count. The
 * first PIDs go into pids (up to max); returns how many there are.
 */
static int find_refreshers(pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[64], *cmd, *status, *uidline;
		size_t len = 0;
		bool daemon = false, named = false;
		const char *base;
		long uid = -1;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		xsnprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		cmd = read_all(path, &len);
		if (cmd == NULL || len == 0) {
			free(cmd);
			continue;
		}
		base = strrchr(cmd, '/');
		base = base ? base + 1 : cmd;
		for (size_t off = 0; off < len; off += strlen(cmd + off) + 1) {
			daemon |= strcmp(cmd + off, "daemon") == 0;
			named |= strstr(cmd + off, T) != NULL;
		}
		if (strcmp(base, "bearer-token") == 0 && daemon && named) {
			xsnprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
			status = read_all(path, NULL);
			uidline = status != NULL ? strstr(status, "\nUid:") : NULL;
			if (uidline != NULL)
				uid = strtol(uidline + strlen("\nUid:"), NULL, 10);
			free(status);
			if (uid == (long)U) {
				if (n < max)
					pids[n] = (pid_t)atol(e->d_name);
				n++;
			}
		}
		free(cmd);
	}
	closedir(d);
	return n;
}

/* Wait up to ms for exactly `want` refreshers; how many there were last, the first in *pid. */
static int wait_refreshers(int want, long ms, pid_t *pid)
{
	double end = now() + (double)ms / 1000.0;
	pid_t pids[8];
	int n;

	for (;;) {
		n = find_refreshers(pids, 8);
		if (n == want || now() > end)
			break;
		sleep_ms(20);
	}
	if (pid != NULL)
		*pid = n > 0 ? pids[0] : 0;
	return n;
}

/* There is exactly one refresher, and it is `pid` (0: any); returns its PID. */
static pid_t assert_one_refresher(pid_t pid, const char *when)
{
	pid_t got = 0;
	int n = wait_refreshers(1, 2000, &got);

	if (n != 1)
		fail_msg("%s: %d refresher processes, want 1", when, n);
	if (pid != 0 && got != pid)
		fail_msg("%s: the refresher is now PID %ld, was %ld", when, (long)got, (long)pid);
	print_message("# %s: one refresher, PID %ld\n", when, (long)got);
	return got;
}

/* The refresher stops within ms, leaving no daemon.sock and a free daemon.lock. */
static void assert_refresher_gone(long ms, const char *when)
{
	double t0 = now();
	char path[PATH_MAX];
	int n = wait_refreshers(0, ms, NULL), fd;

	if (n != 0)
		fail_msg("%s: %d refresher(s) still running %ld ms later", when, n, ms);
	print_message("# %s: the refresher stopped after %.0f ms\n", when, (now() - t0) * 1000.0);
	xsnprintf(path, sizeof(path), "%s/daemon.sock", TOKDIR);
	if (exists(path))
		fail_msg("%s: daemon.sock left behind", when);
	xsnprintf(path, sizeof(path), "%s/daemon.lock", TOKDIR);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		if (flock(fd, LOCK_EX | LOCK_NB) != 0)
			fail_msg("%s: daemon.lock is still held", when);
		close(fd);
	}
}

/* Whatever a failed test left running must not disturb the next ones. */
static int teardown_refresher(void **state)
{
	pid_t pids[64];
	int n = find_refreshers(pids, 64);

	for (int i = 0; i < n && i < 64; i++)
		kill(pids[i], SIGKILL);
	return teardown(state);
}

/*
 * (15) Sessions share one refresher (issue 4): a nodaemon session starts
 * none; a session without nodaemon starts one; a second session on the
 * slow path (its profile, from another config, has no token yet) finds it
 * and starts no other; closing the first keeps it; closing the last stops
 * it within 1 s, with no daemon.sock left and daemon.lock free.
 */
static void test_refresher_two_sessions(void **state)
{
	struct sess s0, s1, s2;
	pid_t pid;
	(void)state;

	sess_open(&s0, "pb", "alice", PAM_SUCCESS);
	sess_end(&s0, true);
	if (wait_refreshers(0, 300, NULL) != 0)
		fail_msg("a nodaemon session started a refresher");

	sess_open(&s1, "pb_daemon", "alice", PAM_SUCCESS);
	assert_true(s1.spawned);
	pid = assert_one_refresher(0, "first session open");
	sess_open(&s2, "pb_daemon_solo", "alice", PAM_SUCCESS);
	assert_true(s2.spawned);   /* the slow path: unith2 had no token yet */
	assert_profile_files("unith2", "unith", NULL);
	sleep_ms(300);
	assert_one_refresher(pid, "second session open");

	sess_end(&s1, true);
	sleep_ms(500);
	assert_one_refresher(pid, "first session closed");
	sess_end(&s2, true);
	assert_refresher_gone(1000, "last session closed");
}

/*
 * (16) A session on the fast path (every token still good: no process, no
 * request) still registers with the running refresher, so the refresher
 * runs until the last session closes, whatever the order: three sessions,
 * the first on the slow path, closed second, first, third.
 */
static void test_refresher_fast_path(void **state)
{
	struct sess s1, s2, s3;
	pid_t pid;
	int total;
	(void)state;

	sess_open(&s1, "pb_daemon", "alice", PAM_SUCCESS);
	assert_true(s1.spawned);
	pid = assert_one_refresher(0, "first session open");
	total = mock_total();
	sess_open(&s2, "pb_daemon", "alice", PAM_SUCCESS);
	assert_no_helper(&s2);
	sess_open(&s3, "pb_daemon", "alice", PAM_SUCCESS);
	assert_no_helper(&s3);
	assert_tokdir_env(&s3);
	assert_int_equal(mock_total(), total);
	assert_one_refresher(pid, "two more sessions on the fast path");

	sess_end(&s2, true);
	sleep_ms(500);
	assert_one_refresher(pid, "a fast-path session closed");
	sess_end(&s1, true);
	sleep_ms(500);
	assert_one_refresher(pid, "the session that started it closed");
	sess_end(&s3, true);
	assert_refresher_gone(1000, "the last (fast-path) session closed");
}

/*
 * (17) Tokens still good but no refresher answering (it was stopped): the
 * fast path does not count, the next session starts a new refresher (no
 * request: the tokens are good), and that one stops when its session ends.
 */
static void test_refresher_restarted(void **state)
{
	struct sess s1, s2;
	pid_t pid1, pid2;
	int total;
	(void)state;

	sess_open(&s1, "pb_daemon", "alice", PAM_SUCCESS);
	pid1 = assert_one_refresher(0, "first session open");
	assert_int_equal(kill(pid1, SIGTERM), 0);
	if (wait_refreshers(0, 1000, NULL) != 0)
		fail_msg("the refresher did not stop on SIGTERM");
	total = mock_total();
	sess_open(&s2, "pb_daemon", "alice", PAM_SUCCESS);
	assert_true(s2.spawned);   /* nobody answered on the fast path: the slow one */
	assert_int_equal(mock_total(), total);
	pid2 = assert_one_refresher(0, "second session open");
	assert_true(pid2 != pid1);
	sess_end(&s1, true);   /* a session the new refresher never knew */
	sleep_ms(300);
	assert_one_refresher(pid2, "the first (unknown) session closed");
	sess_end(&s2, true);
	assert_refresher_gone(1000, "its session closed");
}

/*
 * A listener on TOKDIR/daemon.sock that never accepts, its backlog full:
 * the user's own (owned by alice), as a user can plant it. Returns the
 * listening fd; the queued connections are left open on purpose.
 */
static int plant_full_backlog(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, queued = 0;

	xsnprintf(addr.sun_path, sizeof(addr.sun_path), "%s/daemon.sock", TOKDIR);
	unlink(addr.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 0), 0);
	assert_int_equal(lchown(addr.sun_path, U, (gid_t)atol(need_env("PB_TEST_GID"))), 0);
	for (int i = 0; i < 64; i++) {
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		if (connect(c, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			close(c);
			break;
		}
		queued++;
	}
	print_message("# a listener on daemon.sock that never accepts, %d connection(s) queued: "
		      "a blocking connect() now waits\n", queued);
	return fd;
}

/*
 * (18) Nothing a user plants holds root's login: a listener of the
 * user's on daemon.sock with a full backlog makes the fast path's connect
 * fail at once, so open_session returns within timeout (1 s) + 100 ms,
 * and close_session (which tells the refresher too) at once; a FIFO there
 * is not waited on either. Tokens are still good: PAM_SUCCESS.
 */
static void test_user_socket_never_waited_on(void **state)
{
	struct sess s;
	char path[PATH_MAX];
	double t0, secs;
	int lfd;
	(void)state;

	sess_open(&s, "pb", "alice", PAM_SUCCESS);      /* a token, still good after */
	sess_end(&s, true);
	lfd = plant_full_backlog();
	sess_open(&s, "pb_daemon_t1", "alice", PAM_SUCCESS);
	if (s.secs > 1.1)
		fail_msg("open_session took %.2f s with a full backlog on daemon.sock (timeout 1 s)",
			 s.secs);
	close(lfd);
	lfd = plant_full_backlog();     /* in place of the refresher the open started */
	t0 = now();
	sess_end(&s, true);
	secs = now() - t0;
	print_message("# close_session with a full backlog on daemon.sock: %.3f s\n", secs);
	if (secs > 0.6)
		fail_msg("close_session took %.2f s with a full backlog on daemon.sock", secs);
	close(lfd);

	/* the refresher the open started goes: a new one must start, past the FIFO */
	{
		pid_t pids[8];
		int n = find_refreshers(pids, 8);

		for (int i = 0; i < n && i < 8; i++)
			kill(pids[i], SIGKILL);
		if (wait_refreshers(0, 1000, NULL) != 0)
			fail_msg("the refresher did not go");
	}
	xsnprintf(path, sizeof(path), "%s/daemon.sock", TOKDIR);
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(lchown(path, U, (gid_t)atol(need_env("PB_TEST_GID"))), 0);
	sess_open(&s, "pb_daemon_t1", "alice", PAM_SUCCESS);
	if (s.secs > 1.1)
		fail_msg("open_session took %.2f s with a FIFO as daemon.sock", s.secs);
	sess_end(&s, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_user_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_system_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_session_no_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vendor_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vendor_hangs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stuck_helper_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_onerror_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_minimum_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ignore_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_runtime_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_logind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runtime_dir_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runtime_dir_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_dir_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_caller_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_option_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profiles_subset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_profile_applies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wlcg_discovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_key_jwt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_github_app, setup, teardown),
		cmocka_unit_test_setup_teardown(test_google_service_account, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresher_two_sessions, setup, teardown_refresher),
		cmocka_unit_test_setup_teardown(test_refresher_fast_path, setup, teardown_refresher),
		cmocka_unit_test_setup_teardown(test_refresher_restarted, setup, teardown_refresher),
		cmocka_unit_test_setup_teardown(test_user_socket_never_waited_on, setup,
						teardown_refresher),
	};
	const char *bob;

	T = need_env("PB_TEST_DIR");
	MOCK = need_env("PB_MOCK_URL");
	CTL = getenv("PB_MOCK_CTL");
	if (CTL == NULL || CTL[0] == '\0')
		CTL = MOCK;
	CA = need_env("PB_TEST_CA");
	HELPER = need_env("BEARER_TOKEN_BIN");
	U = (uid_t)atol(need_env("PB_TEST_UID"));
	ROOT = strcmp(need_env("PB_TEST_ROOT"), "1") == 0;
	bob = getenv("PB_TEST_BOB_UID");
	if (bob != NULL && bob[0] != '\0')
		BOB = atol(bob);
	xsnprintf(RUNDIR, sizeof(RUNDIR), "%s/run/%u", T, (unsigned)U);
	xsnprintf(TOKDIR, sizeof(TOKDIR), "%s/bearer", RUNDIR);
	/* cmocka's output and ours must not interleave badly */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* a module that hangs the login must not hang make check */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
