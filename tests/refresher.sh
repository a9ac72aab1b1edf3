# SPDX-License-Identifier: MIT
# tests/refresher.sh - what the refresher's tests share (daemon.sh, chaos.sh):
# the time bounds, the python tool (the control socket, the mock's request
# log, the token samplers), starting and stopping refreshers, and the
# runner of scenarios. Source it after lib.sh.

# Time bounds: every run holds the refresher to its schedule within a few
# hundred ms, the sanitizers stage (ASan + UBSan) too: renewals run in
# processes of their own, side by side, so an instrumented, slower worker
# delays no other profile and no answer on the socket. A missed bound
# fails. (now_ms and wait_for come from lib.sh.)
#
# What the bounds cannot absorb is a machine with no CPU to spare. The
# scenarios of a wave run side by side, each with its own mock vendor,
# refresher and samplers; daemon.sh's first wave needs about 28 s of CPU
# under ASan (13 s in a plain build), so six at once on 2 cores kept a
# ready renewal off the CPU for up to 0.9 s, the same renewal that started
# within 0.2 s of its plan when the scenarios ran one by one. So under the
# sanitizers at most one scenario per core runs at once (SCENARIO_JOBS
# overrides: a number, 0 for no limit).

# is PID a process that has not exited? (a zombie has: the orphaned
# refresher's reaper may take its time, kill -0 would say yes)
alive() {
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 1
	s=${s##*) }
	[[ ${s:0:1} != [ZX] ]]
}
# is PID one of our refreshers? (before any kill: PIDs get reused)
is_refresher() {
	local c
	c=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	[[ $c == *bearer-token*daemon* ]]
}
# wait_gone PID MS : true once PID has exited, within MS
wait_gone() {
	local end=$(($(now_ms) + $2))
	while alive "$1"; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.02
	done
}
# The python side: the control socket, the mock's request log, the token
# file samplers. Written into T by d_setup.
write_dtool() {
	cat >"$T/dtool.py" <<'EOF'
import base64, calendar, hashlib, hmac, json, os, re, socket, sys, time

def ctl(sock):
    """The request on stdin to the daemon's socket; the reply on stdout."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    s.sendall(sys.stdin.buffer.read())
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    sys.stdout.write(out.decode())

def hammer(sock, profile, n):
    """n `refresh PROFILE` requests in a row; prints how many succeeded."""
    good = 0
    for _ in range(int(n)):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(20)
        s.connect(sock)
        s.sendall(b"refresh %s\n" % profile.encode())
        s.shutdown(socket.SHUT_WR)
        r = s.recv(4096)
        s.close()
        good += r.startswith(b"result %s 0 " % profile.encode())
    print(good)

def reqs(stats, *paths):
    """t_ms status path refresh_token grant_type, per request on paths."""
    for r in json.load(open(stats))["requests"]:
        if r["path"] in paths:
            print(int(r["t"] * 1000), r["status"], r["path"], r.get("refresh_token") or "-",
                  r.get("grant_type") or "-")

def procs(*needles):
    """PIDs whose argv holds every needle (zombies have no argv), but not
    a child of one of them: a refresher's renewal processes are forks of
    it, with its argv, and are not refreshers."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
            ppid = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        line = b" ".join(argv).decode("utf-8", "replace")
        if all(n in line for n in needles) and "dtool.py" not in line:
            found[pid] = ppid
    for pid, ppid in found.items():
        if ppid not in found:
            print(pid)

KEY = None

def jwt_exp(tok, srcdir):
    """exp of a JWT the mock signed; None if it is not one (cut, spoilt)."""
    global KEY
    if KEY is None:
        sys.path.insert(0, srcdir)
        from mock_vendor import SIGNING_KEY
        KEY = SIGNING_KEY
    parts = tok.split(".")
    if len(parts) != 3:
        return None
    sig = base64.urlsafe_b64encode(hmac.new(KEY, ("%s.%s" % (parts[0], parts[1])).encode(),
                                            hashlib.sha256).digest()).rstrip(b"=").decode()
    if not hmac.compare_digest(sig, parts[2]):
        return None
    return json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))["exp"]

