#!/bin/bash
# SPDX-License-Identifier: MIT
# examples/demo.sh - `make demo`: the whole job on a built-in default.
#
# A local mock of the vendors (TLS, throw-away CA) plays api.video; a real
# libpam session is opened for a throw-away user "demo" with pamtester,
# through pam_wrapper/nss_wrapper so nothing on this machine changes; the
# module runs bearer-token as that user, the token files appear, and curl
# uses the header file against the mock's protected resource. A second
# session then makes no request at all: the token on disk is still good.
set -u
: "${BEARER_TOKEN_BIN:?run me with make demo}"
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/pam_world.sh"

if [ -t 1 ]; then say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else say() { printf '\n== %s\n' "$*"; }; fi
command -v pamtester >/dev/null || skip "pamtester is not installed (.ci/install-deps installs it)"

T=$(mktemp -d "${TMPDIR:-/tmp}/pam_bearer-demo.XXXXXX")
chmod 0755 "$T"
trap pb_cleanup EXIT

pam_world demo
pam_service bearer-demo profiles=apivideo

pam() {
	PAM_WRAPPER_DEBUGLEVEL=2 in_pam pamtester -v bearer-demo demo open_session close_session 2>&1 |
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
