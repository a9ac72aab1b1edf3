#!/bin/bash
# SPDX-License-Identifier: MIT
# attacks.sh - what someone else on the machine, the caller of a PAM
# service, or the user against an admin-held secret tries (issues 5, 11):
#   1. The secrets (each ends in tests/lib.sh's PB_CANARY) never show in any
#      process's argv or environment while fetches, PAM sessions and the
#      refresher run; no process of ours leaves a core dump when it is killed
#      with SIGSEGV or SIGABRT. (pb_cleanup then finds the canary in no file
#      of T but the credentials stores.)
#   2. SSLKEYLOGFILE, proxy, CURL_CA_BUNDLE and LD_ variables of the caller
#      reach neither the helper the PAM module starts (a clean 5-variable
#      environment) nor the HTTP worker bearer-token starts (an empty one):
#      no key log is written and no proxy is contacted.
#   3. Another user can neither read the token dir nor talk to the
#      refresher's socket (SO_PEERCRED); a symlink or a FIFO planted in the
#      token dir in place of P.json or P.header is not followed or waited on.
#   4. The user against credentials = system (root only: the service
#      account must be another uid): a racer of the user's peeking into the
#      pipes of every process of the user during 50 logins and refreshes; a
#      listener of the user's on daemon.sock at login; the user's own
#      refresher, started with the user's own config pointing at the
#      user's own "vendor". The admin-held secret (a canary) reaches none.
#   5. A vendor's Retry-After of 9e12 s and of 2^63/1000 s: no profile
#      stuck behind an unreadable P.json, no overflow, no hot loop.
# One PAM world (tests/pam_world.sh) for user "attack": as root that is uid
# 4242 and the other user is 65534; as an ordinary user it is our own uid,
# and with no second uid the cross-user part checks modes and owners only.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
. "$TESTS_SRCDIR/pam_world.sh"

[ "${BASH_VERSINFO[0]}" -ge 5 ] || skip "bash 5 needed"
for c in "$PYTHON3" "$OPENSSL" curl pamtester; do
	command -v "$c" >/dev/null 2>&1 || skip "$c not found"
done
[ -x "$BEARER_TOKEN_BIN" ] || skip "no bearer-token binary at $BEARER_TOKEN_BIN"
ROOT=0
if [ "$(id -u)" -eq 0 ]; then
	ROOT=1
	command -v setpriv >/dev/null 2>&1 || skip "setpriv (util-linux) needed as root"
fi
OTHER=65534    # the other user, as root

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy NO_PROXY no_proxy \
	SSLKEYLOGFILE CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR BEARER_TOKEN_DIR LD_LIBRARY_PATH
T=$(mktemp -d "${TMPDIR:-/tmp}/pb-attacks.XXXXXX") || exit 1
chmod 0755 "$T"
PIDS=
# shellcheck disable=SC2317
stop_all() {
	local p
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	PIDS=
}
trap 'stop_all; pb_cleanup' EXIT
trap 'exit 1' INT TERM HUP

pam_world attack
if [ -n "${ASAN_RUNTIME:-}" ]; then
	# as in tests/pam/run-wrapped.sh: ASan's runtime first
	PRELOAD="$ASAN_RUNTIME:$PRELOAD"
	export PAM_WRAPPER_DISABLE_DEEPBIND=1 NSS_WRAPPER_DISABLE_DEEPBIND=1 UID_WRAPPER_DISABLE_DEEPBIND=1
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
fi
RUN=$T/run/$U
TOKDIR=$RUN/bearer
DROP=$T/drop           # where the user can write (key logs, core files)
mkdir -m 1777 "$DROP"

# ------------------------------------------------------------------ helpers

# "${AS[@]}" CMD... : CMD as the world's user, with the user's own
# environment plus ours (as root: really as uid U, through setpriv). An
# array, not a function, so that CMD & leaves CMD's PID in $!.
AS=(env HOME="$T/home" USER=attack LOGNAME=attack XDG_RUNTIME_DIR="$RUN"
	XDG_CONFIG_HOME="$T/home/.config" BEARER_CONFIG="$T/pam_bearer.conf")
[ "$ROOT" = 0 ] || AS=(setpriv --reuid="$U" --regid="$G" --clear-groups "${AS[@]}")
as_user() { "${AS[@]}" "$@"; }
ubt() { as_user "$BEARER_TOKEN_BIN" "$@"; }

# The python side: the process sampler, the "proxy", the core check and the
# other user's probes.
cat >"$T/atool.py" <<'EOF'
import errno, os, resource, signal, socket, subprocess, sys, time

HOSTILE = ("SSLKEYLOGFILE", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
           "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy", "CURL_CA_BUNDLE",
           "SSL_CERT_FILE", "LD_PRELOAD", "LD_LIBRARY_PATH")

def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None

