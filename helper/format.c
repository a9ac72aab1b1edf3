/* SPDX-License-Identifier: MIT */
/*
 * format.c - the output formats of `bearer-token get`, one short function
 * each, and the one table of their names. Each builds its whole output in
 * a buffer first, so a failure prints nothing on stdout; the buffer is
 * wiped, since it holds the token.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "expiry.h"
#include "format.h"
#include "jsonmap.h"

typedef int (*format_fn)(const struct pb_store *st, const char *profile, struct pb_buf *out,
			 struct pb_err *err);

struct cli_format {
	const char *name;
	format_fn print;
	int (*check)(struct pb_err *err);   /* what it needs of the caller; NULL: nothing */
};

/* Fail for an allocation that did not work out. */
static int no_memory(struct pb_err *err)
{
	return pb_fail(err, PB_E_INTERNAL, "out of memory");
}

/* The bare token (malloc()ed; the caller wipes it), or -1 when it is not there. */
static int read_token(const struct pb_store *st, const char *profile, char **token,
		      struct pb_err *err)
{
	int rc = pb_store_read_token(st, profile, token, err);

	if (rc == 1)
		pb_fail(err, PB_E_STORE, "%s/%s.token: no such file", st->path, profile);
	return rc == 0 ? 0 : -1;
}

/*
 * The metadata, or -1 when there is none. Read it before the token: a
 * renewal writes .token first and .json last, so a token read after its
 * metadata is never older than the expiry we print with it.
 */
static int read_meta(const struct pb_store *st, const char *profile, struct pb_meta *m,
		     struct pb_err *err)
{
	int rc = pb_store_read_meta(st, profile, m, err);

	if (rc == 1)
		pb_fail(err, PB_E_STORE, "%s/%s.json: no such file", st->path, profile);
	return rc == 0 ? 0 : -1;
}

/* P.<ext> as it is on disk, with the store's checks. */
static int copy_file(const struct pb_store *st, const char *profile, const char *ext,
		     struct pb_buf *out, struct pb_err *err)
{
	int rc = pb_store_read(st, profile, ext, out, err);

	if (rc == 1)
		pb_fail(err, PB_E_STORE, "%s/%s.%s: no such file", st->path, profile, ext);
	return rc == 0 ? 0 : -1;
}

/* token: the bare token and a newline. */
static int print_token(const struct pb_store *st, const char *profile, struct pb_buf *out,
		       struct pb_err *err)
{
	char *token = NULL;
	int rc = -1;

	if (read_token(st, profile, &token, err) < 0)
		goto done;
	if (pb_buf_adds(out, token) < 0 || pb_buf_adds(out, "\n") < 0) {
		no_memory(err);
		goto done;
	}
	rc = 0;
done:
	pb_wipe_free(token);
	return rc;
}

/* header: P.header, "Authorization: <scheme> <token>" and a newline. */
static int print_header(const struct pb_store *st, const char *profile, struct pb_buf *out,
			struct pb_err *err)
{
	return copy_file(st, profile, "header", out, err);
}

/* json: P.json, the metadata. */
static int print_json(const struct pb_store *st, const char *profile, struct pb_buf *out,
		      struct pb_err *err)
{
	return copy_file(st, profile, "json", out, err);
}

/* s in single quotes for sh, each ' written as '\''. */
static int sh_quote(struct pb_buf *out, const char *s)
{
	if (pb_buf_adds(out, "'") < 0)
		return -1;
	for (const char *q; (q = strchr(s, '\'')) != NULL; s = q + 1)
		if (pb_buf_add(out, s, (size_t)(q - s)) < 0 || pb_buf_adds(out, "'\\''") < 0)
			return -1;
	return pb_buf_adds(out, s) < 0 || pb_buf_adds(out, "'") < 0 ? -1 : 0;
}

/*
 * env: lines for `eval "$(bearer-token get --format=env P)"`: BEARER_TOKEN,
 * and BEARER_TOKEN_EXPIRES_AT in seconds since the epoch (empty for a
 * token that never expires); for the wlcg_discovery profile, also
 * BEARER_TOKEN_FILE, the bt_u<uid> file kept fresh for it.
 */
static int print_env(const struct pb_store *st, const char *profile, struct pb_buf *out,
		     struct pb_err *err)
{
	bool wlcg = st->wlcg_profile != NULL && strcmp(st->wlcg_profile, profile) == 0;
	char file[PATH_MAX];
	struct pb_meta m;
	char *token = NULL;
	int rc = -1;

	if (read_meta(st, profile, &m, err) < 0 || read_token(st, profile, &token, err) < 0)
		goto done;
	if (wlcg && pb_store_discovery_path(st, file, sizeof(file)) < 0) {
		pb_fail(err, PB_E_STORE, "%s: the path of its bt_u file is too long", st->path);
		goto done;
	}
	if (pb_buf_adds(out, "export BEARER_TOKEN=") < 0 || sh_quote(out, token) < 0 ||
	    pb_buf_adds(out, "\nexport BEARER_TOKEN_EXPIRES_AT=") < 0 ||
	    (m.has_expiry && pb_buf_addf(out, "%lld", (long long)m.expires_at) < 0) ||
	    (wlcg && (pb_buf_adds(out, "\nexport BEARER_TOKEN_FILE=") < 0 ||
		      sh_quote(out, file) < 0)) ||
	    pb_buf_adds(out, "\n") < 0) {
		no_memory(err);
		goto done;
	}
	rc = 0;
done:
	pb_wipe_free(token);
	return rc;
}

