#!/bin/bash
# SPDX-License-Identifier: MIT
# cli.sh - the command line itself: --help/--version, usage errors, unknown
# profiles, check-config on good and broken configs (FILE:LINE), status and
# status --json, refresh of every profile, and the documented exit codes.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
pb_setup

echo "# --help and --version"
expect_exit 0 bt --help
help=$OUT
for c in get status refresh check-config --header --json --min-valid --config; do
	assert_contains "$help" "$c" "--help mentions $c"
done
# the exit codes, each beside words that say what it means
for pair in '0:succe|ok' '1:vendor|network' '2:usage' '3:config' '4:refuse|credential' '5:token|store|dir' '6:internal' \
	'7:status.*no valid token' '8:status.*no profile applies'; do
	printf '%s\n' "$help" | grep -qiE "^[[:space:]]*${pair%%:*}[[:space:]:=-].*(${pair#*:})" ||
		fail "--help does not document exit code ${pair%%:*} (${pair#*:})"
	ok "--help documents exit code ${pair%%:*}"
done
expect_exit 0 bt --version
assert_contains "$OUT" pam_bearer "--version names pam_bearer"
assert_contains "$OUT" 0.1.0 "--version says 0.1.0"

echo "# usage errors exit 2"
usage() {
	expect_exit 2 bt "$@"
	assert_match "$ERR" '^bearer-token: ' "'$*': error starts with 'bearer-token: '"
	assert_eq "$OUT" "" "'$*': nothing on stdout"
}
usage
usage frobnicate
usage --bogus status
usage --config
usage get
usage get apivideo unith
usage get apivideo --min-valid abc
usage get apivideo --min-valid -5
usage get apivideo --bogus
usage status extra
usage status --bogus
usage check-config extra
assert_eq "$(mock_total)" 0 "usage errors made no request"

echo "# unknown profile"
run_cmd bt get nosuchprofile
case $RC in 2 | 3) ok "get nosuchprofile exits $RC" ;; *) fail "get nosuchprofile exits $RC" ;; esac
assert_lines "$ERR" 1 "unknown profile: one line"
assert_match "$ERR" '^bearer-token: .*nosuchprofile' "unknown profile named in the message"
[ ! -e "$TOKDIR/nosuchprofile.json" ] || fail "unknown profile got a .json"
run_cmd bt refresh nosuchprofile
run_cmd bt get api-vidoe
assert_contains "$ERR" "no profile named 'api-vidoe' (did you mean 'apivideo'?)" "a slip in a profile name: did you mean"
assert_not_contains "$(bt get nosuchprofile 2>&1)" "did you mean" "no 'did you mean' for a name like none"
case $RC in 2 | 3) ok "refresh nosuchprofile exits $RC" ;; *) fail "refresh nosuchprofile exits $RC" ;; esac

echo "# check-config"
expect_exit 0 bt check-config
assert_contains "$OUT" "$BEARER_CONFIG" "check-config names the config"
expect_exit 0 env BEARER_CONFIG=/nonexistent "$BEARER_TOKEN_BIN" --config "$BEARER_CONFIG" check-config
assert_contains "$OUT" "$BEARER_CONFIG" "--config wins over BEARER_CONFIG"
expect_exit 3 bt --config "$T/missing.conf" check-config
assert_match "$ERR" "^bearer-token: $T/missing.conf" "missing config: message starts with its path"

