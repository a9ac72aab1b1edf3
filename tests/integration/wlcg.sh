#!/bin/bash
# SPDX-License-Identifier: MIT
# wlcg.sh - WLCG Bearer Token Discovery ([defaults] wlcg_discovery =
# PROFILE, issue 15): that profile's token is also kept as
# $XDG_RUNTIME_DIR/bt_u<uid> (the bare token, 0600, replaced atomically),
# renewed and expired with the profile; `get --format=env` exports
# BEARER_TOKEN_FILE for it. A reader written to the convention's four
# steps (tests/wlcg_discover.py) finds the token through each of them.
# (The module's BEARER_TOKEN_FILE: tests/pam, test_wlcg_discovery.)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
. "$TESTS_SRCDIR/refresher.sh"
d_setup
READER=$TESTS_SRCDIR/wlcg_discover.py
BT="$XDG_RUNTIME_DIR/bt_u$(id -u)"
# reader [VAR=VALUE...] : the spec reader with a clean discovery environment; OUT = token, STEP
reader() {
	local out
	out=$(env -u BEARER_TOKEN -u BEARER_TOKEN_FILE "$@" "$PYTHON3" "$READER") || { OUT= STEP=; return 1; }
	OUT=${out%$'\n'*} STEP=${out##*$'\n'}
}

DEFAULTS=("wlcg_discovery = apivideo")
conf apivideo unith
mock_config '{"lifetime": 600}'

echo "# a get writes bt_u<uid> beside the token dir"
[ ! -e "$BT" ] || fail "$BT there before any token"
expect_exit 0 bt get apivideo
tok=$OUT
raw_eq "$BT" "$tok" || fail "bt_u$(id -u) is not the bare token"
ok "bt_u$(id -u) holds exactly apivideo's token (no newline)"
assert_mode "$BT" 600
assert_eq "$(stat -c %u "$BT")" "$(id -u)" "bt_u is the user's"
expect_exit 0 bt get unith
raw_eq "$BT" "$tok" || fail "a get of another profile changed bt_u"
ok "another profile's token does not go to bt_u"

echo "# the reader, step by step"
reader XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR"
assert_eq "$OUT/$STEP" "$tok/step 3" "step 3: \$XDG_RUNTIME_DIR/bt_u<uid>"
eval "$(bt get apivideo --format=env)"
assert_eq "$BEARER_TOKEN_FILE" "$BT" "get --format=env exports BEARER_TOKEN_FILE for the discovery profile"
reader BEARER_TOKEN_FILE="$BEARER_TOKEN_FILE" XDG_RUNTIME_DIR=/nonexistent
assert_eq "$OUT/$STEP" "$tok/step 2" "step 2: BEARER_TOKEN_FILE"
reader BEARER_TOKEN="$BEARER_TOKEN" BEARER_TOKEN_FILE=/nonexistent
assert_eq "$OUT/$STEP" "$tok/step 1" "step 1: BEARER_TOKEN (get --format=env)"
unset BEARER_TOKEN BEARER_TOKEN_FILE BEARER_TOKEN_EXPIRES_AT
expect_exit 0 bt get unith --format=env
assert_not_contains "$OUT" BEARER_TOKEN_FILE "no BEARER_TOKEN_FILE for another profile"

echo "# renewed with the profile: replaced whole"
ino=$(stat -c %i "$BT")
expect_exit 0 bt refresh apivideo
new=$(<"$TOKDIR/apivideo.token")
[ "$new" != "$tok" ] || fail "refresh gave the same token"
raw_eq "$BT" "$new" || fail "bt_u does not hold the renewed token"
ok "bt_u holds the renewed token"
[ "$(stat -c %i "$BT")" != "$ino" ] || fail "bt_u was rewritten in place, not replaced"
ok "bt_u was replaced by a rename (a reader never sees half a token)"
[ -z "$(find "$XDG_RUNTIME_DIR" -maxdepth 1 -name '.bt_u*')" ] || fail "temp files left in the runtime dir"
ok "no temp file left in the runtime dir"

echo "# a crash between .token and bt_u: the next start mends it"
printf 'stale' >"$BT"
n=$(mock_total)
d_start_fg
wait_for 3000 eval 'raw_eq "$BT" "$(<"$TOKDIR/apivideo.token")"' || fail "bt_u not mended at start"
assert_eq "$(mock_total)" "$n" "the refresher's start mends a bt_u behind .token (no vendor request)"

echo "# expired with the profile"
mock_config '{"lifetime": 4}'
expect_exit 0 bt refresh apivideo
raw_eq "$BT" "$(<"$TOKDIR/apivideo.token")" || fail "bt_u is not the 4-s token"
mock_fault /auth/api-key 503
mock_fault /auth/refresh 503
jload "$TOKDIR/apivideo.json"
exp=${J[expires_at@]}
wait_for 12000 eval '[ ! -e "$TOKDIR/apivideo.token" ]' || fail "apivideo.token still there after its expiry"
[ ! -e "$BT" ] || fail "bt_u still there after the token expired"
ok "bt_u removed with the expired token ($(( $(now) - exp )) s after expires_at)"
reader XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR"
[ -z "$OUT" ] || fail "the reader still finds a token"
ok "the reader finds no token once it expired"
mock_fault /auth/api-key none
mock_fault /auth/refresh none
d_stop_all

echo "# the setting is checked"
sed -i 's/^wlcg_discovery = apivideo$/wlcg_discovery = apivido/' "$BEARER_CONFIG"
expect_exit 3 bt get unith
assert_match "$ERR" "^bearer-token: $BEARER_CONFIG:[0-9]+: wlcg_discovery: no \\[profile apivido\\] \\(did you mean 'apivideo'\\?\\)\$" \
	"a wlcg_discovery naming no profile is refused, with a did-you-mean"
sed -i 's/^wlcg_discovery = apivido$/wlcg_discovery = a b/' "$BEARER_CONFIG"
expect_exit 3 bt get unith
assert_contains "$ERR" "wlcg_discovery: 'a b' is not a profile name" "a wlcg_discovery that is no name is refused"
pb_done
