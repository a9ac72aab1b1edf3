#!/bin/bash
# SPDX-License-Identifier: MIT
# daemon.sh - the refresher, `bearer-token daemon` (issue 4): the schedule
# with 4-second tokens for every preset kind, outages and backoff,
# Retry-After, refresh-token rotation and fall-back, expiry, permanent
# errors, the session bookkeeping, hand-over to a running refresher,
# SIGHUP/SIGTERM, `status`, and a reader that never sees a partial token
# file during 1,000 rewrites. (System profiles, renewed through the
# broker: broker.sh.)
#
# Each scenario (sc_* below) has its own temp dir, mock vendor and daemon
# and runs in a subshell of its own; the timing-bound ones run in parallel
# (wave 1), then the CPU-heavy reader alone (wave 2), so the whole file
# takes about 30 s. Output is printed per scenario, in order, at the end.
#   daemon.sh [SCENARIO...]     only these (names below, without sc_)
#   DAEMON_SERIAL=1             one scenario at a time
#   SCENARIO_JOBS=N             at most N at once (default: all; one per
#                               core under the sanitizers)
#   PB_KEEP_GOING=1             every failure of a scenario, not the first
# Runs as root and as an ordinary user.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"

. "$TESTS_SRCDIR/refresher.sh"

# the timing-bound scenarios together, then the CPU-heavy reader alone
ALL_WAVES=("cycles faults expiry permanent sessions reload" "reader")

# ------------------------------------------------------------------ scenarios

