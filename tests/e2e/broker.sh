#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/e2e/broker.sh - a credentials = system profile through a real
# OpenSSH login with the installed package (root only; see fixture.sh):
# the admin store's file as the admin writes it, root:_pam_bearer 0640,
# in the installed credentials.d; the broker started as the package starts
# it (its installed units: the socket unit's ListenStream and SocketMode,
# the service's User, Group, RuntimeDirectory and ExecStart; run through
# systemd-socket-activate when systemd is not PID 1, as in CI). The user
# gets a working token, the refresher renews it through the broker during
# the session, and the secret (a canary) is nowhere the user can reach:
# not the file, not a process of the user, not a file of the user, not
# the logs.

: "${TESTS_SRCDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TESTS_SRCDIR/e2e/fixture.sh"
: "${E2E_UNIT_DIR:=/lib/systemd/system}"
: "${E2E_CREDS_DIR:=/etc/security/pam_bearer/credentials.d}"

e2e_require_root
e2e_setup
e2e_need ssh ssh-keygen "$E2E_SSHD" systemd-socket-activate setpriv getent

SYS_CANARY=canary-SUITE-SYSTEM-$(od -An -tx1 -N10 /dev/urandom | tr -d ' \n')

# ------------------------------------------------------------- the package's account and store
ent=$(getent passwd _pam_bearer) || fail "no service account _pam_bearer: the package's postinst makes it"
SVC_UID=$(cut -d: -f3 <<<"$ent") SVC_GID=$(cut -d: -f4 <<<"$ent")
ok "the service account _pam_bearer exists (uid $SVC_UID)"
assert_eq "$(getent group _pam_bearer | cut -d: -f3)" "$SVC_GID" "and its group"
assert_eq "$(stat -c '%a %U %G' "$E2E_CREDS_DIR")" "750 root _pam_bearer" \
	"$E2E_CREDS_DIR is root:_pam_bearer 0750, as the package made it"
CREDS=$E2E_CREDS_DIR/$E2E_USER
[ ! -e "$CREDS" ] || fail "$CREDS exists already"
E2E_FILES="$E2E_FILES $CREDS"
printf '[sysvideo]\napi_key = test-apivideo-key-%s\n' "$SYS_CANARY" >"$CREDS"
chown root:_pam_bearer "$CREDS"
chmod 0640 "$CREDS"
cat >>"$BEARER_CONFIG" <<EOF

[profile sysvideo]
vendor = apivideo
base_url = $MOCK
credentials = system
users = $E2E_USER
EOF
ok "an admin-held api.video key for $E2E_USER in $CREDS (root:_pam_bearer 0640)"

# ------------------------------------------------------------- the broker, from its units
unit_value() { # UNIT KEY : the value of KEY= in the installed unit
	sed -n "s/^$2=//p" "$E2E_UNIT_DIR/$1" | tail -1
}
for u in bearer-token-broker.socket bearer-token-broker.service; do
	[ -f "$E2E_UNIT_DIR/$u" ] || fail "$u is not installed in $E2E_UNIT_DIR"
done
LISTEN=$(unit_value bearer-token-broker.socket ListenStream)
SOCKMODE=$(unit_value bearer-token-broker.socket SocketMode)
DIRMODE=$(unit_value bearer-token-broker.socket DirectoryMode)
RUNDIR=/run/$(unit_value bearer-token-broker.service RuntimeDirectory)
RUNMODE=$(unit_value bearer-token-broker.service RuntimeDirectoryMode)
USERNAME=$(unit_value bearer-token-broker.service User)
GROUPNAME=$(unit_value bearer-token-broker.service Group)
read -ra EXEC <<<"$(unit_value bearer-token-broker.service ExecStart)"
assert_eq "$LISTEN $SOCKMODE $USERNAME $GROUPNAME" "/run/pam_bearer/broker.sock 0666 _pam_bearer _pam_bearer" \
	"the units: the socket at /run/pam_bearer/broker.sock 0666, the service as _pam_bearer"
assert_eq "${EXEC[*]}" "$E2E_BEARER_TOKEN broker" "the service runs '$E2E_BEARER_TOKEN broker'"
if systemd-analyze verify "$E2E_UNIT_DIR/bearer-token-broker.socket" \
	"$E2E_UNIT_DIR/bearer-token-broker.service" >"$T/verify.log" 2>&1; then
	ok "systemd-analyze verify: both units are clean"
else
	sed 's/^/#   /' "$T/verify.log"
	fail "systemd-analyze verify finds fault with the broker's units"
fi
[ ! -e /run/pam_bearer ] || fail "/run/pam_bearer exists already"
E2E_RUNDIRS="$E2E_RUNDIRS /run/pam_bearer"
# what systemd does for the two units, then ExecStart as User= and Group=
install -d -m "$DIRMODE" "$(dirname "$LISTEN")"
install -d -m "$RUNMODE" -o "$USERNAME" -g "$GROUPNAME" "$RUNDIR"
systemd-socket-activate -l "$LISTEN" -E BEARER_CONFIG="$BEARER_CONFIG" \
	setpriv --reuid="$USERNAME" --regid="$GROUPNAME" --init-groups "${EXEC[@]}" 2>"$T/broker.log" &