# bad_config NAME LINE ERE : write $T/bad.conf from stdin, expect FILE:LINE
bad_config() {
	local name=$1 line=$2 ere=$3 f="$T/bad.conf"
	cat >"$f"; chmod 0644 "$f"
	expect_exit 3 bt --config "$f" check-config
	assert_lines "$ERR" 1 "$name: one line"
	assert_contains "$ERR" "bearer-token: $f:$line:" "$name: names $f:$line"
	assert_match "$ERR" "$ere" "$name: says what is wrong"
	# the other commands refuse it the same way
	expect_exit 3 bt --config "$f" get apivideo
	assert_contains "$ERR" "$f:$line:" "$name: get names $f:$line too"
}
head="[defaults]
vendor_dir = $VENDOR_DIR
ca_file = $T/ca.pem"
bad_config "unknown key" 6 'bogus_key' <<EOF
$head
[profile apivideo]
vendor = apivideo
bogus_key = 1
EOF
bad_config "duplicate key" 7 'base_url' <<EOF
$head
[profile apivideo]
vendor = apivideo
base_url = $MOCK
base_url = $MOCK
EOF
bad_config "unknown vendor" 6 'nosuchvendor' <<EOF
$head

[profile apivideo]
vendor = nosuchvendor
EOF
bad_config "missing vendor" 4 'vendor' <<EOF
$head
[profile apivideo]
base_url = $MOCK
EOF
bad_config "template naming an unknown field" 6 'nosuchfield' <<EOF
$head
[profile apivideo]
vendor = apivideo
token.body = {"apiKey": "\${nosuchfield}"}
EOF
bad_config "bad number" 3 'timeout' <<EOF
[defaults]
vendor_dir = $VENDOR_DIR
timeout = abc
[profile apivideo]
vendor = apivideo
EOF
bad_config "over-long line" 5 'long' <<EOF
$head
[profile apivideo]
base_url = https://127.0.0.1/$(head -c 9000 /dev/zero | tr '\0' a)
vendor = apivideo
EOF
bad_config "key outside a section" 2 'section' <<EOF
# a comment
timeout = 3
$head
EOF
bad_config "bad lifetime in an inline vendor" 9 'lifetime' <<EOF
$head
[vendor acme]
base_url = $MOCK
fields = api_key
token.url = /auth/api-key
token.body = {"apiKey": "\${api_key}"}
lifetime = sometimes
[profile acme]
vendor = acme
EOF

echo "# an inline [vendor] works like a preset"
cat >>"$BEARER_CONFIG" <<EOF

[vendor acme]
base_url = $MOCK
fields = api_key
token.url = /auth/api-key
token.body = {"apiKey": "\${api_key}"}
response.token = access_token
response.expires_in = expires_in
lifetime = 3600
scheme = Bearer

[profile acme]
vendor = acme
EOF
printf '\n[acme]\napi_key = test-apivideo-key\n' >>"$CREDS"
expect_exit 0 bt check-config
expect_exit 0 bt get acme
assert_eq "$(<"$TOKDIR/acme.token")" "$OUT" "inline vendor: token stored"
assert_eq "$(whoami "$TOKDIR/acme.header")" 200 "inline vendor: token works"

echo "# status"
mock_config '{"lifetime": 2}'
expect_exit 0 bt get unith
mock_config '{"lifetime": 3600}'
expect_exit 0 bt get apivideo
sleep 2.2
# unith expired and oauth2 never fetched: not every profile is valid (7)
expect_exit 7 bt status
for p in apivideo unith rythmex-jwt rythmex-apitoken hautai hautai-login oauth2 acme; do
	printf '%s\n' "$OUT" | grep -q "^${p}[[:space:]]" || fail "status lists no line for $p"
done
ok "status lists every profile"
assert_match "$(printf '%s\n' "$OUT" | grep '^apivideo[[:space:]]')" '[[:space:]]valid[[:space:]]' "status: apivideo valid"
assert_match "$(printf '%s\n' "$OUT" | grep '^unith[[:space:]]')" '[[:space:]]expired' "status: unith expired"
assert_not_contains "$(printf '%s\n' "$OUT" | grep '^oauth2[[:space:]]')" ' valid ' "status: oauth2 (never fetched) not valid"
assert_contains "$(printf '%s\n' "$OUT" | grep -A3 '^oauth2[[:space:]]')" \
	"not valid: no token yet: 'bearer-token get oauth2' fetches one" "status: why oauth2 is not valid, and the fix"