def epoch(s):
    """Seconds since the epoch of an RFC 3339 UTC time, its fraction included."""
    whole, _, frac = s[:-1].partition(".")
    return calendar.timegm(time.strptime(whole + "Z", "%Y-%m-%dT%H:%M:%SZ")) + \
        (float("0." + frac) if frac else 0.0)

def sampler(srcdir, tokdir, stop, *profiles):
    """Every 50 ms until stop exists: each profile's .token, .header and
    .json are there, whole, valid and unexpired. Prints ok/not ok lines."""
    bad, distinct, rounds = [], {p: set() for p in profiles}, 0
    hdr = re.compile(r"\AAuthorization: (Bearer|Token) (\S+)\n\Z")
    while not os.path.exists(stop):
        now = time.time()
        for p in profiles:
            try:
                tok = open("%s/%s.token" % (tokdir, p)).read()
                head = open("%s/%s.header" % (tokdir, p)).read()
                meta = json.load(open("%s/%s.json" % (tokdir, p)))
            except FileNotFoundError as e:
                bad.append("%s: %s" % (p, e))
                continue
            except (OSError, ValueError) as e:
                bad.append("%s: %s" % (p, e))
                continue
            distinct[p].add(tok)
            if meta.get("state") == "expired":
                bad.append("%s.json: state expired" % p)
            elif meta.get("state") != "valid":
                bad.append("%s.json: state %s" % (p, meta.get("state")))
            if meta.get("expires_at") is not None and epoch(meta["expires_at"]) <= now:
                bad.append("%s.json: expires_at %s is past" % (p, meta["expires_at"]))
            m = hdr.match(head)
            if not m:
                bad.append("%s.header: %r" % (p, head[:60]))
            for what, t in (("token", tok), ("header", m.group(2) if m else "")):
                if t.count(".") == 2:
                    exp = jwt_exp(t, srcdir)
                    if exp is None:
                        bad.append("%s.%s: not a whole signed JWT" % (p, what))
                    elif exp <= now:
                        bad.append("%s.%s: expired JWT (exp %d, now %.2f)" % (p, what, exp, now))
                elif not re.fullmatch(r"[A-Za-z0-9_-]{16,}", t):
                    bad.append("%s.%s: %r" % (p, what, t[:60]))
        rounds += 1
        time.sleep(0.05)
    for b in bad[:8]:
        print("not ok %s" % b)
    if not bad:
        print("ok %d samples of %s: always there, whole, valid" % (rounds, " ".join(profiles)))
    for p in profiles:
        print("distinct %s %d" % (p, len(distinct[p])))

def reader(srcdir, tokdir, profile, stop):
    """open/read P.token and P.header as fast as it can until stop exists;
    every read must be a whole token the mock signed."""
    reads, bad, seen = 0, [], set()
    tpath, hpath = "%s/%s.token" % (tokdir, profile), "%s/%s.header" % (tokdir, profile)
    while not os.path.exists(stop):
        for path in (tpath, hpath):
            try:
                with open(path, "rb") as f:
                    data = f.read().decode()
            except (OSError, UnicodeDecodeError) as e:
                bad.append("%s: %s" % (path, e))
                continue
            tok = data
            if path == hpath:
                if not (data.startswith("Authorization: Bearer ") and data.endswith("\n")):
                    bad.append("%s: %r" % (path, data[:80]))
                    continue
                tok = data[len("Authorization: Bearer "):-1]
            if jwt_exp(tok, srcdir) is None:
                bad.append("%s: %d bytes, not a whole token: %r" % (path, len(tok), tok[:40]))
            else:
                seen.add(tok)
            reads += 1
    for b in bad[:8]:
        print("not ok %s" % b)
    print("reads %d bad %d distinct %d" % (reads, len(bad), len(seen)))

