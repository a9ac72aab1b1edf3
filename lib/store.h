/* SPDX-License-Identifier: MIT */
/*
 * store.h - the token dir, $XDG_RUNTIME_DIR/bearer/.
 *
 * Per profile P (all 0600, owned by the user, replaced atomically):
 *   P.token   the bare token, no newline
 *   P.header  "Authorization: <scheme> <token>\n"
 *   P.json    metadata: profile, vendor, scheme, obtained_at, expires_at,
 *             state (valid | expired | error), last_error, next_attempt_at
 *   P.state   private: the refresh token, {"refresh_token": "..."}
 *   P.lock    flock()ed while a fetch for P is under way (it holds the holder's pid)
 * How each is read and written safely (dir fd, O_NOFOLLOW, O_EXCL temp
 * file and rename) is storefile.h's.
 */
#ifndef PB_STORE_H
#define PB_STORE_H

#include <stdbool.h>
#include <time.h>
#include "storefile.h"
#include "util.h"

enum pb_state { PB_STATE_NONE, PB_STATE_VALID, PB_STATE_EXPIRED, PB_STATE_ERROR };

struct pb_meta {
	enum pb_state state;
	char vendor[65];
	char scheme[33];
	time_t obtained_at;        /* 0: no token yet (whole seconds, rounded down) */
	bool has_expiry;
	time_t expires_at;
	long long obtained_ms;     /* the same two to the millisecond (P.json's fraction) */
	long long expires_ms;
	char last_error[512];      /* "" when the last attempt succeeded */
	time_t next_attempt_at;    /* 0: none planned */
	char renewal[16];          /* credentials = system: "broker" or "next login"; else "" */
};

/* What pb_store_save() writes. */
struct pb_store_token {
	const char *profile, *vendor, *scheme, *token;
	const char *refresh_token;  /* NULL: leave the state file as it is */
	bool forget_refresh;        /* remove P.state: a refresh token not ours to keep */
	const char *renewal;        /* for .json: who renews it (NULL: nobody says) */
	long long obtained_ms;      /* wall clock, milliseconds */
	bool has_expiry;
	long long expires_ms;
};

/*
 * 0 ok, 1 no metadata yet (m->state = NONE), -1 error (an unsafe file),
 * -2 a corrupt file (not what we write: the next save replaces it, so a
 * renewal goes ahead as if there were none).
 */
int pb_store_read_meta(const struct pb_store *st, const char *profile,
		       struct pb_meta *m, struct pb_err *err);
/*
 * Read P.<ext> whole into out (wipe it with pb_buf_wipe): with the same
 * checks as every read here (no symlink, regular file, the user's, 0600,
 * size cap). 0 ok, 1 absent, -1 error.
 */
int pb_store_read(const struct pb_store *st, const char *profile, const char *ext,
		  struct pb_buf *out, struct pb_err *err);
/*
 * Is P's token good to hand out as it is: .json says valid, it outlives the
 * refresh margin and min_valid more seconds (pb_token_fresh), and P.token is
 * there? Reads no secret. The PAM module's fast path and every renewal
 * decision ask this.
 */
bool pb_store_token_fresh(const struct pb_store *st, const char *profile, long min_valid);

/* Is P.token there: a non-empty regular file of the owner's? (It is not read.) */
bool pb_store_token_present(const struct pb_store *st, const char *profile);

/* 0 and a malloc()ed token (wipe it), 1 absent, -1 error */
int pb_store_read_token(const struct pb_store *st, const char *profile,
			char **token, struct pb_err *err);
/* 0 and a malloc()ed refresh token, 1 absent, -1 error */
int pb_store_read_refresh(const struct pb_store *st, const char *profile,
			  char **refresh_token, struct pb_err *err);

/*
 * Write a new token: .state first (a rotated refresh token, if
 * refresh_token; removed if forget_refresh), then .token, .header and
 * last .json.
 * Returns 1 without touching anything if the token on disk was obtained
 * later than t->obtained_ms (an older token never replaces a newer one).
 * The token must pass pb_token_check-like rules (no control characters).
 */
int pb_store_save(const struct pb_store *st, const struct pb_store_token *t,
		  struct pb_err *err);

/*
 * Record a failed attempt in .json (state valid while the token on disk is
 * still valid, expired when it was expired, else error; last_error,
 * next_attempt_at, at most two days ahead). The token files are left
 * alone. vendor/scheme fill a .json that did not exist yet; renewal, when
 * not NULL, replaces what .json says of who renews it. A corrupt .json is
 * rewritten.
 */
int pb_store_save_error(const struct pb_store *st, const char *profile,
			const char *vendor, const char *scheme, const char *message,
			time_t next_attempt_at, const char *renewal, struct pb_err *err);

/*
 * Forget everything of P but its lock: .token, .header, .state (the
 * refresh token) and .json. For the broker, when the admin store no
 * longer has a usable file for the user.
 */
int pb_store_forget(const struct pb_store *st, const char *profile, struct pb_err *err);

/*
 * The token has run out: remove .header and .token, then .json says
 * expired. Should that write fail (a full disk), the dead token is gone
 * all the same.
 */
int pb_store_expire(const struct pb_store *st, const char *profile, struct pb_err *err);

/*
 * Make P's files agree again after a crash between two of their writes
 * (call with P's lock held): remove the temp files of a dead writer;
 * rebuild .header from .token (with .json's scheme, else scheme); remove
 * a .header with no .token, and a token that has run out. 1 when it
 * changed something, else 0. Never reaches a vendor.
 */
int pb_store_repair(const struct pb_store *st, const char *profile, const char *scheme);

/*
 * WLCG Bearer Token Discovery: the file a reader following the convention
 * finds, bt_u<uid> in the runtime dir (the token dir's parent), into out.
 * For st->wlcg_profile, pb_store_save() writes the bare token there too
 * (0600, atomic), and pb_store_expire(), pb_store_forget() and
 * pb_store_repair() keep it in step with P.token. 0, or -1 when the path
 * does not fit.
 */
int pb_store_discovery_path(const struct pb_store *st, char *out, size_t len);

/*
 * Take the profile's lock, waiting at most timeout seconds. 0 and *lockfd,
 * or -1 (PB_E_TEMP "another process (pid N) is renewing P and did not
 * finish within T s" on timeout).
 */
int pb_store_lock(const struct pb_store *st, const char *profile, double timeout,
		  int *lockfd, struct pb_err *err);
void pb_store_unlock(int lockfd);

const char *pb_state_name(enum pb_state s);

#endif
