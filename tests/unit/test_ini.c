/* SPDX-License-Identifier: MIT */
/*
 * test_ini.c - the INI reader: syntax, storage, and every error message.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ini.h"

/* Parse text as "t.conf"; the test fails if it does not parse. */
static void parse_ok(const char *text, struct pb_ini *ini)
{
	struct pb_err err = { 0 };
	int rc = pb_ini_parse("t.conf", text, strlen(text), ini, &err);

	if (rc != 0)
		print_error("unexpected error: %s\n", err.msg);
	assert_int_equal(rc, 0);
}

/* Parse text as "t.conf" and expect exactly msg (PB_E_CONFIG). */
static void parse_fails(const char *text, size_t len, const char *msg)
{
	struct pb_err err = { 0 };
	struct pb_ini ini;

	assert_int_equal(pb_ini_parse("t.conf", text, len, &ini, &err), -1);
	assert_int_equal(err.code, PB_E_CONFIG);
	assert_string_equal(err.msg, msg);
	/* a failed parse leaves nothing behind */
	assert_null(ini.v);
	assert_null(ini.storage);
	assert_int_equal(ini.n, 0);
}

static void assert_header(const struct pb_ini_entry *e, const char *type, const char *name,
			  unsigned line)
{
	assert_string_equal(e->type, type);
	if (name == NULL)
		assert_null(e->name);
	else
		assert_string_equal(e->name, name);
	assert_null(e->key);
	assert_null(e->value);
	assert_int_equal(e->line, line);
}

static void assert_pair(const struct pb_ini_entry *e, const char *type, const char *name,
			const char *key, const char *value, unsigned line)
{
	assert_string_equal(e->type, type);
	if (name == NULL)
		assert_null(e->name);
	else
		assert_string_equal(e->name, name);
	assert_string_equal(e->key, key);
	assert_string_equal(e->value, value);
	assert_int_equal(e->line, line);
}

static void test_basic(void **state)
{
	struct pb_ini ini;

	parse_ok("# comment\n"
		 "; also a comment\n"
		 "\n"
		 "[defaults]\n"
		 "timeout = 5\n"
		 "   # indented comment\n"
		 "[profile apivideo]\n"
		 "vendor=apivideo\n"
		 "  base_url   =   https://sandbox.api.video  \n", &ini);
	assert_string_equal(ini.path, "t.conf");
	assert_int_equal(ini.n, 5);
	assert_header(&ini.v[0], "defaults", NULL, 4);
	assert_pair(&ini.v[1], "defaults", NULL, "timeout", "5", 5);
	assert_header(&ini.v[2], "profile", "apivideo", 7);
	assert_pair(&ini.v[3], "profile", "apivideo", "vendor", "apivideo", 8);
	assert_pair(&ini.v[4], "profile", "apivideo", "base_url", "https://sandbox.api.video", 9);
	pb_ini_free(&ini);
	assert_null(ini.v);
	assert_null(ini.storage);
	assert_null(ini.path);
	pb_ini_free(&ini);      /* twice is harmless */
}

static void test_values_verbatim(void **state)
{
	struct pb_ini ini;

	parse_ok("[p]\n"
		 "secret = a#b;c=d = e\n"
		 "empty =\n"
		 "blank =    \n"
		 "json = {\"a\": \"${x}\"}\n"
		 "spaces = one  two\t three\n", &ini);
	assert_int_equal(ini.n, 6);
	assert_pair(&ini.v[1], "p", NULL, "secret", "a#b;c=d = e", 2);
	assert_pair(&ini.v[2], "p", NULL, "empty", "", 3);
	assert_pair(&ini.v[3], "p", NULL, "blank", "", 4);
	assert_pair(&ini.v[4], "p", NULL, "json", "{\"a\": \"${x}\"}", 5);
	assert_pair(&ini.v[5], "p", NULL, "spaces", "one  two\t three", 6);
	pb_ini_free(&ini);
}

static void test_keys(void **state)
{
	struct pb_ini ini;

	/* [A-Za-z0-9_.-]+, case-sensitive: Key and key are two keys */
	parse_ok("[vendor x]\n"
		 "token.header.X-Api-Version = 2\n"
		 "Key = 1\n"
		 "key = 2\n"
		 "a_b-c.9 = 3\n", &ini);
	assert_int_equal(ini.n, 5);
	assert_pair(&ini.v[1], "vendor", "x", "token.header.X-Api-Version", "2", 2);
	assert_pair(&ini.v[2], "vendor", "x", "Key", "1", 3);
	assert_pair(&ini.v[3], "vendor", "x", "key", "2", 4);
	assert_pair(&ini.v[4], "vendor", "x", "a_b-c.9", "3", 5);
	pb_ini_free(&ini);
}

