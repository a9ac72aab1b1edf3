#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/e2e/su.sh - `su -l USER -c CMD` with the installed pam_bearer
# (root only; see fixture.sh), with /run/user/UID and, on a host without
# logind, with none.
#
# su takes no PAM service name of our choosing: with -l it uses
# /etc/pam.d/su-l. The test gives su a copy of that file with one more
# line (session optional pam_bearer.so ...) mounted over it in a private
# mount namespace, so the machine's file is never touched. Where no mount
# namespace can be made, it appends the line to the real /etc/pam.d/su-l
# for the test, says so, and puts the saved copy back on every exit path
# (E2E_NO_NAMESPACE=1 forces that way, to test it).

: "${TESTS_SRCDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TESTS_SRCDIR/e2e/fixture.sh"

e2e_require_root
e2e_setup
e2e_need su unshare mount

SU_L=/etc/pam.d/su-l
[ -f "$SU_L" ] || fail "no $SU_L (Debian's util-linux/login ship it)"
cp -p "$SU_L" "$T/su-l"
echo "session optional $E2E_PAM_MODULE config=$BEARER_CONFIG debug" >>"$T/su-l"

# su_l CMD : su -l to the test user running CMD, with our su-l stack
if [ -z "${E2E_NO_NAMESPACE:-}" ] && unshare -m --propagation private true 2>/dev/null; then
	su_l() {
		unshare -m --propagation private bash -c \
			'mount --bind "$1" /etc/pam.d/su-l && exec su -l "$2" -c "$3"' \
			su_l "$T/su-l" "$E2E_USER" "$1"
	}
	ok "su -l runs with our su-l stack in a private mount namespace"
else
	cp -p "$SU_L" "$T/su-l.orig"
	E2E_RESTORE="$E2E_RESTORE $T/su-l.orig=$SU_L"
	cp "$T/su-l" "$SU_L"
	echo "# NOTE: no mount namespace here; $SU_L has a pam_bearer line until this test exits"
	su_l() { su -l "$E2E_USER" -c "$1"; }
	ok "su -l runs with a pam_bearer line added to $SU_L for the test"
fi

# ------------------------------------------------------------- one su session, held open
hold_open su su_l "$(session_cmd); echo; echo READY; read -r _ || :"
ok "su -l $E2E_USER"
assert_contains "$OUT" "dir=$TOKDIR" "BEARER_TOKEN_DIR=$TOKDIR in the su -l session"
check_tokens
check_whoami "$OUT"
assert_eq "$(mock_count /auth/api-key)" 1 "one api.video exchange for the login"
check_refresher

hold_close
assert_eq "$RC" 0 "su -l ends cleanly"
check_refresher_gone "su -l returned"

# ------------------------------------------------------------- a second su, tokens still valid
expect_exit 0 su_l "$E2E_BEARER_TOKEN --config $BEARER_CONFIG get apivideo"
assert_eq "$OUT" "$TOKEN" "bearer-token get in a second su -l: the same token"
assert_eq "$(mock_count /auth/api-key)" 1 "the second su -l made no exchange (tokens still valid)"
check_refresher_gone "the second su -l returned"

# ------------------------------------------------------------- a host without logind
# (issue 13) No /run/user/UID: the module makes the stand-in
# /run/pam_bearer/users/UID, the user's 0700, with the tokens in its
# bearer/, and removes it when su -l returns; it never makes /run/user/UID.
if [ -d /run/systemd/system ]; then
	echo "# systemd runs here: pam_systemd makes /run/user/$E2E_UID; no-logind part skipped"
else
	rm -rf "/run/user/$E2E_UID"
	STANDIN=/run/pam_bearer/users/$E2E_UID
	TOKDIR=$STANDIN/bearer
	E2E_RUNDIRS="$E2E_RUNDIRS $STANDIN /run/pam_bearer/users/.$E2E_UID.sessions"
	# the module makes /run/pam_bearer/users (and /run/pam_bearer): ours to remove after
	[ -e /run/pam_bearer/users ] || E2E_RUNDIRS="$E2E_RUNDIRS /run/pam_bearer/users"
	[ -e /run/pam_bearer ] || E2E_RUNDIRS="$E2E_RUNDIRS /run/pam_bearer"
	mock_ctl /_mock/reset
	hold_open su2 su_l "$(session_cmd); echo; echo READY; read -r _ || :"
	ok "su -l $E2E_USER with no /run/user/$E2E_UID"
	assert_contains "$OUT" "dir=$TOKDIR" "BEARER_TOKEN_DIR=$TOKDIR in the su -l session"
	assert_eq "$(stat -c '%u %a' "$STANDIN" 2>&1)" "$E2E_UID 700" "$STANDIN: the user's, 0700"
	check_tokens
	check_whoami "$OUT"
	check_refresher
	[ ! -e "/run/user/$E2E_UID" ] || fail "the module made /run/user/$E2E_UID"
	ok "no /run/user/$E2E_UID made"
	hold_close
	assert_eq "$RC" 0 "su -l (no logind) ends cleanly"
	check_refresher_gone "su -l (no logind) returned"
	[ ! -e "$STANDIN" ] || fail "$STANDIN still there after the last logout: $(ls -la "$STANDIN" 2>&1)"
	ok "$STANDIN removed at the last logout"
fi

if [ ! -f "$T/su-l.orig" ]; then
	assert_not_contains "$(<"$SU_L")" pam_bearer "the machine's $SU_L was never changed"
fi
pb_done