def kind(argv):
    """Which of our programs a process is, by its argv (None: not ours)."""
    words = [a.decode("utf-8", "replace") for a in argv]
    if not words or any("atool.py" in w for w in words):
        return None
    prog = os.path.basename(words[0])
    if prog == "bearer-fetch":
        return "worker"
    if "bearer-token" not in prog:
        return None
    if "pam-session" in words:
        return "pam-session"
    if "pam-system" in words:
        return "pam-system"
    if "broker" in words:
        return "broker"
    if "daemon" in words:
        return "refresher"
    return "cli"

def sample(stop, out, *preloads):
    """Until stop exists: every process's cmdline and environ (what can be
    read), and for ours their environment's names and mapped libraries."""
    needles = [l.strip().encode() for l in sys.stdin if l.strip()]
    me = str(os.getpid())
    rounds = envs = 0
    hits, seen = [], {}
    while not os.path.exists(stop):
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or pid == me:
                continue
            cmd = read("/proc/%s/cmdline" % pid)
            if cmd is None:
                continue
            env = read("/proc/%s/environ" % pid)
            envs += env is not None
            for where, data in (("cmdline", cmd), ("environ", env)):
                if data and any(n in data for n in needles):
                    hits.append("%s %s: %s" % (where, pid, cmd.replace(b"\0", b" ")[:200]))
            k = kind(cmd.split(b"\0")[:-1] if cmd.endswith(b"\0") else cmd.split(b"\0"))
            if k is None:
                continue
            s = seen.setdefault(k, {"pids": set(), "envread": 0, "keys": set(), "hostile": set(),
                                    "mapsread": 0, "preloaded": set()})
            s["pids"].add(pid)
            if env is not None:
                s["envread"] += 1
                for kv in env.split(b"\0"):
                    if kv:
                        name = kv.split(b"=", 1)[0].decode("utf-8", "replace")
                        s["keys"].add(name)
                        if name in HOSTILE:
                            s["hostile"].add(name)
            maps = read("/proc/%s/maps" % pid)
            if maps:    # a non-dumpable process's maps read empty to its own user
                s["mapsread"] += 1
                for lib in preloads:
                    if lib.encode() in maps:
                        s["preloaded"].add(lib)
        rounds += 1
        time.sleep(0.01)
    with open(out, "w") as f:
        print("rounds %d environs %d" % (rounds, envs), file=f)
        for h in hits[:10]:
            print("hit " + h, file=f)
        for k, s in sorted(seen.items()):
            print("%s pids %d envread %d mapsread %d keys %s hostile %s preloaded %s" % (
                k, len(s["pids"]), s["envread"], s["mapsread"], ",".join(sorted(s["keys"])) or "-",
                ",".join(sorted(s["hostile"])) or "-", ",".join(sorted(s["preloaded"])) or "-"),
                file=f)