def statusjson(srcdir, path, now):
    """bearer-token status --json, checked against the schedule rules."""
    now = int(now)
    d = {p["profile"]: p for p in json.load(open(path))["profiles"]}
    rfc = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
    for name, p in sorted(d.items()):
        st, nr = p.get("state"), p.get("next_refresh_at")
        print(("ok" if st == "valid" else "not ok") + " status --json: %s is %s" % (name, st))
        if name == "rythmex-apitoken":
            print(("ok" if nr is None else "not ok") +
                  " status --json: %s never expires, next_refresh_at %s" % (name, nr))
            continue
        if p.get("renewing") is True and nr is None:
            print("ok status --json: %s renewing now (no next_refresh_at)" % name)
            continue
        if not isinstance(nr, str) or not rfc.match(nr):
            print("not ok status --json: %s next_refresh_at %r is not RFC 3339" % (name, nr))
            continue
        t, exp = epoch(nr), epoch(p["expires_at"])
        if name == "hautai":
            # 30 days left. The refresher did not plan this token, so its
            # first renewal is spread over [0, refresh_at] of what is left
            # (pb_sched_refresh: steady state, not a wave): not in the past,
            # and not later than 3/4 of the way. (Bounding it "a day ahead"
            # failed one run in twenty: a day is 1/22 of that spread.)
            good = now - 1 <= t <= now + 0.75 * (exp - now) + 1
        else:                  # a 4 s token: planned before its expiry, not in the past
            good = now - 1 <= t < exp
        print(("ok" if good else "not ok") + " status --json: %s next_refresh_at %s "
              "(now %d, expires %s)" % (name, nr, now, p["expires_at"]))

if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
EOF
}
dtool() { "$PYTHON3" "$T/dtool.py" "$@"; }

# report : "ok MSG" / "not ok MSG" lines on stdin into ok/fail, the rest as comments
report() {
	local l
	while IFS= read -r l; do
		case $l in
		"ok "*) ok "${l#ok }" ;;
		"not ok "*) fail "${l#not ok }" ;;
		*) echo "# $l" ;;
		esac
	done
}

# d_ctl REQUEST : one request line to the refresher's socket, its reply on stdout
d_ctl() { printf '%s\n' "$1" | dtool ctl "$TOKDIR/daemon.sock" 2>/dev/null; }
# d_pid : the PID the refresher gives for "ping"
d_pid() {
	local r
	r=$(d_ctl ping) || return 1
	[[ $r =~ ^ok\ ([0-9]+)$ ]] || return 1
	echo "${BASH_REMATCH[1]}"
}

DAEMON_PIDS= SLEEP_PIDS=
d_stop_all() {
	local p
	for p in $SLEEP_PIDS; do kill "$p" 2>/dev/null; done
	for p in $DAEMON_PIDS; do alive "$p" && is_refresher "$p" && kill "$p" 2>/dev/null; done
	for p in $DAEMON_PIDS; do
		wait_gone "$p" 1000 || { is_refresher "$p" && kill -9 "$p" 2>/dev/null; }
	done
	DAEMON_PIDS= SLEEP_PIDS=
}
# d_setup : pb_setup, plus the python tool and a cleanup that stops our
# refreshers and sleeps first
d_setup() {
	pb_setup
	trap 'd_stop_all; pb_cleanup' EXIT
	write_dtool
}

# conf PROFILE... : a config with only these preset profiles (DEFAULTS: extra lines)
DEFAULTS=()
conf() {
	local p
	{
		echo "[defaults]"
		echo "vendor_dir = $VENDOR_DIR"
		echo "ca_file = $T/ca.pem"
		[[ " ${DEFAULTS[*]} " == *" timeout = "* ]] || echo "timeout = 3"
		for p in "${DEFAULTS[@]}"; do echo "$p"; done
		for p; do printf '\n[profile %s]\nvendor = %s\nbase_url = %s\n' "$p" "$p" "$MOCK"; done
	} >"$BEARER_CONFIG"
}