assert_contains "$(printf '%s\n' "$OUT" | grep -A3 '^unith[[:space:]]')" \
	"not valid: expired: 'bearer-token get unith' renews it" "status: why unith is not valid, and the fix"
assert_not_contains "$(printf '%s\n' "$OUT" | grep -A1 '^apivideo[[:space:]]')" "not valid" "status: no reason for a valid token"
expect_exit 7 bt status --json
printf '%s' "$OUT" >"$T/status.json"
"$PYTHON3" - "$T/status.json" "$TOKDIR" <<'EOF' || fail "status --json is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
ps = {p["profile"]: p for p in d["profiles"]}
want = "apivideo unith rythmex-jwt rythmex-apitoken hautai hautai-login oauth2 acme".split()
assert sorted(ps) == sorted(want), sorted(ps)
for p in ps.values():
    for k in ("profile", "vendor", "state", "obtained_at", "expires_at", "credentials"):
        assert k in p, (p["profile"], k)
    assert p["credentials"] == "user", p
a = ps["apivideo"]
disk = json.load(open(sys.argv[2] + "/apivideo.json"))
assert a["state"] == "valid" and a["vendor"] == "apivideo", a
assert a["expires_at"] == disk["expires_at"] and a["obtained_at"] == disk["obtained_at"], (a, disk)
assert ps["unith"]["state"] == "expired", ps["unith"]
assert ps["oauth2"]["state"] != "valid" and ps["oauth2"]["expires_at"] is None, ps["oauth2"]
assert a["reason"] is None, a
assert "no token yet" in ps["oauth2"]["reason"], ps["oauth2"]
assert "expired" in ps["unith"]["reason"], ps["unith"]
EOF
ok "status --json: every profile, right states and times"
expect_exit 0 bt get unith
jload "$TOKDIR/unith.json"
assert_eq "${J[state]}" valid "get renews an expired token"

echo "# refresh with no profile renews every profile; exit is the worst code"
expect_exit 0 bt refresh
for p in apivideo unith rythmex-jwt rythmex-apitoken hautai hautai-login oauth2 acme; do
	printf '%s\n' "$OUT" | grep -q "^$p\b" || fail "refresh printed no line for $p"
	jload "$TOKDIR/$p.json"
	[ "${J[state]}" = valid ] || fail "$p not valid after refresh"
done
ok "refresh: a line per profile, all valid"
expect_exit 0 bt status
assert_not_contains "$OUT" "not valid" "status, every profile valid: exit 0, no reasons"
cp "$BEARER_CONFIG" "$T/other.conf"
sed -i 's/^\[profile \(.*\)\]$/[profile \1]\nusers = somebody-else/' "$T/other.conf"
run_cmd bt --config "$T/other.conf" status
assert_eq "$RC" 8 "status with no profile that applies exits 8"
assert_match "$ERR" "^bearer-token: no profile of $T/other.conf applies to " "and says so, naming the config"
run_cmd bt --config "$T/other.conf" status --json
assert_eq "$RC" 8 "status --json with no profile that applies exits 8"
assert_eq "$(printf '%s' "$OUT" | tr -d ' \n')" '{"profiles":[]}' "status --json: an empty list"
mock_fault /auth/token bad-creds
mock_fault /oauth/token 503
run_cmd bt refresh
assert_eq "$RC" 4 "refresh with one refused and one failing profile exits 4 (the worst)"
assert_lines "$ERR" 2 "refresh: one error line per failing profile"
assert_contains "$ERR" "unith" "refresh: unith error reported"
assert_contains "$ERR" "oauth2" "refresh: oauth2 error reported"
printf '%s\n' "$OUT" | grep -q '^apivideo\b' || fail "refresh: other profiles still refreshed"
ok "refresh: other profiles still refreshed"
run_cmd bt refresh oauth2 apivideo
assert_eq "$RC" 1 "refresh oauth2 apivideo exits 1"
pb_done
