#!/bin/bash
# SPDX-License-Identifier: MIT
# safety.sh - what must be refused: unsafe credentials files, a token dir
# that is a symlink or someone else's, http:// off loopback, unverified TLS,
# tokens with control characters; and what must never leak: the secrets.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
pb_setup

ALL="$T/all-output"   # everything every command printed, checked for secrets
: >"$ALL"
# xrun CODE cmd... : expect_exit, and keep the output for the secrets check
xrun() { expect_exit "$@"; printf '%s\n%s\n' "$OUT" "$ERR" >>"$ALL"; }
saved() { cp "$TOKDIR/$1.token" "$T/saved.token"; cp "$TOKDIR/$1.header" "$T/saved.header"; }
unchanged() {
	cmp -s "$T/saved.token" "$TOKDIR/$1.token" && cmp -s "$T/saved.header" "$TOKDIR/$1.header" ||
		fail "$2: $1 token files changed"
	ok "$2: $1 token untouched"
}

xrun 0 bt get unith
xrun 0 bt get apivideo
saved unith

echo "# credentials file mode 0644"
chmod 0644 "$CREDS"
xrun 3 bt refresh unith
assert_lines "$ERR" 1 "0644 credentials: one line"
assert_contains "$ERR" "$CREDS" "0644 credentials: message names the file"
assert_match "$ERR" '0600|permission|mode' "0644 credentials: message says why"
unchanged unith "0644 credentials"
xrun 3 bt check-config
assert_contains "$ERR" "$CREDS" "check-config refuses the 0644 credentials file"
# a refresh token would do, but a world-readable secret must not go unnoticed
saved apivideo
xrun 3 bt refresh apivideo
assert_contains "$ERR" "$CREDS" "0644 credentials reported even with a refresh token"
unchanged apivideo "0644 credentials, refresh-token profile"
saved unith
chmod 0600 "$CREDS"

echo "# credentials file that is a symlink"
mv "$CREDS" "$T/real-credentials"
ln -s "$T/real-credentials" "$CREDS"
xrun 3 bt refresh unith
assert_contains "$ERR" "$CREDS" "symlinked credentials: message names the file"
unchanged unith "symlinked credentials"
rm "$CREDS"; mv "$T/real-credentials" "$CREDS"
xrun 0 bt refresh unith

echo "# config file writable by others"
chmod 0666 "$BEARER_CONFIG"
xrun 3 bt check-config
assert_contains "$ERR" "$BEARER_CONFIG" "world-writable config refused, naming it"
chmod 0644 "$BEARER_CONFIG"

echo "# token dir that is a symlink"
mv "$TOKDIR" "$T/old-tokdir"
mkdir -m 0700 "$T/elsewhere"
ln -s "$T/elsewhere" "$TOKDIR"
n=$(mock_total)
xrun 5 bt get unith
assert_lines "$ERR" 1 "symlinked token dir: one line"
assert_eq "$(ls -A "$T/elsewhere")" "" "nothing written through the symlinked token dir"
assert_eq "$(mock_total)" "$n" "symlinked token dir: checked before any request"
rm "$TOKDIR"

echo "# token dir with group/other access"
mkdir -m 0755 "$TOKDIR"
xrun 5 bt get unith
assert_eq "$(ls -A "$TOKDIR")" "" "nothing written into a 0755 token dir"
rmdir "$TOKDIR"

echo "# runtime dir that is a symlink"
mkdir -m 0700 "$T/run2"
ln -s "$T/run2" "$T/runlink"
xrun 5 env XDG_RUNTIME_DIR="$T/runlink" "$BEARER_TOKEN_BIN" get unith
assert_eq "$(ls -A "$T/run2")" "" "nothing written under a symlinked runtime dir"
mv "$T/old-tokdir" "$TOKDIR"

echo "# a token file that is a symlink is replaced, never written through"
echo "do not touch" >"$T/victim"
rm -f "$TOKDIR/unith.token"
ln -s "$T/victim" "$TOKDIR/unith.token"
run_cmd bt refresh unith
printf '%s\n%s\n' "$OUT" "$ERR" >>"$ALL"
assert_eq "$(<"$T/victim")" "do not touch" "symlink target untouched (refresh exited $RC)"
if [ "$RC" -eq 0 ]; then
	[ -f "$TOKDIR/unith.token" ] && [ ! -L "$TOKDIR/unith.token" ] || fail "unith.token still a symlink after success"
	ok "unith.token replaced by a regular file"
fi
rm -f "$TOKDIR/unith.token"; xrun 0 bt refresh unith

