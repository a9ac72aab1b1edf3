#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/valgrind/pam_cycles.sh - the PAM module under valgrind memcheck:
# many session open/close cycles in ONE process, through the real libpam
# (bench/pam_open under cwrap, in the world of tests/pam_world.sh), so a
# leak of a few bytes per session, a double free or a read of freed
# memory shows up. Four runs, each in one process:
#   fast      1,000 cycles, every token still valid, nodaemon: config
#             parse, profile selection, reading the store; no process
#   refresher   200 cycles on the fast path telling a running refresher
#             over its socket (the ctl client)
#   slow         10 cycles that must fetch (the token dir emptied before
#             each): spawn the helper, feed its pipe, read its reply
#   failing      10 cycles whose fetch fails (the vendor answers 503):
#             the module's error path
# The helper the module starts runs natively here (tests/valgrind/helper.sh
# checks it). Needs BENCH_PAM_OPEN (bench/pam_open) and the variables of
# `make check`. VG_CYCLES overrides the 1,000.
set -u
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/pam_world.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/pam_bearer-vg.XXXXXX")
chmod 0755 "$T"
trap pb_cleanup EXIT
trap 'exit 1' INT TERM HUP
. "$TESTS_SRCDIR/valgrind/vg.sh"
[ -x "${BENCH_PAM_OPEN:-}" ] || fail "no bench/pam_open (BENCH_PAM_OPEN=${BENCH_PAM_OPEN:-})"
cycles=${VG_CYCLES:-1000}

pam_world vg --max-seconds 900   # the mock outlives a slow machine
# three profiles: apivideo (an API key), unith (a JWT), oauth2 (client credentials)
awk '/^\[profile /{keep = /apivideo|unith|oauth2/} !/^\[profile / && /^\[/{keep = 1} keep' \
	"$BEARER_CONFIG" >"$T/conf.new" && mv "$T/conf.new" "$BEARER_CONFIG" && chmod 0644 "$BEARER_CONFIG"
pam_service vg_nodaemon nodaemon
pam_service vg_daemon
TOKDIR=$T/run/$U/bearer
as_user() { if [ "$(id -u)" -eq 0 ]; then setpriv --reuid="$U" --regid="$G" --clear-groups "$@"; else "$@"; fi; }
# The module and pam_env stay loaded for the whole run (preloaded, so
# libpam's dlclose() at each pam_end() does not unmap them): valgrind then
# reads their debug info once instead of at every cycle, which makes the
# run several times faster, and a leak report can still name our
# functions. The module's code paths are the same.
pam_env=$(ls /lib/*/security/pam_env.so /usr/lib/*/security/pam_env.so /lib*/security/pam_env.so \
	2>/dev/null | head -1)
[ -n "$pam_env" ] || fail "pam_env.so not found"
PRELOAD="$PRELOAD:$PAM_TEST_MODULE_SO:$pam_env"
VG_WRAP=in_pam
VG_CHILDREN=no   # the helper is checked on its own, and is slow under memcheck

# the first session fetches the three tokens (natively)
expect_exit 0 in_pam "$BENCH_PAM_OPEN" vg_nodaemon vg 1
for p in apivideo unith oauth2; do [ -s "$TOKDIR/$p.token" ] || fail "no $p.token after the first session"; done
ok "the first session fetched the three tokens"

t0=$EPOCHSECONDS
before=$(mock_total)
vg_run fast "$BENCH_PAM_OPEN" vg_nodaemon vg "$cycles"
vg_judge fast "$cycles fast-path open/close cycles in one process ($((EPOCHSECONDS - t0)) s)"
assert_eq "$RC" 0 "$cycles fast-path cycles: pam_open exits 0 ($OUT)"
assert_eq "$(mock_total)" "$before" "the fast path made no request"

# a refresher kept alive by a session of its own (a sleep), as during a login
sleep 300 & holder=$!
as_user env USER=vg HOME="$T/home" XDG_RUNTIME_DIR="$T/run/$U" "$BEARER_TOKEN_BIN" \
	--config "$BEARER_CONFIG" daemon --session "$holder:000000000000beef" || fail "cannot start the refresher"
for _ in $(seq 100); do [ -S "$TOKDIR/daemon.sock" ] && break; sleep 0.05; done
[ -S "$TOKDIR/daemon.sock" ] || fail "the refresher did not open its socket"
t0=$EPOCHSECONDS
vg_run refresher "$BENCH_PAM_OPEN" vg_daemon vg 200
vg_judge refresher "200 fast-path cycles telling the refresher ($((EPOCHSECONDS - t0)) s)"
assert_eq "$RC" 0 "200 cycles telling the refresher: pam_open exits 0 ($OUT)"
kill "$holder"
wait "$holder" 2>/dev/null

# every session has to fetch: pam_open empties the token dir before each
# open (BENCH_CLEAN). (Short tokens would not do: a 1-s token stays fresh
# for its first half second, and a cycle is faster than that.)
before=$(mock_total)
t0=$EPOCHSECONDS
export BENCH_CLEAN=$TOKDIR
vg_run slow "$BENCH_PAM_OPEN" vg_nodaemon vg 10
vg_judge slow "10 slow-path cycles, each spawning the helper ($((EPOCHSECONDS - t0)) s)"
assert_eq "$RC" 0 "10 slow-path cycles: pam_open exits 0 ($OUT)"
[ $(($(mock_total) - before)) -ge 30 ] || fail "the slow path made $(($(mock_total) - before)) requests, want >= 30"
ok "the slow path fetched every time ($(($(mock_total) - before)) requests)"

mock_fault '*' 503
t0=$EPOCHSECONDS
vg_run failing "$BENCH_PAM_OPEN" vg_nodaemon vg 10
vg_judge failing "10 cycles whose fetch fails ($((EPOCHSECONDS - t0)) s)"
assert_eq "$RC" 0 "10 failing cycles: pam_open exits 0 (the module is optional) ($OUT)"
assert_contains "$ERR" "503" "the module logged the vendor's 503"
pb_done
