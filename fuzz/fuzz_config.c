/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c - libFuzzer target for the config loader on a whole file
 * (lib/conf*.c, over lib/ini.c), with the shipped presets in vendors/.
 *
 * The input is written to a private file (pb_config_load takes a path and
 * checks owner and mode) and loaded. Invariants on every loaded profile:
 * names pass the name rules, numbers are in range, lifetime and response
 * paths are well formed, templates parse, the scheme fits the store, and
 * pb_config_profile finds each profile by its name. A failure is one line
 * naming the file, with the config error class.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "expiry.h"
#include "fuzz.h"
#include "jsonmap.h"
#include "template.h"

static char dir[64], file[96];

static void cleanup(void)
{
	unlink(file);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/pb-fuzz-XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("fuzz_config: mkdtemp");
		exit(1);
	}
	snprintf(file, sizeof(file), "%s/pam_bearer.conf", dir);
	atexit(cleanup);
	return 0;
}

static int any_field(void *ctx, const char *name, bool optional)
{
	(void)ctx;
	(void)optional;
	FUZZ_CHECK(pb_valid_name(name));
	return 0;
}

/* A template that config accepted parses. */
static void check_request(const struct pb_request *r)
{
	if (r->body != NULL)
		FUZZ_CHECK(pb_template_fields(r->body, any_field, NULL, NULL) == 0);
	for (size_t i = 0; i < r->nheaders; i++) {
		FUZZ_CHECK(r->headers[i].name != NULL && r->headers[i].name[0] != '\0');
		FUZZ_CHECK(strpbrk(r->headers[i].name, ": \t\r\n") == NULL);
		FUZZ_CHECK(pb_template_fields(r->headers[i].value, any_field, NULL, NULL) == 0);
	}
}

static void check_profile(const struct pb_config *cfg, const struct pb_profile *p)
{
	FUZZ_CHECK(pb_valid_name(p->name) && pb_valid_name(p->vendor));
	FUZZ_CHECK(pb_config_profile(cfg, p->name) == p);
	FUZZ_CHECK(p->timeout > 0 && p->refresh_at > 0 && p->refresh_at < 1);
	FUZZ_CHECK(p->scheme != NULL && strlen(p->scheme) >= 1 && strlen(p->scheme) <= 32);
	for (const char *s = p->scheme; *s != '\0'; s++)
		FUZZ_CHECK((unsigned char)*s > 0x20 && (unsigned char)*s < 0x7f);
	for (size_t i = 0; i < p->nfields; i++)
		FUZZ_CHECK(pb_valid_name(p->fields[i]));
	for (size_t i = 0; i < p->nusers; i++)
		FUZZ_CHECK(p->users[i] != NULL && p->users[i][0] != '\0');
	for (size_t i = 0; i < p->ngroups; i++)
		FUZZ_CHECK(p->groups[i] != NULL && p->groups[i][0] != '\0');
	if (p->type == PB_TYPE_STATIC)
		return;
	FUZZ_CHECK(p->token.url != NULL);
	FUZZ_CHECK(p->lifetime != NULL && pb_lifetime_valid(p->lifetime));
	FUZZ_CHECK(p->resp_token != NULL && pb_json_path_valid(p->resp_token));
	FUZZ_CHECK(p->resp_expires_in == NULL || pb_json_path_valid(p->resp_expires_in));
	FUZZ_CHECK(p->resp_refresh_token == NULL || pb_json_path_valid(p->resp_refresh_token));
	check_request(&p->token);
	if (p->refresh.url != NULL)
		check_request(&p->refresh);
	(void)pb_profile_applies(p, "root", NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pb_config cfg;
	struct pb_err err;
	int fd;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	close(fd);
	pb_err_clear(&err);
	if (pb_config_load(file, FUZZ_VENDOR_DIR, "/nonexistent/credentials.d", &cfg, &err) < 0) {
		FUZZ_CHECK(err.code == PB_E_CONFIG || err.code == PB_E_INTERNAL);
		FUZZ_CHECK(err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL);
		return 0;
	}
	FUZZ_CHECK(cfg.timeout > 0 && cfg.refresh_at > 0 && cfg.refresh_at < 1);
	for (size_t i = 0; i < cfg.nprofiles; i++)
		check_profile(&cfg, &cfg.profiles[i]);
	pb_config_free(&cfg);
	return 0;
}
