#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/sessions.sh - session opens, `bearer-token get`, many users at
# once, and a first login with seven profiles (sections 1, 2, 3, 4, 6 and 8
# of `make bench`). One cwrap PAM world, one TLS mock; pam_bearer and the
# baseline (bench/fetch-token.sh through pam_exec) run in the same libpam
# stack, one after the other in small interleaved batches so a busy machine
# hurts them alike.
# Prints figures and appends them to $BENCH_OUT/results.tsv.
. "$(dirname "$0")/lib.sh"
bench_init sessions
command -v jq >/dev/null || fail "jq not found (Debian: jq): the baseline script needs it"
pam_world bench --max-seconds 3000
# every preset profile (sections 6 and 8); the rest use apivideo alone
cp "$BEARER_CONFIG" "$T/all.conf"
ALL_PROFILES=apivideo,unith,rythmex-jwt,rythmex-apitoken,hautai,hautai-login,oauth2
keep_profiles apivideo
KEY=test-apivideo-key
BASE=$T/run/$U
BATCH=10

# ------------------------------------------------------------- the stacks
pam_service pb profiles=apivideo nodaemon
pam_service pb_daemon profiles=apivideo
# the baseline: pam_exec runs the careful script (as root, PAM env only)
mkdir -p "$T/baseline" && chmod 0700 "$T/baseline"
(umask 077; printf '%s' "$KEY" >"$T/baseline/apivideo.key")
baseline_conf() { # FILE URL TIMEOUT
	printf 'URL=%s\nCA=%s\nKEY_FILE=%s\nTIMEOUT=%s\n' "$2" "$T/ca.pem" "$T/baseline/apivideo.key" "$3" >"$1"
}
baseline_service() { # SVC CONF
	printf 'session required pam_env.so readenv=0 conffile=%s\nsession optional pam_exec.so quiet /bin/bash %s %s\n' \
		"$T/pam_env.conf" "$BENCH_SRC/fetch-token.sh" "$2" >"$T/services/$1"
}
baseline_conf "$T/baseline/ok.conf" "$MOCK" 3
baseline_service base "$T/baseline/ok.conf"
# the floor: one bare curl, the same exchange, the same CA
printf '{"apiKey": "%s"}' "$KEY" >"$T/floor.json"
FLOOR=(curl -sS --fail --proto =https --connect-timeout 3 --max-time 3 --cacert "$T/ca.pem"
	-H 'Content-Type: application/json' -H 'Accept: application/json'
	--data-binary @"$T/floor.json" -o "$T/floor.out" "$MOCK/auth/api-key")

# open SVC USER COUNT SAMPLES [CLEAN_DIRS] : COUNT timed opens, one process
open_n() {
	BENCH_SAMPLES=$4 BENCH_CLEAN=${5:-} in_pam "$PAM_OPEN" "$1" "$2" "$3" >/dev/null 2>>"$OUT/pam.log" ||
		echo "  ($1: some opens failed)"
}

# check the three really do the exchange before timing them
check_setup() {
	local before
	rm -rf "$BASE/bearer" "$BASE/vendor-token"
	before=$(mock_total)
	open_n pb bench 1 /dev/null
	open_n base bench 1 /dev/null
	"${FLOOR[@]}" || fail "the floor's curl failed"
	[ -s "$BASE/bearer/apivideo.token" ] || fail "pam_bearer wrote no token"
	[ -s "$BASE/vendor-token/apivideo.token" ] || fail "the baseline wrote no token (pam_exec under pam_wrapper?)"
	[ "$(stat -c %u "$BASE/vendor-token/apivideo.token")" = "$U" ] || fail "the baseline's token is not the user's"
	[ $(( $(mock_total) - before )) -eq 3 ] || fail "expected 3 exchanges at the mock, saw $(( $(mock_total) - before ))"
}