BROKER=$!
E2E_PIDS="$E2E_PIDS $BROKER"
for _ in $(seq 50); do [ -S "$LISTEN" ] && break; sleep 0.1; done
[ -S "$LISTEN" ] || fail "systemd-socket-activate did not listen on $LISTEN"
chmod "$SOCKMODE" "$LISTEN"
ok "the broker's socket listens (systemd-socket-activate, as systemd would)"

SERVICE=sshd-bearer-${E2E_USER#pbe2e}
e2e_pam_service "$SERVICE"
e2e_sshd_keys
start_sshd

# ------------------------------------------------------------- a login
mock_config '{"lifetime": 4}'
cmd="$(session_cmd); echo; curl -sS --max-time 10 --cacert $T/ca.pem -w ' sysstatus=%{http_code}' "
cmd+='-H @"$BEARER_TOKEN_DIR/sysvideo.header" '"$MOCK/v1/whoami; echo; "
cmd+="cat $CREDS >/dev/null 2>&1 && echo CREDS-READABLE || echo creds-refused; echo READY; read -r _ || :"
hold_open sshS ssh_user "$cmd"
ok "ssh login as $E2E_USER with a credentials = system profile"
assert_contains "$OUT" "sysstatus=200" "curl -H @\$BEARER_TOKEN_DIR/sysvideo.header in the session: HTTP 200"
assert_contains "$OUT" "creds-refused" "the user cannot read $CREDS"
assert_not_contains "$OUT" "CREDS-READABLE" "(and it did not say otherwise)"
[ -s "$TOKDIR/sysvideo.token" ] || fail "no sysvideo.token"
[ ! -e "$TOKDIR/sysvideo.state" ] || fail "a refresh token of the system profile in the user's dir"
ok "sysvideo.token in the user's dir, no refresh token beside it"
assert_eq "$(stat -c '%U %a' "$TOKDIR/sysvideo.token")" "$E2E_USER 600" "the user's, 0600"
check_refresher

# ------------------------------------------------------------- renewed through the broker
slurp first "$TOKDIR/sysvideo.token"
n0=$(($(mock_count /auth/refresh) + $(mock_count /auth/api-key)))
for _ in $(seq 80); do
	slurp now_tok "$TOKDIR/sysvideo.token"
	[ "$now_tok" != "$first" ] && break
	sleep 0.1
done
[ "$now_tok" != "$first" ] || fail "sysvideo was not renewed within 8 s of 4-s tokens"
ok "the refresher renewed sysvideo during the session"
jload "$TOKDIR/sysvideo.json"
assert_eq "${J[renewal]:-}" broker "sysvideo.json says the broker renews it"
assert_eq "${J[state]}" valid "and it is valid"
pgrep -f "bearer-token broker" >/dev/null || fail "no broker process"
assert_eq "$(ps -o user= -p "$(pgrep -f "bearer-token broker" | head -1)" | tr -d ' ')" _pam_bearer \
	"the broker runs as _pam_bearer"
[ "$(($(mock_count /auth/refresh) + $(mock_count /auth/api-key)))" -gt "$n0" ] ||
	fail "the vendor saw no renewal"
ok "the vendor saw the renewal"

# ------------------------------------------------------------- the secret, nowhere the user can reach
leaks=
for pid in $(uid_pids "$E2E_UID"); do
	for f in cmdline environ; do
		grep -qF "$SYS_CANARY" "/proc/$pid/$f" 2>/dev/null && leaks="$leaks /proc/$pid/$f"
	done
done
[ -z "$leaks" ] || fail "the admin-held secret is in:$leaks"
ok "in no cmdline or environment of the user's processes"
leaks=$(grep -rlsF "$SYS_CANARY" "$E2E_HOME" "/run/user/$E2E_UID" "$T"/*.out "$T"/*.err "$T/ssh/sshd.log" \
	"$T/broker.log" 2>/dev/null)
[ -z "$leaks" ] || fail "the admin-held secret is in: $leaks"
ok "in no file of the user's, no session output, no log"
if find /tmp /var/tmp /dev/shm -xdev -user "$E2E_UID" -type f 2>/dev/null | xargs -r grep -lsF "$SYS_CANARY" |
	grep -q .; then
	fail "the admin-held secret is in a file the user owns in /tmp, /var/tmp or /dev/shm"
fi
ok "in no file the user owns in /tmp, /var/tmp or /dev/shm"

hold_close
assert_eq "$RC" 0 "the session ends cleanly"
check_refresher_gone "the logout"
kill "$SSHD_PID" && wait "$SSHD_PID"
kill "$BROKER" 2>/dev/null; wait "$BROKER" 2>/dev/null
pb_done
