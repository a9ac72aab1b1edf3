#!/bin/bash
# SPDX-License-Identifier: MIT
# broker.sh - `bearer-token broker`, the service account's broker (issue 11):
#   1. started as root it binds its 0666 socket, makes its 0700 state dir
#      and drops to _pam_bearer;
#   2. it answers "token for profile P" only to a uid P applies to (root
#      may name the uid), from its cache when it can;
#   3. no caller makes it hammer a vendor: 1,000 requests reach the vendor
#      once when a token is cached, and once per failure floor when the
#      vendor fails;
#   4. an admin store file with the wrong owner, group or mode is refused
#      with the command that fixes it, and what the broker held for that
#      user is forgotten;
#   5. one hung vendor delays no other request, and silent clients hold
#      only their own uid's share;
#   6. the user's refresher renews a system profile through it, without
#      ever holding the secret or a refresh token;
#   7. socket-activated (systemd-socket-activate), it exits when idle.
# As root: all of it. As an ordinary user, what needs no second uid and no
# root-owned admin store: 2's refusals of another uid, 5's silent clients
# and 7.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"

[ "${BASH_VERSINFO[0]}" -ge 5 ] || skip "bash 5 needed"
for c in "$PYTHON3" "$OPENSSL" curl; do
	command -v "$c" >/dev/null 2>&1 || skip "$c not found"
done
[ -x "$BEARER_TOKEN_BIN" ] || skip "no bearer-token binary at $BEARER_TOKEN_BIN"
[ -n "${NSS_WRAPPER_SO:-}" ] || skip "nss_wrapper not found"
ROOT=0
if [ "$(id -u)" -eq 0 ]; then
	ROOT=1
	command -v setpriv >/dev/null 2>&1 || skip "setpriv (util-linux) needed as root"
fi
pb_setup
PIDS=
# shellcheck disable=SC2317
stop_all() {
	local p
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
}
trap 'stop_all; pb_cleanup' EXIT

# ------------------------------------------------------------------ the world
# alice (in group staff) and bob; _pam_bearer, the service account. As
# root they are uids of their own; as an ordinary user, all of them are us.
if [ "$ROOT" = 1 ]; then
	AU=4242 BU=4244 SU=4243 STAFF=4250
else
	AU=$(id -u) BU=$AU SU=$AU STAFF=$(id -g)
fi
cat >"$T/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
alice:x:$AU:$AU:alice:$T/home-alice:/bin/sh
bob:x:$BU:$BU:bob:$T/home-bob:/bin/sh
_pam_bearer:x:$SU:$SU:pam_bearer:/nonexistent:/usr/sbin/nologin
EOF
cat >"$T/group" <<EOF
root:x:0:
alice:x:$AU:
bob:x:$BU:
_pam_bearer:x:$SU:
staff:x:$STAFF:alice
EOF
SYS_CANARY=canary-SUITE-SYSTEM-$(od -An -tx1 -N10 /dev/urandom | tr -d ' \n')
CREDS_D=$T/credentials.d
mkdir -m 0750 "$CREDS_D"
# admin_file USER TEXT : the admin store's file for USER, root:_pam_bearer 0640
admin_file() {
	printf '%s' "$2" >"$CREDS_D/$1"
	chmod 0640 "$CREDS_D/$1"
	[ "$ROOT" = 0 ] || chown "0:$SU" "$CREDS_D/$1"
}
[ "$ROOT" = 0 ] || chown "0:$SU" "$CREDS_D"
admin_file alice "[sysunith]
email = user@example.com
secret_key = test-unith-secret-$SYS_CANARY

[sysvideo]
api_key = test-apivideo-key-$SYS_CANARY
"
admin_file bob "[sysvideo]
api_key = test-apivideo-key-$SYS_CANARY
"
SOCK=$T/pb/broker.sock
STATE=$T/pb/broker
write_config "system_credentials_dir = $CREDS_D" "broker_socket = $SOCK"
cat >>"$BEARER_CONFIG" <<EOF

[profile sysunith]
vendor = unith
base_url = $MOCK
credentials = system
users = alice

[profile sysvideo]
vendor = apivideo
base_url = $MOCK
credentials = system
groups = staff, bob
EOF
chmod 0644 "$BEARER_CONFIG" "$T/ca.pem"
[ "$ROOT" = 0 ] || chmod 0755 "$T"

