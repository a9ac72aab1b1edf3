#!/bin/bash
# tests/e2e/sshd.sh - log in over a real OpenSSH sshd with the installed
# pam_bearer, and use the token with curl (root only; see fixture.sh).
#
# The sshd is the system's binary, run through a link named sshd-bearer-*
# (OpenSSH takes its PAM service name from its program name, so it reads
# /etc/pam.d/sshd-bearer-* and the machine's sshd is left alone), on a
# spare port of 127.0.0.1, with its own config and host key, UsePAM yes.
# One session is held open while a second one comes and goes: the
# refresher must outlive the second and stop after the last logout.

: "${TESTS_SRCDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TESTS_SRCDIR/e2e/fixture.sh"
: "${E2E_SSHD:=/usr/sbin/sshd}"

e2e_require_root
e2e_setup
e2e_need ssh ssh-keygen "$E2E_SSHD"

SERVICE=sshd-bearer-${E2E_USER#pbe2e}
e2e_pam_service "$SERVICE"

# ------------------------------------------------------------- keys
mkdir -m 0700 "$T/ssh"
ssh-keygen -q -t ed25519 -N '' -C e2e-host -f "$T/ssh/host_key" || fail "ssh-keygen (host)"
ssh-keygen -q -t ed25519 -N '' -C e2e-client -f "$T/ssh/id" || fail "ssh-keygen (client)"
install -d -m 0700 -o "$E2E_UID" -g "$E2E_GID" "$E2E_HOME/.ssh"
install -m 0600 -o "$E2E_UID" -g "$E2E_GID" "$T/ssh/id.pub" "$E2E_HOME/.ssh/authorized_keys"

# sshd's privilege separation dir (Debian's init script or unit makes it)
if [ ! -d /run/sshd ]; then
	mkdir -m 0755 /run/sshd
	E2E_RUNDIRS="$E2E_RUNDIRS /run/sshd"
fi

# ------------------------------------------------------------- sshd
# free_port : a TCP port of 127.0.0.1 that nobody listens on right now
free_port() {
	"$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_sshd : sshd on a spare port (SSHD_PORT), its pid recorded
start_sshd() {
	local try i
	ln -s "$E2E_SSHD" "$T/$SERVICE"
	for try in 1 2 3; do
		SSHD_PORT=$(free_port)
		cat >"$T/ssh/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $T/ssh/host_key
PidFile $T/ssh/sshd.pid
UsePAM yes
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $E2E_USER
StrictModes yes
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
LogLevel VERBOSE
EOF
		"$T/$SERVICE" -t -f "$T/ssh/sshd_config" || fail "sshd -t rejects the test config"
		"$T/$SERVICE" -D -f "$T/ssh/sshd_config" -E "$T/ssh/sshd.log" &
		SSHD_PID=$!
		E2E_PIDS="$E2E_PIDS $SSHD_PID"
		for ((i = 0; i < 50; i++)); do
			grep -q "Server listening on 127.0.0.1 port $SSHD_PORT" "$T/ssh/sshd.log" 2>/dev/null && break
			kill -0 "$SSHD_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$SSHD_PID" 2>/dev/null; then
			ok "sshd as $SERVICE on 127.0.0.1:$SSHD_PORT (PAM service $SERVICE)"
			return 0
		fi
		wait "$SSHD_PID"
	done
	sed 's/^/  sshd: /' "$T/ssh/sshd.log"
	fail "sshd did not start"
}

# ssh_user CMD : run CMD over ssh as the test user, key only, no prompt
ssh_user() {
	ssh -F /dev/null -T -p "$SSHD_PORT" -i "$T/ssh/id" -o IdentitiesOnly=yes \
		-o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile="$T/ssh/known_hosts" -o LogLevel=ERROR \
		"$E2E_USER@127.0.0.1" "$1"
}

start_sshd

# ------------------------------------------------------------- session A, held open
hold_open sshA ssh_user "$(session_cmd); echo; echo READY; read -r _ || :"
ok "ssh login A as $E2E_USER with a key"
assert_contains "$OUT" "dir=$TOKDIR" "BEARER_TOKEN_DIR=$TOKDIR in the ssh session"
check_tokens
check_whoami "$OUT"
assert_eq "$(mock_count /auth/api-key)" 1 "one api.video exchange for the login"
check_refresher

# ------------------------------------------------------------- session B, in and out
expect_exit 0 ssh_user "$E2E_BEARER_TOKEN --config $BEARER_CONFIG get apivideo"
assert_eq "$OUT" "$TOKEN" "bearer-token get in a second ssh session: the same token"
assert_eq "$(mock_count /auth/api-key)" 1 "the second login made no exchange (tokens still valid)"
assert_eq "$(refresher_pids "$E2E_UID")" "$REFRESHER" "the same refresher runs on after the second logout"

# ------------------------------------------------------------- last logout
hold_close
assert_eq "$RC" 0 "ssh session A ends cleanly"
check_refresher_gone "the last ssh logout"

# ------------------------------------------------------------- logs
kill "$SSHD_PID" && wait "$SSHD_PID"
slurp LOG "$T/ssh/sshd.log"
assert_contains "$LOG" "Accepted publickey for $E2E_USER" "sshd logged the key login"
assert_not_contains "$LOG" "$TOKEN" "no token in sshd's log"
assert_not_contains "$LOG" "test-apivideo-key" "no secret in sshd's log"
assert_not_contains "$(<"$T/sshA.err")" "$TOKEN" "no token on the session's stderr"

pb_done
