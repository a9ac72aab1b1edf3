/* SPDX-License-Identifier: MIT */
/*
 * test_store.c - the token dir: modes, exact file contents, atomic
 * replacement, refusal of symlinks and foreign files, newer-wins, errors,
 * expiry and the per-profile lock. Runs as root and as an ordinary user;
 * the chown() cases are skipped without root.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "store.h"

#define NOBODY 65534
#define T0 1795432424L          /* 2026-11-23T11:13:44Z */
#define TOKEN_A "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"
#define TOKEN_B "tok_B-0123456789abcdef=="
#define REFRESH_A "refresh-\"quoted\"-back\\slash/\xc3\xa9"

struct fx {
	char root[PATH_MAX];      /* the test's runtime dir */
	char bearer[PATH_MAX + 8];
	struct pb_store st;
	struct pb_err err;
};

/* ------------------------------------------------------------ helpers */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	chmod(path, 0700);   /* a dir a test made 0500; harmless for others */
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *tmp_base(void)
{
	const char *t = getenv("TMPDIR");

	return t != NULL && t[0] == '/' ? t : "/tmp";
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "%s/test_store.XXXXXX", tmp_base());
	assert_non_null(mkdtemp(f->root));
	snprintf(f->bearer, sizeof(f->bearer), "%s/bearer", f->root);
	f->st.dirfd = -1;
	pb_err_clear(&f->err);
	*state = f;
	return 0;
}

/* setup, and the store opened (created) */
static int setup_open(void **state)
{
	struct fx *f;

	setup(state);
	f = *state;
	assert_int_equal(pb_store_open(f->root, getuid(), true, &f->st, &f->err), 0);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pb_store_close(&f->st);
	rm_tree(f->root);
	free(f);
	return 0;
}

static void path_of(const struct fx *f, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", f->bearer, name);
}