def listen(portfile, countfile):
    """A "proxy": counts the connections it gets, answers none."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    n = 0
    open(countfile, "w").write("0\n")
    open(portfile, "w").write("%d\n" % s.getsockname()[1])
    while True:
        c, _ = s.accept()
        n += 1
        open(countfile, "w").write("%d\n" % n)
        c.close()

def descendants(root):
    """root and every process below it."""
    kids = {}
    for pid in os.listdir("/proc"):
        st = read("/proc/%s/stat" % pid) if pid.isdigit() else None
        if st:
            kids.setdefault(int(st.rsplit(b")", 1)[1].split()[1]), []).append(int(pid))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out

def corecheck(cwd, sig, want, *cmd):
    """Run cmd in cwd with the core limit as high as it goes, find the process
    of kind `want` at or below it, look at it, kill it with sig."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    stdin = subprocess.PIPE if want == "pam-session" else subprocess.DEVNULL
    child = subprocess.Popen(cmd, cwd=cwd, stdin=stdin, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    if stdin == subprocess.PIPE:
        child.stdin.write(sys.stdin.buffer.read())
        child.stdin.close()
    target, end = (child.pid if want == "self" else None), time.time() + 8
    while target is None and time.time() < end and child.poll() is None:
        for p in descendants(child.pid):
            argv = (read("/proc/%d/cmdline" % p) or b"").split(b"\0")[:-1]
            if kind(argv) == want:
                target = p
        time.sleep(0.02)
    if target is None:
        print("none no %s process within 8 s (exit %s)" % (want, child.poll()))
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()
        return
    argv0 = (read("/proc/%d/cmdline" % target) or b"").split(b"\0")[0]
    time.sleep(0.3)     # let it set itself up (and, for a helper, read its secrets)
    limits = (read("/proc/%d/limits" % target) or b"").decode()
    core = [l.split()[4] for l in limits.splitlines() if l.startswith("Max core file size")]
    owner = os.stat("/proc/%d/environ" % target).st_uid
    uid = [l.split()[1] for l in (read("/proc/%d/status" % target) or b"").decode().splitlines()
           if l.startswith("Uid:")]
    os.kill(target, sig)
    dumped = "unknown"
    if target == child.pid:
        try:
            _, status = os.waitpid(child.pid, 0)
            dumped = "yes" if os.WCOREDUMP(status) else "no"
        except ChildProcessError:
            pass
    else:
        time.sleep(0.5)
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        child.wait(timeout=5)
    except (subprocess.TimeoutExpired, ChildProcessError):
        pass
    print("target uid %s core-limit %s environ-owner %d core-dumped %s (pid %d, %s)" % (
        uid[0] if uid else "?", core[0] if core else "?", owner, dumped, target,
        os.path.basename(argv0).decode("utf-8", "replace")))

def probe(tokdir, profile):
    """What another user gets from the token dir and the socket."""
    def how(f):
        try:
            f()
            return "allowed"
        except OSError as e:
            return errno.errorcode.get(e.errno, str(e.errno))
    print("list", how(lambda: os.listdir(tokdir)))
    print("read", how(lambda: open("%s/%s.token" % (tokdir, profile)).read()))
    s = socket.socket(socket.AF_UNIX)
    print("connect", how(lambda: s.connect("%s/daemon.sock" % tokdir)))

def peercred(sock, uid, gid):
    """Connect to sock as uid (euid, which SO_PEERCRED reports) without
    needing the way there: the socket is opened O_PATH first, as root."""
    fd = os.open(sock, os.O_PATH)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    try:
        s.connect("/proc/self/fd/%d" % fd)
        s.sendall(b"ping\n")
        s.shutdown(socket.SHUT_WR)
        reply = s.recv(4096)
        print("reply [%s]" % reply.decode().strip())
    except OSError as e:
        print("refused %s" % errno.errorcode.get(e.errno, str(e.errno)))

if __name__ == "__main__":
    f = globals()[sys.argv[1]]
    if sys.argv[1] == "corecheck":
        f(sys.argv[2], int(sys.argv[3]), sys.argv[4], *sys.argv[5:])
    elif sys.argv[1] == "peercred":
        f(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        f(*sys.argv[2:])
EOF
atool() { "$PYTHON3" "$T/atool.py" "$@"; }

# ------------------------------------------------------------------ the world
pam_opts="profiles=unith"
SVC=4243       # the service account, _pam_bearer, as root
# the admin-held secret's canary: the user's own secrets carry PB_CANARY,
# which the user may see; this one must never reach the user (the mock
# takes any secret that ends in -canary-SUITE-...)
SYS_CANARY=canary-SUITE-SYSTEM-$(od -An -tx1 -N10 /dev/urandom | tr -d ' \n')
if [ "$ROOT" = 1 ]; then
	# an admin-held secret: root:_pam_bearer 0640, read by the service
	# account only (the login's pam-system, the broker); the canary goes
	# admin store -> service account -> vendor, and must reach no process,
	# pipe or file of the user
	echo "_pam_bearer:x:$SVC:$SVC:pam_bearer:/nonexistent:/usr/sbin/nologin" >>"$T/passwd"
	echo "_pam_bearer:x:$SVC:" >>"$T/group"
	mkdir -m 0750 "$T/credentials.d"
	printf '[sysunith]\nemail = user@example.com\nsecret_key = test-unith-secret-%s\n' \
		"$SYS_CANARY" >"$T/credentials.d/attack"
	chown "0:$SVC" "$T/credentials.d" "$T/credentials.d/attack"
	chmod 0640 "$T/credentials.d/attack"
	sed -i "s|^\[defaults\]\$|[defaults]\nsystem_credentials_dir = $T/credentials.d\nbroker_socket = $T/pb/broker.sock|" \
		"$BEARER_CONFIG"
	printf '\n[profile sysunith]\nvendor = unith\nbase_url = %s\ncredentials = system\n' \
		"$MOCK" >>"$BEARER_CONFIG"
	pam_opts="profiles=unith,sysunith"
	# the broker, as root starts it (it drops to _pam_bearer), seeing the
	# world's users through nss_wrapper
	env LD_PRELOAD="${ASAN_RUNTIME:+$ASAN_RUNTIME:}$NSS_WRAPPER_SO" NSS_WRAPPER_PASSWD="$T/passwd" \
		NSS_WRAPPER_GROUP="$T/group" "$BEARER_TOKEN_BIN" --config "$BEARER_CONFIG" broker \
		--foreground 2>>"$T/broker.log" &
	BROKER=$!
	PIDS="$PIDS $BROKER"
	wait_for 5000 test -S "$T/pb/broker.sock" || fail "the broker did not start"
	ok "the broker runs, as uid $(awk '/^Uid:/ {print $2}' "/proc/$BROKER/status")"
fi
pam_service attack "$pam_opts"
pam_session() { # [VAR=VALUE...] : one PAM session (open, close) with these in the caller's env
	run_cmd env "$@" LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" \
		UID_WRAPPER=1 UID_WRAPPER_ROOT=1 NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group" \
		pamtester -v attack attack open_session close_session
}

# the "proxy"
"$PYTHON3" "$T/atool.py" listen "$T/proxy.port" "$T/proxy.count" 2>/dev/null &
MOCK_PIDS="$MOCK_PIDS $!"     # pb_cleanup stops it
wait_for 5000 test -s "$T/proxy.port" || fail "the proxy listener did not start"
PROXY=http://127.0.0.1:$(<"$T/proxy.port")
proxied() { local n; n=$(<"$T/proxy.count"); echo "$n"; }
# what a hostile caller sets (LD_PRELOAD comes on its own: the cwrap
# libraries under PAM, nss_wrapper for the command line)
HOSTILE=(http_proxy="$PROXY" https_proxy="$PROXY" HTTP_PROXY="$PROXY" HTTPS_PROXY="$PROXY"
	ALL_PROXY="$PROXY" all_proxy="$PROXY" NO_PROXY=nothing.invalid no_proxy=nothing.invalid
	CURL_CA_BUNDLE="$T/self.pem" SSL_CERT_FILE="$T/self.pem" LD_LIBRARY_PATH="$T/nolib")
CLI_PRELOAD=$NSS_WRAPPER_SO
[ -z "${ASAN_RUNTIME:-}" ] || CLI_PRELOAD="$ASAN_RUNTIME:$CLI_PRELOAD"

echo "# control: these variables work on a libcurl program that gets them"
as_user env SSLKEYLOGFILE="$DROP/control.keylog" curl -s -o /dev/null --max-time 5 \
	--cacert "$T/ca.pem" "$MOCK/v1/whoami"
[ -s "$DROP/control.keylog" ] || fail "curl wrote no key log with SSLKEYLOGFILE: the key log check would prove nothing"
ok "curl writes a key log with SSLKEYLOGFILE set"
as_user env "${HOSTILE[@]}" curl -s -o /dev/null --max-time 5 --cacert "$T/ca.pem" "$MOCK/v1/whoami"
[ "$(proxied)" -ge 1 ] || fail "curl did not contact the proxy: the proxy check would prove nothing"
ok "curl goes through the proxy with https_proxy set"
P0=$(proxied)

# ------------------------------------------------------------------ 1, 2: sampled
echo "# fetches, PAM sessions and the refresher, sampled: argv and environment of every process"
mock_config '{"lifetime": 4}'
mock_fault '*' slow '"delay": 0.15'    # so that each process lives long enough to be seen
"$PYTHON3" "$T/atool.py" sample "$T/sample.stop" "$T/sample.out" \
	"${PAM_WRAPPER_SO##*/}" "${NSS_WRAPPER_SO##*/}" < <(printf '%s\n' "$PB_CANARY" "$SYS_CANARY") &
SAMPLER=$!
PIDS="$PIDS $SAMPLER"
sleep 0.2

echo "# (2b) the command line, run with the hostile variables: its HTTP worker gets none"
for p in apivideo unith rythmex-jwt rythmex-apitoken hautai-login oauth2; do
	expect_exit 0 as_user env "${HOSTILE[@]}" SSLKEYLOGFILE="$DROP/cli.keylog" \
		LD_PRELOAD="$CLI_PRELOAD" "$BEARER_TOKEN_BIN" refresh "$p"
done

echo "# the refresher, started by a user with the hostile variables"
"${AS[@]}" env "${HOSTILE[@]}" SSLKEYLOGFILE="$DROP/daemon.keylog" LD_PRELOAD="$CLI_PRELOAD" \
	"$BEARER_TOKEN_BIN" daemon --foreground 2>>"$T/daemon.log" &
DPID=$!
PIDS="$PIDS $DPID"
wait_for 5000 test -S "$TOKDIR/daemon.sock" || fail "the refresher did not start"

echo "# (2a) PAM sessions, the caller's environment hostile (and LD_PRELOAD the cwrap libraries)"
for i in 1 2; do
	rm -f "$TOKDIR"/unith.*     # so that the module has to run the helper
	pam_session "${HOSTILE[@]}" SSLKEYLOGFILE="$DROP/pam.keylog"
	assert_eq "$RC" 0 "PAM session $i in a hostile environment: pamtester exits 0"
	[ -s "$TOKDIR/unith.token" ] || fail "PAM session $i placed no unith token"
done
[ "$ROOT" = 0 ] || [ -s "$TOKDIR/sysunith.token" ] || fail "no sysunith token (the admin-held secret)"
ok "the PAM sessions placed their tokens"
n=$(mock_total)
wait_for 6000 eval '[ "$(mock_total)" -ge $((n + 6)) ]' || fail "the refresher renewed nothing in 6 s"
ok "the refresher renews while sampled"
touch "$T/sample.stop"
wait "$SAMPLER"
sed 's/^/#   /' "$T/sample.out"
S=$(<"$T/sample.out")
assert_not_contains "$S" $'\nhit ' "the canary is in no process's argv or environment"
line() { sed -n "s/^$1 //p" "$T/sample.out"; }   # KIND : its summary
field() { local l; l=" $(line "$1")"; l=${l#* "$2" }; echo "${l%% *}"; }   # KIND FIELD
kinds="cli worker refresher pam-session"
[ "$ROOT" = 0 ] || kinds="$kinds pam-system broker"
for k in $kinds; do
	[ "$(field $k pids)" -ge 1 ] 2>/dev/null || fail "the sampler never saw a $k process"
done
ok "the sampler saw the command line, its workers, the refresher and the PAM helper run"
rounds=$(sed -n 's/^rounds \([0-9]*\) .*/\1/p' "$T/sample.out")
[ "$rounds" -ge 50 ] || fail "only $rounds sampling rounds"
ok "$rounds sampling rounds"

echo "# what reached the helper and the worker"
assert_eq "$(field worker hostile)" - "no hostile variable in a worker's environment"
assert_eq "$(field pam-session hostile)" - "no hostile variable in the PAM helper's environment"
if [ "$(field cli envread)" -gt 0 ]; then
	assert_contains "$(field cli hostile)" SSLKEYLOGFILE \
		"(the command line itself had them: the sampler does read environments)"
fi
if [ "$(field worker envread)" -gt 0 ]; then
	assert_eq "$(field worker keys)" - "the worker's environment is empty"
else
	echo "# the worker is not dumpable: its environment is for root to read (checked in the root run)"
	[ "$ROOT" = 0 ] || fail "root could not read a worker's environment"
fi
if [ "$(field pam-session envread)" -gt 0 ]; then
	assert_eq "$(field pam-session keys)" "HOME,LOGNAME,PATH,USER,XDG_RUNTIME_DIR" \
		"the PAM helper's environment is the module's five variables"
else
	echo "# the PAM helper's environment is for root to read (checked in the root run)"
	[ "$ROOT" = 0 ] || fail "root could not read the PAM helper's environment"
fi
if [ "$(field pam-session mapsread)" -gt 0 ]; then
	assert_eq "$(field pam-session preloaded)" - "the caller's LD_PRELOAD (cwrap) is not in the PAM helper"
fi
if [ "$(field worker mapsread)" -gt 0 ]; then
	assert_eq "$(field worker preloaded)" - "the command line's LD_PRELOAD is not in its worker"
fi
# (as root only: to its own user a non-dumpable process's maps may read empty
# or, just after exec, stale, so the guard would misfire)
[ "$ROOT" = 0 ] || [ "$(field cli mapsread)" -eq 0 ] || [ "$(field cli preloaded)" != - ] ||
	fail "bearer-token had LD_PRELOAD=$CLI_PRELOAD, yet the sampler saw it nowhere: the maps check is blind"
for f in pam cli daemon; do
	[ ! -e "$DROP/$f.keylog" ] || fail "a TLS key log was written through the $f path ($(wc -c <"$DROP/$f.keylog") bytes)"
done
ok "no TLS key log from the PAM module, the command line or the refresher"
assert_eq "$(proxied)" "$P0" "the proxy got no connection"
mock_fault '*' none
mock_config '{"lifetime": 3600}'
expect_exit 0 ubt refresh apivideo unith oauth2

# ------------------------------------------------------------------ 3: other users
echo "# the token dir and the socket: modes and owners"
mode_owner() { stat -c '%a %u %F' "$1"; }
assert_eq "$(mode_owner "$TOKDIR")" "700 $U directory" "the token dir is 0700, the user's"
bad=
for f in "$TOKDIR"/* "$TOKDIR"/.[!.]*; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	case $(mode_owner "$f") in
	"600 $U regular file"|"600 $U regular empty file"|"600 $U socket") ;;
	*) bad="$bad; ${f##*/}: $(mode_owner "$f")" ;;
	esac
done
[ -z "$bad" ] || fail "token dir entries not 0600 and the user's$bad"
ok "every file in it, daemon.sock included, is 0600 and the user's"
assert_eq "$(mode_owner "$TOKDIR/daemon.sock")" "600 $U socket" "daemon.sock is a 0600 socket"
if [ "$ROOT" = 1 ]; then
	echo "# another user ($OTHER) against uid $U's token dir"
	OUT=$(setpriv --reuid=$OTHER --regid=$OTHER --clear-groups "$PYTHON3" "$T/atool.py" probe "$TOKDIR" apivideo)
	printf '%s\n' "$OUT" | sed 's/^/#   /'
	assert_contains "$OUT" "list EACCES" "cannot list the token dir"
	assert_contains "$OUT" "read EACCES" "cannot read a token"
	assert_contains "$OUT" "connect EACCES" "cannot reach the socket"
	echo "# SO_PEERCRED: the socket itself, reached past the modes"
	chmod 0666 "$TOKDIR/daemon.sock"
	mine=$(atool peercred "$TOKDIR/daemon.sock" "$U" "$G")
	theirs=$(atool peercred "$TOKDIR/daemon.sock" $OTHER $OTHER)
	chmod 0600 "$TOKDIR/daemon.sock"
	assert_match "$mine" "^reply \[ok $DPID\]" "the user gets an answer (the probe works)"
	assert_match "$theirs" '^(reply \[\]|refused E(CONNRESET|PIPE))$' \
		"uid $OTHER gets nothing: the refresher hangs up on it"
else
	echo "# the cross-user probe needs root (a second uid); as uid $(id -u) only the modes above are checked"
fi

echo "# a symlink or a FIFO planted in place of P.json or P.header: never followed, never waited on"
echo "do not touch" >"$DROP/victim"
chmod 0644 "$DROP/victim"
plant() { # KIND FILE : replace FILE in the token dir by a symlink to the victim, or a FIFO
	as_user rm -f "$TOKDIR/$2"
	if [ "$1" = link ]; then as_user ln -s "$DROP/victim" "$TOKDIR/$2"; else as_user mkfifo "$TOKDIR/$2"; fi
}
# judge WHAT KIND FILE T0 : RC 0 and FILE now a regular file, or refused
# with exit 5 naming FILE; either way quickly; then clear what is left
judge() {
	local ms=$(($(now_ms) - $4))
	[ "$ms" -lt 8000 ] || fail "$1 took $ms ms with a $2 as $3: it waited on it"
	if [ "$RC" -eq 0 ] && [ -f "$TOKDIR/$3" ] && [ ! -L "$TOKDIR/$3" ]; then
		ok "$1, $2 as $3: replaced by a regular file ($ms ms)"
	elif [ "$RC" -eq 0 ]; then
		# the PAM module: an optional module that logs and goes on
		assert_contains "$ERR" "$3" "$1, $2 as $3: left alone, and the log names it"
	else
		assert_eq "$RC" 5 "$1, $2 as $3: refused as an unsafe token dir"
		assert_contains "$ERR" "$3" "$1: the message names $3"
	fi
	as_user rm -f "$TOKDIR/$3"
}
for k in link fifo; do
	plant $k unith.json
	t0=$(now_ms)
	pam_session
	judge "a PAM session" $k unith.json "$t0"
	for f in apivideo.json apivideo.header; do
		plant $k $f
		t0=$(now_ms)
		run_cmd ubt get apivideo
		judge "get" $k $f "$t0"
		plant $k $f
		t0=$(now_ms)
		run_cmd ubt refresh apivideo
		judge "refresh" $k $f "$t0"
	done
done
assert_eq "$(<"$DROP/victim")" "do not touch" "the symlinks' target is untouched"
expect_exit 0 ubt refresh apivideo unith
kill "$DPID"
wait "$DPID"

# ------------------------------------------------------------------ 4: the user against a system secret
if [ "$ROOT" = 1 ]; then
	[ -x "${FDRACE_BIN:-}" ] || fail "no fdrace at ${FDRACE_BIN:-} (make check builds it)"
	mock_config '{"lifetime": 4}'
	rm -f "$T/pb/broker/$U"/sysunith.*    # (what the service account holds: 4-s tokens from now on)
	echo "# (4a) a racer of the user's peeks into every pipe of every process of the user"
	nonce=$RANDOM$RANDOM
	"${AS[@]}" "$FDRACE_BIN" "$DROP/race.stop" "$DROP/race.out" \
		< <(printf '%s\ncontrol-RACE-%s\n%s\n' "$SYS_CANARY" "$nonce" "$PB_CANARY") &
	RACER=$!
	PIDS="$PIDS $RACER"
	# the control: a process of the user with a string queued on its stdin,
	# a pipe the user made, as bearer-token once queued the secret for its
	# worker; the racer must find it
	sleep 0.3
	as_user sh -c 'printf "queued: control-RACE-%s\n" "$1" | sleep 1' sh "$nonce"
	logins=0 refreshes=0
	for i in $(seq 50); do
		rm -f "$TOKDIR"/sysunith.token "$TOKDIR"/sysunith.header   # every login places it anew
		pam_session
		[ "$RC" = 0 ] && logins=$((logins + 1))
		if [ $((i % 5)) = 0 ]; then
			sleep 1.6     # the broker renews a 4-s token no sooner than 1.5 s after the last
			run_cmd ubt refresh sysunith
			[ "$RC" = 0 ] && refreshes=$((refreshes + 1))
		fi
	done
	touch "$DROP/race.stop"
	wait "$RACER"
	sed 's/^/#   racer: /' "$DROP/race.out"
	assert_eq "$logins" 50 "50 logins with the system profile, each placing its token"
	assert_eq "$refreshes" 10 "10 refreshes of it by the user, through the broker"
	race=$(<"$DROP/race.out")
	assert_match "$race" $'\nhit 1 ' "control: the racer peeks into a pipe of the user's (it works)"
	assert_not_contains "$race" $'\nhit 0 ' "the admin-held secret was in no pipe of any process of the user"
	case $race in *$'\nhit 2 '*) echo "# (and the user's own secrets, in the user's own workers' pipes, the racer saw: the user may)" ;; esac
	if grep -rlsF -e "$SYS_CANARY" "$T" --exclude-dir=credentials.d | grep -q .; then
		fail "the admin-held secret is in a file: $(grep -rlsF -e "$SYS_CANARY" "$T" --exclude-dir=credentials.d)"
	fi
	ok "the admin-held secret is in no file but the admin store"
	[ -e "$TOKDIR/sysunith.state" ] && fail "a refresh token of the system profile is in the user's dir"
	ok "no refresh token of the system profile in the user's dir"

	echo "# (4b) a listener of the user's on daemon.sock at login"
	cat >"$T/listen.py" <<'PY'
import os, socket, sys
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
while True:
    c, _ = s.accept()
    c.settimeout(2)
    data = b""
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
    except OSError:
        pass
    with open(log, "ab") as f:
        f.write(data)
    try:
        c.sendall(b"ok 1\n")
    except OSError:
        pass
    c.close()
PY
	as_user rm -f "$TOKDIR/daemon.sock"
	"${AS[@]}" "$PYTHON3" "$T/listen.py" "$TOKDIR/daemon.sock" "$DROP/listener.log" &
	LISTENER=$!
	PIDS="$PIDS $LISTENER"
	wait_for 3000 test -S "$TOKDIR/daemon.sock" || fail "the user's listener did not start"
	rm -f "$TOKDIR"/sysunith.* "$TOKDIR"/unith.*
	pam_session
	assert_eq "$RC" 0 "a login with the user's listener on daemon.sock"
	[ -s "$TOKDIR/sysunith.token" ] || fail "no sysunith token"
	slurp heard "$DROP/listener.log"
	assert_contains "$heard" "session-open" "control: the listener heard the login (it is where a hand-off went)"
	assert_not_contains "$heard" "$SYS_CANARY" "the admin-held secret did not reach the listener"
	kill "$LISTENER"; wait "$LISTENER" 2>/dev/null
	as_user rm -f "$TOKDIR/daemon.sock"

	echo "# (4c) the user's own refresher, with the user's own config pointing at the user's own vendor"
	cat >"$T/evil.py" <<'PY'
import http.server, sys
log = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(log, "ab") as f:
            f.write(self.path.encode() + b" " + body + b"\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"token": "evil-token-0123456789"}')
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write("%d\n" % s.server_address[1])
s.serve_forever()
PY
	"${AS[@]}" "$PYTHON3" "$T/evil.py" "$DROP/evil.port" "$DROP/evil.log" &
	EVIL=$!
	PIDS="$PIDS $EVIL"
	wait_for 3000 test -s "$DROP/evil.port" || fail "the user's vendor did not start"
	as_user sh -c "sed -e 's|^base_url = .*|base_url = http://127.0.0.1:$(<"$DROP/evil.port")|' \
		'$BEARER_CONFIG' >'$T/home/evil.conf'"
	"${AS[@]}" "$BEARER_TOKEN_BIN" --config "$T/home/evil.conf" daemon --foreground 2>>"$T/evil-daemon.log" &
	EVILD=$!
	PIDS="$PIDS $EVILD"
	wait_for 5000 test -S "$TOKDIR/daemon.sock" || fail "the user's refresher did not start"
	rm -f "$TOKDIR"/sysunith.* "$TOKDIR"/unith.*
	pam_session
	assert_eq "$RC" 0 "a login with the user's refresher running on the user's config"
	sleep 6      # 4-s tokens: the refresher has renewed them by now, where it could
	slurp evil "$DROP/evil.log"
	assert_contains "$evil" "/auth/token" "control: the user's vendor got requests (the user's own unith profile)"
	assert_not_contains "$evil" "$SYS_CANARY" "the admin-held secret did not reach the user's vendor"
	kill "$EVILD" "$EVIL"; wait "$EVILD" "$EVIL" 2>/dev/null
	as_user rm -f "$TOKDIR/daemon.sock"
	rm -f "$DROP/evil.log"     # the user's own secrets, sent to the user's own vendor: theirs
	mock_config '{"lifetime": 3600}'
else
	echo "# (4) the attacks on a system secret need root: the service account must be another uid"
fi

# ------------------------------------------------------------------ 5: Retry-After
echo "# (5a) Retry-After: 9000000000000 (year 287225): no stuck profile"
rm -f "$TOKDIR"/apivideo.*
mock_fault /auth/api-key 429 '"retry_after": 9000000000000, "count": 1'
expect_exit 1 ubt get apivideo
jload "$TOKDIR/apivideo.json"
[ -n "${J[next_attempt_at@]:-}" ] || fail "P.json's next_attempt_at [${J[next_attempt_at]:-}] is not a date we can read"
[ "${J[next_attempt_at@]:-0}" -le $((EPOCHSECONDS + 2 * 86400 + 5)) ] ||
	fail "next_attempt_at ${J[next_attempt_at]} is more than two days ahead"
ok "next_attempt_at is ${J[next_attempt_at]}: readable, within two days"
expect_exit 0 ubt get apivideo
ok "the next get works: the profile is not stuck"

echo "# (5b) Retry-After: 9223372036854775 (2^63/1000) to the refresher: no overflow, no hot loop"
rm -f "$TOKDIR"/apivideo.*
mock_fault /auth/api-key 429 '"retry_after": 9223372036854775'
"${AS[@]}" env LD_PRELOAD="$CLI_PRELOAD" "$BEARER_TOKEN_BIN" daemon --foreground 2>>"$T/ra-daemon.log" &
RAD=$!
PIDS="$PIDS $RAD"
wait_for 5000 test -s "$TOKDIR/apivideo.json" || fail "the refresher made no attempt"
# cpu_ticks PID : the user and system CPU time PID has used, in clock ticks
cpu_ticks() { local f; read -ra f <"/proc/$1/stat"; f=("${f[@]:$((${#f[@]} - 52))}"); echo $((f[13] + f[14])); }
n0=$(mock_count /auth/api-key) c0=$(cpu_ticks "$RAD")
sleep 3
n1=$(mock_count /auth/api-key) c1=$(cpu_ticks "$RAD")
echo "# in 3 s after the first 429: $((n1 - n0)) requests to /auth/api-key, $((c1 - c0)) ticks of CPU"
[ $((n1 - n0)) -le 1 ] || fail "the refresher sent $((n1 - n0)) requests in 3 s: a hot loop"
[ $((c1 - c0)) -le 30 ] || fail "the refresher used $((c1 - c0)) ticks of CPU in 3 s: a hot loop"
ok "the refresher waits: at most one request and 0.3 s of CPU in 3 s"
kill -0 "$RAD" 2>/dev/null || fail "the refresher died"
jload "$TOKDIR/apivideo.json"
[ -n "${J[next_attempt_at@]:-}" ] && [ "${J[next_attempt_at@]}" -le $((EPOCHSECONDS + 2 * 86400 + 5)) ] ||
	fail "next_attempt_at [${J[next_attempt_at]:-}] is not a readable date within two days"
ok "it plans the retry a day ahead at most (${J[next_attempt_at]})"
kill "$RAD"; wait "$RAD" 2>/dev/null
mock_fault /auth/api-key none
expect_exit 0 ubt get apivideo

# ------------------------------------------------------------------ 1: core dumps
echo "# killed with SIGSEGV or SIGABRT, nothing of ours dumps core"
pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null)
echo "# core_pattern [$pattern], hard core limit $(ulimit -H -c)"
coredir=
case $pattern in /*) [ -d "${pattern%/*}" ] && coredir=${pattern%/*} ;; esac
cores() { find "$DROP" ${coredir:+"$coredir"} -maxdepth 1 -name 'core*' -newer "$T/atool.py" 2>/dev/null; }
SEGV=11 ABRT=6
echo "# control: a sleep, killed the same way, dumps core"
OUT=$(atool corecheck "$DROP" $SEGV self "${AS[@]}" sleep 30)
echo "#   $OUT"
CONTROL_CORES=$(cores)
if [ -n "$CONTROL_CORES" ] || [[ $OUT == *"core-dumped yes"* ]]; then
	ok "control: a dumpable sleep dumps core (${CONTROL_CORES:-to core_pattern}): the checks below can see one"
	rm -f $CONTROL_CORES
else
	echo "# control: even sleep dumps no core here; the check rests on the limits and the dumpable flag"
fi
# corecheck WANT SIG CMD... : kill the WANT process below CMD with SIG
corecheck() {
	local want=$1 sig=$2 out
	shift 2
	out=$(atool corecheck "$DROP" "$sig" "$want" "$@")
	echo "#   $want, signal $sig: $out"
	assert_match "$out" "^target uid $U " "$want (signal $sig): found and looked at, as uid $U"
	assert_match "$out" " core-limit 0 " "$want: RLIMIT_CORE 0"
	assert_match "$out" " environ-owner 0 " "$want: not dumpable (/proc/PID/environ belongs to root)"
	assert_not_contains "$out" "core-dumped yes" "$want: the wait status says no core was dumped"
	assert_eq "$(cores)" "" "$want: no core file"
	rm -f $(cores)    # (pb_cleanup would also find the canary in it)
}
mock_fault '*' hang     # the helper and its worker wait, holding the secrets
for sig in $SEGV $ABRT; do
	corecheck refresher $sig "${AS[@]}" "$BEARER_TOKEN_BIN" daemon --foreground
	corecheck worker $sig "${AS[@]}" "$BEARER_TOKEN_BIN" refresh unith
	corecheck cli $sig "${AS[@]}" "$BEARER_TOKEN_BIN" refresh unith
	# no token on disk, so that pam-session has to fetch (and wait on the hang)
	as_user rm -f "$TOKDIR"/unith.token "$TOKDIR"/unith.header
	corecheck pam-session $sig "${AS[@]}" "$BEARER_TOKEN_BIN" pam-session --deadline "$(deadline_in 5000)" \
		--nodaemon -- unith < <(echo end)
done
mock_fault '*' none
pb_done
