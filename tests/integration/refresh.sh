#!/bin/bash
# SPDX-License-Identifier: MIT
# refresh.sh - renewing tokens: api.video's rotating refresh tokens and the
# fall-back to the API key, Rythmex JWT refresh with and without rotation,
# `get --min-valid`, and `get` renewing a token inside its refresh margin.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
pb_setup

# state_has P TOKEN : P.state holds TOKEN
state_has() { grep -qF -- "$2" "$TOKDIR/$1.state" 2>/dev/null; }

echo "# api.video: refresh rotates both tokens"
expect_exit 0 bt get apivideo
tok1=$OUT
r1=$(mock_latest_refresh apivideo)
state_has apivideo "$r1" || fail "apivideo.state does not hold the first refresh token"
ok "apivideo.state holds the first refresh token"
state1=$(<"$TOKDIR/apivideo.state")
expect_exit 0 bt refresh apivideo
assert_lines "$OUT" 1 "refresh prints one line"
assert_contains "$OUT" apivideo "refresh line names the profile"
assert_eq "$(mock_count /auth/refresh)" 1 "refresh used /auth/refresh"
assert_eq "$(mock_count /auth/api-key)" 1 "no new API key exchange"
assert_eq "$(mock_last /auth/refresh refresh_token)" "$r1" "the refresh token sent is the latest one"
assert_eq "$(mock_last /auth/refresh status)" 200 "the vendor accepted it"
tok2=$(<"$TOKDIR/apivideo.token")
[ "$tok2" != "$tok1" ] || fail "access token unchanged after refresh"
ok "new access token on disk"
assert_eq "$(whoami "$TOKDIR/apivideo.header")" 200 "new access token works"
r2=$(mock_latest_refresh apivideo)
[ "$r2" != "$r1" ] || fail "mock did not rotate"
state_has apivideo "$r2" || fail "apivideo.state does not hold the rotated refresh token"
ok "apivideo.state holds the rotated refresh token"
[ "$(<"$TOKDIR/apivideo.state")" != "$state1" ] && ! state_has apivideo "$r1" || fail "old refresh token still stored"
ok "old refresh token gone from apivideo.state"
assert_not_contains "$(<"$TOKDIR/apivideo.json")" "$r2" "apivideo.json does not hold the refresh token"
assert_mode "$TOKDIR/apivideo.state" 600
assert_contains "$(mock_post /auth/refresh "{\"refreshToken\": \"$r1\"}")" "The refresh token is invalid." \
	"the mock now refuses the old refresh token"

echo "# api.video: a refused refresh token falls back to the API key"
mock_ctl /_mock/revoke-refresh
n=$(mock_count /auth/refresh)
expect_exit 0 bt refresh apivideo
assert_eq "$(mock_count /auth/refresh)" $((n + 1)) "tried /auth/refresh first"
assert_eq "$(mock_last /auth/refresh status)" 401 "which was refused"
assert_eq "$(mock_count /auth/api-key)" 2 "then exchanged the API key"
assert_eq "$(mock_last /auth/api-key status)" 200 "which succeeded"
tok3=$(<"$TOKDIR/apivideo.token")
[ "$tok3" != "$tok2" ] || fail "token unchanged after the fall-back"
assert_eq "$(whoami "$TOKDIR/apivideo.header")" 200 "token from the fall-back works"
state_has apivideo "$(mock_latest_refresh apivideo)" || fail "new refresh token not stored after the fall-back"
ok "refresh token from the fall-back stored"
expect_exit 0 bt refresh apivideo
assert_eq "$(mock_last /auth/refresh status)" 200 "next refresh uses the fall-back's refresh token"