# (1, 4, 10, 12) Every preset kind in one refresher for 10 s with 4 s
# tokens: at least three renewals each on schedule, tokens on disk always
# whole and valid; api.video's rotating refresh token and the fall-back to
# the API key when it is revoked; a second start hands over (no double
# refresh); `status` shows the plan.
sc_cycles() {
	d_setup
	conf apivideo unith rythmex-jwt rythmex-apitoken hautai hautai-login oauth2
	mock_config '{"lifetime": 4}'
	local all="apivideo unith rythmex-jwt rythmex-apitoken hautai hautai-login oauth2"
	local t0 p hautai0 n line cur saw next_lines now_s refused revoked fallback
	t0=$(now_ms)
	d_start_fg
	# shellcheck disable=SC2086
	all_there() { for p in $all; do [ -s "$TOKDIR/$p.token" ] || return 1; done; }
	wait_for 3000 all_there || fail "not every profile got its first token within 3 s"
	ok "every profile has its first token"
	hautai0=$(<"$TOKDIR/hautai.json")
	# shellcheck disable=SC2086
	dtool sampler "$TESTS_SRCDIR" "$TOKDIR" "$T/sampler.stop" $all >"$T/sampler.out" &
	local sampler=$!

	sleep 3.5
	echo "# revoking every refresh token: api.video must fall back to its API key"
	mock_ctl /_mock/revoke-refresh

	sleep 1
	echo "# a second start while one runs: it hands over and exits"
	local t
	for p in "" --foreground; do
		t=$(now_ms)
		expect_exit 0 bt --config "$BEARER_CONFIG" daemon $p
		[ $(($(now_ms) - t)) -lt 1000 ] || fail "bearer-token daemon $p took $(($(now_ms) - t)) ms to hand over"
	done
	ok "both returned within 1 s"
	assert_contains "$ERR" "already runs" "the second start (foreground) says one already runs"
	assert_contains "$ERR" "handed over" "and that it handed over to it"
	sleep 0.5
	n=$(dtool procs bearer-token "$BEARER_CONFIG" daemon | wc -l)
	assert_eq "$n" 1 "one refresher process after two more starts"
	assert_eq "$(d_pid)" "$DPID" "the first refresher still answers"

	echo "# status while it runs"
	expect_exit 0 bt status
	cur= saw= next_lines=
	while IFS= read -r line; do
		case $line in
		PROFILE*) ;;
		" "*"next refresh:"*) next_lines="$next_lines $cur" ;;
		" "*) ;;
		*) cur=${line%% *}; [[ $line == *" valid "* ]] && saw="$saw $cur" ;;
		esac
	done <<<"$OUT"
	for p in $all; do
		[[ " $saw " == *" $p "* ]] || fail "status: no line saying $p is valid"
	done
	ok "status: every profile valid"
	for p in apivideo unith rythmex-jwt hautai hautai-login oauth2; do
		[[ " $next_lines " == *" $p "* ]] || fail "status: no 'next refresh:' line for $p"
	done
	ok "status: a 'next refresh:' line for every profile that expires"
	[[ " $next_lines " != *" rythmex-apitoken "* ]] || fail "status: a next refresh for a token that never expires"
	ok "status: none for rythmex-apitoken (never expires)"
	now_s=$EPOCHSECONDS
	expect_exit 0 bt status --json
	printf '%s\n' "$OUT" >"$T/status.json"
	report < <(dtool statusjson "$TESTS_SRCDIR" "$T/status.json" "$now_s")

	# the rest of the 10 s
	while [ $(($(now_ms) - t0)) -lt 10300 ]; do sleep 0.1; done
	touch "$T/sampler.stop"
	wait "$sampler"
	stats
	local t1=$((t0 + 10300))
	report <"$T/sampler.out"

	echo "# the schedule, as the mock saw it"
	check_schedule unith 3900 "$t0" "$t1" /auth/token
	check_schedule rythmex-jwt 3900 "$t0" "$t1" /api/v1/auth/jwt/create/ /api/v1/auth/jwt/refresh/
	check_schedule hautai-login 3900 "$t0" "$t1" /api/v1/auth/login/
	check_schedule oauth2 4400 "$t0" "$t1" /oauth/token
	check_schedule apivideo 4400 "$t0" "$t1" /auth/api-key /auth/refresh
	for p in unith rythmex-jwt hautai-login oauth2 apivideo; do
		n=$(sed -n "s/^distinct $p //p" "$T/sampler.out")
		# the first and at least two renewals (as check_schedule asks of the mock)
		[ "${n:-0}" -ge 3 ] || fail "$p: only ${n:-0} different tokens seen on disk in 10 s"
	done
	ok "every renewing profile showed at least 3 different tokens on disk"
	echo "# rythmex-jwt: refreshes; the revocation sends it back to a login once"
	refused=$(fetches /api/v1/auth/jwt/refresh/ | awk '$2 != 200')
	assert_lines "$refused" 1 "rythmex-jwt: exactly one refused refresh (the revoked token)"
	n=$(fetches /api/v1/auth/jwt/create/ | awk -v r="${refused%% *}" '$2 == 200 && $1 >= r' | wc -l)
	assert_eq "$n" 1 "rythmex-jwt: a new login after the refused refresh"
	n=$(fetches /api/v1/auth/jwt/create/ | awk -v r="${refused%% *}" '$2 == 200 && $1 >= r {print $1 - r; exit}')
	[ "${n:-1000}" -lt 1000 ] || fail "rythmex-jwt: the login came ${n:-never} ms after the refused refresh"
	ok "rythmex-jwt: the login came at once (${n:-never} ms)"
	assert_eq "$(mock_count /api/v1/auth/jwt/create/)" 2 "rythmex-jwt: two logins in all, the rest refreshes"
	n=$(fetches /oauth/token | awk '$5 != "client_credentials"' | wc -l)
	assert_eq "$n" 0 "oauth2: every renewal is a client_credentials grant"
	assert_eq "$(mock_count /api/v1/auth/api-token/get-or-create/)" 1 \
		"rythmex-apitoken (never expires): fetched once, never renewed"
	assert_eq "$(sed -n 's/^distinct hautai //p' "$T/sampler.out")" 1 "hautai (static): the same token throughout"
	assert_eq "$(<"$TOKDIR/hautai.json")" "$hautai0" "hautai (static): its .json untouched"
	n=$(fetches /auth/token /api/v1/auth/jwt/create/ /api/v1/auth/login/ /oauth/token /auth/api-key |
		awk '$2 != 200' | wc -l)
	assert_eq "$n" 0 "no failed request but the two refreshes after the revocation"

	echo "# api.video: rotation, and the fall-back after the revocation"
	refused=$(fetches /auth/refresh | awk '$2 != 200')
	assert_lines "$refused" 1 "exactly one refused refresh (the revoked token)"
	revoked=${refused%% *}
	fallback=$(fetches /auth/api-key | awk -v r="$revoked" '$1 >= r && $2 == 200 {print $1; exit}')
	[ -n "$fallback" ] ||
		fail "no API-key exchange after the refused refresh (refused at $revoked)"
	[ $((fallback - revoked)) -lt 1000 ] ||
		fail "no API-key exchange within 1 s of the refused refresh (refused at $revoked, exchange at $fallback)"
	ok "the refused refresh fell back to the API key at once ($((fallback - revoked)) ms)"
	assert_eq "$(mock_count /auth/api-key)" 2 "two API-key exchanges in all: the first and the fall-back"
	wait_for 4000 eval '[ -n "$(stats; fetches /auth/refresh | awk -v f="$fallback" '\''$1 > f && $2 == 200'\'')" ]' ||
		fail "no accepted refresh after the fall-back"
	ok "the refresh after the fall-back is accepted (it sent the new refresh token)"
	n=$(fetches /auth/refresh | awk '{print $4}' | sort | uniq -d | wc -l)
	assert_eq "$n" 0 "every refresh sent a different refresh token (rotation)"
	n=$(fetches /auth/refresh | awk -v r="$revoked" '$1 != r && $2 != 200' | wc -l)
	assert_eq "$n" 0 "every other refresh was accepted: the daemon always sends the latest one"
	# (the refresher keeps renewing: a refresh the mock has answered may be
	# on its way to the file, so look again until it lands, or 3 s)
	wait_for 3000 eval 'grep -qF -- "$(mock_latest_refresh apivideo)" "$TOKDIR/apivideo.state"' ||
		fail "apivideo.state does not hold the refresh token the mock issued last"
	ok "apivideo.state holds the latest refresh token"

	for p in apivideo unith rythmex-jwt rythmex-apitoken hautai-login oauth2; do
		wait_for 3000 eval '[ "$(whoami "$TOKDIR/'"$p"'.header" 2>/dev/null)" = 200 ]' ||
			fail "$p.header does not work at the mock"
		ok "$p.header works at the mock"
	done

	echo "# SIGTERM"
	t=$(now_ms)
	kill -TERM "$DPID"
	wait "$DPID"
	assert_eq "$?" 0 "SIGTERM: exit status 0"
	[ $(($(now_ms) - t)) -lt 1000 ] || fail "SIGTERM: took $(($(now_ms) - t)) ms"
	[ ! -e "$TOKDIR/daemon.sock" ] || fail "SIGTERM: daemon.sock left behind"
	lock_free || fail "SIGTERM: daemon.lock still held"
	ok "SIGTERM: gone at once, no daemon.sock, lock free"

	echo "# the log: one line per outcome, with the PID; no token, no secret"
	stats
	n=$(grep -vc "^bearer-token\[$DPID\]: " "$T/daemon.log")
	assert_eq "$n" 0 "every log line names bearer-token and its PID"
	local paths
	for p in unith:/auth/token rythmex-jwt:/api/v1/auth/jwt/create/,/api/v1/auth/jwt/refresh/ \
		hautai-login:/api/v1/auth/login/ oauth2:/oauth/token apivideo:/auth/api-key,/auth/refresh \
		rythmex-apitoken:/api/v1/auth/api-token/get-or-create/; do
		paths=${p#*:} p=${p%%:*}
		# shellcheck disable=SC2086
		assert_eq "$(grep -cE "^bearer-token\[$DPID\]: $p: token (obtained|refreshed)" "$T/daemon.log")" \
			"$(fetches ${paths//,/ } | awk '$2 == 200' | wc -l)" "$p: one log line per token fetched"
	done
	for p in $SECRETS eyJ def502; do
		if grep -qF -- "$p" "$T/daemon.log"; then fail "the log holds a secret or token ($p...)"; fi
	done
	ok "no secret, access token or refresh token in the log"
}

