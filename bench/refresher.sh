#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/refresher.sh - the refresher (`bearer-token daemon`): what it costs
# while idle, before and after 1,000 refreshes (section 5 of `make bench`),
# how a herd of tokens sharing one lifetime reaches the vendor (section 7),
# and what a hung vendor does to the other profiles (section 9). Figures
# come from /proc/PID/status and /proc/PID/stat and from the mock's request
# log (a timestamp per request).
. "$(dirname "$0")/lib.sh"
bench_init refresher
pam_world bench --max-seconds 3000
HZ=$(getconf CLK_TCK)

# start_daemon : a refresher kept alive by a session of its own (a sleep),
# as during a login; sets DPID and HOLDER
start_daemon() {
	sleep 3000 & HOLDER=$!
	as_user env USER=bench HOME="$T/home" XDG_RUNTIME_DIR="$T/run/$U" XDG_CONFIG_HOME="$T/home/.config" \
		"$BEARER_TOKEN_BIN" --config "$BEARER_CONFIG" daemon --session "$HOLDER:000000000000beef" ||
		fail "the refresher did not start"
	for _ in $(seq 200); do [ -S "$T/run/$U/bearer/daemon.sock" ] && break; sleep 0.05; done
	DPID=$(daemon_pid) || fail "the refresher does not answer"
}
stop_daemon() {
	kill "$HOLDER"; wait "$HOLDER" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || return 0; sleep 0.1; done
	echo "  (the refresher did not stop after its session ended)"
}

# ctl_many COUNT PROFILE... : COUNT `refresh` requests on the control
# socket, round robin over the profiles; prints "ok failed seconds"
ctl_many() {
	"$PYTHON3" - "$T/run/$U/bearer/daemon.sock" "$@" <<'EOF'
import socket, sys, time
path, n, profiles = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
ok = bad = 0
t0 = time.monotonic()
for i in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b"refresh %s\n" % profiles[i % len(profiles)].encode())
    s.shutdown(socket.SHUT_WR)   # the daemon reads to EOF (or 2 s)
    reply = s.makefile().read()
    s.close()
    if reply.split()[2:3] == ["0"]:
        ok += 1
    else:
        bad += 1
        if bad == 1:
            print(reply.strip(), file=sys.stderr)
print(ok, bad, "%.1f" % (time.monotonic() - t0))
EOF
}

# snap PID : "rss_kib anon_kib hwm_kib switches utime stime cutime cstime" (times in ticks)
snap() {
	local rss anon hwm vol nonvol
	rss=$(awk '/^VmRSS:/{print $2}' "/proc/$1/status")
	anon=$(awk '/^RssAnon:/{print $2}' "/proc/$1/status")
	hwm=$(awk '/^VmHWM:/{print $2}' "/proc/$1/status")
	vol=$(awk '/^voluntary_ctxt_switches:/{print $2}' "/proc/$1/status")
	nonvol=$(awk '/^nonvoluntary_ctxt_switches:/{print $2}' "/proc/$1/status")
	# fields after the ")" of the command name: utime is the 12th, then stime, cutime, cstime
	read -r ut st cut cst < <(sed 's/.*) //' "/proc/$1/stat" | awk '{print $12, $13, $14, $15}')
	echo "$rss $anon $hwm $((vol + nonvol)) $ut $st $cut $cst"
}

# deadlines FROM TO : how many planned wake-ups (`schedule`) fall in [FROM, TO]
deadlines() {
	"$PYTHON3" - "$T/run/$U/bearer/daemon.sock" "$1" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"schedule\n")
s.shutdown(socket.SHUT_WR)
lines = s.makefile().read().splitlines()
lo, hi = int(sys.argv[2]), int(sys.argv[3])
print(sum(1 for l in lines if l != "." and lo <= int(l.split()[1]) <= hi))
EOF
}

# idle LABEL SECONDS : watch the refresher sleep; record RSS, CPU, wake-ups
idle() {
	local a b t0 t1 due
	t0=$EPOCHSECONDS
	read -ra a < <(snap "$DPID")
	sleep "$2"
	read -ra b < <(snap "$DPID")
	t1=$EPOCHSECONDS
	due=$(deadlines "$t0" "$t1")
	figure 5 "rss-$1" "idle RSS, $1 (anon)" "${b[0]} KiB (${b[1]} KiB)"
	figure 5 "cpu-$1" "CPU over ${2} s idle, $1" "$(( (b[4] + b[5] - a[4] - a[5]) * 1000 / HZ )) ms"
	figure 5 "wake-$1" "wake-ups over ${2} s idle, $1" "$((b[3] - a[3])) (deadlines in the window: $due)"
}

