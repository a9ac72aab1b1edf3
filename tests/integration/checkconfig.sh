#!/bin/bash
# SPDX-License-Identifier: MIT
# checkconfig.sh - `bearer-token check-config [--user NAME]` (issue 13): every
# problem a login would meet is found before the login, one line each,
# naming the file (and line) and the fix, with exit status 3:
#   a ca_file that does not exist; a groups = naming no group; a member
#   with no credentials file, or one at 0644; an admin store file missing
#   or at 0644; a config owned by the user; a PAM line whose profiles=
#   names no profile. And when all is well: exit 0, which profiles apply
#   to the user and why, each one's credentials OK, the PAM lines found.
# As root: alice and the service account are uids of their own, and the
# admin store is root:_pam_bearer. As an ordinary user, uid_wrapper plays
# root and alice is us; what needs a root-owned file (a good admin store)
# is left out, the rest runs.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
[ -n "${NSS_WRAPPER_SO:-}" ] && [ -n "${UID_WRAPPER_SO:-}" ] || skip "cwrap libraries not found"
pb_setup

ROOT=0
[ "$(id -u)" -eq 0 ] && ROOT=1
if [ "$ROOT" = 1 ]; then
	AU=4242 SU=4243 DEV=4250 PRELOAD=$NSS_WRAPPER_SO
else
	AU=$(id -u) SU=$(id -u) DEV=4250 PRELOAD=$UID_WRAPPER_SO:$NSS_WRAPPER_SO
fi
PRELOAD=${ASAN_RUNTIME:+$ASAN_RUNTIME:}$PRELOAD
cat >"$T/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
alice:x:$AU:$AU:alice:$T/home-alice:/bin/sh
_pam_bearer:x:$SU:$SU:pam_bearer:/nonexistent:/usr/sbin/nologin
EOF
cat >"$T/group" <<EOF
root:x:0:
alice:x:$AU:
_pam_bearer:x:$SU:
developers:x:$DEV:alice
EOF
# and 300 more groups (the module once kept only the primary one above 256)
for i in $(seq 300); do echo "grp$i:x:$((20000 + i)):alice"; done >>"$T/group"

# alice's own secrets, 0600, hers
ACREDS=$T/home-alice/.config/pam_bearer/credentials
mkdir -p "${ACREDS%/*}"
(umask 077; printf '[apivideo]\napi_key = SECRET-apivideo\n\n[oauth2]\nclient_id = id\nclient_secret = SECRET-oauth2\n' >"$ACREDS")
[ "$ROOT" = 0 ] || chown -R "$AU:$AU" "$T/home-alice"
# the admin store: alice's file for the system profile (as root only)
CREDS_D=$T/credentials.d
mkdir -m 0750 "$CREDS_D"
admin_file() {
	printf '[sysvideo]\napi_key = SECRET-sysvideo\n' >"$CREDS_D/alice"
	chmod 0640 "$CREDS_D/alice"
	chown "0:$SU" "$CREDS_D/alice"
}
if [ "$ROOT" = 1 ]; then chown "0:$SU" "$CREDS_D"; admin_file; fi
chmod 0644 "$T/ca.pem"