# (2, 3) A 3 s outage while the token is still valid, then recovery within
# the backoff bound; 429 with Retry-After and with X-RateLimit-Retry-After
# alone. 20 s tokens renewed at 15% of their life (3 s), so that an outage
# fits before the expiry.
sc_faults() {
	d_setup
	DEFAULTS=("refresh_at = 0.15")
	conf unith hautai-login oauth2
	mock_config '{"lifetime": 20}'
	local p u0 first t_clear t_new k n t st rest prev bound
	for p in unith hautai-login oauth2; do expect_exit 0 bt get "$p"; done
	u0=$(<"$TOKDIR/unith.token")
	mock_fault /auth/token 503
	mock_fault /api/v1/auth/login/ 429 '"count": 1, "retry_after": 3'
	mock_fault /oauth/token 429 '"count": 1, "retry_after": 4, "headers": ["X-RateLimit-Retry-After"]'
	d_start_fg

	echo "# unith: the vendor answers 503 for 3 s"
	wait_for 5000 eval '[ "$(stats; fetches /auth/token | awk '\''$2 == 503'\'' | wc -l)" -ge 1 ]' ||
		fail "no renewal attempt within 5 s of the start"
	first=$(fetches /auth/token | awk '$2 == 503 {print $1; exit}')
	local bad= checks=0
	# look at least once, however long a loaded machine took to see the 503
	while [ "$checks" -eq 0 ] || [ $(($(now_ms) - first)) -lt 3000 ]; do
		raw_eq "$TOKDIR/unith.token" "$u0" || bad="$bad; unith.token changed or vanished"
		jload "$TOKDIR/unith.json"
		[ "${J[state]}" = valid ] || bad="$bad; state ${J[state]}"
		[[ ${J[last_error]:-} == *503* ]] || bad="$bad; last_error [${J[last_error]:-}]"
		checks=$((checks + 1))
		[ -z "$bad" ] || break
		sleep 0.2
	done
	[ -z "$bad" ] || fail "during the outage:${bad#;}"
	ok "during the outage ($checks looks): the old token stays, .json valid with the 503 in last_error"
	[ -n "${J[next_attempt_at]:-}" ] && [ "${J[next_attempt_at]}" != null ] ||
		fail "during the outage: .json has no next_attempt_at"
	ok "during the outage: .json says when the next attempt is (${J[next_attempt_at]})"
	assert_eq "$(whoami "$TOKDIR/unith.header")" 200 "during the outage: the old token still works"
	mock_fault /auth/token none
	t_clear=$(now_ms)
	wait_for 9000 eval '! raw_eq "$TOKDIR/unith.token" "$u0"' || fail "no new token within 9 s of the recovery"
	t_new=$(now_ms)
	ok "a new token $((t_new - t_clear)) ms after the vendor came back"
	stats
	# every retry within its backoff window: 0.5 s + up to 2^k s after the k-th failure in a row
	k=0 prev=
	while read -r t st rest; do
		if [ -n "$prev" ]; then
			bound=$((500 + 1000 * (1 << k)))
			[ $((t - prev)) -ge 450 ] ||
				fail "attempt $((k + 1)) came $((t - prev)) ms after failure $k (backoff window 500..$bound ms)"
			[ $((t - prev)) -le $((bound + 300)) ] ||
				fail "attempt $((k + 1)) came $((t - prev)) ms after failure $k (backoff window 500..$bound ms)"
		fi
		[ "$st" = 503 ] || break
		k=$((k + 1)) prev=$t
	done < <(fetches /auth/token | awk -v f="$first" '$1 >= f')
	[ "$st" = 200 ] || fail "no successful renewal after the outage"
	[ "$t" -ge "$t_clear" ] || fail "a renewal succeeded during the outage?"
	ok "$k failed attempts, each retry inside its backoff window; recovery on the first attempt after the outage"
	jload "$TOKDIR/unith.json"
	assert_eq "${J[state]}" valid "after the recovery: state valid"
	assert_eq "${J[last_error]:-}" "" "after the recovery: no stale last_error"
	assert_eq "$(whoami "$TOKDIR/unith.header")" 200 "after the recovery: the new token works"

	echo "# 429 with Retry-After: 3 (hautai-login) and X-RateLimit-Retry-After: 4 alone (oauth2)"
	local path ra
	for path in /api/v1/auth/login/:3 /oauth/token:4; do
		ra=${path##*:} path=${path%:*}
		wait_for 8000 eval '[ "$(stats; fetches '"$path"' | awk '\''$2 == 429 {f=1} f && $2 == 200'\'' | wc -l)" -ge 1 ]' ||
			fail "$path: no renewal after the 429 within 8 s"
		n=$(fetches "$path" | awk '$2 == 429 {t = $1} t && $2 == 200 {print $1 - t; exit}')
		[ "$n" -ge $((ra * 1000)) ] ||
			fail "$path: the attempt after a 429 with a $ra s delay came $n ms later"
		[ "$n" -le $((ra * 1000 + 700)) ] ||
			fail "$path: the attempt after a 429 with a $ra s delay came $n ms later"
		ok "$path: the next attempt came $n ms after the 429 (asked: $ra s)"
		assert_eq "$(fetches "$path" | awk '$2 == 429' | wc -l)" 1 "$path: one 429, then no hammering"
	done
	p=$(grep -c 'HTTP 429 .*; retrying in 3 s$' "$T/daemon.log")
	assert_eq "$p" 1 "the log says when it retries after the 429 (3 s)"
	p=$(grep -c 'HTTP 429 .*; retrying in 4 s$' "$T/daemon.log")
	assert_eq "$p" 1 "and after the other one (4 s)"
	assert_eq "$(grep -c 'unith: HTTP 503 .*; retrying in [0-9]* s$' "$T/daemon.log")" "$k" \
		"one log line per failed attempt during the outage"
}