section5() {
	local idle_s n before after res ok bad secs
	idle_s=$(n_runs 60 10); n=$(n_runs 1000 100)
	echo "5. the refresher with three profiles (apivideo, unith, oauth2; 1-hour tokens)"
	keep_profiles apivideo unith oauth2
	# the refreshes come back to back: a 1-ms floor, so they measure the refresher, not min_interval
	set_default min_interval 0.001
	start_daemon
	for _ in $(seq 200); do
		[ -s "$T/run/$U/bearer/apivideo.token" ] && [ -s "$T/run/$U/bearer/unith.token" ] &&
			[ -s "$T/run/$U/bearer/oauth2.token" ] && break
		sleep 0.1
	done
	sleep 1
	figure 5 libs "libcurl / libssl mapped in the refresher" \
		"$(grep -q libcurl "/proc/$DPID/maps" && echo yes || echo no) / $(grep -q libssl "/proc/$DPID/maps" && echo yes || echo no)"
	idle fresh "$idle_s"
	read -ra before < <(snap "$DPID")
	read -r ok bad secs < <(ctl_many "$n" apivideo unith oauth2)
	read -ra after < <(snap "$DPID")
	figure 5 refreshes "refreshes through the control socket" "$ok ok, $bad failed, in $secs s"
	figure 5 cpu-refresh "refresher's own CPU per refresh" \
		"$(( (after[4] + after[5] - before[4] - before[5]) * 1000000 / HZ / n )) us"
	figure 5 cpu-worker "HTTP child processes' CPU per refresh" \
		"$(( (after[6] + after[7] - before[6] - before[7]) * 1000000 / HZ / n )) us"
	figure 5 hwm "peak RSS (VmHWM) after $n refreshes" "${after[2]} KiB"
	sleep 1
	idle "after-$n" "$idle_s"
	stop_daemon
}

# ------------------------------------------------------------- 7. the herd
# herd_config N : N profiles of one vendor (unith, a plain exchange), each
# with its own credentials section
herd_config() {
	local i
	{
		printf '[defaults]\nvendor_dir = %s\nca_file = %s\ntimeout = 5\n' "$VENDOR_DIR" "$T/ca.pem"
		for ((i = 1; i <= $1; i++)); do printf '\n[profile h%03d]\nvendor = unith\nbase_url = %s\n' "$i" "$MOCK"; done
	} >"$BEARER_CONFIG"
	chmod 0644 "$BEARER_CONFIG"
	(umask 077
	 for ((i = 1; i <= $1; i++)); do
		printf '[h%03d]\nemail = user@example.com\nsecret_key = test-unith-secret\n\n' "$i"
	 done >"$CREDS")
	[ "$(id -u)" -eq 0 ] && chown "$U:$G" "$CREDS"
}

