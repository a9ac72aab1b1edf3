#!/bin/bash
# SPDX-License-Identifier: MIT
# faults.sh - a vendor misbehaving in every way we know of. Each time: a
# valid token is on disk, the mock is told to fail, `bearer-token refresh`
# must fail with the right exit code and one telling line on stderr, and
# the token files must stay byte-for-byte as they were, .json still
# "valid" with last_error set, and `get` must keep serving the old token.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
pb_setup

P=apivideo
expect_exit 0 bt get $P

# fault_case NAME CODE PHRASE-ERE [MAX-SECONDS] : run `refresh` and check it
fault_case() {
	local name=$1 code=$2 phrase=$3 max=${4:-3} t0 ms tok='' hdr='' n
	echo "# $name"
	IFS= read -r -d '' tok <"$TOKDIR/$P.token"
	IFS= read -r -d '' hdr <"$TOKDIR/$P.header"
	t0=${EPOCHREALTIME/./}
	expect_exit "$code" bt refresh $P
	ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
	[ "$ms" -le $((max * 1000)) ] || fail "$name: took $ms ms"
	assert_lines "$ERR" 1 "$name: one line on stderr"
	assert_match "$ERR" '^bearer-token: ' "$name: message starts with 'bearer-token: '"
	assert_contains "$ERR" "$P" "$name: message names the profile"
	assert_match "$ERR" "$phrase" "$name: message says why"
	assert_not_contains "$ERR" test-apivideo-key "$name: message holds no secret"
	raw_eq "$TOKDIR/$P.token" "$tok" && raw_eq "$TOKDIR/$P.header" "$hdr" ||
		fail "$name: $P.token or $P.header changed"
	ok "$name: .token and .header unchanged"
	jload "$TOKDIR/$P.json"
	assert_eq "${J[state]-}" valid "$name: .json state still valid"
	assert_match "${J[last_error]-}" "$phrase" "$name: .json last_error says why"
	assert_mode "$TOKDIR/$P.json" 600
	n=$(mock_total)
	expect_exit 0 bt get $P
	assert_eq "$OUT" "$tok" "$name: get still serves the old token"
	assert_eq "$(mock_total)" "$n" "$name: get made no request"
}
clear_faults() { mock_fault '*' none; mock_fault /auth/api-key none; mock_fault /auth/refresh none; }
# with_fault MODE [EXTRA] CODE PHRASE : fault on both api.video endpoints
with_fault() {
	local mode=$1 extra=$2; shift 2
	mock_fault '*' "$mode" "$extra"
	fault_case "$mode" "$@"
	clear_faults
}

with_fault 500 "" 1 'HTTP 500'
with_fault 503 "" 1 'HTTP 503'
with_fault 429 '"retry_after": 37' 1 'HTTP 429.*37|37.*HTTP 429'
d=$(( ${J[next_attempt_at@]:-0} - $(now) ))
[ "$d" -ge 30 ] && [ "$d" -le 40 ] || fail "429: next_attempt_at is now+$d, want ~37 (Retry-After)"
ok "429: next_attempt_at honours Retry-After"
with_fault malformed "" 1 'json|malformed|pars|invalid|unexpected|truncat'
with_fault html "" 1 'json|html|content.type|malformed|pars|invalid'
with_fault oversize "" 1 'large|big|size|exceed|limit|bytes'
with_fault missing-field "" 1 'access_token|missing|no token|not found|field'
with_fault wrong-type "" 1 'access_token|type|string|invalid'
with_fault expired-jwt "" 1 'expire|exp|past'
with_fault ctrl-token "" 1 'control|character|invalid|refus'
! grep -rqs X-Injected "$TOKDIR" || fail "ctrl-token: injected header text reached the token dir"
ok "ctrl-token: nothing injected into the token dir"
with_fault space-token "" 1 'space|character|invalid|refus'
with_fault bad-creds "" 4 'HTTP 400.*The user credentials were incorrect'
with_fault redirect "" 1 'HTTP 302|redirect'
with_fault not-found "" 1 'HTTP 404'
with_fault 401 "" 4 'HTTP 401'
with_fault 403 "" 4 'HTTP 403'

echo "# nonsense expires_in values"
for v in -5 0 '"abc"' 99999999999; do
	mock_config "{\"expires_in\": $v}"
	fault_case "expires_in=$v" 1 'expires_in|expir|lifetime'
done
mock_reset      # fresh config; the token on disk stays valid
expect_exit 0 bt refresh $P

echo "# 403 on the exchange itself (no refresh token to try)"
mock_ctl /_mock/revoke-refresh
mock_fault /auth/api-key 403
fault_case "403 on /auth/api-key" 4 'HTTP 403'
clear_faults
expect_exit 0 bt refresh $P

echo "# the vendor is down when the token runs out: nothing stale is handed out"
mock_config '{"lifetime": 2}'
expect_exit 0 bt refresh unith
mock_fault /auth/token 503
sleep 2.1
expect_exit 1 bt get unith
assert_eq "$OUT" "" "expired token not printed"
assert_contains "$ERR" "HTTP 503" "get says why"
jload "$TOKDIR/unith.json"
assert_eq "${J[state]}" expired "unith.json says expired"
[ ! -e "$TOKDIR/unith.token" ] && [ ! -e "$TOKDIR/unith.header" ] ||
	fail "the dead token's files are still there"
ok "the dead token's .token and .header are removed"
expect_exit 1 bt get unith --header
assert_eq "$OUT" "" "expired header not printed"
mock_fault /auth/token none
mock_config '{"lifetime": 3600}'
expect_exit 0 bt get unith
assert_eq "$(whoami "$TOKDIR/unith.header")" 200 "vendor back: a fresh token"

echo "# a slow vendor within the timeout is fine"
mock_fault '*' slow '"delay": 1'
expect_exit 0 bt refresh $P
assert_eq "$(whoami "$TOKDIR/$P.header")" 200 "slow: token obtained"
clear_faults

echo "# a vendor that never answers hits the timeout"
profile_set $P timeout 1
mock_fault '*' hang
fault_case hang 1 'tim(e|ed)[ -]?out|timeout' 3
clear_faults
profile_del $P timeout

echo "# nobody listening"
profile_del $P base_url
profile_set $P base_url https://127.0.0.1:1
fault_case "connection refused" 1 'connect|refused|reach'
pb_done