# (5) A 4 s token and a vendor down for good: at expiry .token and .header
# go, .json says expired, and `get` fails fast.
sc_expiry() {
	d_setup
	conf unith
	mock_config '{"lifetime": 4}'
	local exp t_gone
	expect_exit 0 bt get unith
	jload "$TOKDIR/unith.json"
	exp=${J[expires_at@]}
	mock_fault /auth/token 503
	d_start_fg
	wait_for 6000 eval '[ ! -e "$TOKDIR/unith.token" ]' || fail "unith.token still there 2 s after its expiry"
	t_gone=$(now_ms)
	[ "$t_gone" -ge $((exp * 1000 - 100)) ] || fail "unith.token removed $((exp * 1000 - t_gone)) ms before its expiry"
	[ "$t_gone" -le $((exp * 1000 + 1000)) ] || fail "unith.token removed $((t_gone - exp * 1000)) ms after its expiry"
	ok "unith.token removed $((t_gone - exp * 1000)) ms after expires_at"
	[ ! -e "$TOKDIR/unith.header" ] || fail "unith.header still there after the expiry"
	ok "unith.header removed too"
	jload "$TOKDIR/unith.json"
	assert_eq "${J[state]}" expired "unith.json says expired"
	assert_eq "${J[expires_at@]}" "$exp" "unith.json keeps the expiry time"
	expect_exit 7 bt status
	assert_match "$OUT" $'\nunith +unith +expired ' "status says unith expired"
	run_cmd bt get unith
	[ "$RC" -ne 0 ] && [ -z "$OUT" ] || fail "get after the expiry: exit $RC, printed [$OUT]"
	ok "get after the expiry fails (exit $RC) and prints no token"
}