echo "# rythmex-jwt: refresh without rotation keeps the refresh token"
expect_exit 0 bt get rythmex-jwt
j1=$OUT
rr1=$(mock_latest_refresh rythmex-jwt)
state_has rythmex-jwt "$rr1" || fail "rythmex-jwt.state lacks the refresh token"
ok "rythmex-jwt.state holds the refresh token"
expect_exit 0 bt refresh rythmex-jwt
P=/api/v1/auth/jwt/refresh/
assert_eq "$(mock_count $P)" 1 "refresh used jwt/refresh/"
assert_eq "$(mock_last $P refresh_token)" "$rr1" "with the stored refresh token"
assert_eq "$(mock_last $P status)" 200 "accepted"
j2=$(<"$TOKDIR/rythmex-jwt.token")
[ "$j2" != "$j1" ] || fail "rythmex-jwt access token unchanged"
assert_eq "$(whoami "$TOKDIR/rythmex-jwt.header")" 200 "new rythmex-jwt token works"
state_has rythmex-jwt "$rr1" || fail "refresh token lost when the vendor sent none"
ok "refresh token kept when the answer has none"
expect_exit 0 bt refresh rythmex-jwt
assert_eq "$(mock_last $P refresh_token)" "$rr1" "second refresh reuses it"

echo "# rythmex-jwt: refresh with rotation stores the new refresh token"
mock_config '{"rythmex_rotate": true}'
expect_exit 0 bt refresh rythmex-jwt
rr2=$(mock_latest_refresh rythmex-jwt)
[ "$rr2" != "$rr1" ] || fail "mock did not rotate"
state_has rythmex-jwt "$rr2" || fail "rotated rythmex refresh token not stored"
ok "rotated refresh token stored"
expect_exit 0 bt refresh rythmex-jwt
assert_eq "$(mock_last $P refresh_token)" "$rr2" "next refresh sends the rotated token"
assert_eq "$(mock_last $P status)" 200 "accepted"
assert_eq "$(mock_count /api/v1/auth/jwt/create/)" 1 "no new login needed"

echo "# get --min-valid"
mock_config '{"lifetime": 600}'
expect_exit 0 bt refresh unith
u1=$(<"$TOKDIR/unith.token")
n=$(mock_count /auth/token)
expect_exit 0 bt get unith --min-valid 500
assert_eq "$OUT" "$u1" "--min-valid 500 with 600 s left: same token"
assert_eq "$(mock_count /auth/token)" "$n" "--min-valid 500: no request"
mock_config '{"lifetime": 3600}'
expect_exit 0 bt get unith --min-valid 1000
[ "$OUT" != "$u1" ] || fail "--min-valid 1000 with 600 s left did not renew"
assert_eq "$(mock_count /auth/token)" $((n + 1)) "--min-valid 1000: one new exchange"
assert_eq "$OUT" "$(<"$TOKDIR/unith.token")" "--min-valid: printed token is the stored one"
jload "$TOKDIR/unith.json"
left=$(( ${J[expires_at@]:-0} - $(now) ))
[ "$left" -gt 1000 ] || fail "renewed token has only $left s left"
ok "renewed token outlives --min-valid"

echo "# a 4-second token is renewed by get once inside its margin"
mock_config '{"lifetime": 4}'
expect_exit 0 bt refresh apivideo
a1=$(<"$TOKDIR/apivideo.token")
n=$(mock_total)
expect_exit 0 bt get apivideo
assert_eq "$OUT" "$a1" "fresh 4 s token served from disk"
assert_eq "$(mock_total)" "$n" "no request while outside the margin"
sleep 3.5
expect_exit 0 bt get apivideo
[ "$OUT" != "$a1" ] || fail "get inside the margin returned the old token"
assert_eq "$(mock_total)" $((n + 1)) "get inside the margin renewed (one request)"
assert_eq "$(mock_last /auth/refresh status)" 200 "renewed with the refresh token"
assert_eq "$(whoami "$TOKDIR/apivideo.header")" 200 "renewed token works"
echo "# concurrent gets fetch once"
mock_config '{"lifetime": 3600}'
mock_fault /api/v1/auth/login/ slow '"delay": 1'
pids=
for i in 1 2 3; do
	bt get hautai-login >"$T/par.$i" 2>&1 &
	pids="$pids $!"
done
i=0
for pid in $pids; do wait "$pid" || i=$((i + 1)); done
mock_fault /api/v1/auth/login/ none
assert_eq "$i" 0 "three concurrent gets all succeed"
assert_eq "$(mock_count /api/v1/auth/login/)" 1 "only one of them logged in"
t=$(<"$TOKDIR/hautai-login.token")
for i in 1 2 3; do assert_eq "$(<"$T/par.$i")" "$t" "concurrent get $i printed the stored token"; done
pb_done
