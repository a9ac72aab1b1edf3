#!/bin/bash
# examples/demo.sh - `make demo`: the whole job on a built-in default.
#
# A local mock of api.video (TLS, throw-away CA) plays the vendor; a real
# libpam session is opened for a throw-away user "demo" with pamtester,
# through pam_wrapper/nss_wrapper so nothing on this machine changes; the
# module runs bearer-token as that user, the token files appear, and curl
# uses the header file against the mock's protected resource. A second
# session then shows the fast path: no request at all.
set -u
: "${BEARER_TOKEN_BIN:?run me with make demo}"
. "$TESTS_SRCDIR/lib.sh"

if [ -t 1 ]; then say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else say() { printf '\n== %s\n' "$*"; }; fi
command -v pamtester >/dev/null || skip "pamtester is not installed (.ci/install-deps installs it)"
[ -n "${PAM_WRAPPER_SO:-}" ] && [ -n "${NSS_WRAPPER_SO:-}" ] || skip "cwrap libraries not found"

T=$(mktemp -d "${TMPDIR:-/tmp}/pam_bearer-demo.XXXXXX")
chmod 0755 "$T"
trap pb_cleanup EXIT

# The demo user: our own uid when unprivileged (uid_wrapper then plays
# root for the module), else a throw-away uid the module really drops to.
if [ "$(id -u)" -eq 0 ]; then U=4242 G=4242 PRELOAD="$PAM_WRAPPER_SO:$NSS_WRAPPER_SO"
else U=$(id -u) G=$(id -g) PRELOAD="$PAM_WRAPPER_SO:$UID_WRAPPER_SO:$NSS_WRAPPER_SO"; fi

make_certs "$T"
start_mock MOCK --cert "$T/server.pem" --key "$T/server.key"
MOCK="https://127.0.0.1:$MOCK_PORT" CTL_PORT=$MOCK_CTL_PORT

mkdir -p "$T/services" "$T/run/$U" "$T/home/.config/pam_bearer"
printf 'root:x:0:0:root:/root:/bin/sh\ndemo:x:%s:%s:Demo:%s:/bin/sh\n' "$U" "$G" "$T/home" >"$T/passwd"
printf 'root:x:0:\ndemo:x:%s:\n' "$G" >"$T/group"
cat >"$T/pam_bearer.conf" <<EOF
[defaults]
vendor_dir = $VENDOR_DIR
ca_file = $T/ca.pem
timeout = 5

[profile apivideo]
vendor = apivideo
base_url = $MOCK
EOF
printf '[apivideo]\napi_key = test-apivideo-key\n' >"$T/home/.config/pam_bearer/credentials"
chmod 0600 "$T/home/.config/pam_bearer/credentials"
chmod 0700 "$T/run/$U" "$T/home/.config/pam_bearer"
chmod 0644 "$T/pam_bearer.conf" "$T/ca.pem"
[ "$(id -u)" -eq 0 ] && chown -R "$U:$G" "$T/run/$U" "$T/home"
# pam_env stands in for pam_systemd, which would set XDG_RUNTIME_DIR
echo "XDG_RUNTIME_DIR DEFAULT=$T/run/$U" >"$T/pam_env.conf"
cat >"$T/services/bearer-demo" <<EOF
session required pam_env.so readenv=0 conffile=$T/pam_env.conf
session optional $PAM_TEST_MODULE_SO config=$T/pam_bearer.conf
EOF
echo "session required pam_deny.so" >"$T/services/other"

pam() {
	env LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" \
	    PAM_WRAPPER_DEBUGLEVEL=2 UID_WRAPPER=1 UID_WRAPPER_ROOT=1 \
	    NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group" \
	    pamtester -v bearer-demo demo open_session close_session 2>&1 |
		sed -e 's/^PWRAP_[A-Z]*\[[^]]*\] - SYSLOG([0-9]*): /  syslog: /' -e '/PWRAP_/d'
}

say "The PAM stack (service 'bearer-demo')"
sed 's/^/  /' "$T/services/bearer-demo"
say "Session 1 for user 'demo' (uid $U): the module fetches a token"
pam
say "The token dir"
ls -l "$T/run/$U/bearer" | sed 's/^/  /'
say "apivideo.json"
sed 's/^/  /' "$T/run/$U/bearer/apivideo.json"
say "curl -H @\$BEARER_TOKEN_DIR/apivideo.header $MOCK/v1/whoami"
code=$(mock_curl -w ' (HTTP %{http_code})' -H @"$T/run/$U/bearer/apivideo.header" "$MOCK/v1/whoami")
echo "  $code"
before=$(mock_count /auth/api-key)
say "Session 2: the token is still good, so no request is made"
pam
echo "  requests to /auth/api-key: before $before, after $(mock_count /auth/api-key)"
case "$code" in *"HTTP 200"*) say "Demo done";; *) echo "demo failed"; exit 1;; esac
