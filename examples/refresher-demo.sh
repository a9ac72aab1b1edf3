#!/bin/bash
# SPDX-License-Identifier: MIT
# examples/refresher-demo.sh - `make demo-refresher`: one real PAM session
# held open for a minute while the vendor issues 5-second tokens; the
# refresher the module started keeps them fresh, and the request count at
# the mock is checked against the schedule: renew at 0.75 of the lifetime
# less up to a tenth of it at random, and never later than the margin
# (1 s here) before the expiry, which the vendor states in whole seconds:
# so every 2.75 to 3.75 s.
set -u
: "${BEARER_TOKEN_BIN:?run me with make demo-refresher}"
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/pam_world.sh"
HOLD=${HOLD:-60}
T=$(mktemp -d "${TMPDIR:-/tmp}/pam_bearer-demo.XXXXXX")
chmod 0755 "$T"
trap pb_cleanup EXIT
pam_world demo
mock_config '{"lifetime": 5}'
pam_service refresher profiles=unith

echo "== a session for 'demo' held open ${HOLD} s; the vendor's tokens live 5 s"
start=$EPOCHSECONDS
in_pam "$BENCH_PAM_OPEN" refresher demo 1 "$HOLD" >/dev/null &
held=$!
sleep 2
pid=$(pgrep -u "$U" -f "bearer-token --config $T/pam_bearer.conf daemon" | head -1)
echo "   refresher: pid ${pid:-none}"
for i in $(seq 6); do
	sleep $((HOLD / 6))
	printf '   t=%3ss  unith requests so far: %3s  token valid: %s\n' $((EPOCHSECONDS - start)) \
		"$(mock_count /auth/token)" "$(jq_state=$("$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"])' "$T/run/$U/bearer/unith.json"); echo "$jq_state")"
done
wait "$held"
sleep 1
n=$(mock_count /auth/token)
lo=$(( HOLD * 100 / 375 ))          # renewals at the slowest, plus the first fetch
hi=$(( HOLD * 100 / 275 + 2 ))      # at the fastest, plus the first fetch and rounding
echo "== $n requests in ${HOLD} s; the schedule allows $lo..$hi"
if pgrep -u "$U" -f "bearer-token --config $T/pam_bearer.conf daemon" >/dev/null; then
	echo "the refresher is still running after the session closed"; exit 1
fi
echo "== the session closed and the refresher stopped"
[ "$n" -ge "$lo" ] && [ "$n" -le "$hi" ] || { echo "out of schedule"; exit 1; }