# ------------------------------------------------------------- 1. fresh fetch
section1() {
	local n rounds i
	n=$(n_runs 200 20); rounds=$((n / BATCH))
	echo "1. session open with a fresh fetch (apivideo, one exchange; $n each)"
	rm -f "$OUT"/s1-*.samples
	for ((i = 0; i < rounds; i++)); do
		open_n pb bench $BATCH "$OUT/s1-pam_bearer.samples" "$BASE/bearer"
		open_n base bench $BATCH "$OUT/s1-baseline.samples" "$BASE/vendor-token"
		"$TIMEIT" $BATCH "$OUT/s1-floor.samples" "${FLOOR[@]}" >/dev/null || echo "  (floor: some runs failed)"
	done
	record 1 pam_bearer "pam_bearer (nodaemon)" "$OUT/s1-pam_bearer.samples"
	record 1 baseline "baseline: pam_exec + curl + jq script" "$OUT/s1-baseline.samples"
	record 1 floor "floor: one bare curl" "$OUT/s1-floor.samples"
}

# ------------------------------------------------------------- 2. cached
section2() {
	local n rounds i holder
	n=$(n_runs 1000 100); rounds=$((n / BATCH))
	echo "2. session open with a valid token already there ($n each)"
	rm -f "$OUT"/s2-*.samples
	open_n pb bench 1 /dev/null; open_n base bench 1 /dev/null
	# a refresher kept alive by a session of its own (a sleep), as during a login
	sleep 3000 & holder=$!
	as_user env USER=bench HOME="$T/home" XDG_RUNTIME_DIR="$BASE" XDG_CONFIG_HOME="$T/home/.config" \
		"$BEARER_TOKEN_BIN" --config "$BEARER_CONFIG" daemon --session "$holder:000000000000beef"
	for _ in $(seq 100); do [ -S "$BASE/bearer/daemon.sock" ] && break; sleep 0.05; done
	for ((i = 0; i < rounds; i++)); do
		open_n pb bench $BATCH "$OUT/s2-pam_bearer.samples"
		open_n pb_daemon bench $BATCH "$OUT/s2-pam_bearer_daemon.samples"
		open_n base bench $BATCH "$OUT/s2-baseline.samples"
	done
	kill "$holder"; wait "$holder" 2>/dev/null
	record 2 pam_bearer "pam_bearer (nodaemon)" "$OUT/s2-pam_bearer.samples"
	record 2 pam_bearer_daemon "pam_bearer (tells the running refresher)" "$OUT/s2-pam_bearer_daemon.samples"
	record 2 baseline "baseline: the script finds its cached file" "$OUT/s2-baseline.samples"
}

# ------------------------------------------------------------- 3. vendor down
# variant CONF NAME URL : a copy of the config with the profile at URL and timeout 1 s
variant() {
	sed -e "s|^base_url = .*|base_url = $3|" -e 's/^timeout = .*/timeout = 1/' "$BEARER_CONFIG" >"$T/$2.conf"
	chmod 0644 "$T/$2.conf"
	printf 'session required pam_env.so readenv=0 conffile=%s\nsession optional %s config=%s profiles=apivideo nodaemon timeout=1\n' \
		"$T/pam_env.conf" "$PAM_TEST_MODULE_SO" "$T/$2.conf" >"$T/services/pb_$2"
	baseline_conf "$T/baseline/$2.conf" "$3" 1
	baseline_service "base_$2" "$T/baseline/$2.conf"
}

# a UDP "DNS server" on loopback that reads queries and never answers
start_dns_hole() {
	"$PYTHON3" -c '
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
open(sys.argv[2], "w").write("up\n")
parent = os.getppid()
s.settimeout(0.5)
while os.getppid() == parent:
    try:
        s.recv(4096)
    except socket.timeout:
        pass' 127.0.0.87 "$T/dns.up" 2>"$T/dns.err" &
	MOCK_PIDS="$MOCK_PIDS $!"
	for _ in $(seq 50); do [ -s "$T/dns.up" ] && return 0; sleep 0.1; done
	return 1
}

# "${DNS_NS[@]}" CMD... : CMD in a mount namespace whose /etc/resolv.conf points at the hole
DNS_NS=(unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh "$T/resolv.conf")

