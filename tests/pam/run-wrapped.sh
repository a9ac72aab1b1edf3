#!/bin/sh
# SPDX-License-Identifier: MIT
# run-wrapped.sh - the automake LOG_COMPILER for every test program.
#
# A program whose name does not start with test_pam_ (the unit tests) just
# runs. A PAM test gets a throw-away cwrap world in a temp dir T:
#   - nss_wrapper passwd/group with root, alice (the test user), bob and lowuid
#   - pam_wrapper service files in T/services loading the module under test
#     ($PAM_TEST_MODULE_SO, which runs the build tree's bearer-token) by
#     absolute path, each after a pam_env line that puts XDG_RUNTIME_DIR
#     into the PAM environment (as pam_systemd would)
#   - pam_bearer.conf variants in T/conf, alice's runtime dir and credentials
#   - the TLS mock vendor (tests/mock_vendor.py) with a throw-away CA
# and runs the test under LD_PRELOAD of the wrappers. The test learns the
# layout from PB_TEST_* variables (see the export below).
#
# Identities. The module really fork()s and exec()s bearer-token as the user
# with a clean environment, i.e. without LD_PRELOAD: the helper runs with the
# process's *real* ids and the *real* passwd database. So:
#   - as real root: no uid_wrapper (it would only fake the child's setuid(),
#     and the helper would then run as real root); alice is an unprivileged
#     uid that exists in the real passwd database (nobody, 65534, unless
#     PB_TEST_ALICE_UID says otherwise; the helper looks its uid up), bob is
#     4243 and lowuid 500.
#   - as an ordinary user: uid_wrapper fakes root for the module
#     (UID_WRAPPER=1 UID_WRAPPER_ROOT=1); alice and lowuid are the real uid
#     (the only one a setfsuid()/setuid() can really reach); there is no bob,
#     so the tests that need a second owner say so and skip that part.
# PB_KEEP=1 keeps T for a post-mortem.
set -eu

case "$(basename "$1")" in
test_pam_*) ;;
*) exec "$@" ;;
esac

# tests/lib.sh (make_certs, start_mock) is bash
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi

skip() { echo "SKIP: $*"; exit 77; }
[ -n "${PAM_WRAPPER_SO:-}" ] && [ -n "${NSS_WRAPPER_SO:-}" ] && [ -n "${UID_WRAPPER_SO:-}" ] ||
	skip "cwrap libraries (pam_wrapper, nss_wrapper, uid_wrapper) not found"
: "${PAM_TEST_MODULE_SO:?}" "${BEARER_TOKEN_BIN:?}" "${TESTS_SRCDIR:?}" "${VENDOR_DIR:?}"
[ -f "$PAM_TEST_MODULE_SO" ] || { echo "ERROR: no test module $PAM_TEST_MODULE_SO"; exit 99; }
[ -x "$BEARER_TOKEN_BIN" ] || { echo "ERROR: no helper $BEARER_TOKEN_BIN"; exit 99; }
command -v curl >/dev/null 2>&1 || skip "curl not found (the tests drive the mock with it)"

. "$TESTS_SRCDIR/lib.sh"
set -eu
command -v "$PYTHON3" >/dev/null 2>&1 || skip "python3 not found"
command -v "$OPENSSL" >/dev/null 2>&1 || skip "openssl not found"

umask 022
T=$(mktemp -d "${TMPDIR:-/tmp}/pb-pam.XXXXXX")
chmod 0755 "$T"   # the helper runs as alice and must traverse it
MOCK_PID= MOCK_PIDS=
cleanup() {
	local p
	for p in $MOCK_PID $MOCK_PIDS; do   # the mock(s) start_mock started
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "${PB_KEEP:-0}" = 1 ]; then
		echo "# PB_KEEP=1: keeping $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ------------------------------------------------------------------ users
