#!/bin/bash
# bench/fastpath.sh - `make bench`: how long a session open takes when every
# token is still valid (the module's fast path: no process, no request),
# against the first open that has to fetch. Prints figures; asserts nothing.
set -u
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/pam_world.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/pam_bearer-bench.XXXXXX")
chmod 0755 "$T"
trap pb_cleanup EXIT
pam_world bench
# three profiles: apivideo, unith, oauth2
awk '/^\[profile /{keep = /apivideo|unith|oauth2/} !/^\[profile / && /^\[/{keep = 1} keep' \
	"$BEARER_CONFIG" >"$T/conf.new" && mv "$T/conf.new" "$BEARER_CONFIG" && chmod 0644 "$BEARER_CONFIG"
pam_service bench
pam_service bench_nodaemon nodaemon
run() { in_pam ${BENCH_WRAP:-} "$BENCH_PAM_OPEN" "$1" bench "$2"; }  # SERVICE COUNT
as_user() { if [ "$(id -u)" -eq 0 ]; then setpriv --reuid="$U" --regid="$G" --clear-groups "$@"; else "$@"; fi; }
echo "pam_bearer session open, 3 profiles, loopback TLS mock ($(nproc) cores, $(date -u +%F))"
printf 'first open (fetches 3 tokens):           '; run bench_nodaemon 1
before=$(mock_total)
printf 'fast path, nodaemon:                      '; run bench_nodaemon 2000
# a refresher kept alive by a session of its own (a sleep), as during a login
sleep 300 & HOLDER=$!
as_user env USER=bench HOME="$T/home" XDG_RUNTIME_DIR="$T/run/$U" "$BEARER_TOKEN_BIN" \
	--config "$T/pam_bearer.conf" daemon --session "$HOLDER:beef"
for i in $(seq 100); do [ -S "$T/run/$U/bearer/daemon.sock" ] && break; sleep 0.05; done
printf 'fast path, telling the refresher:         '; run bench 2000
kill "$HOLDER"
echo "requests at the mock during the fast-path runs: $(( $(mock_total) - before ))"