section3() {
	local n i scen dead why=
	n=$(n_runs 10 3)
	echo "3. vendor down or hanging: time until the session opens (timeout 1 s; $n each)"
	rm -f "$OUT"/s3-*.samples
	dead=$("$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	variant x refused "https://127.0.0.1:$dead"
	variant x hang "$MOCK"
	variant x dns "https://api.vendor.test:$MOCK_PORT"
	mock_fault /auth/api-key hang
	for scen in refused hang; do
		for ((i = 0; i < n; i++)); do
			open_n "pb_$scen" bench 1 "$OUT/s3-pam_bearer-$scen.samples" "$BASE/bearer"
			open_n "base_$scen" bench 1 "$OUT/s3-baseline-$scen.samples" "$BASE/vendor-token"
		done
		record 3 "pam_bearer-$scen" "pam_bearer, vendor $( [ $scen = hang ] && echo hanging || echo refusing)" \
			"$OUT/s3-pam_bearer-$scen.samples"
		record 3 "baseline-$scen" "baseline, vendor $( [ $scen = hang ] && echo hanging || echo refusing)" \
			"$OUT/s3-baseline-$scen.samples"
	done
	mock_fault /auth/api-key none
	# a DNS server that never answers: root only (a mount namespace for resolv.conf)
	if [ "$(id -u)" -ne 0 ]; then why="needs root for a mount namespace with its own resolv.conf"
	elif ! command -v unshare >/dev/null; then why="no unshare(1)"
	elif ! start_dns_hole; then why="cannot bind 127.0.0.87:53: $(cat "$T/dns.err")"
	else
		printf 'nameserver 127.0.0.87\noptions timeout:5 attempts:2\n' >"$T/resolv.conf"
		chmod 0644 "$T/resolv.conf"
		if ! "${DNS_NS[@]}" true 2>"$T/ns.err"; then why="unshare -m failed: $(cat "$T/ns.err")"
		elif "${DNS_NS[@]}" timeout 3 getent hosts api.vendor.test >/dev/null; then
			why="the name resolved: the DNS hole is not used"
		fi
	fi
	if [ -n "$why" ]; then
		figure 3 dns-skipped "hanging DNS resolver" "not staged: $why"
		return
	fi
	for ((i = 0; i < n; i++)); do
		BENCH_SAMPLES="$OUT/s3-pam_bearer-dns.samples" BENCH_CLEAN="$BASE/bearer" \
			in_pam "${DNS_NS[@]}" "$PAM_OPEN" pb_dns bench 1 >/dev/null 2>>"$OUT/pam.log"
		BENCH_SAMPLES="$OUT/s3-baseline-dns.samples" BENCH_CLEAN="$BASE/vendor-token" \
			in_pam "${DNS_NS[@]}" "$PAM_OPEN" base_dns bench 1 >/dev/null 2>>"$OUT/pam.log"
	done
	record 3 pam_bearer-dns "pam_bearer, DNS server never answers" "$OUT/s3-pam_bearer-dns.samples"
	record 3 baseline-dns "baseline, DNS server never answers" "$OUT/s3-baseline-dns.samples"
}

# ------------------------------------------------------------- 4. get vs cat
section4() {
	local n
	n=$(n_runs 1000 100)
	echo "4. reading a valid token ($n each)"
	rm -f "$OUT"/s4-*.samples
	open_n pb bench 1 /dev/null
	# timeit runs as the user: its samples go to a dir of the user's first
	mkdir -p "$T/user-out"; [ "$(id -u)" -eq 0 ] && chown "$U:$G" "$T/user-out"
	user_cmd "$BEARER_TOKEN_BIN" get apivideo >/dev/null || fail "bearer-token get fails"
	user_cmd "$TIMEIT" "$n" "$T/user-out/get" "$BEARER_TOKEN_BIN" get apivideo >/dev/null
	user_cmd "$TIMEIT" "$n" "$T/user-out/cat" cat "$BASE/bearer/apivideo.token" >/dev/null
	cp "$T/user-out/get" "$OUT/s4-get.samples"; cp "$T/user-out/cat" "$OUT/s4-cat.samples"
	record 4 get "bearer-token get apivideo" "$OUT/s4-get.samples"
	record 4 cat "cat apivideo.token" "$OUT/s4-cat.samples"
}

# ------------------------------------------------------------- 6. 100 users at once
# Each with three profiles (three vendors): a login's worker makes the three
# exchanges side by side.
section6() {
	local users=100 rounds r i p name uid ok total=0 okall=0 harness=0 timeouts logstart names line
	local profiles=apivideo,unith,oauth2
	rounds=$(n_runs 3 1)
	echo "6. $users session opens for $users users at once, 3 profiles each ($rounds round(s))"
	rm -f "$OUT"/s6-*.samples
	echo "XDG_RUNTIME_DIR DEFAULT=@{HOME}/run" >"$T/pam_env_many.conf"
	printf 'session required pam_env.so readenv=0 conffile=%s\nsession optional %s config=%s profiles=%s nodaemon\n' \
		"$T/pam_env_many.conf" "$PAM_TEST_MODULE_SO" "$T/all.conf" "$profiles" >"$T/services/many"
	mkdir -p "$T/u"
	for ((i = 0; i < users; i++)); do
		name=$(printf 'u%03d' "$i")
		if [ "$(id -u)" -eq 0 ]; then uid=$((5000 + i)); else uid=$U; fi
		printf '%s:x:%s:%s:%s:%s:/bin/sh\n' "$name" "$uid" "$uid" "$name" "$T/u/$name" >>"$T/passwd"
		printf '%s:x:%s:\n' "$name" "$uid" >>"$T/group"
		mkdir -p "$T/u/$name/run" "$T/u/$name/.config/pam_bearer"
		cp "$CREDS" "$T/u/$name/.config/pam_bearer/credentials"
		chmod 0700 "$T/u/$name/run" "$T/u/$name/.config/pam_bearer"
		[ "$(id -u)" -eq 0 ] && chown -R "$uid:$uid" "$T/u/$name"
	done
	touch "$OUT/pam.log"; logstart=$(wc -l <"$OUT/pam.log")
	names=$(for ((i = 0; i < users; i++)); do printf 'u%03d ' "$i"; done)
	for ((r = 0; r < rounds; r++)); do
		rm -rf "$T"/u/*/run/bearer
		# one process forks a child per user (pam_wrapper's config dirs
		# would run out for 100 processes); they open at the same instant
		line=$(BENCH_START_AT=$((EPOCHSECONDS + 2)) BENCH_SAMPLES="$OUT/s6-open.samples" \
			in_pam "$PAM_OPEN" --each many $names 2>>"$OUT/pam.log")
		echo "  round $((r + 1)): $line"
		# pam_start failed: the harness's, not pam_bearer's
		harness=$((harness + $(echo "$line" | sed -n 's/.* \([0-9]*\) pam_start failed.*/\1/p')))
		ok=0
		for p in ${profiles//,/ }; do
			ok=$((ok + $(ls "$T"/u/*/run/bearer/"$p".token 2>/dev/null | wc -l)))
		done
		total=$((total + 3 * users)); okall=$((okall + ok))
	done
	timeouts=$(tail -n +"$((logstart + 1))" "$OUT/pam.log" | grep -c 'no token: timed out')
	record 6 open "session open, $users users at once" "$OUT/s6-open.samples"
	figure 6 success "tokens in place (3 profiles per user)" "$okall of $total"
	figure 6 why "not placed: pam_start failed / tokens timed out" "$harness / $timeouts"
}

# ------------------------------------------------------------- 8. seven profiles
# A first login of a user with all seven preset profiles (six exchanges, one
# static token), against the single-exchange floor of section 1: the
# exchanges run side by side in one worker.
section8() {
	local n rounds i
	n=$(n_runs 100 20); rounds=$((n / BATCH))
	echo "8. first login with 7 profiles (6 exchanges, 1 static), against one bare curl ($n each)"
	rm -f "$OUT"/s8-*.samples
	printf 'session required pam_env.so readenv=0 conffile=%s\nsession optional %s config=%s profiles=%s nodaemon\n' \
		"$T/pam_env.conf" "$PAM_TEST_MODULE_SO" "$T/all.conf" "$ALL_PROFILES" >"$T/services/pb7"
	rm -rf "$BASE/bearer"
	open_n pb7 bench 1 /dev/null "$BASE/bearer"
	for p in ${ALL_PROFILES//,/ }; do
		[ -s "$BASE/bearer/$p.token" ] || fail "section 8: no $p.token after a login"
	done
	for ((i = 0; i < rounds; i++)); do
		open_n pb7 bench $BATCH "$OUT/s8-pam_bearer7.samples" "$BASE/bearer"
		"$TIMEIT" $BATCH "$OUT/s8-floor.samples" "${FLOOR[@]}" >/dev/null || echo "  (floor: some runs failed)"
	done
	record 8 pam_bearer7 "pam_bearer, 7 profiles (nodaemon)" "$OUT/s8-pam_bearer7.samples"
	record 8 floor "floor: one bare curl, one exchange" "$OUT/s8-floor.samples"
}

# ------------------------------------------------------------- 10. signed assertions
# A login's fresh fetch for oauth2 with a client secret, against the same
# with client_auth = private_key_jwt: the worker signs an RS256 (RSA 2048)
# or an ES256 (P-256) assertion and the mock verifies it. What signing
# costs a login, in the same stack, interleaved.
section10() {
	local n rounds i alg pub
	n=$(n_runs 200 20); rounds=$((n / BATCH))
	echo "10. session open, oauth2: a client secret vs a signed assertion ($n each)"
	if ! "$PYTHON3" -c 'import cryptography' 2>/dev/null; then
		echo "  (python3-cryptography not found: the mock cannot verify assertions; skipped)"
		return 0
	fi
	rm -f "$OUT"/s10-*.samples
	cp "$T/all.conf" "$T/s10.conf"
	for alg in rsa ec; do
		if [ $alg = rsa ]; then set -- -algorithm RSA -pkeyopt rsa_keygen_bits:2048
		else set -- -algorithm EC -pkeyopt ec_paramgen_curve:P-256; fi
		(umask 077; "$OPENSSL" genpkey "$@" -out "$T/home/.config/pam_bearer/$alg.pem" 2>/dev/null) ||
			fail "openssl genpkey ($alg)"
		printf '\n[profile pk-%s]\nvendor = oauth2\nbase_url = %s\nclient_auth = private_key_jwt\n' \
			"$alg" "$MOCK" >>"$T/s10.conf"
		printf '\n[pk-%s]\nclient_id = test-client\nprivate_key_file = %s\n' \
			"$alg" "$T/home/.config/pam_bearer/$alg.pem" >>"$T/home/.config/pam_bearer/credentials"
	done
	[ "$(id -u)" -eq 0 ] && chown "$U:$G" "$T"/home/.config/pam_bearer/*.pem
	for svc in oauth2 pk-rsa pk-ec; do
		printf 'session required pam_env.so readenv=0 conffile=%s\nsession optional %s config=%s profiles=%s nodaemon\n' \
			"$T/pam_env.conf" "$PAM_TEST_MODULE_SO" "$T/s10.conf" "$svc" >"$T/services/pb10-$svc"
	done
	for alg in rsa ec; do
		pub=$("$OPENSSL" pkey -in "$T/home/.config/pam_bearer/$alg.pem" -pubout 2>/dev/null)
		ctl POST /_mock/config "$("$PYTHON3" -c 'import json, sys; print(json.dumps({"assertion_public_key": sys.argv[1]}))' "$pub")" >/dev/null
		rm -rf "$BASE/bearer"
		open_n "pb10-pk-$alg" bench 1 /dev/null "$BASE/bearer"
		[ -s "$BASE/bearer/pk-$alg.token" ] || fail "section 10: no token for the $alg assertion"
		# each key against client secrets timed beside it, batch by batch
		for ((i = 0; i < rounds; i++)); do
			open_n pb10-oauth2 bench $BATCH "$OUT/s10-secret-$alg.samples" "$BASE/bearer"
			open_n "pb10-pk-$alg" bench $BATCH "$OUT/s10-$alg.samples" "$BASE/bearer"
		done
	done
	record 10 secret-rsa "oauth2, client secret (beside RS256)" "$OUT/s10-secret-rsa.samples"
	record 10 rs256 "oauth2, private_key_jwt RS256 (RSA 2048)" "$OUT/s10-rsa.samples"
	record 10 secret-ec "oauth2, client secret (beside ES256)" "$OUT/s10-secret-ec.samples"
	record 10 es256 "oauth2, private_key_jwt ES256 (P-256)" "$OUT/s10-ec.samples"
}

for s in ${BENCH_SECTIONS:-1 2 3 4 6 8 10}; do
	case $s in
	1) check_setup; section1 ;;
	2) section2 ;;
	3) section3 ;;
	4) section4 ;;
	6) section6 ;;
	8) section8 ;;
	10) section10 ;;
	esac
done