if [ "$(id -u)" -eq 0 ]; then
	ROOT=1
	if [ -n "${PB_TEST_ALICE_UID:-}" ]; then
		AU=$PB_TEST_ALICE_UID; AG=$AU
	elif ent=$(getent passwd nobody) && [ -n "$ent" ]; then
		AU=$(echo "$ent" | cut -d: -f3); AG=$(echo "$ent" | cut -d: -f4)
	else
		AU=4242; AG=4242
	fi
	BU=4243; BG=4243
	LU=500; LG=500
	SU=4245; SG=4245    # the service account, _pam_bearer
else
	ROOT=0
	AU=$(id -u); AG=$(id -g)
	BU=; BG=
	LU=$AU; LG=$AG
	SU=$AU; SG=$AG      # (uid_wrapper fakes the drop; no admin store without root)
fi
{
	echo "root:x:0:0:root:/root:/bin/false"
	echo "alice:x:$AU:$AG:Alice:$T/home/alice:/bin/sh"
	[ -n "$BU" ] && echo "bob:x:$BU:$BG:Bob:$T/home/bob:/bin/sh"
	echo "lowuid:x:$LU:$LG:Low:$T/home/lowuid:/bin/sh"
	echo "_pam_bearer:x:$SU:$SG:pam_bearer:/nonexistent:/usr/sbin/nologin"
} >"$T/passwd"
{
	echo "root:x:0:"
	echo "alice:x:$AG:"
	[ -n "$BU" ] && echo "bob:x:$BG:"
	[ "$LG" != "$AG" ] && echo "lowuid:x:$LG:"
	[ "$SG" != "$AG" ] && echo "_pam_bearer:x:$SG:"
	# and 300 more groups for alice: the module once kept only her
	# primary group above 256 (test_many_groups)
	for i in $(seq 300); do echo "grp$i:x:$((30000 + i)):alice"; done
	true
} >"$T/group"
echo "127.0.0.1 localhost" >"$T/hosts"
own() { [ "$ROOT" = 1 ] && chown "$@"; true; }   # own UID:GID PATH...