# (6) A permanent error (the vendor refuses the credentials): no retries,
# and .json and status say so; `refresh` after the fix resumes it.
sc_permanent() {
	d_setup
	conf unith apivideo
	mock_config '{"lifetime": 4}'
	mock_fault /auth/token bad-creds
	# api.video: a wrong key in the user's own credentials file
	sed -i 's/^api_key = test-apivideo-key/api_key = wrong-apivideo-key/' "$CREDS"
	d_start_fg
	wait_for 3000 eval '[ "$(mock_count /auth/token)" -ge 1 ] && [ "$(mock_count /auth/api-key)" -ge 1 ]' ||
		fail "no first attempt within 3 s"
	sleep 4
	assert_eq "$(mock_count /auth/token)" 1 "unith refused: one attempt in 4 s, no retries"
	assert_eq "$(mock_count /auth/api-key)" 1 "apivideo refused: one attempt in 4 s, no retries"
	jload "$TOKDIR/unith.json"
	assert_eq "${J[state]}" error "unith.json: state error"
	assert_contains "${J[last_error]:-}" "not retrying" "unith.json: last_error says it is not retrying"
	expect_exit 7 bt status
	assert_contains "$OUT" "not retrying" "status says it is not retrying"
	assert_contains "$(d_ctl schedule)" "unith 0" "the refresher plans nothing for unith"

	echo "# the vendor accepts again: bearer-token refresh resumes it"
	mock_fault /auth/token none
	expect_exit 0 bt refresh unith
	assert_eq "$(mock_count /auth/token)" 2 "refresh: one request"
	[ -s "$TOKDIR/unith.token" ] || fail "no unith.token after the refresh"
	wait_for 4000 eval '[ "$(mock_count /auth/token)" -ge 3 ]' || fail "the refresher did not renew unith again"
	ok "the refresher renews unith on its own again"

	echo "# the user fixes the key in the credentials file, then runs the refresh the message asks for"
	sed -i 's/^api_key = wrong-apivideo-key/api_key = test-apivideo-key/' "$CREDS"
	expect_exit 0 bt refresh apivideo
	assert_eq "$(mock_last /auth/api-key status)" 200 "the refresh used the fixed key"
}