# d_start_fg : `bearer-token daemon --foreground` in the background (log
# in T/daemon.log); DPID
d_start_fg() {
	"$BEARER_TOKEN_BIN" --config "$BEARER_CONFIG" daemon --foreground 2>>"$T/daemon.log" &
	DPID=$!
	DAEMON_PIDS="$DAEMON_PIDS $DPID"
	wait_for 5000 d_pid >/dev/null || fail "the refresher did not answer ping within 5 s"
}
# d_start_bg [ARGS] : detached, as the module starts it; DPID from ping
d_start_bg() {
	expect_exit 0 bt --config "$BEARER_CONFIG" daemon "$@"
	wait_for 5000 d_pid >/dev/null || fail "the refresher did not answer ping within 5 s"
	DPID=$(d_pid)
	DAEMON_PIDS="$DAEMON_PIDS $DPID"
}
# start_sleep : a stand-in for a session's process; SPID
start_sleep() {
	sleep 300 &
	SPID=$!
	SLEEP_PIDS="$SLEEP_PIDS $SPID"
}
# lock_free : nobody holds daemon.lock
lock_free() { flock -n "$TOKDIR/daemon.lock" true; }
# d_exits_within MS WHAT : the refresher DPID exits within MS, leaving no
# socket and no lock behind
d_exits_within() {
	local t0
	t0=$(now_ms)
	wait_gone "$DPID" "$1" || fail "$2: the refresher still runs $1 ms later"
	ok "$2: the refresher exits ($(($(now_ms) - t0)) ms)"
	[ ! -e "$TOKDIR/daemon.sock" ] || fail "$2: daemon.sock left behind"
	lock_free || fail "$2: daemon.lock still held"
	ok "$2: no daemon.sock left, daemon.lock free"
}

# stats : the mock's request log into T/stats.json
stats() { ctl GET /_mock/stats >"$T/stats.json"; }
# fetches PATH... : "t_ms status path refresh_token grant_type" lines (from T/stats.json)
fetches() { dtool reqs "$T/stats.json" "$@"; }

# check_schedule NAME LATE T0 T1 PATH... : the successful fetches of one
# profile (its PATHs) between T0 and T1 (ms): the first one the initial
# fetch near T0, then 2 to 6 renewals in 10 s, each at least 1.5 s after the
# one before (a 4 s token: renewed at 3 s less up to 0.4 s of jitter, on
# whole seconds; never twice) and at most LATE ms after the whole second
# the one before was fetched in. For a JWT lifetime (the mock's exp is its
# second + 4) that is 3000 + latency (the worker's start-up and TLS, more
# beside another test under make -j2): LATE 3900 still renews before expiry.
# With expires_in the client's own second counts, which may be the next.
check_schedule() {
	local name=$1 late_ms=$2 t0=$3 t1=$4 prev= n=0 t st path rest gaps=
	shift 4
	while read -r t st path rest; do
		[ "$t" -ge "$t0" ] && [ "$t" -le "$t1" ] && [ "$st" = 200 ] || continue
		if [ -z "$prev" ]; then
			# five profiles fetched one after another, each by a bearer-fetch
			# that starts libcurl and OpenSSL anew (tens of ms; more with
			# make -j2 running another test beside this one)
			[ $((t - t0)) -lt 3000 ] || fail "$name: the first fetch came $((t - t0)) ms after the start"
		else
			gaps="$gaps $((t - prev))"
			[ $((t - prev)) -ge 1500 ] ||
				fail "$name: two renewals $((t - prev)) ms apart, want 1.5 s at least (ms:$gaps)"
			[ $((t - prev / 1000 * 1000)) -le "$late_ms" ] ||
				fail "$name: renewed $((t - prev / 1000 * 1000)) ms after the second of the last fetch, want at most $late_ms (gaps:$gaps)"
			n=$((n + 1))
		fi
		prev=$t
	done < <(fetches "$@")
	# a first fetch up to 3 s late leaves 7 s: two renewals at least
	[ "$n" -le 6 ] || fail "$name: $n renewals in $(((t1 - t0) / 1000)) s, want 2..6 (gaps:$gaps)"
	[ "$n" -ge 2 ] || fail "$name: $n renewals in $(((t1 - t0) / 1000)) s, want 2..6 (gaps:$gaps)"
	ok "$name: $n renewals, each 1.5 s or more after the last, before its expiry margin (ms:$gaps)"
}

