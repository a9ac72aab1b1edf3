/* SPDX-License-Identifier: MIT */
/*
 * conf.c - load pam_bearer.conf and the vendor presets, and resolve each
 * [profile] into one flat struct pb_profile (layering: see conf.h).
 *
 * Checking is done in two passes:
 *   1. pb_conf_check_file() (conf_keys.c): every section and key of every
 *      file read (main config and presets) on its own: known section, key
 *      allowed there, value of the right kind. This covers vendors no
 *      profile uses, too.
 *   2. resolve_profile() here layers the profile (preset or [vendor],
 *      [defaults], [profile]); pb_conf_check_profile() (conf_check.c)
 *      checks it as a whole: required keys, and templates naming only
 *      fields the profile has.
 * The strings of a resolved profile point into the parsed files, which the
 * config keeps in cfg->files; only the lists (fields, users, groups,
 * headers) are allocated, and pb_config_free() releases them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_int.h"
#include "expiry.h"
#include "jsonmap.h"
#include "template.h"

#define DEFAULT_TIMEOUT 5.0
#define DEFAULT_REFRESH_AT 0.75
#define DEFAULT_MIN_INTERVAL 2.0    /* seconds: no two requests for a profile closer */
#define DEFAULT_SCHEME "Bearer"
/* no guessing: an opaque token without expires_in needs an explicit lifetime */
#define DEFAULT_LIFETIME "jwt"

/* What pb_config_load() carries around. */
struct loader {
	struct pb_config *cfg;
	size_t maxfiles;
	ssize_t defaults;           /* index of [defaults] in files[0], -1 if none */
	struct pb_err *err;
};

/* ---------------------------------------------------------------- files */

/*
 * Open a config or preset file the way sshd treats its config: not through
 * a symlink, a regular file, owned by root or by us (pb_trusted_uid), not
 * writable by group or others. Returns the fd, or -1 with err; *missing
 * says the file does not exist. (O_NONBLOCK: a FIFO must not hang us
 * before fstat refuses it.)
 */
static int open_trusted(const char *path, bool *missing, struct pb_err *err)
{
	struct stat st;
	int fd = pb_open_regular(path, &st, err);

	*missing = fd < 0 && errno == ENOENT;
	if (fd < 0)
		return -1;
	if (st.st_uid != 0 && st.st_uid != pb_trusted_uid()) {
		char who[64], me[64];

		pb_user_name(st.st_uid, who, sizeof(who));
		pb_user_name(pb_trusted_uid(), me, sizeof(me));
		if (pb_trusted_uid() == 0)
			pb_fail(err, PB_E_CONFIG, "%s: owned by %s, must be owned by root "
				"(chown root %s)", path, who, path);
		else
			pb_fail(err, PB_E_CONFIG, "%s: owned by %s, must be owned by root or %s "
				"(chown %s %s)", path, who, me, me, path);
	} else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		pb_fail(err, PB_E_CONFIG, "%s: mode %04o, must not be writable by group or "
			"others (chmod go-w %s)", path, (unsigned)(st.st_mode & 07777), path);
	} else {
		return fd;
	}
	close(fd);
	return -1;
}

/* Open, check and parse path into the next free cfg->files slot. */
static int read_file(struct loader *ld, const char *path, bool *missing, struct pb_ini **out)
{
	struct pb_config *cfg = ld->cfg;
	int fd, rc;

	*missing = false;
	if (cfg->nfiles == ld->maxfiles) {
		pb_fail(ld->err, PB_E_INTERNAL, "too many files");
		return -1;   /* and *out not set: the callers must see -1 */
	}
	if ((fd = open_trusted(path, missing, ld->err)) < 0)
		return -1;
	rc = pb_ini_parse_fd(path, fd, &cfg->files[cfg->nfiles], ld->err);
	close(fd);
	if (rc < 0)
		return -1;
	*out = &cfg->files[cfg->nfiles++];
	return 0;
}

/* The entry for key in the section whose header is ini->v[sec], or NULL. */
static const struct pb_ini_entry *section_get(const struct pb_ini *ini, size_t sec,
					      const char *key)
{
	for (size_t i = sec + 1; i < ini->n && ini->v[i].key != NULL; i++)
		if (strcmp(ini->v[i].key, key) == 0)
			return &ini->v[i];
	return NULL;
}