# ------------------------------------------------------------------ mock
make_certs "$T"
chmod 0644 "$T/ca.pem"
start_mock MOCK --cert "$T/server.pem" --key "$T/server.key"
MOCK="https://127.0.0.1:$MOCK_PORT"
# a port nothing listens on, for "vendor down"
CLOSED_PORT=$("$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# ------------------------------------------------------------------ dirs
mkdir -p "$T/services" "$T/env" "$T/conf" "$T/logs" "$T/run/$AU" \
	"$T/home/alice/.config/pam_bearer"
chmod 0755 "$T/run" "$T/home" "$T/conf"
chmod 0700 "$T/run/$AU" "$T/home/alice" "$T/home/alice/.config" "$T/home/alice/.config/pam_bearer"
cat >"$T/home/alice/.config/pam_bearer/credentials" <<EOF
# alice's own secrets (the mock's valid test credentials)
[apivideo]
api_key = test-apivideo-key

[unith]
email = user@example.com
secret_key = test-unith-secret

[unith2]
email = user@example.com
secret_key = test-unith-secret

[pkjwt]
client_id = test-client
private_key_file = $T/home/alice/.config/pam_bearer/pkjwt.pem

[github]
app_id = 12345
installation_id = 67890
private_key_file = $T/home/alice/.config/pam_bearer/rsa.pem

[gcp]
key_file = $T/home/alice/.config/pam_bearer/gcp.json
EOF
chmod 0600 "$T/home/alice/.config/pam_bearer/credentials"
# alice's signing key for private_key_jwt (test_private_key_jwt), and the
# /_mock/config body that registers its public half with the mock
(umask 077; "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	-out "$T/home/alice/.config/pam_bearer/pkjwt.pem" 2>/dev/null) || fail "openssl genpkey"
"$OPENSSL" pkey -in "$T/home/alice/.config/pam_bearer/pkjwt.pem" -pubout 2>/dev/null |
	"$PYTHON3" -c 'import json, sys; print(json.dumps({"assertion_public_key": sys.stdin.read()}))' \
	>"$T/conf/pkjwt.json" || fail "openssl pkey -pubout"
# an RSA key for the GitHub App, and a service account's JSON key around it
# (test_github_app, test_google_service_account); the mock's Google
# endpoint is the key's token_uri
(umask 077; "$OPENSSL" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$T/home/alice/.config/pam_bearer/rsa.pem" 2>/dev/null) || fail "openssl genpkey"
"$OPENSSL" pkey -in "$T/home/alice/.config/pam_bearer/rsa.pem" -pubout 2>/dev/null |
	"$PYTHON3" -c 'import json, sys; print(json.dumps({"assertion_public_key": sys.stdin.read()}))' \
	>"$T/conf/rsa.json" || fail "openssl pkey -pubout"
(umask 077; "$PYTHON3" -c 'import json, sys
print(json.dumps({"type": "service_account", "private_key_id": "0123456789abcdef",
                  "private_key": open(sys.argv[1]).read(), "token_uri": sys.argv[2],
                  "client_email": "svc@pam-bearer-test.iam.gserviceaccount.com"}))' \
	"$T/home/alice/.config/pam_bearer/rsa.pem" "$MOCK/google/token" \
	>"$T/home/alice/.config/pam_bearer/gcp.json") || fail "the service account key"
own -R "$AU:$AG" "$T/run/$AU" "$T/home/alice"
if [ "$ROOT" = 1 ]; then
	# the admin store, root:_pam_bearer 0750; the test writes alice's file
	# (with a fresh canary)
	mkdir -m 0750 "$T/credentials.d"
	chown "0:$SG" "$T/credentials.d"
fi

# ------------------------------------------------------------------ configs
defaults() { # [extra lines]
	echo "[defaults]"
	echo "vendor_dir = $VENDOR_DIR"
	echo "ca_file = $T/ca.pem"
	echo "timeout = 2"
	[ $# -gt 0 ] && printf '%s\n' "$@"
	true
}
profile() { # NAME VENDOR BASE_URL [extra lines]
	printf '\n[profile %s]\nvendor = %s\nbase_url = %s\ncredentials = user\n' "$1" "$2" "$3"
	shift 3
	[ $# -gt 0 ] && printf '%s\n' "$@"
	true
}
{ defaults; profile apivideo apivideo "$MOCK"; profile unith unith "$MOCK"; } >"$T/conf/main.conf"
{ defaults; profile apivideo apivideo "https://127.0.0.1:$CLOSED_PORT"; } >"$T/conf/down.conf"
# a host without logind: the stand-in runtime dirs go to T/pb/users
{ defaults "broker_socket = $T/pb/broker.sock"; profile apivideo apivideo "$MOCK"; } >"$T/conf/nologind.conf"
{ defaults; profile apivideo apivideo "$MOCK" "users = bob" "groups = nosuchgroup"; } >"$T/conf/onlybob.conf"
{ defaults; profile apivideo apivideo "$MOCK" "users = bob" "groups = grp300"; } >"$T/conf/grp300.conf"
# oauth2 with private_key_jwt: the login signs with alice's key (test_private_key_jwt)
{ defaults; profile pkjwt oauth2 "$MOCK" "client_auth = private_key_jwt"; } >"$T/conf/pkjwt.conf"
# the two presets that sign: a GitHub App, a Google service account
{ defaults; profile github github-app "$MOCK"; } >"$T/conf/github.conf"
{ defaults; printf '\n[profile gcp]\nvendor = google-service-account\nscope = https://www.googleapis.com/auth/cloud-platform\ncredentials = user\n'; } >"$T/conf/gcp.conf"
# WLCG Bearer Token Discovery for apivideo (test_wlcg_discovery)
{ defaults "wlcg_discovery = apivideo"; profile apivideo apivideo "$MOCK"; profile unith unith "$MOCK"; } >"$T/conf/wlcg.conf"
# a profile the refresher started from main.conf does not know (so a
# session with it takes the slow path while that refresher runs)
{ defaults; profile unith2 unith "$MOCK"; } >"$T/conf/solo.conf"
# line 5 is not INI: the module must name broken.conf:5
{
	echo "# a broken config"
	echo "[defaults]"
	echo "vendor_dir = $VENDOR_DIR"
	echo "ca_file = $T/ca.pem"
	echo "this line has no equals sign"
	profile apivideo apivideo "$MOCK"
} >"$T/conf/broken.conf"
if [ "$ROOT" = 1 ]; then
	# An admin-held secret for alice. The mock accepts only its fixed
	# api.video key, so the body carries that plus the secret under test
	# (${api_key}, from credentials.d/alice): the canary then travels the
	# whole way the service account takes it (admin store -> pam-system ->
	# bearer-fetch -> HTTPS body), and a secret that did not arrive fails
	# the template. The service account's state goes to T/pb/broker.
	{
		defaults "system_credentials_dir = $T/credentials.d" "broker_socket = $T/pb/broker.sock"
		printf '\n[profile sysvideo]\nvendor = apivideo\nbase_url = %s\ncredentials = system\n' "$MOCK"
		echo 'token.body = {"apiKey": "test-apivideo-key", "canary": "${api_key}"}'
	} >"$T/conf/sys.conf"
fi
chmod 0644 "$T"/conf/*.conf

# ------------------------------------------------------------------ services
# pam_env puts XDG_RUNTIME_DIR into the PAM environment; its result is
# ignored ([default=ignore]) and pam_bearer is "required", so the stack's
# result is pam_bearer's own: PAM_SUCCESS -> PAM_SUCCESS, PAM_SESSION_ERR ->
# PAM_SESSION_ERR, and PAM_IGNORE -> PAM_PERM_DENIED (libpam's answer when
# no module decided).
M=$PAM_TEST_MODULE_SO
service() { # NAME RUNTIME_DIR|- MODULE-ARGS...
	local name=$1 rundir=$2
	shift 2
	{
		if [ "$rundir" != - ]; then
			echo "XDG_RUNTIME_DIR DEFAULT=$rundir" >"$T/env/$name.conf"
			echo "session [default=ignore] pam_env.so readenv=0 user_readenv=0 conffile=$T/env/$name.conf"
		fi
		echo "session required $M $*"
	} >"$T/services/$name"
}
C=$T/conf
R=$T/run/$AU
service pb            "$R" "config=$C/main.conf profiles=apivideo nodaemon debug"
service pb_subset     "$R" "config=$C/main.conf profiles=unith nodaemon"
service pb_fail       "$R" "config=$C/main.conf profiles=apivideo nodaemon onerror=fail"
service pb_hang       "$R" "config=$C/main.conf profiles=apivideo nodaemon timeout=1"
service pb_down       "$R" "config=$C/down.conf nodaemon"
service pb_nobody     "$R" "config=$C/onlybob.conf nodaemon debug"
service pb_grp300     "$R" "config=$C/grp300.conf nodaemon"
service pb_wlcg       "$R" "config=$C/wlcg.conf nodaemon"
service pb_pkjwt      "$R" "config=$C/pkjwt.conf nodaemon"
service pb_github     "$R" "config=$C/github.conf nodaemon"
service pb_gcp        "$R" "config=$C/gcp.conf nodaemon"
service pb_wlcg_unith "$R" "config=$C/wlcg.conf nodaemon profiles=unith"
service pb_broken     "$R" "config=$C/broken.conf nodaemon"
service pb_unknownopt "$R" "config=$C/main.conf profiles=apivideo nodaemon frobnicate=yes"
service pb_badtimeout "$R" "config=$C/main.conf profiles=apivideo nodaemon timeout=abc"
service pb_badonerror "$R" "config=$C/main.conf profiles=apivideo nodaemon onerror=maybe"
service pb_minuid     "$R" "config=$C/main.conf profiles=apivideo nodaemon debug minimum_uid=$((AU + 1))"
service pb_ignoreroot "$R" "config=$C/main.conf profiles=apivideo nodaemon debug ignore_root"
service pb_norundir   "$T/run/missing-$AU" "config=$C/main.conf profiles=apivideo nodaemon"
service pb_noenv      -   "config=$C/nologind.conf nodaemon"
service pb_linkrundir "$T/run/link-$AU" "config=$C/main.conf profiles=apivideo nodaemon"
# with the refresher (no nodaemon): the session-lifecycle tests
service pb_daemon       "$R" "config=$C/main.conf profiles=apivideo"
service pb_daemon_solo  "$R" "config=$C/solo.conf"
service pb_daemon_t1    "$R" "config=$C/main.conf profiles=apivideo timeout=1"
if [ "$ROOT" = 1 ]; then
	service pb_sys        "$R" "config=$C/sys.conf nodaemon timeout=5"
	service pb_foreignrundir "$T/run/foreign-$AU" "config=$C/main.conf profiles=apivideo nodaemon"
fi
printf '%s required pam_deny.so\n' auth account password session >"$T/services/other"

# ------------------------------------------------------------------ run
PRELOAD="$PAM_WRAPPER_SO:$NSS_WRAPPER_SO"
[ "$ROOT" = 1 ] || PRELOAD="$PAM_WRAPPER_SO:$UID_WRAPPER_SO:$NSS_WRAPPER_SO"
if [ -n "${ASAN_RUNTIME:-}" ]; then
	# ASan's runtime must come first in the initial library list
	PRELOAD="$ASAN_RUNTIME:$PRELOAD"
	export PAM_WRAPPER_DISABLE_DEEPBIND=1 NSS_WRAPPER_DISABLE_DEEPBIND=1 UID_WRAPPER_DISABLE_DEEPBIND=1
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
fi
if [ "$ROOT" = 0 ]; then
	# fake root for the module: getuid() == geteuid() == 0, so it takes
	# the privileged paths (pam_modutil_drop_priv, the child's setgroups/
	# setgid/setuid). The config under T belongs to this user, which the
	# module trusts because it is the euid the process started with
	# (AT_EUID, which uid_wrapper does not fake).
	export UID_WRAPPER=1 UID_WRAPPER_ROOT=1
fi
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy NO_PROXY no_proxy \
	SSLKEYLOGFILE BEARER_CONFIG BEARER_TOKEN_DIR XDG_RUNTIME_DIR
export PB_TEST_DIR=$T PB_TEST_ROOT=$ROOT PB_TEST_UID=$AU PB_TEST_GID=$AG PB_TEST_SVC_UID=$SU PB_TEST_SVC_GID=$SG \
	PB_TEST_BOB_UID=$BU PB_TEST_LOWUID=$LU PB_MOCK_URL=$MOCK PB_TEST_CA=$T/ca.pem \
	PB_MOCK_CTL=${MOCK_CTL_PORT:+http://127.0.0.1:$MOCK_CTL_PORT} \
	BEARER_TOKEN_BIN
echo "# T=$T root=$ROOT alice=$AU bob=${BU:-none} mock=$MOCK control=${PB_MOCK_CTL:-$MOCK}"
# in the foreground (not exec), so that the EXIT trap stops the mock
rc=0
env LD_PRELOAD="$PRELOAD" \
	PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" \
	PAM_WRAPPER_DEBUGLEVEL="${PAM_WRAPPER_DEBUGLEVEL:-2}" \
	NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group" NSS_WRAPPER_HOSTS="$T/hosts" \
	"$@" || rc=$?
exit $rc
