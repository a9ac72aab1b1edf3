/* SPDX-License-Identifier: MIT */
/*
 * format.h - what `bearer-token get --format=NAME` prints: the token, the
 * header line, the metadata, shell exports or a Kubernetes ExecCredential.
 */
#ifndef PB_FORMAT_H
#define PB_FORMAT_H

#include "store.h"
#include "util.h"

struct cli_format;

/* The names of every format, for messages: "token, header, json, ...". */
const char *cli_format_names(void);

/* The format called name, or NULL when there is none. */
const struct cli_format *cli_format_find(const char *name);

/*
 * Can format f answer this caller at all (exec-credential: the apiVersion
 * KUBERNETES_EXEC_INFO asks for)? 0, or -1 with err (PB_E_USAGE). Asked
 * before any renewal: a request the answer cannot be printed for is a
 * vendor request wasted.
 */
int cli_format_check(const struct cli_format *f, struct pb_err *err);

/*
 * Print the token of profile, as it is in the store now, on stdout in
 * format f: all of it, or nothing and -1 with err (PB_E_STORE when a file
 * is missing or unsafe). The caller has made sure the token is fresh.
 */
int cli_format_print(const struct cli_format *f, const struct pb_store *st,
		     const char *profile, struct pb_err *err);

#endif