/* Index of the header [type name] in ini (name NULL for one word), or -1. */
static ssize_t section_find(const struct pb_ini *ini, const char *type, const char *name)
{
	for (size_t i = 0; i < ini->n; i++) {
		const struct pb_ini_entry *e = &ini->v[i];

		if (e->key == NULL && strcmp(e->type, type) == 0 &&
		    (name == NULL ? e->name == NULL : e->name && strcmp(e->name, name) == 0))
			return (ssize_t)i;
	}
	return -1;
}

/* ---------------------------------------------------------------- layering */

/* Record h as the value of its header NAME, replacing an earlier one (names are case-blind). */
static int layer_header(struct layers *L, const struct setting *h)
{
	size_t plen = strlen(h->k->name);
	struct setting *v;

	for (size_t i = 0; i < L->nhdr; i++) {
		if (L->hdr[i].k == h->k && strcasecmp(L->hdr[i].e->key + plen, h->e->key + plen) == 0) {
			L->hdr[i] = *h;
			return 0;
		}
	}
	if (L->nhdr == L->hdrcap) {
		size_t cap = L->hdrcap ? L->hdrcap * 2 : 4;

		if ((v = reallocarray(L->hdr, cap, sizeof(*v))) == NULL)
			return -1;
		L->hdr = v;
		L->hdrcap = cap;
	}
	L->hdr[L->nhdr++] = *h;
	return 0;
}

/* Lay the keys of section sec of ini over L; only keys whose `in` has a bit of mask. */
static int layer_section(struct layers *L, const struct pb_ini *ini, size_t sec,
			 unsigned mask, struct pb_err *err)
{
	for (size_t i = sec + 1; i < ini->n && ini->v[i].key != NULL; i++) {
		struct setting s = { &ini->v[i], ini->path, pb_conf_find_key(ini->v[i].key) };

		if (s.k == NULL || !(s.k->in & mask))
			continue;
		if (s.k->kind != K_HEADER)
			L->key[s.k - pb_conf_keys] = s;
		else if (layer_header(L, &s) < 0)
			return pb_fail(err, PB_E_INTERNAL, "out of memory");
	}
	return 0;
}

/* Set one profile field from a (pass-1 checked) setting. */
static int build_headers(struct pb_request *r, const struct layers *L, const char *prefix,
			 struct pb_err *err)
{
	size_t n = 0, plen = strlen(prefix);

	if (L->nhdr == 0)
		return 0;
	r->headers = calloc(L->nhdr, sizeof(*r->headers));
	if (r->headers == NULL)
		return pb_fail(err, PB_E_INTERNAL, "out of memory");
	for (size_t i = 0; i < L->nhdr; i++) {
		const struct pb_ini_entry *e = L->hdr[i].e;

		/* an empty value unsets a header a preset sends */
		if (strcmp(L->hdr[i].k->name, prefix) != 0 || e->value[0] == '\0')
			continue;
		r->headers[n].name = e->key + plen;
		r->headers[n++].value = e->value;
	}
	r->nheaders = n;
	if (n == 0) {
		free(r->headers);
		r->headers = NULL;
	}
	return 0;
}

/* ---------------------------------------------------------------- resolving */

/* qsort's comparison of two preset names. */
static int name_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* scandir's filter: NAME.conf, NAME a valid name */
static int is_preset(const struct dirent *e)
{
	size_t len = strlen(e->d_name);

	return len > 5 && len - 5 < 65 && strcmp(e->d_name + len - 5, ".conf") == 0;
}

/* The presets of vendor_dir (names, without .conf), sorted, up to max: how many. */
static size_t list_presets(const char *dir, char names[][65], size_t max)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, is_preset, alphasort);
	size_t k = 0;

	for (int i = 0; list != NULL && i < n; i++) {
		size_t len = strlen(list[i]->d_name);

		if (k < max) {
			memcpy(names[k], list[i]->d_name, len - 5);
			names[k][len - 5] = '\0';
			if (pb_valid_name(names[k]))
				k++;
		}
		free(list[i]);
	}
	free(list);
	qsort(names, k, sizeof(names[0]), name_cmp);
	return k;
}

/*
 * "unknown vendor 'api-video'": with the one it may be a slip for, and the
 * presets there are.
 */
static void unknown_vendor(struct loader *ld, const struct pb_profile *p, unsigned line,
			   const char *path)
{
	char names[32][65], known[32 * 66] = "";
	const char *ptrs[32], *near;
	size_t n = list_presets(ld->cfg->vendor_dir, names, 32);

	for (size_t i = 0; i < n; i++) {
		ptrs[i] = names[i];
		snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
			 i > 0 ? ", " : "", names[i]);
	}
	near = pb_closest(p->vendor, ptrs, n);
	pb_conf_profile_fail(ld->err, p, ld->cfg->path, line, "unknown vendor '%s' (%s%s%sno [vendor %s] "
		     "section, no preset %s; presets: %s)", p->vendor, near ? "did you mean " : "",
		     near ? near : "", near ? "? " : "", p->vendor, path, n > 0 ? known : "none");
}

