/* SPDX-License-Identifier: MIT */
/*
 * storefile.h - safe file I/O in a store dir: the user's token dir
 * ($XDG_RUNTIME_DIR/bearer/) or one of the service account's state dirs.
 * What the files in it mean is store.h's.
 *
 * Every file is reached relative to a dir fd opened O_DIRECTORY|O_NOFOLLOW;
 * the dir must be a real dir owned by its user with mode 0700, its parent a
 * real dir owned by the same user. A file is believed only when it is a
 * regular file of that user with no group/other bits (checked on the fd),
 * never through a symlink. Every write goes to a temp file
 * ".<name>.<16 hex digits>" opened O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC
 * 0600 in the same dir, then renameat() over the name.
 */
#ifndef PB_STOREFILE_H
#define PB_STOREFILE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include "util.h"

#define STORE_FILE_MAX (64 * 1024)    /* the most we read from or write to any file */
#define STORE_NAME_MAX 128            /* ".<profile:64>.<ext>.<16 hex>" fits */

struct pb_store {
	int dirfd;                 /* the dir (O_PATH) */
	uid_t uid;                 /* its owner */
	char path[PATH_MAX];       /* for messages and BEARER_TOKEN_DIR */
	/* [defaults] wlcg_discovery: this profile's token is also kept as
	 * ../bt_u<uid> (store.c); NULL: none */
	const char *wlcg_profile;
};

/*
 * Open <runtime_dir>/bearer. runtime_dir must be a directory (not a symlink)
 * owned by uid; bearer/ is created 0700 when create is set and must be a
 * directory owned by uid with no group/other bits. PB_E_STORE on any failure;
 * errno is then ENOENT when the runtime dir or (without create) bearer/ is
 * simply not there yet.
 */
int pb_store_open(const char *runtime_dir, uid_t uid, bool create,
		  struct pb_store *st, struct pb_err *err);
/*
 * The same for any store dir: <parent>/<name>, with the same rules (parent
 * a real dir owned by uid, name made 0700 when create is set). The broker
 * keeps one per user in its own state dir this way.
 */
int pb_store_open_at(const char *parent, const char *name, uid_t uid, bool create,
		     struct pb_store *st, struct pb_err *err);
void pb_store_close(struct pb_store *st);

/*
 * Read name whole into out (NUL-terminated; wipe it with pb_buf_wipe),
 * at most STORE_FILE_MAX bytes. 0 ok, 1 absent, -1 error (PB_E_STORE: a
 * symlink, not a regular file, not the owner's, open to others, too
 * large, I/O). A FIFO planted under the name cannot hang us.
 */
int pb_file_read(const struct pb_store *st, const char *name, struct pb_buf *out,
		 struct pb_err *err);
/* Replace name with len bytes of data, atomically (see above). 0, or -1 (PB_E_STORE). */
int pb_file_write(const struct pb_store *st, const char *name, const char *data, size_t len,
		  struct pb_err *err);
/* Remove name; one that is not there is fine. 0, or -1 (PB_E_STORE). */
int pb_file_remove(const struct pb_store *st, const char *name, struct pb_err *err);

/*
 * Remove the temp files ".<prefix>...<16 hex>" a writer that died before
 * its rename left. Only with the lock of what they belong to held: a live
 * writer's file would go too. Returns how many went.
 */
int pb_file_sweep(const struct pb_store *st, const char *prefix);

/*
 * Take the lock file name (flock), waiting at most timeout seconds. 0 and
 * *lockfd; or -1: PB_E_TEMP when someone still held it (*holder: the pid
 * it wrote, 0 if unknown), PB_E_STORE when it is unsafe.
 */
int pb_file_lock(const struct pb_store *st, const char *name, double timeout, int *lockfd,
		 long *holder, struct pb_err *err);
void pb_file_unlock(int lockfd);

#endif
