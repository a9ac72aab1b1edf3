/* SPDX-License-Identifier: MIT */
/*
 * fuzz_keyfile.c - libFuzzer target for a Google service account's JSON
 * key file as a credentials file's key_file names it (lib/creds.c,
 * load_json_key), and for a PEM private_key_file.
 *
 * The input is the key file. It is written 0600 to a temp dir beside a
 * credentials file naming it twice: as key_file in [gcp] and as
 * private_key_file in [pem]. Invariants when it loads: [gcp] has
 * client_email, private_key_id, token_uri and private_key, none empty;
 * [pem] has private_key, the file's bytes; nothing else was added. When
 * it does not load, the error is the config's and names the credentials
 * file. (That no key material reaches a message is checked with real keys
 * in tests/integration/assertions.sh: a fuzzer soon feeds the messages'
 * own words, the file's path among them, back as input.)
 */
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds.h"
#include "fuzz.h"

static char dir[] = "/tmp/fuzz_keyfile.XXXXXX";
static char creds_path[PATH_MAX], key_path[PATH_MAX];

/* Write len bytes of data to path, 0600. */
static void put(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char text[2 * PATH_MAX + 128];

	(void)argc;
	(void)argv;
	FUZZ_CHECK(mkdtemp(dir) != NULL);
	snprintf(creds_path, sizeof(creds_path), "%s/credentials", dir);
	snprintf(key_path, sizeof(key_path), "%s/key", dir);
	snprintf(text, sizeof(text), "[gcp]\nkey_file = %s\n\n[pem]\nprivate_key_file = %s\n",
		 key_path, key_path);
	put(creds_path, text, strlen(text));
	return 0;
}

/* Is [profile] field there and not empty? */
static bool has(const struct pb_creds *c, const char *profile, const char *field)
{
	const char *v = pb_creds_get(c, profile, field);

	return v != NULL && v[0] != '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pb_creds c;
	struct pb_err err;

	pb_err_clear(&err);
	put(key_path, data, size);
	if (pb_creds_load(creds_path, getuid(), &c, &err) == 0) {
		FUZZ_CHECK(has(&c, "gcp", "client_email") && has(&c, "gcp", "private_key_id") &&
			   has(&c, "gcp", "token_uri") && has(&c, "gcp", "private_key"));
		FUZZ_CHECK(has(&c, "pem", "private_key"));
		FUZZ_CHECK(strlen(pb_creds_get(&c, "pem", "private_key")) == size);
		FUZZ_CHECK(c.n == 7);   /* 2 from the file, 4 + 1 read from the key */
		pb_creds_free(&c);
		return 0;
	}
	FUZZ_CHECK(err.code == PB_E_CONFIG);
	FUZZ_CHECK(strncmp(err.msg, creds_path, strlen(creds_path)) == 0);
	return 0;
}