# apivideo: the developers group; unith: bob only; oauth2: everyone; sysvideo: system-held
conf() { # [extra lines for [profile apivideo]]
	{
		printf '[defaults]\nvendor_dir = %s\nca_file = %s\nsystem_credentials_dir = %s\n' \
			"$VENDOR_DIR" "$T/ca.pem" "$CREDS_D"
		printf '\n[profile apivideo]\nvendor = apivideo\ngroups = developers\n'
		[ $# -eq 0 ] || printf '%s\n' "$@"
		printf '\n[profile unith]\nvendor = unith\nusers = root\n'
		printf '\n[profile oauth2]\nvendor = oauth2\nbase_url = %s\ngroups = grp300, developers\n' "$MOCK"
		[ "$ROOT" = 0 ] || printf '\n[profile sysvideo]\nvendor = apivideo\ncredentials = system\nusers = alice\n'
	} >"$BEARER_CONFIG"
	chmod 0644 "$BEARER_CONFIG"
}
conf
mkdir "$T/pam.d"
printf 'session required pam_unix.so\nsession optional pam_bearer.so profiles=apivideo,oauth2 # all\n' >"$T/pam.d/sshd"
printf '# session optional pam_bearer.so\n' >"$T/pam.d/login"

check() { # [--user alice] : check-config in alice's world; with --user, as root (uid_wrapper's, unless we are)
	local preload=${ASAN_RUNTIME:+$ASAN_RUNTIME:}$NSS_WRAPPER_SO
	[ $# -eq 0 ] || preload=$PRELOAD
	run_cmd env LD_PRELOAD="$preload" UID_WRAPPER=1 UID_WRAPPER_ROOT=1 NSS_WRAPPER_PASSWD="$T/passwd" \
		NSS_WRAPPER_GROUP="$T/group" "$BEARER_TOKEN_BIN" --config "$BEARER_CONFIG" check-config \
		--pam-dir "$T/pam.d" "$@"
}
# problem N ERE MSG : exit 3, exactly N problem lines, one of them matching ERE, no secret
problem() {
	assert_eq "$RC" 3 "$3: exit 3"
	assert_lines "$ERR" "$1" "$3: $1 problem line(s)"
	assert_match "$ERR" "$2" "$3: the line names the file and the fix"
	assert_not_contains "$OUT$ERR" "SECRET" "$3: no secret printed"
}

echo "# all well"
check --user alice
assert_eq "$RC" 0 "a sound setup: exit 0 (stderr: $ERR)"
assert_eq "$ERR" "" "a sound setup: no problem line"
assert_contains "$OUT" "apivideo (apivideo, credentials = user): applies: alice is in a group that groups = names" \
	"says apivideo applies, and why"
assert_contains "$OUT" "unith (unith, credentials = user): does not apply" "says unith does not apply"
assert_contains "$OUT" "oauth2 (oauth2, credentials = user): applies: alice is in a group that groups = names" \
	"says oauth2 applies"
assert_contains "$OUT" "user alice: uid $AU, 302 groups" "all of alice's 302 groups, past 256"
conf
sed -i 's/^groups = grp300, developers$//' "$BEARER_CONFIG"
sed -i 's/^\(\[profile oauth2\]\)$/\1\ngroups = grp300/' "$BEARER_CONFIG"
check --user alice
assert_contains "$OUT" "oauth2 (oauth2, credentials = user): applies: alice is in a group that groups = names" \
	"her 300th extra group is enough for oauth2 to apply"
sed -i 's/^groups = grp300$//' "$BEARER_CONFIG"
check --user alice
assert_contains "$OUT" "oauth2 (oauth2, credentials = user): applies: no users = or groups =, so everyone" \
	"no users =/groups =: oauth2 applies to everyone"
conf
assert_contains "$OUT" "apivideo: credentials in $ACREDS: OK" "apivideo's credentials checked"
assert_contains "$OUT" "oauth2: credentials in $ACREDS: OK" "oauth2's credentials checked"
assert_not_contains "$OUT" "unith: credentials" "unith's (not alice's) not asked of her"
assert_contains "$OUT" "PAM: $T/pam.d/sshd:2: session optional pam_bearer.so profiles=apivideo,oauth2" \
	"names the PAM line that loads the module, and not the commented one"
assert_not_contains "$OUT" "pam.d/login" "a commented-out line is not a PAM line"
if [ "$ROOT" = 1 ]; then
	assert_contains "$OUT" "sysvideo: credentials in $CREDS_D/alice: OK" "the admin store's file checked"
	assert_contains "$OUT" "service account _pam_bearer: uid $SU" "names the service account"
fi

echo "# a ca_file that does not exist"
conf
sed -i "/^\[profile oauth2\]/a ca_file = $T/nope.pem" "$BEARER_CONFIG"
check --user alice
problem 1 "^bearer-token: $BEARER_CONFIG:[0-9]+: \[profile oauth2\]: ca_file $T/nope.pem: No such file or directory" \
	"missing ca_file"
check
problem 1 "ca_file $T/nope.pem: No such file" "missing ca_file, without --user too"

echo "# a group that does not exist"
conf
sed -i 's/^groups = developers$/groups = developers, developpers/' "$BEARER_CONFIG"
check --user alice
problem 1 "^bearer-token: $BEARER_CONFIG:[0-9]+: \[profile apivideo\]: groups names 'developpers', which is not a group here" \
	"unknown group"

echo "# a member with no credentials file; then one at 0644"
conf
mv "$ACREDS" "$T/creds.away"
check --user alice
problem 1 "^bearer-token: $ACREDS: missing: alice keeps the secrets of apivideo there, mode 0600" "no credentials file"
mv "$T/creds.away" "$ACREDS"
chmod 0644 "$ACREDS"
check --user alice
problem 1 "^bearer-token: $ACREDS: bad permissions 0644, must be 0600 \(chmod 600 $ACREDS\)" "credentials at 0644"
chmod 0600 "$ACREDS"
sed -i 's/^api_key = /apikey = /' "$ACREDS"
check --user alice
problem 1 "^bearer-token: $ACREDS:1: \[apivideo\] has no 'api_key' \(did you mean 'apikey' at line 2\?\)" \
	"a misspelt field: its line, and a guess"
sed -i 's/^apikey = /api_key = /' "$ACREDS"

echo "# a config owned by the user, which a PAM line loads"
printf 'session optional pam_bearer.so config=%s\n' "$BEARER_CONFIG" >"$T/pam.d/su"
if [ "$ROOT" = 1 ]; then chown "$AU" "$BEARER_CONFIG"; fi
check --user alice
if [ "$ROOT" = 1 ]; then
	problem 1 "^bearer-token: $BEARER_CONFIG: owned by alice, must be owned by root \(chown root $BEARER_CONFIG\)" \
		"config owned by alice"
else
	# (we are alice: the config is ours, which a root module refuses)
	problem 1 "^bearer-token: $BEARER_CONFIG: owned by alice: the PAM module reads only a config owned by root \(chown root $BEARER_CONFIG\)" \
		"config owned by alice"
fi
[ "$ROOT" = 0 ] || chown 0 "$BEARER_CONFIG"
rm "$T/pam.d/su"

echo "# a PAM line naming a profile that does not exist"
printf 'session optional pam_bearer.so profiles=apivideo,apivdeo\n' >"$T/pam.d/su"
check --user alice
problem 1 "^bearer-token: $T/pam.d/su:1: profiles= names 'apivdeo', not a profile of $BEARER_CONFIG \(did you mean 'apivideo'\?\)" \
	"a PAM line's unknown profile"
rm "$T/pam.d/su"

if [ "$ROOT" = 1 ]; then
	echo "# the admin store: alice's file missing, then at 0644; the dir open to others"
	rm "$CREDS_D/alice"
	check --user alice
	problem 1 "^bearer-token: $CREDS_D/alice: missing: the admin keeps the secrets of sysvideo there, root:_pam_bearer 0640" \
		"admin file missing"
	admin_file
	chmod 0644 "$CREDS_D/alice"
	check --user alice
	problem 1 "^bearer-token: $CREDS_D/alice: bad permissions 0644, must be 0640 \(chmod 640 $CREDS_D/alice\)" \
		"admin file at 0644"
	chmod 0640 "$CREDS_D/alice"
	chmod 0755 "$CREDS_D"
	check
	problem 1 "^bearer-token: $CREDS_D: dir root:_pam_bearer 0755, must be a dir root:_pam_bearer 0750" \
		"admin store dir open to others"
	chmod 0750 "$CREDS_D"
	echo "# several problems at once: each on its own line"
	rm "$CREDS_D/alice"
	chmod 0644 "$ACREDS"
	check --user alice
	problem 2 "credentials.d/alice: missing" "two problems"
	chmod 0600 "$ACREDS"
	admin_file
else
	echo "# an ordinary user may check only themselves"
	printf 'bob:x:%s:%s:bob:/nonexistent:/bin/sh\n' "$(($(id -u) + 1))" "$(id -g)" >>"$T/passwd"
	run_cmd env LD_PRELOAD="$NSS_WRAPPER_SO" NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group" \
		"$BEARER_TOKEN_BIN" --config "$BEARER_CONFIG" check-config --pam-dir "$T/pam.d" --user bob
	assert_eq "$RC" 2 "check-config --user bob by another user: exit 2"
	assert_contains "$ERR" "only root may check another user" "and says why"
fi
pb_done