/* The whole content of bearer/name (malloc()ed, NUL-terminated), or NULL if absent. */
static char *slurp(const struct fx *f, const char *name, size_t *len)
{
	char path[PATH_MAX + 80];
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	int fd;

	path_of(f, name, path, sizeof(path));
	fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	buf = malloc(1 << 17);
	assert_non_null(buf);
	while ((r = read(fd, buf + n, (1 << 17) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

static void put_file(const struct fx *f, const char *name, const char *content, mode_t mode)
{
	char path[PATH_MAX + 80];
	int fd;

	path_of(f, name, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int unlink_in(const struct fx *f, const char *name)
{
	char path[PATH_MAX + 80];

	path_of(f, name, path, sizeof(path));
	return unlink(path);
}

static mode_t mode_of(const struct fx *f, const char *name)
{
	char path[PATH_MAX + 80];
	struct stat sb;

	path_of(f, name, path, sizeof(path));
	assert_int_equal(lstat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static bool exists(const struct fx *f, const char *name)
{
	char path[PATH_MAX + 80];
	struct stat sb;

	path_of(f, name, path, sizeof(path));
	return lstat(path, &sb) == 0;
}

static ino_t inode_of(const struct fx *f, const char *name)
{
	char path[PATH_MAX + 80];
	struct stat sb;

	path_of(f, name, path, sizeof(path));
	assert_int_equal(lstat(path, &sb), 0);
	return sb.st_ino;
}

/* Entries of the token dir whose name starts with '.' (temp files), and all entries. */
static int count_entries(const struct fx *f, int *dotfiles)
{
	DIR *d = opendir(f->bearer);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	*dotfiles = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n++;
		if (e->d_name[0] == '.')
			(*dotfiles)++;
	}
	closedir(d);
	return n;
}

static void assert_no_temp_files(const struct fx *f)
{
	int dot;

	count_entries(f, &dot);
	assert_int_equal(dot, 0);
}

static void assert_err(const struct pb_err *err, int code, const char *part)
{
	if (strstr(err->msg, part) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err->msg, part);
	assert_int_equal(err->code, code);
}

static struct pb_store_token token(const char *tok, const char *refresh, time_t obtained,
				   time_t lifetime)
{
	struct pb_store_token t = {
		.profile = "apivideo", .vendor = "apivideo", .scheme = "Bearer",
		.token = tok, .refresh_token = refresh, .obtained_ms = obtained * 1000LL,
		.has_expiry = lifetime > 0,
		.expires_ms = lifetime > 0 ? (obtained + lifetime) * 1000LL : 0,
	};

	return t;
}

/* bearer/P.json parsed (the caller puts it). */
static struct json_object *json_file(const struct fx *f, const char *name)
{
	char *text = slurp(f, name, NULL);
	struct json_object *o;

	assert_non_null(text);
	o = json_tokener_parse(text);
	free(text);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	return o;
}

/* A member of o as a string, "null" for null, NULL if absent. */
static const char *member(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v == NULL ? "null" : json_object_get_string(v);
}

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ------------------------------------------------------------ opening */

static void test_open_creates_0700(void **state)
{
	struct fx *f = *state;
	mode_t old = umask(0);
	struct stat sb;
	int rc;

	rc = pb_store_open(f->root, getuid(), true, &f->st, &f->err);
	umask(old);
	assert_int_equal(rc, 0);
	assert_true(f->st.dirfd >= 0);
	assert_int_equal(f->st.uid, getuid());
	assert_string_equal(f->st.path, f->bearer);
	assert_int_equal(lstat(f->bearer, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(sb.st_uid, getuid());
	/* the dir fd must not leak into a child the caller execs */
	assert_true(fcntl(f->st.dirfd, F_GETFD) & FD_CLOEXEC);
	pb_store_close(&f->st);
	assert_int_equal(f->st.dirfd, -1);
	pb_store_close(&f->st);    /* twice is fine */

	/* again: the existing dir is reused */
	old = umask(077);
	rc = pb_store_open(f->root, getuid(), true, &f->st, &f->err);
	umask(old);
	assert_int_equal(rc, 0);
}

static void test_open_without_create(void **state)
{
	struct fx *f = *state;

	assert_int_equal(pb_store_open(f->root, getuid(), false, &f->st, &f->err), -1);
	assert_int_equal(errno, ENOENT);
	assert_err(&f->err, PB_E_STORE, "does not exist");
	assert_int_equal(f->st.dirfd, -1);
	assert_false(exists(f, ""));    /* nothing created */
	assert_int_equal(mkdir(f->bearer, 0700), 0);
	assert_int_equal(pb_store_open(f->root, getuid(), false, &f->st, &f->err), 0);
}

static void test_open_path_forms(void **state)
{
	struct fx *f = *state;
	char slash[PATH_MAX + 8];

	/* trailing slashes do not leak into BEARER_TOKEN_DIR */
	snprintf(slash, sizeof(slash), "%s//", f->root);
	assert_int_equal(pb_store_open(slash, getuid(), true, &f->st, &f->err), 0);
	assert_string_equal(f->st.path, f->bearer);
	pb_store_close(&f->st);

	assert_int_equal(pb_store_open("relative/dir", getuid(), true, &f->st, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "not an absolute path");
	assert_int_equal(pb_store_open(NULL, getuid(), true, &f->st, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "not an absolute path");
	assert_int_equal(pb_store_open("", getuid(), true, &f->st, &f->err), -1);

	/* no runtime dir at all (no logind session): never created, ENOENT */
	snprintf(slash, sizeof(slash), "%s/gone", f->root);
	assert_int_equal(pb_store_open(slash, getuid(), true, &f->st, &f->err), -1);
	assert_int_equal(errno, ENOENT);
	assert_err(&f->err, PB_E_STORE, "gone does not exist");
	assert_int_equal(access(slash, F_OK), -1);
}

static void test_open_runtime_symlink(void **state)
{
	struct fx *f = *state;
	char target[PATH_MAX + 16], link[PATH_MAX + 16], slash[PATH_MAX + 20], probe[PATH_MAX + 32];
	struct stat sb;

	snprintf(target, sizeof(target), "%s/real", f->root);
	snprintf(link, sizeof(link), "%s/link", f->root);
	snprintf(slash, sizeof(slash), "%s/", link);
	snprintf(probe, sizeof(probe), "%s/bearer", target);
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(symlink(target, link), 0);

	assert_int_equal(pb_store_open(link, getuid(), true, &f->st, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "is a symlink");
	/* a trailing slash would make the kernel follow it: still refused */
	assert_int_equal(pb_store_open(slash, getuid(), true, &f->st, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "is a symlink");
	assert_int_equal(f->st.dirfd, -1);
	assert_int_equal(lstat(probe, &sb), -1);    /* nothing made through the link */
}

static void test_open_runtime_not_dir(void **state)
{
	struct fx *f = *state;
	char file[PATH_MAX + 16];
	int fd;

	snprintf(file, sizeof(file), "%s/file", f->root);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(pb_store_open(file, getuid(), true, &f->st, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "is not a directory");
}

static void test_open_bearer_symlink(void **state)
{
	struct fx *f = *state;
	char other[PATH_MAX + 16];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(other, sizeof(other), "%s/elsewhere", f->root);
	assert_int_equal(mkdir(other, 0700), 0);
	assert_int_equal(symlink(other, f->bearer), 0);
	assert_int_equal(pb_store_open(f->root, getuid(), true, &f->st, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "is a symlink");
	assert_int_equal(f->st.dirfd, -1);
	assert_int_equal(pb_store_open(f->root, getuid(), false, &f->st, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "is a symlink");
	/* nothing was written through it */
	d = opendir(other);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 0);
}

static void test_open_bearer_not_dir(void **state)
{
	struct fx *f = *state;
	int fd = open(f->bearer, O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(pb_store_open(f->root, getuid(), true, &f->st, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "is not a directory");
}

static void test_open_bearer_mode(void **state)
{
	static const mode_t bad[] = { 0750, 0705, 0701, 0777, 0500, 0300 };
	struct fx *f = *state;
	char want[2 * PATH_MAX + 64];

	assert_int_equal(mkdir(f->bearer, 0700), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(f->bearer, bad[i]), 0);
		assert_int_equal(pb_store_open(f->root, getuid(), true, &f->st, &f->err), -1);
		snprintf(want, sizeof(want), "has mode %04o, must be 0700 (chmod 700 %s)",
			 (unsigned)bad[i], f->bearer);
		assert_err(&f->err, PB_E_STORE, want);
		assert_int_equal(f->st.dirfd, -1);
	}
	assert_int_equal(chmod(f->bearer, 0700), 0);
	assert_int_equal(pb_store_open(f->root, getuid(), true, &f->st, &f->err), 0);
}

static void test_open_wrong_uid(void **state)
{
	struct fx *f = *state;
	uid_t other = getuid() == 0 ? NOBODY : 0;
	char want[3 * PATH_MAX], me[64], them[64];

	/* owners by name, and the command that fixes it (issue 13) */
	pb_user_name(getuid(), me, sizeof(me));
	pb_user_name(other, them, sizeof(them));
	snprintf(want, sizeof(want), "runtime dir %s is owned by %s, must be owned by %s "
		 "(chown %s %s)", f->root, me, them, them, f->root);
	assert_int_equal(pb_store_open(f->root, other, true, &f->st, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, want);
	assert_false(exists(f, ""));    /* refused before bearer/ was made */
}

/* root only: a runtime dir or token dir that really belongs to someone else */
static void test_open_foreign_owned(void **state)
{
	struct fx *f = *state;
	char want[3 * PATH_MAX];

	if (getuid() != 0)
		skip();
	assert_int_equal(chown(f->root, NOBODY, NOBODY), 0);
	assert_int_equal(pb_store_open(f->root, 0, true, &f->st, &f->err), -1);
	snprintf(want, sizeof(want), "runtime dir %s is owned by nobody, must be owned by root "
		 "(chown root %s)", f->root, f->root);
	assert_err(&f->err, PB_E_STORE, want);
	assert_int_equal(chown(f->root, 0, 0), 0);

	assert_int_equal(mkdir(f->bearer, 0700), 0);
	assert_int_equal(chown(f->bearer, NOBODY, NOBODY), 0);
	assert_int_equal(pb_store_open(f->root, 0, true, &f->st, &f->err), -1);
	snprintf(want, sizeof(want), "token dir %s is owned by nobody, must be owned by root "
		 "(chown root %s)", f->bearer, f->bearer);
	assert_err(&f->err, PB_E_STORE, want);

	/* the owner's store, opened by root without dropping privileges: files would be root's */
	assert_int_equal(chown(f->root, NOBODY, NOBODY), 0);
	assert_int_equal(pb_store_open(f->root, NOBODY, true, &f->st, &f->err), 0);
	{
		struct pb_store_token t = token(TOKEN_A, NULL, T0, 3600);

		assert_int_equal(pb_store_save(&f->st, &t, &f->err), -1);
		assert_err(&f->err, PB_E_STORE, "new files would not be owned by nobody");
		assert_int_equal(count_entries(f, &(int){ 0 }), 0);
	}
}

/* ------------------------------------------------------------ saving */

static void test_save_exact_files(void **state)
{
	struct fx *f = *state;
	struct pb_store_token t = token(TOKEN_A, REFRESH_A, T0, 3600);
	struct json_object *o;
	mode_t old;
	char *text, *refresh = NULL;
	size_t len;
	int rc, dot;

	/* a umask that would strip the owner's write bit: files are 0600 anyway */
	old = umask(0277);
	rc = pb_store_save(&f->st, &t, &f->err);
	umask(old);
	assert_int_equal(rc, 0);

	text = slurp(f, "apivideo.token", &len);
	assert_string_equal(text, TOKEN_A);    /* no newline */
	assert_int_equal(len, strlen(TOKEN_A));
	free(text);
	text = slurp(f, "apivideo.header", NULL);
	assert_string_equal(text, "Authorization: Bearer " TOKEN_A "\n");
	free(text);

	text = slurp(f, "apivideo.json", NULL);
	assert_null(strstr(text, TOKEN_A));
	assert_null(strstr(text, "refresh-"));
	assert_int_equal(text[strlen(text) - 1], '\n');
	free(text);
	o = json_file(f, "apivideo.json");
	assert_string_equal(member(o, "profile"), "apivideo");
	assert_string_equal(member(o, "vendor"), "apivideo");
	assert_string_equal(member(o, "scheme"), "Bearer");
	assert_string_equal(member(o, "obtained_at"), "2026-11-23T11:13:44Z");
	assert_string_equal(member(o, "expires_at"), "2026-11-23T12:13:44Z");
	assert_string_equal(member(o, "state"), "valid");
	assert_null(member(o, "last_error"));
	assert_null(member(o, "next_attempt_at"));
	assert_null(member(o, "token"));
	assert_null(member(o, "refresh_token"));
	json_object_put(o);

	text = slurp(f, "apivideo.state", NULL);
	assert_non_null(text);
	o = json_tokener_parse(text);    /* real JSON, for anyone who looks */
	assert_non_null(o);
	assert_string_equal(member(o, "refresh_token"), REFRESH_A);
	json_object_put(o);
	free(text);
	assert_int_equal(pb_store_read_refresh(&f->st, "apivideo", &refresh, &f->err), 0);
	assert_string_equal(refresh, REFRESH_A);
	pb_wipe_free(refresh);

	assert_int_equal(mode_of(f, "apivideo.token"), 0600);
	assert_int_equal(mode_of(f, "apivideo.header"), 0600);
	assert_int_equal(mode_of(f, "apivideo.json"), 0600);
	assert_int_equal(mode_of(f, "apivideo.state"), 0600);
	assert_int_equal(count_entries(f, &dot), 4);
	assert_int_equal(dot, 0);
}

static void test_save_scheme_and_no_expiry(void **state)
{
	struct fx *f = *state;
	struct pb_store_token t = token("abc123", NULL, T0, 0);
	struct json_object *o;
	struct pb_meta m;
	char *text;

	t.profile = "rythmex";
	t.vendor = "rythmex-apitoken";
	t.scheme = "Token";
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	text = slurp(f, "rythmex.header", NULL);
	assert_string_equal(text, "Authorization: Token abc123\n");
	free(text);
	assert_false(exists(f, "rythmex.state"));
	o = json_file(f, "rythmex.json");
	assert_string_equal(member(o, "expires_at"), "null");
	assert_string_equal(member(o, "vendor"), "rythmex-apitoken");
	json_object_put(o);

	assert_int_equal(pb_store_read_meta(&f->st, "rythmex", &m, &f->err), 0);
	assert_int_equal(m.state, PB_STATE_VALID);
	assert_false(m.has_expiry);
	assert_int_equal(m.obtained_at, T0);
	assert_string_equal(m.scheme, "Token");
	assert_string_equal(m.last_error, "");
}

static void test_read_meta_roundtrip(void **state)
{
	struct fx *f = *state;
	struct pb_store_token t = token(TOKEN_A, NULL, T0, 4);
	struct pb_meta m;
	char *tok = NULL;

	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_int_equal(m.state, PB_STATE_VALID);
	assert_string_equal(m.vendor, "apivideo");
	assert_string_equal(m.scheme, "Bearer");
	assert_int_equal(m.obtained_at, T0);
	assert_true(m.has_expiry);
	assert_int_equal(m.expires_at, T0 + 4);
	assert_string_equal(m.last_error, "");
	assert_int_equal(m.next_attempt_at, 0);
	assert_int_equal(pb_store_read_token(&f->st, "apivideo", &tok, &f->err), 0);
	assert_string_equal(tok, TOKEN_A);
	pb_wipe_free(tok);
}

static void test_read_absent(void **state)
{
	struct fx *f = *state;
	static char sentinel[] = "x";
	struct pb_meta m;
	char *s = sentinel;

	memset(&m, 0x55, sizeof(m));
	assert_int_equal(pb_store_read_meta(&f->st, "nothing", &m, &f->err), 1);
	assert_int_equal(m.state, PB_STATE_NONE);
	assert_int_equal(m.obtained_at, 0);
	assert_int_equal(pb_store_read_token(&f->st, "nothing", &s, &f->err), 1);
	assert_null(s);
	s = sentinel;
	assert_int_equal(pb_store_read_refresh(&f->st, "nothing", &s, &f->err), 1);
	assert_null(s);
}

static void test_save_refuses_bad_tokens(void **state)
{
	static const char *const bad[] = {
		"tok\r\nX-Injected: 1", "tok\n", "tok en", "", "\x7f", "tab\there",
	};
	struct fx *f = *state;
	struct pb_store_token t;
	char big[40000];
	int dot;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = token(bad[i], NULL, T0, 3600);
		pb_err_clear(&f->err);
		assert_int_equal(pb_store_save(&f->st, &t, &f->err), -1);
		assert_int_equal(f->err.code, PB_E_TEMP);
		assert_null(strstr(f->err.msg, "Injected"));    /* the token is not quoted */
		assert_null(strstr(f->err.msg, "here"));
	}
	t = token(NULL, NULL, T0, 3600);
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), -1);
	assert_err(&f->err, PB_E_TEMP, "refusing an empty token");
	t = token("tok\x01", NULL, T0, 3600);
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), -1);
	assert_err(&f->err, PB_E_TEMP, "refusing token with control characters");
	t = token(TOKEN_A, "bad\nrefresh", T0, 3600);
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), -1);
	assert_err(&f->err, PB_E_TEMP, "control characters");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	t = token(big, NULL, T0, 3600);
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), -1);
	assert_err(&f->err, PB_E_TEMP, "refusing a token of 39999 bytes");

	/* scheme and vendor come from the config: a bad one is a bug */
	t = token(TOKEN_A, NULL, T0, 3600);
	t.scheme = "Bea rer";
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), -1);
	assert_int_equal(f->err.code, PB_E_INTERNAL);
	t.scheme = "Bearer\r\nX: y";
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), -1);
	t.scheme = "";
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), -1);
	t.scheme = "Bearer";
	t.vendor = "../x";
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), -1);
	assert_int_equal(f->err.code, PB_E_INTERNAL);

	assert_int_equal(count_entries(f, &dot), 0);    /* nothing written */

	/* a refresh token never goes into a header: a space in it is fine */
	t = token(TOKEN_A, "refresh with space", T0, 3600);
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	{
		char *r = NULL;

		assert_int_equal(pb_store_read_refresh(&f->st, "apivideo", &r, &f->err), 0);
		assert_string_equal(r, "refresh with space");
		pb_wipe_free(r);
	}
}