# (7) Sessions: exits after the last session ends (process gone, or
# session-close), keeps going while one is left; a second start hands its
# session over; the runtime dir going away stops it too.
sc_sessions() {
	d_setup
	conf unith
	local p1 p2 p3 p4 p5
	start_sleep; p1=$SPID
	start_sleep; p2=$SPID
	d_start_bg --session "$p1:00000000000000c1"
	assert_eq "$(d_ctl "session-open $p2:00000000000000c2")" ok "session-open of a second session"
	assert_eq "$(d_ctl "session-open $p2:xyz")" "error bad request" "a cookie that is not hex is refused"
	assert_eq "$(d_ctl "session-open $p2 00000000000000c2")" "error bad request" \
		"a session spelt <pid> <cookie> is refused: one spelling, <pid>:<cookie>"
	kill "$p1"
	sleep 0.5
	alive "$DPID" || fail "the refresher stopped when the first of two sessions ended"
	assert_eq "$(d_pid)" "$DPID" "first session's process gone: the refresher goes on"
	kill "$p2"
	d_exits_within 1000 "last session's process gone"

	echo "# explicit session-close"
	start_sleep; p3=$SPID
	d_start_bg --session "$p3:00000000000000a1"
	assert_eq "$(d_ctl "session-open $p3:00000000000000b2")" ok "a second session in the same process"
	d_ctl "session-close $p3:00000000000000a1" >/dev/null
	d_ctl "session-close $p3:000000000000ffff" >/dev/null
	d_ctl "session-close 999999:00000000000000b2" >/dev/null
	sleep 0.5
	assert_eq "$(d_pid)" "$DPID" "one session closed (and two unknown ones): the refresher goes on"
	assert_eq "$(d_ctl "session-close $p3:00000000000000b2")" ok "session-close of the last one"
	d_exits_within 1000 "last session closed"
	alive "$p3" || fail "the session's process died?"

	echo "# a second start for another session hands that session over"
	start_sleep; p4=$SPID
	start_sleep; p5=$SPID
	d_start_bg --session "$p4:00000000000000d1"
	expect_exit 0 bt --config "$BEARER_CONFIG" daemon --foreground --session "$p5:00000000000000e1"
	assert_contains "$ERR" "handed over" "the second start handed over"
	kill "$p4"
	sleep 0.5
	assert_eq "$(d_pid)" "$DPID" "the first session ended: the handed-over one keeps it running"
	kill "$p5"
	d_exits_within 1000 "the handed-over session ended"

	echo "# the runtime dir goes away (logind removes it after the last logout)"
	start_sleep
	d_start_bg --session "$SPID:00000000000000f1"
	rm -rf "$XDG_RUNTIME_DIR"
	wait_gone "$DPID" 2000 || fail "the refresher still runs 2 s after its runtime dir was removed"
	ok "the runtime dir removed: the refresher stops"
}

