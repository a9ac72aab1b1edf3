/* SPDX-License-Identifier: MIT */
/*
 * fuzz_options.c - libFuzzer target for the module's option parser
 * (module/options.c).
 *
 * Input: the module arguments, NUL-separated (as PAM hands them over from
 * a config line), then "\0\0" and profile names to ask about. Invariants:
 * on success every value is in its documented range; a failure is
 * PAM_SESSION_ERR; parsing is deterministic; profiles= answers match a
 * plain comma split.
 */
#include <stdarg.h>
#include <security/pam_ext.h>

#include "fuzz.h"
#include "options.h"
#include "util.h"

/* The module logs through pam_syslog(): keep it quiet, but format it. */
void pam_syslog(const pam_handle_t *pamh, int priority, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	(void)pamh;
	(void)priority;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
}

/* Is name one of the comma-separated items of list? (the reference answer) */
static bool listed(const char *list, const char *name)
{
	const char *p = list;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);

		if (n == strlen(name) && strncmp(p, name, n) == 0)
			return true;
		if (comma == NULL)
			return false;
		p = comma + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_parts fp;
	struct pb_options o, again;
	const char *argv[FUZZ_MAX_PARTS];
	size_t argc = 0, names;
	int rc;

	if (fuzz_split(data, size, FUZZ_MAX_PARTS, &fp) < 0)
		return 0;
	/* arguments up to the first empty part; names after it */
	while (argc < fp.n && fp.part[argc][0] != '\0') {
		argv[argc] = fp.part[argc];
		argc++;
	}
	names = argc + 1;
	rc = pb_options_parse(NULL, (int)argc, argv, &o);
	FUZZ_CHECK(rc == PAM_SUCCESS || rc == PAM_SESSION_ERR);
	FUZZ_CHECK(pb_options_parse(NULL, (int)argc, argv, &again) == rc);
	if (rc == PAM_SUCCESS) {
		FUZZ_CHECK(memcmp(&o, &again, sizeof(o)) == 0);
		FUZZ_CHECK(o.config != NULL && o.config[0] != '\0');
		FUZZ_CHECK(o.profiles == NULL || o.profiles[0] != '\0');
		FUZZ_CHECK(o.minimum_uid >= 0);
		FUZZ_CHECK(o.timeout == 0 || (o.timeout > 0 && o.timeout <= 300));
		/* profile names are never empty (pb_valid_name) */
		for (size_t i = names; i < fp.n; i++)
			FUZZ_CHECK(!pb_valid_name(fp.part[i]) ||
				   pb_options_want_profile(&o, fp.part[i]) ==
				   (o.profiles == NULL || listed(o.profiles, fp.part[i])));
	}
	fuzz_parts_free(&fp);
	return 0;
}
