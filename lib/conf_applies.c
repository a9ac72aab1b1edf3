/* SPDX-License-Identifier: MIT */
/*
 * conf_applies.c - who a profile applies to: its users, or a member of one
 * of its groups. The module and the CLI both ask this, with the groups of
 * pb_user_groups() (util.c), so that a login and the CLI agree.
 */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>

#include "conf_int.h"

/* Is the name of group gid in the profile's groups list? */
static bool group_listed(const struct pb_profile *p, gid_t gid)
{
	struct group gr, *res = NULL;
	size_t size = 1024;
	char *buf = NULL;
	bool found = false;
	int rc;

	for (;;) {
		if ((buf = malloc(size)) == NULL)
			return false;
		rc = getgrgid_r(gid, &gr, buf, size, &res);
		if (rc != ERANGE || size >= 1024 * 1024)
			break;
		free(buf);
		size *= 2;
	}
	if (rc == 0 && res != NULL)
		found = pb_conf_listed(p->groups, p->ngroups, gr.gr_name);
	free(buf);
	return found;
}

/* users/groups both empty: everyone; else a listed user or a listed group. */
bool pb_profile_applies(const struct pb_profile *p, const char *user,
			const gid_t *gids, size_t ngids)
{
	if (p->nusers == 0 && p->ngroups == 0)
		return true;
	if (user != NULL && pb_conf_listed(p->users, p->nusers, user))
		return true;
	for (size_t i = 0; p->ngroups > 0 && i < ngids; i++)
		if (group_listed(p, gids[i]))
			return true;
	return false;
}