/* Zero a string json-c owns (it keeps copies of the token). */
static void wipe_json_string(const char *s)
{
	if (s != NULL)
		explicit_bzero((char *)(uintptr_t)s, strlen(s));
}

/*
 * The apiVersion to answer in. Kubernetes' exec-plugin contract: answer
 * in the version the client asks for in KUBERNETES_EXEC_INFO (an
 * ExecCredential carrying the kubeconfig's exec apiVersion). kubectl
 * before 1.22 knows only v1beta1 and rejects v1; the status is the same
 * in both. Unset (or empty): v1. NULL and err (PB_E_USAGE) when it is not
 * a JSON object or asks for another version.
 */
static const char *exec_api_version(struct pb_err *err)
{
	static const char *const known[] = { "client.authentication.k8s.io/v1",
					     "client.authentication.k8s.io/v1beta1" };
	const char *info = getenv("KUBERNETES_EXEC_INFO"), *want = NULL, *ver = NULL;
	struct json_object *doc = NULL, *v;

	if (info == NULL || *info == '\0')
		return known[0];
	if ((doc = pb_json_parse_object(info, strlen(info))) == NULL) {
		pb_fail(err, PB_E_USAGE, "get: KUBERNETES_EXEC_INFO is not a JSON ExecCredential; "
			"this plugin speaks client.authentication.k8s.io/v1 and v1beta1");
		goto done;
	}
	if (json_object_object_get_ex(doc, "apiVersion", &v) &&
	    json_object_is_type(v, json_type_string))
		want = json_object_get_string(v);
	for (size_t i = 0; want != NULL && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(want, known[i]) == 0)
			ver = known[i];
	if (ver == NULL)
		pb_fail(err, PB_E_USAGE, "get: KUBERNETES_EXEC_INFO asks for %.100s; this plugin "
			"speaks v1 and v1beta1", want != NULL ? want : "no apiVersion");
done:
	json_object_put(doc);
	return ver;
}

/* exec-credential's check: the apiVersion asked for is one it speaks. */
static int check_exec_info(struct pb_err *err)
{
	return exec_api_version(err) != NULL ? 0 : -1;
}

/*
 * exec-credential: a Kubernetes ExecCredential, for kubectl's and
 * client-go's exec plugins, in the apiVersion KUBERNETES_EXEC_INFO asks
 * for (v1 or v1beta1; v1 when unset). Its expirationTimestamp is the
 * expiry less the refresh margin, the moment bearer-token itself stops
 * handing the token out as it is; kubectl runs us again then. None for a
 * token that never expires.
 */
static int print_exec_credential(const struct pb_store *st, const char *profile,
				 struct pb_buf *out, struct pb_err *err)
{
	struct json_object *root = NULL, *status, *tok = NULL;
	const char *text = NULL, *version;
	struct pb_meta m;
	char *token = NULL, at[32];
	int rc = -1;

	if ((version = exec_api_version(err)) == NULL ||
	    read_meta(st, profile, &m, err) < 0 || read_token(st, profile, &token, err) < 0)
		goto done;
	if ((root = json_object_new_object()) == NULL ||
	    (status = json_object_new_object()) == NULL) {
		no_memory(err);
		goto done;
	}
	json_object_object_add(root, "apiVersion", json_object_new_string(version));
	json_object_object_add(root, "kind", json_object_new_string("ExecCredential"));
	json_object_object_add(root, "status", status);
	tok = json_object_new_string(token);
	json_object_object_add(status, "token", tok);
	if (m.has_expiry) {
		pb_time_format(m.expires_at - pb_refresh_margin(m.expires_at - m.obtained_at), at);
		json_object_object_add(status, "expirationTimestamp", json_object_new_string(at));
	}
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (tok == NULL || text == NULL || pb_buf_adds(out, text) < 0 ||
	    pb_buf_adds(out, "\n") < 0) {
		no_memory(err);
		goto done;
	}
	rc = 0;
done:
	wipe_json_string(text);
	if (tok != NULL)
		wipe_json_string(json_object_get_string(tok));
	json_object_put(root);
	pb_wipe_free(token);
	return rc;
}

static const struct cli_format formats[] = {
	{ "token", print_token, NULL },
	{ "header", print_header, NULL },
	{ "json", print_json, NULL },
	{ "env", print_env, NULL },
	{ "exec-credential", print_exec_credential, check_exec_info },
};

/* See format.h. Built from the table, so a message never misses a format. */
const char *cli_format_names(void)
{
	static char names[128];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]) && n < sizeof(names); i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i > 0 ? ", " : "",
				      formats[i].name);
	return names;
}

/* See format.h. */
const struct cli_format *cli_format_find(const char *name)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(name, formats[i].name) == 0)
			return &formats[i];
	return NULL;
}

/* See format.h. */
int cli_format_check(const struct cli_format *f, struct pb_err *err)
{
	return f->check != NULL ? f->check(err) : 0;
}

/* See format.h. */
int cli_format_print(const struct cli_format *f, const struct pb_store *st,
		     const char *profile, struct pb_err *err)
{
	struct pb_buf out = { 0 };
	int rc = -1;

	if (f->print(st, profile, &out, err) < 0)
		goto done;
	if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
		pb_fail(err, PB_E_INTERNAL, "cannot write to standard output");
		goto done;
	}
	rc = 0;
done:
	pb_buf_wipe(&out);
	return rc;
}