# (13, 5 of issue 4) SIGHUP re-reads the config, a broken one is not
# taken; `refresh` and `get --min-valid` ask the running refresher.
sc_reload() {
	d_setup
	conf unith
	local n u
	d_start_fg
	wait_for 3000 eval '[ -s "$TOKDIR/unith.token" ]' || fail "no unith token"
	[ ! -e "$TOKDIR/apivideo.json" ] || fail "apivideo.json before apivideo was configured"
	printf '\n[profile apivideo]\nvendor = apivideo\nbase_url = %s\n' "$MOCK" >>"$BEARER_CONFIG"
	kill -HUP "$DPID"
	wait_for 3000 eval '[ -s "$TOKDIR/apivideo.token" ]' || fail "SIGHUP: the added profile got no token within 3 s"
	ok "SIGHUP: the profile added to the config gets a token"
	assert_eq "$(mock_count /auth/api-key)" 1 "one exchange for it"
	assert_eq "$(mock_count /auth/token)" 1 "and none more for unith"
	cp "$BEARER_CONFIG" "$T/good.conf"
	echo "this line is not INI" >>"$BEARER_CONFIG"
	kill -HUP "$DPID"
	sleep 0.3
	assert_eq "$(d_pid)" "$DPID" "SIGHUP with a broken config: still running"
	assert_contains "$(<"$T/daemon.log")" "keeping the old configuration" "and says it keeps the old one"
	cp "$T/good.conf" "$BEARER_CONFIG"

	echo "# refresh and get --min-valid go through the refresher"
	n=$(grep -c 'unith: token' "$T/daemon.log")
	expect_exit 0 bt refresh unith
	assert_eq "$(mock_count /auth/token)" 2 "refresh: exactly one request"
	assert_eq "$(grep -c 'unith: token' "$T/daemon.log")" $((n + 1)) "made by the refresher (its log says so)"
	u=$(<"$TOKDIR/unith.token")
	expect_exit 0 bt get unith --min-valid 600
	assert_eq "$OUT" "$u" "get --min-valid 600 with an hour left: the token on disk"
	assert_eq "$(mock_count /auth/token)" 2 "and no request"
	mock_config '{"lifetime": 60}'
	expect_exit 0 bt refresh unith
	expect_exit 0 bt get unith --min-valid 300
	assert_eq "$(mock_count /auth/token)" 4 "get --min-valid 300 with 60 s left: exactly one request"
	assert_eq "$OUT" "$(<"$TOKDIR/unith.token")" "and it prints the new token"
	assert_eq "$(grep -c 'unith: token' "$T/daemon.log")" $((n + 3)) "all made by the refresher"

	echo "# a client that connects and then neither sends nor half-closes"
	"$PYTHON3" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(3)' "$TOKDIR/daemon.sock" &
	local silent=$! t
	sleep 0.3
	t=$(now_ms)
	assert_match "$(d_ctl ping)" "^ok [0-9]+" "a ping behind it is answered"
	# the refresher gives up on it after 0.5 s (it waited 2 s before)
	[ $(($(now_ms) - t)) -lt 1500 ] || fail "the ping behind a silent client took $(($(now_ms) - t)) ms"
	ok "the ping behind it took less than 1.5 s"
	kill "$silent" 2>/dev/null; wait "$silent" 2>/dev/null

	echo "# SIGTERM"
	kill -TERM "$DPID"
	wait "$DPID"
	assert_eq "$?" 0 "SIGTERM: exit status 0"
	[ ! -e "$TOKDIR/daemon.sock" ] || fail "SIGTERM: daemon.sock left behind"
	lock_free || fail "SIGTERM: daemon.lock still held"
	ok "SIGTERM: no daemon.sock, lock free"
}

# (9) A reader looping on P.token and P.header while they are rewritten
# 1,000 times (through the refresher: 900 socket requests, 100 `bearer-token
# refresh`) never sees a missing, empty or partial file.
sc_reader() {
	d_setup
	# back to back: no floor to speak of between two renewals (min_interval, 2 s by default)
	DEFAULTS=("min_interval = 0.01")
	conf apivideo
	local reader hammer good cli=0 line reads badn distinct n
	d_start_fg
	wait_for 3000 eval '[ -s "$TOKDIR/apivideo.token" ]' || fail "no first token"
	dtool reader "$TESTS_SRCDIR" "$TOKDIR" apivideo "$T/reader.stop" >"$T/reader.out" &
	reader=$!
	dtool hammer "$TOKDIR/daemon.sock" apivideo 900 >"$T/hammer.out" &
	hammer=$!
	for _ in $(seq 100); do bt refresh apivideo >/dev/null 2>&1 && cli=$((cli + 1)); done
	wait "$hammer"
	touch "$T/reader.stop"
	wait "$reader"
	good=$(<"$T/hammer.out")
	assert_eq "$((good + cli))" 1000 "1,000 renewals, all successful"
	# each of the hammer's 900 (one after the other) is a renewal of its own; a CLI
	# refresh that comes while one is under way shares it
	n=$(($(mock_count /auth/refresh) + $(mock_count /auth/api-key)))
	[ "$n" -ge 901 ] || fail "the mock saw only $n token requests"
	ok "the mock issued $n tokens"
	line=$(tail -1 "$T/reader.out")
	read -r _ reads _ badn _ distinct <<<"$line"
	report < <(grep '^not ok' "$T/reader.out")
	assert_eq "$badn" 0 "$reads reads of apivideo.token and .header: none missing, empty or partial"
	[ "$distinct" -ge 200 ] || fail "the reader saw only $distinct different tokens: it did not race the writer"
	ok "the reader saw $distinct different tokens go by"
	n=$(find "$TOKDIR" -mindepth 1 -not -name 'apivideo.*' -not -name 'daemon.*' | wc -l)
	assert_eq "$n" 0 "no temp files left in the token dir"
}

run_scenarios daemon.sh "$@"