# the broker, as root (or we) start it: nss_wrapper shows it our world's users
start_broker() { # [more options]
	env LD_PRELOAD="${ASAN_RUNTIME:+$ASAN_RUNTIME:}$NSS_WRAPPER_SO" NSS_WRAPPER_PASSWD="$T/passwd" \
		NSS_WRAPPER_GROUP="$T/group" "$BEARER_TOKEN_BIN" --config "$BEARER_CONFIG" broker \
		--foreground "$@" 2>>"$T/broker.log" &
	BROKER=$!
	PIDS="$PIDS $BROKER"
	wait_for 5000 test -S "$SOCK" || { cat "$T/broker.log"; fail "the broker did not start"; }
}

# The client: requests over the socket, as whoever runs it.
cat >"$T/client.py" <<'EOF'
import os, socket, sys, time

def one(sock, req, timeout=10):
    """The reply to one request: its bytes, or None if the connection closed unanswered."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        s.sendall(req.encode())
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        return data or None
    except OSError:
        return None
    finally:
        s.close()

def ask(sock, req, n="1", gap_ms="0"):
    """Send req (\\n added) n times, one connection each, gap_ms apart; say what came back."""
    counts, tokens, first, t0 = {"token": 0, "error": 0, "none": 0}, set(), None, time.time()
    for i in range(int(n)):
        if i > 0:
            time.sleep(int(gap_ms) / 1000.0)
        r = one(sock, req + "\n")
        if r is None:
            counts["none"] += 1
            continue
        line, _, rest = r.partition(b"\n")
        kind = line.split(b" ")[0].decode()
        counts[kind if kind in counts else "none"] += 1
        if kind == "token":
            tokens.add(rest.split(b"\n")[0])
        if first is None:
            first = line.decode("utf-8", "replace")
    print("token %d error %d none %d distinct %d ms %d" % (counts["token"], counts["error"],
          counts["none"], len(tokens), (time.time() - t0) * 1000))
    print("first %s" % first)
    if len(tokens) == 1:
        print("tok %s" % next(iter(tokens)).decode())

def silent(sock, n, hold):
    """n connections that send nothing, held for hold seconds."""
    conns = []
    for _ in range(int(n)):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        conns.append(s)
    print("held", flush=True)
    time.sleep(float(hold))

f = globals()[sys.argv[1]]
f(*sys.argv[2:])
EOF
# as UID CMD... : CMD as that uid (as an ordinary user: as us)
as() {
	local uid=$1; shift
	if [ "$ROOT" = 1 ]; then setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"; else "$@"; fi
}
client() { as "$1" "$PYTHON3" "$T/client.py" "${@:2}"; }
# ask UID REQUEST [N [GAP_MS]] : sets R (the summary), FIRST (the first reply line), TOK
ask() {
	R=$(client "$1" ask "$SOCK" "$2" "${3:-1}" "${4:-0}")
	FIRST=$(sed -n 's/^first //p' <<<"$R")
	TOK=$(sed -n 's/^tok //p' <<<"$R")
	R=$(head -1 <<<"$R")
}
mode_owner() { stat -c '%a %u' "$1"; }

# ------------------------------------------------------------------ 1
start_broker
echo "# (1) started by $(id -un), the broker runs as uid $(awk '/^Uid:/ {print $2}' "/proc/$BROKER/status")"
if [ "$ROOT" = 1 ]; then
	assert_eq "$(awk '/^Uid:/ {print $2,$3,$4,$5}' "/proc/$BROKER/status")" "$SU $SU $SU $SU" \
		"the broker has dropped to _pam_bearer (real, effective, saved, fs uid)"
	assert_eq "$(awk '/^Gid:/ {print $2,$3,$4,$5}' "/proc/$BROKER/status")" "$SU $SU $SU $SU" \
		"and to its group"
	assert_eq "$(awk '/^Groups:/ {print $2}' "/proc/$BROKER/status")" "$SU" "and to that group alone"
	assert_eq "$(awk '/^CapEff:/ {print $2}' "/proc/$BROKER/status")" "0000000000000000" \
		"with no capability left"
fi
assert_eq "$(stat -c '%a %F' "$SOCK")" "666 socket" "broker.sock is a 0666 socket (callers are told apart by uid)"
assert_eq "$(mode_owner "$STATE")" "700 $SU" "its state dir is 0700, the service account's"
assert_eq "$(mode_owner "$T/pb")" "755 $(id -u)" "the dir of both is 0755, its starter's"
ask "$AU" "ping"
assert_eq "$FIRST" "ok $BROKER" "ping: the broker answers"
ask "$AU" "secrets"
assert_match "$FIRST" "^error 2 -1 not a broker request" "a request that is none is refused"

# ------------------------------------------------------------------ 2
echo "# (2) a uid may ask only for itself"
ask "$AU" "token 0 sysunith 0"
assert_eq "$FIRST" "error 3 -1 uid $AU may ask only for its own tokens" \
	"uid $AU asking for root's tokens is refused"
if [ "$ROOT" = 1 ]; then
	ask "$AU" "token - sysunith 0"
	assert_match "$FIRST" "^token [0-9]+ [0-9]+ 0 [0-9]+$" "alice gets a sysunith token"
	T1=$TOK
	assert_eq "$(mock_count /auth/token)" 1 "one exchange at the vendor"
	ask "$AU" "token - sysunith 0" 5
	assert_eq "$R" "token 5 error 0 none 0 distinct 1 ms ${R##* ms }" "five more: the same token"
	assert_eq "$TOK" "$T1" "the cached one"
	assert_eq "$(mock_count /auth/token)" 1 "and still one exchange"
	ask "$BU" "token - sysunith 0"
	assert_match "$FIRST" "^error 3 -1 .*profile 'sysunith' does not apply to user bob \\(uid $BU\\)" \
		"bob asking for sysunith (users = alice) is refused"
	ask "$BU" "token $AU sysunith 0"
	assert_eq "$FIRST" "error 3 -1 uid $BU may ask only for its own tokens" \
		"bob asking for alice's sysunith is refused"
	ask 0 "token $AU sysunith 0"
	assert_eq "$TOK" "$T1" "root may name alice's uid: alice's token"
	ask "$AU" "token - sysvideo 0"
	assert_match "$FIRST" "^token " "alice gets sysvideo (groups = staff: alice is in staff)"
	ask "$BU" "token - sysvideo 0"
	assert_match "$FIRST" "^token " "bob gets sysvideo (groups = bob, his own group)"
	ask "$AU" "token - unith 0"
	assert_match "$FIRST" "^error 3 -1 .*profile 'unith' is credentials = user" \
		"a user profile is not the broker's"

	# ---------------------------------------------------------- 3
	echo "# (3) 1,000 requests from one user"
	n0=$(mock_total)
	ask "$AU" "token - sysunith 999999" 1000
	echo "# alice, 1,000 x 'token - sysunith 999999' back to back: $R"
	assert_eq "$(mock_total)" "$n0" "not one vendor request: a cached token younger than its min age"
	read -r _ answered _ errors _ refused _ distinct _ ms <<<"$R"
	[ "$((answered + refused))" -eq 1000 ] && [ "$errors" -eq 0 ] && [ "$distinct" -eq 1 ] ||
		fail "1,000 requests: $R"
	ok "each answered with the one cached token ($answered) or turned away ($refused)"
	[ "$answered" -le $((30 + 10 * (ms + 999) / 1000 + 1)) ] ||
		fail "$answered answered in $ms ms: more than the bucket (30, then 10 a second) allows"
	ok "the rate limit let $answered through in $ms ms (30 at once, then 10 a second)"
	sleep 3         # the bucket fills again
	ask "$AU" "token - sysunith 999999" 40 120
	echo "# alice, 40 x the same, 120 ms apart: $R"
	assert_eq "${R%% ms *}" "token 40 error 0 none 0 distinct 1" \
		"at 8 a second every request is answered, with the one cached token"
	assert_eq "$(mock_total)" "$n0" "and still not one vendor request"
	# a vendor that fails: the failure floor
	rm -f "$STATE/$AU"/sysvideo.*
	mock_fault /auth/api-key 503
	n0=$(mock_count /auth/api-key) t0=$(now_ms)
	ask "$AU" "token - sysvideo 0" 40 120
	n1=$(mock_count /auth/api-key) ms=$(($(now_ms) - t0))
	echo "# alice, 40 x 'token - sysvideo 0' to a vendor answering 503, 120 ms apart, $ms ms: $R; the vendor saw $((n1 - n0))"
	assert_eq "${R%% ms *}" "token 0 error 40 none 0 distinct 0" "every request answered, with an error"
	[ $((n1 - n0)) -ge 1 ] || fail "the vendor was never asked"
	[ $((n1 - n0)) -le $((1 + ms / 10000)) ] ||
		fail "the vendor got $((n1 - n0)) requests in $ms ms: more than one per 10-s floor"
	ok "the vendor got $((n1 - n0)) request(s) in $ms ms: one per failure floor"
	assert_match "$FIRST" "^error 1 -?[0-9]+ sysvideo: HTTP 503" "the callers get the vendor's failure"
	mock_fault /auth/api-key none
	sleep 3         # alice's bucket fills again (10 a second)

	# ---------------------------------------------------------- 4
	echo "# (4) the admin store's file: owner, group and mode, each with its fix"
	f=$CREDS_D/alice
	chown "$AU:$SU" "$f"
	ask "$AU" "token - sysunith 0"
	assert_eq "$FIRST" "error 3 -1 $f: owned by alice, must be owned by root (chown root:_pam_bearer $f)" \
		"owned by alice: refused, with the chown that fixes it"
	[ ! -e "$STATE/$AU/sysunith.token" ] && [ ! -e "$STATE/$AU/sysunith.state" ] ||
		fail "the broker still holds alice's token or refresh token after her file was refused"
	ok "what the broker held for alice's sysunith is forgotten"
	chown "0:0" "$f"
	ask "$AU" "token - sysunith 0"
	assert_eq "$FIRST" "error 3 -1 $f: group root, must be _pam_bearer (chgrp _pam_bearer $f)" \
		"group root: refused, with the chgrp that fixes it"
	chown "0:$SU" "$f"
	chmod 0644 "$f"
	ask "$AU" "token - sysunith 0"
	assert_eq "$FIRST" "error 3 -1 $f: bad permissions 0644, must be 0640 (chmod 640 $f)" \
		"mode 0644: refused, with the chmod that fixes it"
	chmod 0660 "$f"
	ask "$AU" "token - sysunith 0"
	assert_eq "$FIRST" "error 3 -1 $f: bad permissions 0660, must be 0640 (chmod 640 $f)" \
		"mode 0660 (group may write): refused"
	chmod 0640 "$f"
	n0=$(mock_count /auth/token)
	ask "$AU" "token - sysunith 0"
	assert_match "$FIRST" "^token " "fixed: a token again"
	assert_eq "$(mock_count /auth/token)" "$((n0 + 1))" "a new exchange: nothing was kept"
	[ "$TOK" != "$T1" ] || fail "the old token came back"
	ok "and a new token"
	mv "$f" "$f.away"
	ask "$AU" "token - sysunith 0"
	assert_match "$FIRST" "^error 3 -1 $f: No such file or directory" "no file for alice: refused"
	mv "$f.away" "$f"

	# ---------------------------------------------------------- 5
	echo "# (5) one hung vendor delays nothing else"
	rm -f "$STATE/$AU"/sysvideo.*
	mock_fault /auth/api-key hang
	client "$AU" ask "$SOCK" "token - sysvideo 0" >"$T/hung.out" &
	HUNG=$!
	sleep 0.5
	ask "$AU" "token - sysunith 0"
	assert_match "$FIRST" "^token " "alice's sysunith while her sysvideo hangs: answered"
	ms=${R##* ms }
	[ "$ms" -lt 500 ] || fail "it took $ms ms"
	ok "in $ms ms"
	ask "$BU" "ping"
	assert_eq "$FIRST" "ok $BROKER" "and bob's ping"
	wait "$HUNG"
	assert_contains "$(<"$T/hung.out")" "error 1" "the hung exchange itself ends in an error (timeout 3 s)"
	mock_fault /auth/api-key none
fi

echo "# (5b) silent clients hold only their own uid's share"
client "$AU" silent "$SOCK" 4 3 >"$T/silent.out" &
SILENT=$!
wait_for 3000 grep -q held "$T/silent.out" || fail "the silent clients did not connect"
sleep 0.2
ask "$AU" "ping"
assert_eq "$R" "token 0 error 0 none 1 distinct 0 ms ${R##* ms }" \
	"alice's 5th connection while 4 of hers say nothing: turned away"
[ "${R##* ms }" -lt 500 ] || fail "and it took ${R##* ms } ms"
ok "at once (${R##* ms } ms)"
if [ "$ROOT" = 1 ]; then
	ask "$BU" "ping"
	assert_eq "$FIRST" "ok $BROKER" "bob is served meanwhile"
fi
sleep 2.2       # the silent ones are dropped after 2 s
ask "$AU" "ping"
assert_eq "$FIRST" "ok $BROKER" "alice is served again once they are dropped"
kill "$SILENT" 2>/dev/null; wait "$SILENT" 2>/dev/null

# ------------------------------------------------------------------ 6
if [ "$ROOT" = 1 ]; then
	echo "# (6) alice's refresher renews sysunith through the broker"
	mock_config '{"lifetime": 4}'
	rm -f "$STATE/$AU"/sysunith.*
	RUN=$T/run-alice
	mkdir -m 0700 "$RUN" "$T/home-alice"
	chown "$AU:$AU" "$RUN" "$T/home-alice"
	alice() {
		setpriv --reuid="$AU" --regid="$AU" --clear-groups env -i HOME="$T/home-alice" USER=alice \
			LOGNAME=alice PATH=/usr/bin:/bin XDG_RUNTIME_DIR="$RUN" \
			"$BEARER_TOKEN_BIN" --config "$BEARER_CONFIG" "$@"
	}
	TD=$RUN/bearer
	OUT=$(alice get sysunith 2>&1)
	assert_eq "$?" 0 "bearer-token get sysunith, as alice: through the broker"
	slurp got "$TD/sysunith.token"
	assert_eq "$OUT" "$got" "it printed the token it stored"
	[ ! -e "$TD/sysunith.state" ] || fail "a refresh token in alice's dir"
	ok "no refresh token in alice's dir"
	jload "$TD/sysunith.json"
	assert_eq "${J[renewal]:-}" "broker" "sysunith.json: renewal broker"
	assert_contains "$(alice status)" "renewed through the broker" "status says the broker renews it"
	alice daemon --foreground 2>>"$T/alice-daemon.log" &
	AD=$!
	PIDS="$PIDS $AD"
	n0=$(mock_count /auth/token) t0=$(now_ms) gone=
	while [ $(($(now_ms) - t0)) -lt 9000 ]; do
		[ -s "$TD/sysunith.token" ] || gone=yes
		sleep 0.1
	done
	n1=$(mock_count /auth/token)
	echo "# 9 s of 4-s tokens: $((n1 - n0)) exchanges through the broker"
	[ $((n1 - n0)) -ge 2 ] || fail "the refresher renewed sysunith $((n1 - n0)) times in 9 s"
	ok "the refresher renewed sysunith $((n1 - n0)) times in 9 s"
	[ -z "$gone" ] || fail "sysunith.token went missing meanwhile"
	ok "sysunith.token was there throughout"
	slurp got2 "$TD/sysunith.token"
	[ "$got2" != "$got" ] || fail "the token never changed"
	ok "the token in alice's dir is a new one"
	echo "# the secret is nowhere alice can reach"
	for pid in $(pgrep -u "$AU"); do
		for f in cmdline environ; do
			if grep -qF "$SYS_CANARY" "/proc/$pid/$f" 2>/dev/null; then
				fail "the admin-held secret is in /proc/$pid/$f"
			fi
		done
	done
	ok "in no /proc cmdline or environ of alice's processes"
	if grep -rlsF "$SYS_CANARY" "$RUN" "$T/home-alice" | grep -q .; then
		fail "the admin-held secret is in alice's files"
	fi
	ok "in no file of alice's"
	kill "$AD"; wait "$AD" 2>/dev/null
	mock_config '{"lifetime": 3600}'
fi
kill "$BROKER"; wait "$BROKER" 2>/dev/null

# ------------------------------------------------------------------ 7
if command -v systemd-socket-activate >/dev/null 2>&1; then
	echo "# (7) socket-activated, it exits when idle"
	SOCK=$T/pb2/broker.sock
	sed -i "s|^broker_socket = .*|broker_socket = $SOCK|" "$BEARER_CONFIG"
	mkdir -m 0755 "$T/pb2"
	(exec systemd-socket-activate -l "$SOCK" \
		-E LD_PRELOAD="${ASAN_RUNTIME:+$ASAN_RUNTIME:}$NSS_WRAPPER_SO" -E NSS_WRAPPER_PASSWD="$T/passwd" \
		-E NSS_WRAPPER_GROUP="$T/group" ${ASAN_OPTIONS:+-E ASAN_OPTIONS="$ASAN_OPTIONS"} \
		"$BEARER_TOKEN_BIN" --config "$BEARER_CONFIG" broker --foreground --idle-exit 1 \
		2>>"$T/broker.log") &
	SA=$!
	PIDS="$PIDS $SA"
	wait_for 5000 test -S "$SOCK" || fail "systemd-socket-activate did not listen"
	chmod 0666 "$SOCK"      # what the unit's SocketMode= does
	ask "$AU" "ping"
	assert_eq "$FIRST" "ok $SA" "the first connection starts the broker (it answers it)"
	wait_for 4000 eval '! kill -0 "$SA" 2>/dev/null' || fail "the broker still runs 4 s after its last request"
	ok "idle for 1 s (--idle-exit 1): it exited"
	kill "$SA" 2>/dev/null
	wait "$SA"
	assert_eq "$?" 0 "with status 0"
	assert_contains "$(<"$T/broker.log")" "idle for 1 s: exiting" "and said why"
else
	echo "# (7) skipped: systemd-socket-activate not found"
fi
pb_done