static void test_bad_profile_names(void **state)
{
	static const char *const bad[] = { "../x", ".x", "a/b", "", "a b", "x\n", "..", NULL };
	struct fx *f = *state;
	struct pb_store_token t = token(TOKEN_A, NULL, T0, 3600);
	struct pb_meta m;
	char *s = NULL, up[PATH_MAX + 16];
	int lockfd = -2, dot;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t.profile = bad[i];
		assert_int_equal(pb_store_save(&f->st, &t, &f->err), -1);
		assert_int_equal(f->err.code, PB_E_INTERNAL);
		assert_int_equal(pb_store_read_meta(&f->st, bad[i], &m, &f->err), -1);
		assert_int_equal(pb_store_read_token(&f->st, bad[i], &s, &f->err), -1);
		assert_int_equal(pb_store_read_refresh(&f->st, bad[i], &s, &f->err), -1);
		assert_int_equal(pb_store_save_error(&f->st, bad[i], "v", "Bearer", "x", 0, NULL,
						     &f->err), -1);
		assert_int_equal(pb_store_expire(&f->st, bad[i], &f->err), -1);
		assert_int_equal(pb_store_lock(&f->st, bad[i], 0, &lockfd, &f->err), -1);
		assert_int_equal(lockfd, -1);
	}
	assert_int_equal(count_entries(f, &dot), 0);
	snprintf(up, sizeof(up), "%s/x.json", f->root);
	assert_int_equal(access(up, F_OK), -1);
}