/*
 * Find the vendor a profile names: an inline [vendor X] of the main config,
 * else the preset vendor_dir/X.conf (read once, kept in cfg->files).
 * Sets *vini and *vsec to the file and the index of its section.
 */
static int find_vendor(struct loader *ld, const struct pb_profile *p,
		       const struct pb_ini_entry *ve, const struct pb_ini **vini,
		       size_t *vsec)
{
	struct pb_config *cfg = ld->cfg;
	struct pb_ini *ini;
	char path[4096];
	bool missing;
	ssize_t i;

	if ((i = section_find(&cfg->files[0], "vendor", p->vendor)) >= 0) {
		*vini = &cfg->files[0];
		*vsec = (size_t)i;
		return 0;
	}
	*vsec = 0;
	for (size_t f = 1; f < cfg->nfiles; f++) {
		if (strcmp(cfg->files[f].v[0].name, p->vendor) == 0) {
			*vini = &cfg->files[f];
			return 0;
		}
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.conf", cfg->vendor_dir,
			     p->vendor) >= sizeof(path)) {
		pb_conf_profile_fail(ld->err, p, cfg->path, ve->line, "vendor_dir is too long");
		return -1;   /* not profile_fail's value: *vini is unset, say so plainly */
	}
	if (read_file(ld, path, &missing, &ini) < 0) {
		if (missing)
			unknown_vendor(ld, p, ve->line, path);
		return -1;
	}
	if (pb_conf_check_file(ini, p->vendor, ld->err) < 0)
		return -1;
	*vini = ini;
	return 0;
}

/* The built-in defaults of every profile, before any layer. */
static void init_profile(struct pb_profile *p, const struct pb_config *cfg,
			 const struct pb_ini_entry *h)
{
	memset(p, 0, sizeof(*p));
	p->name = h->name;
	p->origin.file = cfg->path;
	p->origin.line = h->line;
	p->type = PB_TYPE_EXCHANGE;
	p->credentials = PB_CRED_USER;
	p->scheme = DEFAULT_SCHEME;
	p->lifetime = DEFAULT_LIFETIME;
	p->client_auth = PB_AUTH_BODY;
	p->refused_status[0] = 401;    /* Unauthorized, Forbidden: RFC 9110 */
	p->refused_status[1] = 403;
	p->nrefused_status = 2;
	p->timeout = DEFAULT_TIMEOUT;
	p->refresh_at = DEFAULT_REFRESH_AT;
	p->min_interval = DEFAULT_MIN_INTERVAL;
	p->first_refresh_from = 0.0;
}

/* A body format not set explicitly: json when the body starts with '{', else form. */
static void infer_format(struct pb_request *r, const struct setting *fmt)
{
	if (fmt->e == NULL)
		r->format = r->body != NULL && r->body[0] == '{' ? PB_FMT_JSON : PB_FMT_FORM;
}

/* Apply the layered settings and headers to p. */
static int apply_layers(struct pb_profile *p, const struct layers *L, struct pb_err *err)
{
	const struct setting *s;

	for (size_t i = 0; i < PB_CONF_NKEYS; i++)
		if (L->key[i].e != NULL && pb_conf_apply(p, &L->key[i], err) < 0)
			return -1;
	if (build_headers(&p->token, L, "token.header.", err) < 0 ||
	    build_headers(&p->refresh, L, "refresh.header.", err) < 0)
		return -1;
	infer_format(&p->token, pb_conf_setting(L, "token.format"));
	infer_format(&p->refresh, pb_conf_setting(L, "refresh.format"));
	s = pb_conf_setting(L, "token.url");
	if (s->e != NULL)
		p->token.origin = (struct pb_origin){ s->file, s->e->line };
	s = pb_conf_setting(L, "refresh.url");
	if (s->e != NULL)
		p->refresh.origin = (struct pb_origin){ s->file, s->e->line };
	/* private_key_jwt: the client proves itself with a key, not a secret */
	for (size_t i = 0; p->client_auth == PB_AUTH_PRIVATE_KEY_JWT && i < p->nfields; i++)
		if (strcmp(p->fields[i], "client_secret") == 0)
			p->fields[i] = "private_key_file";
	return 0;
}