echo "# token dir owned by someone else"
if [ "$(id -u)" -eq 0 ]; then
	saved unith
	chown nobody "$TOKDIR"
	xrun 5 bt refresh unith
	unchanged unith "token dir owned by nobody"
	chown 0 "$TOKDIR"
	chown nobody "$TOKDIR/unith.json"
	run_cmd bt refresh unith
	[ "$RC" -ne 0 ] || [ "$(stat -c %u "$TOKDIR/unith.json")" = 0 ] || fail "wrote through a .json owned by nobody"
	ok "a file owned by someone else is refused or replaced (exit $RC)"
	chown 0 "$TOKDIR/unith.json" 2>/dev/null
	xrun 0 bt refresh unith
else
	echo "# skipped: chown to another user needs root"
fi

echo "# plain http:// only to loopback"
profile_del hautai-login base_url
profile_set hautai-login base_url http://192.0.2.1
t0=${EPOCHREALTIME/./}
xrun 3 bt get hautai-login
[ $(( (${EPOCHREALTIME/./} - t0) / 1000 )) -lt 1500 ] || fail "http:// to 192.0.2.1 was tried (slow refusal)"
ok "http:// to a non-loopback address refused at once"
assert_match "$ERR" 'http|loopback|https' "message says http:// is refused"
[ ! -e "$TOKDIR/hautai-login.token" ] || fail "hautai-login token written"
start_mock PLAIN --plain
profile_del hautai-login base_url
profile_set hautai-login base_url "http://127.0.0.1:$PLAIN_PORT"
xrun 0 bt get hautai-login
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H @"$TOKDIR/hautai-login.header" \
	"http://127.0.0.1:$PLAIN_PORT/v1/whoami")" 200 "plain http to 127.0.0.1 works"

echo "# TLS is verified"
saved apivideo
sed -i '/^ca_file *=/d' "$BEARER_CONFIG"
xrun 1 bt refresh apivideo
assert_match "$ERR" 'certif|verif|TLS|SSL' "untrusted certificate refused, message says so"
unchanged apivideo "untrusted certificate"
sed -i "s|^\[defaults\]\$|[defaults]\nca_file = $T/ca.pem|" "$BEARER_CONFIG"
# a certificate from the trusted CA, but for another name
(cd "$T" && "$OPENSSL" req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout wrong.key \
	-out wrong.csr -subj "/CN=example.com" &&
	"$OPENSSL" x509 -req -in wrong.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out wrong.pem \
		-days 2 -extfile <(echo subjectAltName=DNS:example.com)) >/dev/null 2>&1 || fail "openssl"
start_mock WRONG --cert "$T/wrong.pem" --key "$T/wrong.key"
profile_del unith base_url
profile_set unith base_url "https://127.0.0.1:$WRONG_PORT"
saved unith
xrun 1 bt refresh unith
assert_match "$ERR" 'certif|verif|name|host|TLS|SSL' "certificate for another name refused"
unchanged unith "certificate for another name"
profile_del unith base_url
profile_set unith base_url "$MOCK"

echo "# proxy variables are ignored"
saved apivideo
xrun 0 env https_proxy=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 ALL_PROXY=http://127.0.0.1:1 \
	all_proxy=http://127.0.0.1:1 http_proxy=http://127.0.0.1:1 "$BEARER_TOKEN_BIN" refresh apivideo
assert_eq "$(whoami "$TOKDIR/apivideo.header")" 200 "token fetched directly despite https_proxy"

echo "# a token with control characters never reaches a file"
mock_fault /oauth/token ctrl-token
xrun 1 bt get oauth2
[ ! -e "$TOKDIR/oauth2.token" ] || fail "oauth2.token written from a ctrl-token answer"
! grep -rqs X-Injected "$TOKDIR" || fail "injected text in the token dir"
ok "ctrl-token refused, nothing written"
mock_fault /oauth/token none

echo "# secrets never leak"
xrun 0 bt refresh
xrun 0 bt status
xrun 0 bt status --json
xrun 0 bt check-config
for s in $SECRETS; do
	[ "$s" = "$HAUTAI_TOKEN" ] && continue   # hautai's token is the token itself
	! grep -rqsF -- "$s" "$TOKDIR" || fail "secret $s found under the token dir"
	! grep -qF -- "$s" "$ALL" || fail "secret $s printed by a command"
	! grep -qF -- "$s" "$T"/*.log || fail "secret $s in a header the mock recorded"
done
ok "no secret in the token dir, any output or any recorded header"
! grep -rqsF -- "$HAUTAI_TOKEN" "$TOKDIR"/*.json || fail "hautai token in a .json"
ok "static token not in the .json"
pb_done
