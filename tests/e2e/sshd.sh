#!/bin/bash
# SPDX-License-Identifier: MIT
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

e2e_sshd_keys
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