static void test_section_headers(void **state)
{
	struct pb_ini ini;

	parse_ok("[ profile   a.b-c_1 ]\n"
		 "[\tvendor x\t]\n"
		 "[apivideo]\n"
		 "[profile apivideo]\n"       /* same name, other type: fine */
		 "[vendor apivideo]\n", &ini);
	assert_int_equal(ini.n, 5);
	assert_header(&ini.v[0], "profile", "a.b-c_1", 1);
	assert_header(&ini.v[1], "vendor", "x", 2);
	assert_header(&ini.v[2], "apivideo", NULL, 3);
	assert_header(&ini.v[3], "profile", "apivideo", 4);
	assert_header(&ini.v[4], "vendor", "apivideo", 5);
	pb_ini_free(&ini);
}

static void test_same_key_other_section(void **state)
{
	struct pb_ini ini;

	parse_ok("[a]\nk = 1\n[b]\nk = 2\n", &ini);
	assert_int_equal(ini.n, 4);
	assert_pair(&ini.v[1], "a", NULL, "k", "1", 2);
	assert_pair(&ini.v[3], "b", NULL, "k", "2", 4);
	pb_ini_free(&ini);
}

static void test_line_endings(void **state)
{
	struct pb_ini ini;
	const char bom[] = "\xef\xbb\xbf[p]\r\nk = v\r\nlast = no newline";

	parse_ok(bom, &ini);
	assert_int_equal(ini.n, 3);
	assert_header(&ini.v[0], "p", NULL, 1);
	assert_pair(&ini.v[1], "p", NULL, "k", "v", 2);
	assert_pair(&ini.v[2], "p", NULL, "last", "no newline", 3);
	pb_ini_free(&ini);
}

static void test_empty(void **state)
{
	struct pb_ini ini;

	parse_ok("", &ini);
	assert_int_equal(ini.n, 0);
	pb_ini_free(&ini);
	parse_ok("\n\n# nothing\n", &ini);
	assert_int_equal(ini.n, 0);
	pb_ini_free(&ini);
}

/* Text need not be NUL-terminated: only len bytes are read. */
static void test_not_terminated(void **state)
{
	struct pb_err err = { 0 };
	struct pb_ini ini;
	const char text[] = "[p]\nk = value-and-more";

	assert_int_equal(pb_ini_parse("t.conf", text, 11, &ini, &err), 0);
	assert_int_equal(ini.n, 2);
	assert_pair(&ini.v[1], "p", NULL, "k", "val", 2);
	pb_ini_free(&ini);
}

static void test_key_outside_section(void **state)
{
	const char *t = "# first\nkey = value\n[p]\n";

	parse_fails(t, strlen(t), "t.conf:2: key 'key' outside any section");
}

static void test_duplicate_key(void **state)
{
	const char *t = "[p]\na = 1\nb = 2\na = 3\n";

	parse_fails(t, strlen(t), "t.conf:4: duplicate key 'a' (first set at line 2)");
}

static void test_duplicate_section(void **state)
{
	const char *t = "[profile x]\na = 1\n[vendor x]\n[ profile x ]\n";
	const char *u = "[defaults]\n[defaults]\n";

	parse_fails(t, strlen(t), "t.conf:4: duplicate section [profile x] (first at line 1)");
	parse_fails(u, strlen(u), "t.conf:2: duplicate section [defaults] (first at line 1)");
}

