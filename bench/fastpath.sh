#!/bin/bash
# bench/fastpath.sh - `make bench`: how long a session open takes when every
# token is still valid (the module's fast path: no process, no request),
# against the first open that has to fetch. Prints figures; asserts nothing.
set -u
. "$TESTS_SRCDIR/lib.sh"
[ -n "${PAM_WRAPPER_SO:-}" ] || skip "cwrap libraries not found"
T=$(mktemp -d "${TMPDIR:-/tmp}/pam_bearer-bench.XXXXXX")
chmod 0755 "$T"
trap pb_cleanup EXIT
if [ "$(id -u)" -eq 0 ]; then U=4242 G=4242 PRELOAD="$PAM_WRAPPER_SO:$NSS_WRAPPER_SO"
else U=$(id -u) G=$(id -g) PRELOAD="$PAM_WRAPPER_SO:$UID_WRAPPER_SO:$NSS_WRAPPER_SO"; fi
make_certs "$T"
start_mock MOCK --cert "$T/server.pem" --key "$T/server.key"
MOCK="https://127.0.0.1:$MOCK_PORT" CTL_PORT=$MOCK_CTL_PORT
mkdir -p "$T/services" "$T/run/$U" "$T/home/.config/pam_bearer"
printf 'root:x:0:0:root:/root:/bin/sh\nbench:x:%s:%s:Bench:%s:/bin/sh\n' "$U" "$G" "$T/home" >"$T/passwd"
printf 'root:x:0:\nbench:x:%s:\n' "$G" >"$T/group"
{
	printf '[defaults]\nvendor_dir = %s\nca_file = %s\ntimeout = 5\n' "$VENDOR_DIR" "$T/ca.pem"
	for p in apivideo unith oauth2; do
		printf '\n[profile %s]\nvendor = %s\nbase_url = %s\n' "$p" "$p" "$MOCK"
	done
} >"$T/pam_bearer.conf"
printf '[apivideo]\napi_key = test-apivideo-key\n[unith]\nemail = user@example.com\nsecret_key = test-unith-secret\n[oauth2]\nclient_id = test-client\nclient_secret = test-client-secret\n' \
	>"$T/home/.config/pam_bearer/credentials"
chmod 0600 "$T/home/.config/pam_bearer/credentials"
chmod 0700 "$T/run/$U" "$T/home/.config/pam_bearer"
chmod 0644 "$T/pam_bearer.conf" "$T/ca.pem"
[ "$(id -u)" -eq 0 ] && chown -R "$U:$G" "$T/run/$U" "$T/home"
echo "XDG_RUNTIME_DIR DEFAULT=$T/run/$U" >"$T/pam_env.conf"
for svc in bench bench_nodaemon; do
	printf 'session required pam_env.so readenv=0 conffile=%s\nsession required %s config=%s%s\n' \
		"$T/pam_env.conf" "$PAM_TEST_MODULE_SO" "$T/pam_bearer.conf" \
		"$([ $svc = bench_nodaemon ] && echo ' nodaemon')" >"$T/services/$svc"
done
echo "session required pam_deny.so" >"$T/services/other"
run() { # SERVICE COUNT
	env LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" \
	    UID_WRAPPER=1 UID_WRAPPER_ROOT=1 \
	    NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group" \
	    ${BENCH_WRAP:-} "$BENCH_PAM_OPEN" "$1" bench "$2"
}
as_user() { if [ "$(id -u)" -eq 0 ]; then setpriv --reuid="$U" --regid="$G" --clear-groups "$@"; else "$@"; fi; }
echo "pam_bearer session open, 3 profiles, loopback TLS mock ($(nproc) cores, $(date -u +%F))"
printf 'first open (fetches 3 tokens):           '; run bench_nodaemon 1
printf 'fast path, nodaemon:                      '; run bench_nodaemon 2000
# a refresher kept alive by a session of its own (a sleep), as during a login
sleep 300 & HOLDER=$!
as_user env USER=bench HOME="$T/home" XDG_RUNTIME_DIR="$T/run/$U" "$BEARER_TOKEN_BIN" \
	--config "$T/pam_bearer.conf" daemon --session "$HOLDER:beef"
for i in $(seq 100); do [ -S "$T/run/$U/bearer/daemon.sock" ] && break; sleep 0.05; done
printf 'fast path, telling the refresher:         '; run bench 2000
kill "$HOLDER"
echo "requests at the mock during the fast-path runs: $(( $(mock_total) - 3 ))"
