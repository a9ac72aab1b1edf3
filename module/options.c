/* SPDX-License-Identifier: MIT */
/*
 * options.c - every module option, in one table (pam_bearer(8) lists the
 * same, with the same defaults).
 */
#include <stddef.h>
#include <string.h>
#include <syslog.h>
#include <security/pam_ext.h>

#include "options.h"
#include "util.h"

enum kind { FLAG, STRING, UID, SECONDS, ONERROR };

static const struct option_spec {
	const char *name;      /* "debug", or "config" for config=VALUE */
	enum kind kind;
	size_t offset;         /* into struct pb_options */
} option_table[] = {
	{ "config", STRING, offsetof(struct pb_options, config) },
	{ "profiles", STRING, offsetof(struct pb_options, profiles) },
	{ "debug", FLAG, offsetof(struct pb_options, debug) },
	{ "quiet", FLAG, offsetof(struct pb_options, quiet) },
	{ "minimum_uid", UID, offsetof(struct pb_options, minimum_uid) },
	{ "ignore_root", FLAG, offsetof(struct pb_options, ignore_root) },
	{ "timeout", SECONDS, offsetof(struct pb_options, timeout) },
	{ "onerror", ONERROR, offsetof(struct pb_options, onerror_fail) },
	{ "nodaemon", FLAG, offsetof(struct pb_options, nodaemon) },
};

/* Store one value; -1 when it does not fit the option's kind. */
static int set_option(struct pb_options *o, const struct option_spec *spec, const char *value)
{
	void *field = (char *)o + spec->offset;
	double seconds;
	long uid;

	switch (spec->kind) {
	case FLAG:
		if (value != NULL)
			return -1;
		*(bool *)field = true;
		return 0;
	case STRING:
		if (value == NULL || value[0] == '\0')
			return -1;
		*(const char **)field = value;
		return 0;
	case UID:
		if (value == NULL || pb_parse_long(value, &uid) < 0 || uid < 0)
			return -1;
		*(long *)field = uid;
		return 0;
	case SECONDS:
		if (value == NULL || pb_parse_double(value, &seconds) < 0 ||
		    seconds <= 0 || seconds > 300)
			return -1;
		*(double *)field = seconds;
		return 0;
	case ONERROR:
		if (value == NULL || (strcmp(value, "fail") != 0 && strcmp(value, "ignore") != 0))
			return -1;
		*(bool *)field = strcmp(value, "fail") == 0;
		return 0;
	}
	return -1;
}

int pb_options_parse(pam_handle_t *pamh, int argc, const char **argv, struct pb_options *o)
{
	memset(o, 0, sizeof(*o));
	o->config = PB_SYSCONF_CONFIG;
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		size_t len = eq != NULL ? (size_t)(eq - argv[i]) : strlen(argv[i]);
		const struct option_spec *spec = NULL;

		for (size_t j = 0; j < sizeof(option_table) / sizeof(option_table[0]); j++)
			if (strlen(option_table[j].name) == len &&
			    strncmp(option_table[j].name, argv[i], len) == 0)
				spec = &option_table[j];
		if (spec == NULL) {
			pam_syslog(pamh, LOG_ERR, "unknown option '%s', ignored", argv[i]);
			continue;
		}
		if (set_option(o, spec, eq != NULL ? eq + 1 : NULL) < 0) {
			pam_syslog(pamh, LOG_ERR, "bad value in option '%s'", argv[i]);
			return PAM_SESSION_ERR;
		}
	}
	return PAM_SUCCESS;
}

bool pb_options_want_profile(const struct pb_options *o, const char *name)
{
	size_t n = strlen(name);

	if (o->profiles == NULL)
		return true;
	for (const char *p = o->profiles; *p != '\0';) {
		size_t len = strcspn(p, ",");

		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}