/* Resolve the [profile] whose header is files[0].v[sec] into p. */
static int resolve_profile(struct loader *ld, size_t sec, struct pb_profile *p)
{
	const struct pb_ini *main_ini = &ld->cfg->files[0], *vini = NULL;
	const struct pb_ini_entry *ve;
	struct layers L = { 0 };
	size_t vsec;
	int rc = -1;

	init_profile(p, ld->cfg, &main_ini->v[sec]);
	if ((ve = section_get(main_ini, sec, "vendor")) == NULL) {
		pb_conf_profile_fail(ld->err, p, p->origin.file, p->origin.line, "no 'vendor' key "
			     "(a preset name or the name of a [vendor NAME] section)");
		goto done;
	}
	p->vendor = ve->value;
	if (find_vendor(ld, p, ve, &vini, &vsec) < 0)
		goto done;
	if (layer_section(&L, vini, vsec, IN_VENDOR, ld->err) < 0 ||
	    (ld->defaults >= 0 &&
	     layer_section(&L, main_ini, (size_t)ld->defaults, IN_PROFILE, ld->err) < 0) ||
	    layer_section(&L, main_ini, sec, IN_PROFILE, ld->err) < 0)
		goto done;
	if (apply_layers(p, &L, ld->err) < 0 || pb_conf_check_profile(p, &L, ld->err) < 0)
		goto done;
	rc = 0;
done:
	free(L.hdr);
	return rc;
}

/* [defaults] keys that are config-wide; the rest are layered into profiles. */
static void load_defaults(struct pb_config *cfg, ssize_t sec, const char *vendor_dir,
			  const char *creds_dir)
{
	const struct pb_ini *ini = &cfg->files[0];
	const struct pb_ini_entry *e;

	cfg->timeout = DEFAULT_TIMEOUT;
	cfg->refresh_at = DEFAULT_REFRESH_AT;
	cfg->vendor_dir = vendor_dir;
	cfg->system_credentials_dir = creds_dir;
	cfg->broker_socket = PB_BROKER_SOCKET;
	if (sec < 0)
		return;
	if ((e = section_get(ini, (size_t)sec, "timeout")) != NULL)
		(void)pb_conf_parse_number(pb_conf_find_key("timeout"), e->value, &cfg->timeout);
	if ((e = section_get(ini, (size_t)sec, "refresh_at")) != NULL)
		(void)pb_conf_parse_number(pb_conf_find_key("refresh_at"), e->value, &cfg->refresh_at);
	if ((e = section_get(ini, (size_t)sec, "vendor_dir")) != NULL && e->value[0] != '\0')
		cfg->vendor_dir = e->value;
	if ((e = section_get(ini, (size_t)sec, "system_credentials_dir")) != NULL &&
	    e->value[0] != '\0')
		cfg->system_credentials_dir = e->value;
	if ((e = section_get(ini, (size_t)sec, "broker_socket")) != NULL && e->value[0] != '\0')
		cfg->broker_socket = e->value;
	if ((e = section_get(ini, (size_t)sec, "wlcg_discovery")) != NULL && e->value[0] != '\0')
		cfg->wlcg_discovery = e->value;
}

/* wlcg_discovery names one of the profiles: 0, or -1 with "FILE:LINE: ..." (did you mean). */
static int check_discovery(const struct loader *ld)
{
	const struct pb_config *cfg = ld->cfg;
	const struct pb_ini_entry *e;
	const char *near;

	if (cfg->wlcg_discovery == NULL || pb_config_profile(cfg, cfg->wlcg_discovery) != NULL)
		return 0;
	e = section_get(&cfg->files[0], (size_t)ld->defaults, "wlcg_discovery");
	near = pb_config_closest_profile(cfg, cfg->wlcg_discovery);
	return pb_fail(ld->err, PB_E_CONFIG, "%s:%u: wlcg_discovery: no [profile %s]%s%s%s",
		       cfg->path, e->line, cfg->wlcg_discovery, near ? " (did you mean '" : "",
		       near ? near : "", near ? "'?)" : "");
}

/*
 * Load and validate the main config (see conf.h). On failure cfg is
 * freed and err says "FILE:LINE: ..." with PB_E_CONFIG.
 */
int pb_config_load(const char *path, const char *vendor_dir_default,
		   const char *creds_dir_default, struct pb_config *cfg,
		   struct pb_err *err)
{
	struct loader ld = { .cfg = cfg, .err = err, .maxfiles = 1 };
	struct pb_ini *main_ini, *files;
	bool missing;
	size_t n = 0;

