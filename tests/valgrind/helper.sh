#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/valgrind/helper.sh - bearer-token's commands under valgrind
# memcheck against the TLS mock vendor: the paths a user runs (get that
# fetches, get from the store, refresh, status, check-config) and the
# failing ones (the vendor down with a 503, credentials it refuses). With
# --trace-children every program bearer-token starts (the bearer-fetch
# worker) is checked as well. Each command must exit as it would natively,
# with no memcheck error and no definite or indirect leak.
set -u
. "$TESTS_SRCDIR/lib.sh"
pb_setup
. "$TESTS_SRCDIR/valgrind/vg.sh"
# memcheck makes the programs 20 to 50 times slower: give the worker (whose
# deadline bearer-token derives from this) the time a loaded machine needs
sed -i 's/^timeout = .*/timeout = 30/' "$BEARER_CONFIG"

n=0
# vg_cmd WANT-EXIT CMD-ARGS... : bearer-token ARGS under memcheck
vg_cmd() {
	local want=$1 t0=$EPOCHSECONDS
	shift
	n=$((n + 1))
	vg_run "cmd$n" "$BEARER_TOKEN_BIN" "$@"
	vg_judge "cmd$n" "bearer-token $* ($((EPOCHSECONDS - t0)) s)"
	if [ "$RC" -eq "$want" ]; then ok "bearer-token $* exits $want"; else fail "bearer-token $* exits $want (got $RC)"; fi
}

vg_cmd 0 check-config
for p in apivideo unith oauth2; do
	vg_cmd 0 get "$p"                       # fetch: the vendor exchange
done
assert_eq "$(whoami "$TOKDIR/apivideo.header")" 200 "the token fetched under memcheck works"
before=$(mock_total)
vg_cmd 0 get unith --json                   # from the store: no request
assert_eq "$(mock_total)" "$before" "the second get made no request"
vg_cmd 0 refresh apivideo unith oauth2      # refresh tokens, or a new exchange
vg_cmd 7 status                             # 7: four profiles never fetched: no valid token
vg_cmd 7 status --json

u0=$(<"$TOKDIR/unith.token")
mock_fault '*' 503
vg_cmd 1 refresh unith                      # temporary: the vendor is down
raw_eq "$TOKDIR/unith.token" "$u0" || fail "the token on disk changed during the outage"
ok "the token on disk survives the outage"
mock_fault '*' none
mock_fault '*' bad-creds
vg_cmd 4 refresh oauth2                     # the vendor refuses the credentials
mock_fault '*' none
pb_done