static void test_save_older_never_replaces_newer(void **state)
{
	struct fx *f = *state;
	struct pb_store_token newer = token(TOKEN_A, "refresh-new", T0 + 100, 3600);
	struct pb_store_token older = token(TOKEN_B, "refresh-old", T0, 3600);
	static const char *const files[] = { "apivideo.token", "apivideo.header", "apivideo.json",
					     "apivideo.state" };
	char *before[4];
	ino_t ino[4];

	assert_int_equal(pb_store_save(&f->st, &newer, &f->err), 0);
	for (int i = 0; i < 4; i++) {
		before[i] = slurp(f, files[i], NULL);
		ino[i] = inode_of(f, files[i]);
	}
	assert_int_equal(pb_store_save(&f->st, &older, &f->err), 1);
	for (int i = 0; i < 4; i++) {
		char *after = slurp(f, files[i], NULL);

		assert_string_equal(after, before[i]);
		assert_int_equal(inode_of(f, files[i]), ino[i]);    /* not even rewritten */
		free(after);
		free(before[i]);
	}
	assert_no_temp_files(f);

	/* same second: the later call wins */
	older.obtained_ms = (T0 + 100) * 1000LL;
	assert_int_equal(pb_store_save(&f->st, &older, &f->err), 0);
	{
		char *tok = slurp(f, "apivideo.token", NULL);

		assert_string_equal(tok, TOKEN_B);
		free(tok);
	}
}

static void test_save_older_replaces_expired(void **state)
{
	struct fx *f = *state;
	struct pb_store_token newer = token(TOKEN_A, NULL, T0 + 100, 3600);
	struct pb_store_token older = token(TOKEN_B, NULL, T0, 3600);

	/* an expired token protects nothing */
	assert_int_equal(pb_store_save(&f->st, &newer, &f->err), 0);
	assert_int_equal(pb_store_expire(&f->st, "apivideo", &f->err), 0);
	assert_int_equal(pb_store_save(&f->st, &older, &f->err), 0);
}

static void test_save_replaces_atomically(void **state)
{
	struct fx *f = *state;
	struct pb_store_token a = token(TOKEN_A, NULL, T0, 3600);
	struct pb_store_token b = token(TOKEN_B, NULL, T0 + 1, 3600);
	char path[PATH_MAX + 80], buf[128];
	ino_t ino;
	ssize_t n;
	int fd;

	assert_int_equal(pb_store_save(&f->st, &a, &f->err), 0);
	path_of(f, "apivideo.token", path, sizeof(path));
	fd = open(path, O_RDONLY);    /* a reader in the middle of its read */
	assert_true(fd >= 0);
	ino = inode_of(f, "apivideo.token");
	assert_int_equal(pb_store_save(&f->st, &b, &f->err), 0);
	/* the old file was replaced by rename, never truncated under the reader */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_int_equal(n, (ssize_t)strlen(TOKEN_A));
	buf[n] = '\0';
	assert_string_equal(buf, TOKEN_A);
	assert_true(inode_of(f, "apivideo.token") != ino);
	{
		char *now = slurp(f, "apivideo.token", NULL);

		assert_string_equal(now, TOKEN_B);
		free(now);
	}
	assert_no_temp_files(f);
}