static void test_malformed_lines(void **state)
{
	static const char *const bad[] = {
		"[p]\njust some words\n",
		"[p]\n= value\n",
		"[p]\nmy key = value\n",
		"[p]\nke!y = value\n",
		"[p]\n\"key\" = value\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_fails(bad[i], strlen(bad[i]), "t.conf:2: expected 'key = value'");
}

static void test_malformed_headers(void **state)
{
	static const char *const bad[] = {
		"[", "[]", "[  ]", "[profile", "[profile x] trailing", "[profile a b]",
		"[.hidden]", "[profile .x]", "[a/b]", "[profile x/y]", "[[x]]",
		"[profile aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]",
	};
	const char *msg = "t.conf:1: malformed section header (expected [type] or [type name]; "
			  "names are letters, digits, '_', '.', '-')";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_fails(bad[i], strlen(bad[i]), msg);
}

static void test_line_length(void **state)
{
	char *t = malloc(PB_INI_MAX_LINE + 16);
	struct pb_ini ini;
	size_t n;

	assert_non_null(t);
	/* exactly PB_INI_MAX_LINE bytes on line 2: fine */
	memcpy(t, "[p]\nk = ", 8);
	n = 4 + PB_INI_MAX_LINE;
	memset(t + 8, 'x', n - 8);
	t[n] = '\n';
	t[n + 1] = '\0';
	parse_ok(t, &ini);
	assert_int_equal(strlen(ini.v[1].value), PB_INI_MAX_LINE - 4);
	pb_ini_free(&ini);
	/* one more is too long, even without a newline */
	t[n] = 'x';
	parse_fails(t, n + 1, "t.conf:2: line too long (more than 4096 bytes)");
	free(t);
}

static void test_nul_byte(void **state)
{
	const char t[] = "[p]\nk = v\nsecret = ab\0cd\n";

	parse_fails(t, sizeof(t) - 1, "t.conf:3: NUL byte in the file");
}

/* No error quotes a value or a raw line: credentials files are parsed here. */
static void test_errors_never_quote_values(void **state)
{
	static const char *const bad[] = {
		"[p]\nk = 1\nk = SECRET\n",
		"[p]\nSECRET\n",
		"[p]\nbad key = SECRET\n",
		"[SECRET with spaces]\n",
		"k = SECRET\n",
	};
	struct pb_err err = { 0 };
	struct pb_ini ini;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pb_ini_parse("t.conf", bad[i], strlen(bad[i]), &ini, &err), -1);
		assert_null(strstr(err.msg, "SECRET"));
	}
}

/* Write len bytes of text to a new temp file; returns an fd open for reading. */
static int temp_fd(const char *text, size_t len, char *path)
{
	int fd;

	strcpy(path, "/tmp/test_ini.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void test_parse_fd(void **state)
{
	const char *t = "[apivideo]\napi_key = k#1\n";
	struct pb_err err = { 0 };
	struct pb_ini ini;
	char path[64];
	int fd = temp_fd(t, strlen(t), path);

	assert_int_equal(pb_ini_parse_fd(path, fd, &ini, &err), 0);
	assert_string_equal(ini.path, path);
	assert_int_equal(ini.n, 2);
	assert_pair(&ini.v[1], "apivideo", NULL, "api_key", "k#1", 2);
	pb_ini_free(&ini);
	close(fd);
	unlink(path);
}

static void test_parse_fd_size_cap(void **state)
{
	size_t cap = 1024 * 1024;
	char *t = malloc(cap + 1), path[64], expect[128];
	struct pb_err err = { 0 };
	struct pb_ini ini;
	int fd;

	assert_non_null(t);
	/* 1 MiB of comment lines parses... */
	for (size_t i = 0; i < cap; i += 1024) {
		memset(t + i, '#', 1023);
		t[i + 1023] = '\n';
	}
	fd = temp_fd(t, cap, path);
	assert_int_equal(pb_ini_parse_fd(path, fd, &ini, &err), 0);
	assert_int_equal(ini.n, 0);
	pb_ini_free(&ini);
	close(fd);
	unlink(path);
	/* ...one byte more does not */
	t[cap] = '\n';
	fd = temp_fd(t, cap + 1, path);
	assert_int_equal(pb_ini_parse_fd(path, fd, &ini, &err), -1);
	assert_int_equal(err.code, PB_E_CONFIG);
	snprintf(expect, sizeof(expect), "%s: file too large (more than 1048576 bytes)", path);
	assert_string_equal(err.msg, expect);
	assert_null(ini.v);
	close(fd);
	unlink(path);
	free(t);
}

static void test_parse_fd_read_error(void **state)
{
	struct pb_err err = { 0 };
	struct pb_ini ini;
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY);

	assert_true(fd >= 0);
	assert_int_equal(pb_ini_parse_fd("/tmp", fd, &ini, &err), -1);
	assert_int_equal(err.code, PB_E_CONFIG);
	assert_string_equal(err.msg, "/tmp: Is a directory");
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_values_verbatim),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_section_headers),
		cmocka_unit_test(test_same_key_other_section),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_not_terminated),
		cmocka_unit_test(test_key_outside_section),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_duplicate_section),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_malformed_headers),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_errors_never_quote_values),
		cmocka_unit_test(test_parse_fd),
		cmocka_unit_test(test_parse_fd_size_cap),
		cmocka_unit_test(test_parse_fd_read_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