	memset(cfg, 0, sizeof(*cfg));
	if ((cfg->path = strdup(path)) == NULL ||
	    (cfg->files = calloc(1, sizeof(*cfg->files))) == NULL) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto fail;
	}
	if (read_file(&ld, path, &missing, &main_ini) < 0 || pb_conf_check_file(main_ini, NULL, err) < 0)
		goto fail;
	ld.defaults = section_find(main_ini, "defaults", NULL);
	load_defaults(cfg, ld.defaults, vendor_dir_default, creds_dir_default);
	for (size_t i = 0; i < main_ini->n; i++)
		n += main_ini->v[i].key == NULL && strcmp(main_ini->v[i].type, "profile") == 0;
	/* at most one preset per profile: room for all now, so files never move */
	if ((files = reallocarray(cfg->files, n + 1, sizeof(*files))) != NULL)
		cfg->files = files;
	cfg->profiles = calloc(n ? n : 1, sizeof(*cfg->profiles));
	if (files == NULL || cfg->profiles == NULL) {
		pb_fail(err, PB_E_INTERNAL, "out of memory");
		goto fail;
	}
	ld.maxfiles = n + 1;
	for (size_t i = 0; i < cfg->files[0].n; i++) {
		const struct pb_ini_entry *h = &cfg->files[0].v[i];

		if (h->key != NULL || strcmp(h->type, "profile") != 0)
			continue;
		if (resolve_profile(&ld, i, &cfg->profiles[cfg->nprofiles++]) < 0)
			goto fail;
	}
	if (check_discovery(&ld) < 0)
		goto fail;
	return 0;
fail:
	pb_config_free(cfg);
	return -1;
}

/* Free the lists of each profile, the parsed files (wiped) and cfg itself. */
void pb_config_free(struct pb_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; cfg->profiles != NULL && i < cfg->nprofiles; i++) {
		struct pb_profile *p = &cfg->profiles[i];

		free(p->fields);
		free(p->users);
		free(p->groups);
		free(p->token.headers);
		free(p->refresh.headers);
	}
	free(cfg->profiles);
	for (size_t i = 0; cfg->files != NULL && i < cfg->nfiles; i++)
		pb_ini_free(&cfg->files[i]);
	free(cfg->files);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

/* The profile called name, or NULL. */
const char *pb_config_closest_profile(const struct pb_config *cfg, const char *name)
{
	const char **names = calloc(cfg->nprofiles + 1, sizeof(*names));
	const char *near = NULL;

	for (size_t i = 0; names != NULL && i < cfg->nprofiles; i++)
		names[i] = cfg->profiles[i].name;
	if (names != NULL)
		near = pb_closest(name, names, cfg->nprofiles);
	free(names);
	return near;
}

const struct pb_profile *pb_config_profile(const struct pb_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nprofiles; i++)
		if (cfg->profiles[i].name != NULL && strcmp(cfg->profiles[i].name, name) == 0)
			return &cfg->profiles[i];
	return NULL;
}

/* dir/name beside the broker socket into out: 0, or -1 with err. */
static int beside_socket(const struct pb_config *cfg, const char *name, char *out, size_t len,
			 struct pb_err *err)
{
	const char *sock = cfg->broker_socket, *slash = strrchr(sock, '/');
	int n;

	if (slash == NULL || slash == sock)
		return pb_fail(err, PB_E_CONFIG, "broker_socket %s: not in a directory of its own",
			       sock);
	n = snprintf(out, len, "%.*s/%s", (int)(slash - sock), sock, name);
	if (n < 0 || (size_t)n >= len)
		return pb_fail(err, PB_E_CONFIG, "broker_socket %s: path too long", sock);
	return 0;
}

int pb_config_state_dir(const struct pb_config *cfg, char *out, size_t len, struct pb_err *err)
{
	return beside_socket(cfg, "broker", out, len, err);
}

int pb_config_users_dir(const struct pb_config *cfg, char *out, size_t len, struct pb_err *err)
{
	return beside_socket(cfg, "users", out, len, err);
}

/* See conf.h. */
bool pb_profile_signs(const struct pb_profile *p)
{
	return p->assertion_claims != NULL || p->client_auth == PB_AUTH_PRIVATE_KEY_JWT;
}

/* "json" / "form" / "raw", for messages and `bearer-token status`. */
const char *pb_format_name(enum pb_format f)
{
	switch (f) {
	case PB_FMT_JSON: return "json";
	case PB_FMT_FORM: return "form";
	case PB_FMT_RAW: return "raw";
	case PB_FMT_PATH: return "path";
	}
	return "?";
}