/* A rename that fails: the temp file goes, .json (written last) is untouched. */
static void test_save_failure_leaves_no_temp(void **state)
{
	struct fx *f = *state;
	struct pb_store_token a = token(TOKEN_A, NULL, T0, 3600);
	struct pb_store_token b = token(TOKEN_B, NULL, T0 + 10, 3600);
	char path[PATH_MAX + 80];
	char *json_before, *json_after;
	int fd;

	assert_int_equal(pb_store_save(&f->st, &a, &f->err), 0);
	json_before = slurp(f, "apivideo.json", NULL);
	/* a non-empty dir where the .header goes: renameat() fails */
	path_of(f, "apivideo.header", path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	strcat(path, "/x");
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(pb_store_save(&f->st, &b, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "cannot replace");
	assert_no_temp_files(f);
	json_after = slurp(f, "apivideo.json", NULL);
	assert_string_equal(json_after, json_before);
	free(json_before);
	free(json_after);

	/* on a fresh profile, a failure leaves no .json at all */
	path_of(f, "fresh.header", path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	b.profile = "fresh";
	assert_int_equal(pb_store_save(&f->st, &b, &f->err), -1);
	assert_false(exists(f, "fresh.json"));
	assert_no_temp_files(f);
}

/* A write that fails half-way (file size limit): no temp file, old file intact. */
static void test_save_write_failure(void **state)
{
	struct fx *f = *state;
	struct pb_store_token a = token(TOKEN_A, NULL, T0, 3600);
	char big[3000];
	pid_t pid;
	int status;

	assert_int_equal(pb_store_save(&f->st, &a, &f->err), 0);
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 1000, 1000 };
		struct pb_store_token b = token(big, NULL, T0 + 10, 3600);
		struct pb_err err;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(2);
		if (pb_store_save(&f->st, &b, &err) != -1 || err.code != PB_E_STORE ||
		    strstr(err.msg, "cannot write") == NULL)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_no_temp_files(f);
	{
		char *tok = slurp(f, "apivideo.token", NULL);

		assert_string_equal(tok, TOKEN_A);
		free(tok);
	}
}

/* ------------------------------------------------------------ unsafe files */

static void test_symlinked_json_refused(void **state)
{
	struct fx *f = *state;
	struct pb_store_token t = token(TOKEN_A, NULL, T0, 3600);
	char victim[PATH_MAX + 16], link[PATH_MAX + 80], buf[64] = "";
	struct pb_meta m;
	struct stat sb;
	int fd;

	snprintf(victim, sizeof(victim), "%s/victim", f->root);
	fd = open(victim, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"state\": \"valid\"}", 18), 18);
	close(fd);
	path_of(f, "apivideo.json", link, sizeof(link));
	assert_int_equal(symlink(victim, link), 0);

	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "apivideo.json is a symlink");
	assert_int_equal(m.state, PB_STATE_NONE);
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "apivideo.json is a symlink");
	assert_int_equal(pb_store_save_error(&f->st, "apivideo", "apivideo", "Bearer", "down", 0, NULL,
					     &f->err), -1);
	assert_int_equal(pb_store_expire(&f->st, "apivideo", &f->err), -1);

	/* the link and its target are as they were */
	assert_int_equal(lstat(link, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	fd = open(victim, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 18);
	close(fd);
	assert_string_equal(buf, "{\"state\": \"valid\"}");
	assert_false(exists(f, "apivideo.token"));
}

static void test_symlinked_token_not_followed(void **state)
{
	struct fx *f = *state;
	struct pb_store_token t = token(TOKEN_A, NULL, T0, 3600);
	char victim[PATH_MAX + 16], link[PATH_MAX + 80], buf[64] = "";
	char *tok = NULL;
	struct stat sb;
	int fd;

	snprintf(victim, sizeof(victim), "%s/victim", f->root);
	fd = open(victim, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	path_of(f, "apivideo.token", link, sizeof(link));
	assert_int_equal(symlink(victim, link), 0);

	assert_int_equal(pb_store_read_token(&f->st, "apivideo", &tok, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "apivideo.token is a symlink");
	assert_null(tok);

	/* saving replaces the link itself; its target is never written */
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	assert_int_equal(lstat(link, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	fd = open(victim, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 8);
	close(fd);
	assert_string_equal(buf, "precious");

	/* the same for .state and the lock */
	path_of(f, "apivideo.state", link, sizeof(link));
	assert_int_equal(symlink(victim, link), 0);
	assert_int_equal(pb_store_read_refresh(&f->st, "apivideo", &tok, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "apivideo.state is a symlink");
	path_of(f, "apivideo.lock", link, sizeof(link));
	assert_int_equal(symlink(victim, link), 0);
	{
		int lockfd;

		assert_int_equal(pb_store_lock(&f->st, "apivideo", 0, &lockfd, &f->err), -1);
		assert_err(&f->err, PB_E_STORE, "apivideo.lock is a symlink");
	}
}

static void test_unsafe_file_modes(void **state)
{
	struct fx *f = *state;
	struct pb_store_token t = token(TOKEN_A, NULL, T0, 3600);
	struct pb_meta m;
	char *tok = NULL;

	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	{
		char path[PATH_MAX + 80];

		path_of(f, "apivideo.json", path, sizeof(path));
		assert_int_equal(chmod(path, 0644), 0);
		assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), -1);
		assert_err(&f->err, PB_E_STORE, "apivideo.json has mode 0644, must be 0600 (chmod 600 ");
		assert_int_equal(chmod(path, 0600), 0);
		path_of(f, "apivideo.token", path, sizeof(path));
		assert_int_equal(chmod(path, 0640), 0);
		assert_int_equal(pb_store_read_token(&f->st, "apivideo", &tok, &f->err), -1);
		assert_null(tok);
	}
}

/* root only: files of another owner inside the user's dir */
static void test_foreign_owned_file(void **state)
{
	struct fx *f = *state;
	struct pb_store_token t = token(TOKEN_A, "r", T0, 3600);
	char path[PATH_MAX + 80];
	struct pb_meta m;
	char *s = NULL;
	int lockfd;

	if (getuid() != 0)
		skip();
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	path_of(f, "apivideo.json", path, sizeof(path));
	assert_int_equal(chown(path, NOBODY, NOBODY), 0);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "apivideo.json is owned by nobody, must be owned by root (chown root ");
	path_of(f, "apivideo.token", path, sizeof(path));
	assert_int_equal(chown(path, NOBODY, NOBODY), 0);
	assert_int_equal(pb_store_read_token(&f->st, "apivideo", &s, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "apivideo.token is owned by nobody, must be owned by root");
	path_of(f, "apivideo.state", path, sizeof(path));
	assert_int_equal(chown(path, NOBODY, NOBODY), 0);
	assert_int_equal(pb_store_read_refresh(&f->st, "apivideo", &s, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "apivideo.state is owned by nobody, must be owned by root");
	put_file(f, "apivideo.lock", "", 0600);
	path_of(f, "apivideo.lock", path, sizeof(path));
	assert_int_equal(chown(path, NOBODY, NOBODY), 0);
	assert_int_equal(pb_store_lock(&f->st, "apivideo", 0, &lockfd, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "apivideo.lock is owned by nobody, must be owned by root");
}

static void test_not_regular_files(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX + 80];
	struct timespec t0;
	struct pb_meta m;
	char *s = NULL;

	/* a FIFO would block a plain open(); it must be refused at once */
	path_of(f, "apivideo.json", path, sizeof(path));
	assert_int_equal(mkfifo(path, 0600), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "apivideo.json is not a regular file");
	assert_true(since(&t0) < 1.0);
	path_of(f, "apivideo.token", path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(pb_store_read_token(&f->st, "apivideo", &s, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "apivideo.token is not a regular file");
}

static void test_too_large(void **state)
{
	struct fx *f = *state;
	char *big = malloc(70000);
	char *s = NULL;

	assert_non_null(big);
	memset(big, 'x', 69999);
	big[69999] = '\0';
	put_file(f, "apivideo.token", big, 0600);
	free(big);
	assert_int_equal(pb_store_read_token(&f->st, "apivideo", &s, &f->err), -1);
	assert_err(&f->err, PB_E_STORE, "apivideo.token is too large");
	assert_null(s);
}

static void test_corrupt_json(void **state)
{
	static const char *const bad[] = {
		"{not json", "", "[]", "\"valid\"", "{}", "{\"state\": \"weird\"}",
		"{\"state\": 1}", "{\"state\": \"valid\"} trailing",
		"{\"state\": \"valid\", \"obtained_at\": \"yesterday\"}",
		"{\"state\": \"valid\", \"expires_at\": 1795432424}",
		"{\"state\": \"valid\", \"vendor\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
		/* what a Retry-After of 9e12 s once left behind (issue 11) */
		"{\"state\": \"error\", \"next_attempt_at\": \"287225-04-11T10:53:20Z\"}",
	};
	struct fx *f = *state;
	struct pb_store_token t = token(TOKEN_A, NULL, T0, 3600);
	struct pb_meta m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_file(f, "apivideo.json", bad[i], 0600);
		memset(&m, 0x55, sizeof(m));
		assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), -2);
		assert_err(&f->err, PB_E_STORE, "apivideo.json is corrupt");
		assert_int_equal(m.state, PB_STATE_NONE);
	}
	/* a corrupt .json does not block a new token forever */
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_int_equal(m.state, PB_STATE_VALID);
	/* nor a failure: it is rewritten */
	put_file(f, "apivideo.json", bad[0], 0600);
	assert_int_equal(pb_store_save_error(&f->st, "apivideo", "apivideo", "Bearer", "down", 0,
					     NULL, &f->err), 0);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_string_equal(m.last_error, "down");
}

/* No next_attempt_at past two days is ever written, whatever a caller computed. */
static void test_save_error_clamps_next_attempt(void **state)
{
	struct fx *f = *state;
	struct pb_meta m;
	time_t now = time(NULL);

	assert_int_equal(pb_store_save_error(&f->st, "apivideo", "apivideo", "Bearer", "429",
					     (time_t)9000000000000LL, NULL, &f->err), 0);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_true(m.next_attempt_at >= now + 2 * 86400 && m.next_attempt_at <= now + 2 * 86400 + 5);
	assert_int_equal(pb_store_save_error(&f->st, "apivideo", "apivideo", "Bearer", "429",
					     (time_t)-5, NULL, &f->err), 0);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_int_equal(m.next_attempt_at, 0);
}

/* A system profile: renewal is said in .json, and its old refresh token goes. */
static void test_save_system_profile(void **state)
{
	struct fx *f = *state;
	struct pb_store_token t = token(TOKEN_A, "rt-from-an-old-hand-off", T0, 3600);
	struct pb_meta m;
	char *rt = NULL;

	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	assert_int_equal(pb_store_read_refresh(&f->st, "apivideo", &rt, &f->err), 0);
	pb_wipe_free(rt);
	t = token(TOKEN_B, NULL, T0 + 10, 3600);
	t.forget_refresh = true;
	t.renewal = "broker";
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	assert_int_equal(pb_store_read_refresh(&f->st, "apivideo", &rt, &f->err), 1);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_string_equal(m.renewal, "broker");
	/* a failure keeps it, unless told otherwise */
	assert_int_equal(pb_store_save_error(&f->st, "apivideo", NULL, NULL, "x", 0, NULL,
					     &f->err), 0);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_string_equal(m.renewal, "broker");
	assert_int_equal(pb_store_save_error(&f->st, "apivideo", NULL, NULL, "x", 0, "next login",
					     &f->err), 0);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_string_equal(m.renewal, "next login");
	/* and forget removes every file of it but the lock */
	assert_int_equal(pb_store_forget(&f->st, "apivideo", &f->err), 0);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 1);
	assert_int_equal(pb_store_read_token(&f->st, "apivideo", &rt, &f->err), 1);
}

static void test_read_meta_tolerant(void **state)
{
	struct fx *f = *state;
	struct pb_meta m;

	put_file(f, "apivideo.json", "{\"state\": \"expired\"}\n", 0600);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_int_equal(m.state, PB_STATE_EXPIRED);
	assert_string_equal(m.vendor, "");
	assert_int_equal(m.obtained_at, 0);
	assert_false(m.has_expiry);
	assert_int_equal(m.next_attempt_at, 0);

	put_file(f, "apivideo.json",
		 "{\"profile\": \"apivideo\", \"state\": \"error\", \"future_field\": [1, 2],"
		 " \"obtained_at\": \"2026-11-23T13:13:44+02:00\", \"expires_at\": null,"
		 " \"last_error\": \"HTTP 503\", \"next_attempt_at\": \"2026-11-23T11:14:44Z\"}",
		 0600);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_int_equal(m.state, PB_STATE_ERROR);
	assert_int_equal(m.obtained_at, T0);
	assert_false(m.has_expiry);
	assert_string_equal(m.last_error, "HTTP 503");
	assert_int_equal(m.next_attempt_at, T0 + 60);
}

static void test_refresh_state_file(void **state)
{
	struct fx *f = *state;
	struct pb_store_token t = token(TOKEN_A, "r1", T0, 3600);
	static char sentinel[] = "x";
	char *r = NULL, *before, *after;

	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	/* NULL refresh token: the state file is left as it is */
	t.refresh_token = NULL;
	t.obtained_ms = (T0 + 5) * 1000LL;
	before = slurp(f, "apivideo.state", NULL);
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	after = slurp(f, "apivideo.state", NULL);
	assert_string_equal(after, before);
	free(before);
	free(after);
	assert_int_equal(pb_store_read_refresh(&f->st, "apivideo", &r, &f->err), 0);
	assert_string_equal(r, "r1");
	pb_wipe_free(r);

	/* a rotated one replaces it */
	t.refresh_token = "r2";
	t.obtained_ms = (T0 + 6) * 1000LL;
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	assert_int_equal(pb_store_read_refresh(&f->st, "apivideo", &r, &f->err), 0);
	assert_string_equal(r, "r2");
	pb_wipe_free(r);

	/* hand-written JSON escapes are understood */
	put_file(f, "apivideo.state",
		 " { \"other\" : null, \"refresh_token\" : \"a\\u00e9\\ud83d\\ude00\\/\\\"b\" }\n",
		 0600);
	assert_int_equal(pb_store_read_refresh(&f->st, "apivideo", &r, &f->err), 0);
	assert_string_equal(r, "a\xc3\xa9\xf0\x9f\x98\x80/\"b");
	pb_wipe_free(r);

	put_file(f, "apivideo.state", "{\"refresh_token\": null}", 0600);
	r = sentinel;
	assert_int_equal(pb_store_read_refresh(&f->st, "apivideo", &r, &f->err), 1);
	assert_null(r);
	put_file(f, "apivideo.state", "{}", 0600);
	assert_int_equal(pb_store_read_refresh(&f->st, "apivideo", &r, &f->err), 1);
}

static void test_refresh_state_corrupt(void **state)
{
	static const char *const bad[] = {
		"", "{", "{\"refresh_token\": \"abc}", "{\"refresh_token\": abc}",
		"{\"refresh_token\": \"a\\nb\"}", "{\"refresh_token\": \"a\\u0000b\"}",
		"{\"refresh_token\": \"a\"} x", "{\"refresh_token\": \"a\\x\"}",
		"{\"refresh_token\": \"\\ud800\"}", "{\"refresh_token\": \"a\" \"b\": \"c\"}",
		"{\"refresh_token\": \"a\",}", "[\"refresh_token\"]", "{\"refresh_token\": nul}",
		"{\"refresh_token\": \"a\tb\"}",
	};
	struct fx *f = *state;
	char *r = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_file(f, "apivideo.state", bad[i], 0600);
		assert_int_equal(pb_store_read_refresh(&f->st, "apivideo", &r, &f->err), -1);
		assert_err(&f->err, PB_E_STORE, "apivideo.state is corrupt");
		assert_null(r);
	}
}

/* ------------------------------------------------------------ errors, expiry */

static void test_save_error_keeps_valid_token(void **state)
{
	struct fx *f = *state;
	time_t now = time(NULL);
	struct pb_store_token t = token(TOKEN_A, "r1", now - 100, 3600);
	static const char *const files[] = { "apivideo.token", "apivideo.header", "apivideo.state" };
	char *before[3];
	ino_t ino[3];
	char when[32], exp[32];
	struct json_object *o;
	struct pb_meta m;

	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	for (int i = 0; i < 3; i++) {
		before[i] = slurp(f, files[i], NULL);
		ino[i] = inode_of(f, files[i]);
	}
	assert_int_equal(pb_store_save_error(&f->st, "apivideo", "other-vendor", "Token",
					     "HTTP 503 from https://ws.api.video/auth/refresh",
					     now + 60, NULL, &f->err), 0);
	for (int i = 0; i < 3; i++) {
		char *after = slurp(f, files[i], NULL);

		assert_string_equal(after, before[i]);    /* byte-identical */
		assert_int_equal(inode_of(f, files[i]), ino[i]);
		free(after);
		free(before[i]);
	}
	o = json_file(f, "apivideo.json");
	assert_string_equal(member(o, "state"), "valid");
	assert_string_equal(member(o, "vendor"), "apivideo");    /* kept, not the argument */
	assert_string_equal(member(o, "scheme"), "Bearer");
	assert_string_equal(member(o, "last_error"),
			    "HTTP 503 from https://ws.api.video/auth/refresh");
	pb_time_format(now + 60, when);
	assert_string_equal(member(o, "next_attempt_at"), when);
	pb_time_format(now + 3500, exp);
	assert_string_equal(member(o, "expires_at"), exp);
	json_object_put(o);
	assert_int_equal(mode_of(f, "apivideo.json"), 0600);
	assert_no_temp_files(f);

	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_int_equal(m.state, PB_STATE_VALID);
	assert_int_equal(m.obtained_at, now - 100);
	assert_int_equal(m.expires_at, now + 3500);
	assert_int_equal(m.next_attempt_at, now + 60);

	/* a later success clears the error */
	t.obtained_ms = (now) * 1000LL;
	t.expires_ms = (now + 3600) * 1000LL;
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	o = json_file(f, "apivideo.json");
	assert_null(member(o, "last_error"));
	assert_null(member(o, "next_attempt_at"));
	json_object_put(o);
}

static void test_save_error_after_expiry(void **state)
{
	struct fx *f = *state;
	time_t now = time(NULL);
	struct pb_store_token t = token(TOKEN_A, NULL, now - 100, 90);   /* ran out 10 s ago */
	struct pb_store_token forever = token(TOKEN_B, NULL, now - 100, 0);
	struct pb_meta m;

	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	assert_int_equal(pb_store_save_error(&f->st, "apivideo", "apivideo", "Bearer", "down", 0, NULL,
					     &f->err), 0);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_int_equal(m.state, PB_STATE_ERROR);
	assert_string_equal(m.last_error, "down");
	assert_int_equal(m.next_attempt_at, 0);

	/* a token that never expires stays valid through failures */
	forever.obtained_ms = (now) * 1000LL;
	assert_int_equal(pb_store_save(&f->st, &forever, &f->err), 0);
	assert_int_equal(pb_store_save_error(&f->st, "apivideo", "apivideo", "Bearer", "down", 0, NULL,
					     &f->err), 0);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_int_equal(m.state, PB_STATE_VALID);

	/* ... unless its file is gone */
	assert_int_equal(unlinkat(f->st.dirfd, "apivideo.token", 0), 0);
	assert_int_equal(pb_store_save_error(&f->st, "apivideo", "apivideo", "Bearer", "down", 0, NULL,
					     &f->err), 0);
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_int_equal(m.state, PB_STATE_ERROR);
}

static void test_save_error_first_attempt(void **state)
{
	struct fx *f = *state;
	struct json_object *o;
	char longmsg[2000];
	struct pb_meta m;
	int dot;

	assert_int_equal(pb_store_save_error(&f->st, "unith", "unith", "Bearer",
					     "vendor said:\nline two\r", 0, NULL, &f->err), 0);
	assert_int_equal(count_entries(f, &dot), 1);    /* only the .json */
	o = json_file(f, "unith.json");
	assert_string_equal(member(o, "profile"), "unith");
	assert_string_equal(member(o, "vendor"), "unith");
	assert_string_equal(member(o, "scheme"), "Bearer");
	assert_string_equal(member(o, "state"), "error");
	assert_string_equal(member(o, "obtained_at"), "null");
	assert_string_equal(member(o, "expires_at"), "null");
	assert_string_equal(member(o, "last_error"), "vendor said:?line two?");
	assert_string_equal(member(o, "next_attempt_at"), "null");
	json_object_put(o);

	/* a long reason is cut to fit, never in the middle of a UTF-8 character */
	memset(longmsg, 'x', sizeof(longmsg));
	memcpy(longmsg + 510, "\xc3\xa9", 2);
	longmsg[sizeof(longmsg) - 1] = '\0';
	assert_int_equal(pb_store_save_error(&f->st, "unith", NULL, NULL, longmsg, 0, NULL, &f->err), 0);
	assert_int_equal(pb_store_read_meta(&f->st, "unith", &m, &f->err), 0);
	assert_int_equal(strlen(m.last_error), 510);
	assert_string_equal(m.vendor, "unith");

	/* no vendor known: null, not a made-up one */
	assert_int_equal(pb_store_save_error(&f->st, "other", NULL, NULL, "x", 0, NULL, &f->err), 0);
	o = json_file(f, "other.json");
	assert_string_equal(member(o, "vendor"), "null");
	json_object_put(o);
}

static void test_expire(void **state)
{
	struct fx *f = *state;
	time_t now = time(NULL);
	struct pb_store_token t = token(TOKEN_A, "r1", now - 100, 3600);
	struct pb_meta m;
	char *s = NULL;

	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	assert_int_equal(pb_store_save_error(&f->st, "apivideo", NULL, NULL, "HTTP 500", now + 30, NULL,
					     &f->err), 0);
	assert_int_equal(pb_store_expire(&f->st, "apivideo", &f->err), 0);
	assert_false(exists(f, "apivideo.token"));
	assert_false(exists(f, "apivideo.header"));
	assert_true(exists(f, "apivideo.state"));    /* the refresh token may still work */
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_int_equal(m.state, PB_STATE_EXPIRED);
	assert_string_equal(m.vendor, "apivideo");
	assert_int_equal(m.obtained_at, now - 100);
	assert_string_equal(m.last_error, "HTTP 500");
	assert_int_equal(m.next_attempt_at, now + 30);
	assert_int_equal(pb_store_read_token(&f->st, "apivideo", &s, &f->err), 1);
	/* twice, and on a profile that never had a token: fine */
	assert_int_equal(pb_store_expire(&f->st, "apivideo", &f->err), 0);
	assert_int_equal(pb_store_expire(&f->st, "never", &f->err), 0);
	assert_no_temp_files(f);
}

/* .json cannot be written (here: a dir in its place): the dead token goes all the same. */
static void test_expire_unwritable_json(void **state)
{
	struct fx *f = *state;
	struct pb_store_token t = token(TOKEN_A, NULL, time(NULL) - 100, 3600);
	char path[PATH_MAX + 80];

	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	path_of(f, "apivideo.json", path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(pb_store_expire(&f->st, "apivideo", &f->err), -1);
	assert_false(exists(f, "apivideo.token"));
	assert_false(exists(f, "apivideo.header"));
	assert_int_equal(rmdir(path), 0);
}

/* A crash between .token and .header: the header is rebuilt from the (newer) token. */
static void test_repair_header_from_token(void **state)
{
	struct fx *f = *state;
	struct pb_store_token t = token(TOKEN_A, NULL, time(NULL) - 100, 3600);
	char *h;

	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	assert_int_equal(pb_store_repair(&f->st, "apivideo", "Bearer"), 0);   /* nothing to mend */
	put_file(f, "apivideo.header", "Authorization: Bearer an-older-token\n", 0600);
	assert_int_equal(pb_store_repair(&f->st, "apivideo", "Bearer"), 1);
	h = slurp(f, "apivideo.header", NULL);
	assert_string_equal(h, "Authorization: Bearer " TOKEN_A "\n");
	free(h);
	assert_int_equal(mode_of(f, "apivideo.header"), 0600);
	/* no .json at all (the first save died before it): the config's scheme */
	assert_int_equal(unlink_in(f, "apivideo.json"), 0);
	put_file(f, "apivideo.header", "x\n", 0600);
	assert_int_equal(pb_store_repair(&f->st, "apivideo", "Token"), 1);
	h = slurp(f, "apivideo.header", NULL);
	assert_string_equal(h, "Authorization: Token " TOKEN_A "\n");
	free(h);
}

/* A header with no token, and a token that has run out: removed, never sent. */
static void test_repair_removes_what_must_not_be_sent(void **state)
{
	struct fx *f = *state;
	time_t now = time(NULL);
	struct pb_store_token t = token(TOKEN_A, "r1", now - 100, 3600);
	struct pb_meta m;

	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	assert_int_equal(unlink_in(f, "apivideo.token"), 0);
	assert_int_equal(pb_store_repair(&f->st, "apivideo", "Bearer"), 1);
	assert_false(exists(f, "apivideo.header"));
	assert_true(exists(f, "apivideo.state"));

	t = token(TOKEN_A, NULL, now - 100, 50);        /* expired 50 s ago */
	assert_int_equal(pb_store_save(&f->st, &t, &f->err), 0);
	assert_int_equal(pb_store_repair(&f->st, "apivideo", "Bearer"), 1);
	assert_false(exists(f, "apivideo.token"));
	assert_false(exists(f, "apivideo.header"));
	assert_int_equal(pb_store_read_meta(&f->st, "apivideo", &m, &f->err), 0);
	assert_int_equal(m.state, PB_STATE_EXPIRED);
}

/* Temp files of a dead writer go; another profile's, and other names, stay. */
static void test_repair_sweeps_temp_files(void **state)
{
	struct fx *f = *state;

	put_file(f, ".apivideo.token.0123456789abcdef", "x", 0600);
	put_file(f, ".apivideo.json.fedcba9876543210", "x", 0600);
	put_file(f, ".apivideo2.token.0123456789abcdef", "x", 0600);
	put_file(f, ".apivideo.notes", "x", 0600);
	assert_int_equal(pb_store_repair(&f->st, "apivideo", "Bearer"), 1);
	assert_false(exists(f, ".apivideo.token.0123456789abcdef"));
	assert_false(exists(f, ".apivideo.json.fedcba9876543210"));
	assert_true(exists(f, ".apivideo2.token.0123456789abcdef"));
	assert_true(exists(f, ".apivideo.notes"));
	assert_int_equal(unlink_in(f, ".apivideo2.token.0123456789abcdef"), 0);
	assert_int_equal(unlink_in(f, ".apivideo.notes"), 0);
}

/* ------------------------------------------------------------ lock */

static void test_lock_contention(void **state)
{
	struct fx *f = *state;
	struct timespec t0;
	int a = -1, b = -1;
	double took;
	char who[128];

	assert_int_equal(pb_store_lock(&f->st, "apivideo", 1.0, &a, &f->err), 0);
	assert_true(a >= 0);
	assert_true(fcntl(a, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(mode_of(f, "apivideo.lock"), 0600);

	/* a second open file description conflicts, even in the same process */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pb_store_lock(&f->st, "apivideo", 0.2, &b, &f->err), -1);
	snprintf(who, sizeof(who), "another process (pid %ld) is renewing apivideo", (long)getpid());
	took = since(&t0);
	assert_err(&f->err, PB_E_TEMP, who);    /* the waiter says who holds it */
	assert_int_equal(b, -1);
	assert_true(took >= 0.19);
	assert_true(took < 2.0);

	/* timeout 0: one try */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pb_store_lock(&f->st, "apivideo", 0, &b, &f->err), -1);
	assert_true(since(&t0) < 0.5);

	/* another profile is not blocked */
	assert_int_equal(pb_store_lock(&f->st, "unith", 0, &b, &f->err), 0);
	pb_store_unlock(b);

	pb_store_unlock(a);
	assert_int_equal(pb_store_lock(&f->st, "apivideo", 0, &b, &f->err), 0);
	pb_store_unlock(b);
	pb_store_unlock(-1);
	assert_true(exists(f, "apivideo.lock"));    /* stays: see pb_store_lock() */
}

/* Another process holds the lock for a while: we wait for it, within the timeout. */
static void test_lock_wait_for_other_process(void **state)
{
	struct fx *f = *state;
	struct timespec t0;
	int pipefd[2], lockfd = -1, status;
	char c, who[128];
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct timespec hold = { 0, 300 * 1000 * 1000 };
		int fd;

		close(pipefd[0]);
		if (pb_store_lock(&f->st, "apivideo", 0, &fd, NULL) < 0)
			_exit(1);
		if (write(pipefd[1], "L", 1) != 1)
			_exit(1);
		nanosleep(&hold, NULL);
		_exit(0);    /* the lock goes with the process */
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);

	assert_int_equal(pb_store_lock(&f->st, "apivideo", 0.05, &lockfd, &f->err), -1);
	snprintf(who, sizeof(who), "another process (pid %ld) is renewing apivideo", (long)pid);
	assert_err(&f->err, PB_E_TEMP, who);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pb_store_lock(&f->st, "apivideo", 10.0, &lockfd, &f->err), 0);
	assert_true(since(&t0) > 0.1);
	assert_true(since(&t0) < 5.0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	pb_store_unlock(lockfd);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(pb_state_name(PB_STATE_NONE), "none");
	assert_string_equal(pb_state_name(PB_STATE_VALID), "valid");
	assert_string_equal(pb_state_name(PB_STATE_EXPIRED), "expired");
	assert_string_equal(pb_state_name(PB_STATE_ERROR), "error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_0700, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_without_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_path_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_runtime_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_runtime_not_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_bearer_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_bearer_not_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_bearer_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_wrong_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_foreign_owned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_exact_files, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_save_scheme_and_no_expiry, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_read_meta_roundtrip, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_read_absent, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_save_refuses_bad_tokens, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_bad_profile_names, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_save_older_never_replaces_newer, setup_open,
						teardown),
		cmocka_unit_test_setup_teardown(test_save_older_replaces_expired, setup_open,
						teardown),
		cmocka_unit_test_setup_teardown(test_save_replaces_atomically, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_save_failure_leaves_no_temp, setup_open,
						teardown),
		cmocka_unit_test_setup_teardown(test_save_write_failure, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_symlinked_json_refused, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_symlinked_token_not_followed, setup_open,
						teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_file_modes, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_owned_file, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_not_regular_files, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_save_error_clamps_next_attempt, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_save_system_profile, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_json, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_read_meta_tolerant, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_state_file, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_state_corrupt, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_save_error_keeps_valid_token, setup_open,
						teardown),
		cmocka_unit_test_setup_teardown(test_save_error_after_expiry, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_save_error_first_attempt, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_expire, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_expire_unwritable_json, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_repair_header_from_token, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_repair_removes_what_must_not_be_sent, setup_open,
						teardown),
		cmocka_unit_test_setup_teardown(test_repair_sweeps_temp_files, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_lock_contention, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_lock_wait_for_other_process, setup_open,
						teardown),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