section7() {
	local n life t0 deadline
	n=$(n_runs 500 50); life=$(n_runs 240 40)
	echo "7. a herd: one refresher, $n profiles, every token lives $life s"
	mock_reset
	mock_config "{\"lifetime\": $life}"
	herd_config "$n"
	rm -rf "$T/run/$U/bearer"
	t0=$EPOCHSECONDS
	start_daemon
	# the first fetch, then one refresh of each (due at 0.65-0.75 of the lifetime)
	deadline=$((t0 + life + 120))
	while [ "$(mock_count /auth/token)" -lt $((2 * n)) ] && [ "$EPOCHSECONDS" -lt "$deadline" ]; do
		sleep 2
	done
	stop_daemon
	"$PYTHON3" - "$T/MOCK.log" "$n" "$OUT/s7-requests.txt" "$t0" <<'EOF' >"$T/herd.out"
import json, sys
log, n, out, t0 = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
t = sorted(r["t"] for r in map(json.loads, open(log)) if r["path"] == "/auth/token" and r["t"] >= t0)
first, rnd = t[:n], t[n:2 * n]
def per_second(ts):
    bins = {}
    for x in ts:
        bins[int(x)] = bins.get(int(x), 0) + 1
    return [bins.get(s, 0) for s in range(int(ts[0]), int(ts[-1]) + 1)]
with open(out, "w") as f:
    for x in t:
        f.write("%.3f\n" % (x - t[0]))
if len(rnd) < n:
    print("incomplete", len(first), len(rnd))
    sys.exit()
period = sum(rnd) / n - sum(first) / n          # mean time from a fetch to its refresh
mean = n / period                               # requests/s the vendor sees on average
bins = per_second(rnd)
print("ok %.1f %.1f %.2f %d %.2f %.1f %d" % (first[-1] - first[0], period, mean, max(bins),
      max(bins) / mean, rnd[-1] - rnd[0], max(per_second(first))))
EOF
	read -r state a b c d e f g <"$T/herd.out"
	if [ "$state" != ok ]; then
		figure 7 herd "refresh herd" "incomplete: $a first fetches, $b refreshes seen"
		return
	fi
	figure 7 first "first fetch of all $n (at login)" "$a s, peak $g/s"
	figure 7 period "mean time from a fetch to its refresh" "$b s"
	figure 7 mean "mean refresh rate" "$c/s"
	figure 7 peak "peak refreshes in one second" "$d/s"
	figure 7 ratio "peak over mean" "$e"
	figure 7 spread "the $n refreshes spread over" "$f s"
}

# ------------------------------------------------------------- 9. a hung vendor
# Six profiles, 8-s tokens; hautai-login's vendor accepts and never answers
# (timeout 5 s). The other five must stay valid on disk all along, and
# `bearer-token get` of them answer at once.
section9() {
	local secs sampler healthy="apivideo unith rythmex-jwt rythmex-apitoken oauth2" p bad end
	local samples invalid first
	secs=$(n_runs 60 20)
	echo "9. one hung vendor beside 5 healthy profiles (8-s tokens, timeout 5 s, ${secs} s)"
	mock_reset
	mock_config '{"lifetime": 8}'
	write_config
	sed -i 's/^timeout = 3$/timeout = 5/' "$BEARER_CONFIG"
	keep_profiles $healthy hautai-login
	write_creds     # (section 7 left its own)
	[ "$(id -u)" -eq 0 ] && chown -R "$U:$G" "$T/home"
	rm -rf "$T/run/$U/bearer"
	mock_fault /api/v1/auth/login/ hang
	start_daemon
	for _ in $(seq 100); do
		bad=0
		for p in $healthy; do [ -s "$T/run/$U/bearer/$p.token" ] || bad=1; done
		[ "$bad" = 0 ] && break
		sleep 0.1
	done
	# the five healthy profiles' files, every 20 ms: there, valid, unexpired
	"$PYTHON3" "$BENCH_SRC/sampler.py" "$T/run/$U/bearer" "$T/s9.stop" $healthy >"$T/s9-sampler.out" &
	sampler=$!
	mkdir -p "$T/user-out"; [ "$(id -u)" -eq 0 ] && chown "$U:$G" "$T/user-out"
	rm -f "$OUT/s9-get.samples" "$T/user-out/get"
	end=$((EPOCHSECONDS + secs))
	while [ "$EPOCHSECONDS" -lt "$end" ]; do
		for p in $healthy; do
			user_cmd "$TIMEIT" 1 "$T/user-out/get" "$BEARER_TOKEN_BIN" get "$p" >/dev/null ||
				echo "  (get $p failed)"
		done
		sleep 0.05
	done
	touch "$T/s9.stop"
	wait "$sampler"
	cp "$T/user-out/get" "$OUT/s9-get.samples"
	stop_daemon
	mock_fault /api/v1/auth/login/ none
	read -r samples invalid first <"$T/s9-sampler.out"
	record 9 get "bearer-token get of a healthy profile" "$OUT/s9-get.samples"
	figure 9 invalid "healthy tokens found missing or expired" "$invalid of $samples samples (first: $first)"
	figure 9 hung "requests to the hung vendor" "$(mock_count /api/v1/auth/login/) in $secs s"
}

for s in ${BENCH_SECTIONS:-5 7 9}; do
	case $s in
	5) section5 ;;
	7) section7 ;;
	9) section9 ;;
	esac
done