# ------------------------------------------------------------------ runner

# run_scenarios NAME [SCENARIO...] : each sc_SCENARIO (or, none named, the
# waves in $ALL_WAVES, one after another, the scenarios of a wave in
# parallel), each in a subshell with its own log; print the logs in order
# and the totals as "NAME: N checks passed, M failed", and exit 0, 1 or 77
run_scenarios() {
local name=$1 s p wave
shift
[ "${BASH_VERSINFO[0]}${BASH_VERSINFO[1]}" -ge 51 ] || skip "bash 5.1 needed (wait -p)"
command -v "$PYTHON3" >/dev/null 2>&1 || skip "python3 not found"
command -v flock >/dev/null 2>&1 || skip "flock (util-linux) not found"
[ -x "$BEARER_TOKEN_BIN" ] || skip "no bearer-token binary at $BEARER_TOKEN_BIN"

if [ $# -gt 0 ]; then WAVES=("$*"); else WAVES=("${ALL_WAVES[@]}"); fi
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/pb-$name-logs.XXXXXX") || exit 1
declare -gA SC_PID=() SC_RC=()
ORDER=
# shellcheck disable=SC2317
stop_scenarios() {
	local p
	for p in "${SC_PID[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${SC_PID[@]}"; do wait "$p" 2>/dev/null; done
}
trap 'stop_scenarios; rm -rf "$LOGS"' EXIT
trap 'exit 1' INT TERM HUP

# how many scenarios at once (see "Time bounds" above); DAEMON_SERIAL=1 is 1
local jobs=${SCENARIO_JOBS:-0}
[ -z "${ASAN_RUNTIME:-}" ] || jobs=${SCENARIO_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ -z "${DAEMON_SERIAL:-}" ] || jobs=1
# reap SC_RUNNING: wait for one of the running scenarios and note its exit
reap_one() {
	local pid rc k
	wait -n -p pid "${!SC_RUNNING[@]}"
	rc=$?
	k=${SC_RUNNING[$pid]}
	unset "SC_RUNNING[$pid]"
	SC_RC[$k]=$rc
}
declare -gA SC_RUNNING=()

t_start=$(now_ms)
for wave in "${WAVES[@]}"; do
	for s in $wave; do
		declare -F "sc_$s" >/dev/null || { echo "no scenario $s (have: ${ALL_WAVES[*]})"; exit 99; }
		while [ "$jobs" -gt 0 ] && [ "${#SC_RUNNING[@]}" -ge "$jobs" ]; do reap_one; done
		ORDER="$ORDER $s"
		("sc_$s"; pb_done) >"$LOGS/$s.log" 2>&1 &
		SC_PID[$s]=$!
		SC_RUNNING[$!]=$s
	done
	while [ "${#SC_RUNNING[@]}" -gt 0 ]; do reap_one; done
done

worst=0 skipped=0 n=0 passed=0 failed=0
for s in $ORDER; do
	n=$((n + 1))
	echo "# ======== $s (exit ${SC_RC[$s]})"
	cat "$LOGS/$s.log"
	passed=$((passed + $(grep -c '^ok - ' "$LOGS/$s.log")))
	failed=$((failed + $(grep -c '^not ok - ' "$LOGS/$s.log")))
	case ${SC_RC[$s]} in
	0) ;;
	77) skipped=$((skipped + 1)) ;;
	*) worst=1; echo "# FAILED: $s" ;;
	esac
done
echo "# $name: $passed checks passed, $failed failed, in $((($(now_ms) - t_start) / 1000)) s"
[ "$worst" -eq 0 ] || exit 1
[ "$skipped" -lt "$n" ] || exit 77
exit 0
}

