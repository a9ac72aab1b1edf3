#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/e2e/pamtester.sh - pamtester through a PAM service of its own with
# the installed pam_bearer (root only; see fixture.sh).
#
# pamtester opens and closes a session in one process, so the checks are
# on what the session leaves: the token files, used with curl as the user,
# and no refresher after the close. Then a session held open, whose
# pamtester exits without closing it: the refresher must notice by itself.

: "${TESTS_SRCDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TESTS_SRCDIR/e2e/fixture.sh"

e2e_require_root
e2e_setup
e2e_need pamtester

SERVICE=pb-e2e-${E2E_USER#pbe2e}
e2e_pam_service "$SERVICE"

# ------------------------------------------------------------- open and close
expect_exit 0 pamtester -v "$SERVICE" "$E2E_USER" open_session close_session
assert_contains "$OUT$ERR" "successfully opened a session" "pamtester opened a session"
assert_contains "$OUT$ERR" "session has successfully been closed" "pamtester closed it"
check_tokens
assert_eq "$(mock_count /auth/api-key)" 1 "one api.video exchange for the session"
run_cmd as_user curl -sS --max-time 10 --cacert "$T/ca.pem" -w ' status=%{http_code}' \
	-H @"$TOKDIR/apivideo.header" "$MOCK/v1/whoami"
check_whoami "$OUT"
check_refresher_gone "close_session"

# ------------------------------------------------------------- a second session, tokens still valid
expect_exit 0 pamtester "$SERVICE" "$E2E_USER" open_session close_session
assert_eq "$(mock_count /auth/api-key)" 1 "the second session made no exchange (tokens still valid)"
raw_eq "$TOKDIR/apivideo.token" "$TOKEN" && ok "the token file is the same" ||
	fail "the second session replaced a valid token"
check_refresher_gone "the second close_session"

# ------------------------------------------------------------- a session never closed
# open_session, then authenticate: pamtester waits at pam_unix's password
# prompt with the session open; EOF there fails it, and it exits without
# close_session. The refresher must see its session's process go.
HOLD_WAIT='[Pp]assword' hold_open held pamtester "$SERVICE" "$E2E_USER" open_session authenticate
ok "pamtester holds a session open (at the password prompt)"
assert_eq "$(mock_count /auth/api-key)" 1 "the held session made no exchange either"
check_refresher
hold_close
[ "$RC" -ne 0 ] && ok "pamtester exits at EOF, without close_session" ||
	fail "pamtester authenticate succeeded on EOF"
check_refresher_gone "pamtester exited without close_session"

pb_done
