# SPDX-License-Identifier: MIT
# tests/lib.sh - shared harness for the integration tests (bash).
#
# Each test script does:
#     . "$TESTS_SRCDIR/lib.sh"
#     pb_setup                # temp dir, CA + cert, mock vendor, config, creds
#     expect_exit 0 bt get apivideo
#     ...
#     pb_done
# Environment from `make check`: BEARER_TOKEN_BIN, TESTS_SRCDIR, VENDOR_DIR,
# PYTHON3, OPENSSL. Exit 0 pass, 77 skip, anything else fail. Needs bash 5,
# curl, openssl and python3 (standard library only). PB_KEEP_GOING=1 reports
# every failure instead of stopping at the first.

set -u

: "${TESTS_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
: "${VENDOR_DIR:=$(cd "$TESTS_SRCDIR/../vendors" && pwd)}"
: "${BEARER_TOKEN_BIN:=$PWD/bearer-token}"
: "${PYTHON3:=python3}"
: "${OPENSSL:=openssl}"
# Debian's python may be absent from a minimal PATH; the mock needs only the
# standard library, so any python3 will do.
[ -x "$PYTHON3" ] || command -v "$PYTHON3" >/dev/null 2>&1 || PYTHON3=python3

PB_NCHECK=0
T=
MOCK_PIDS=

skip() { echo "SKIP: $*"; exit 77; }
ok() { PB_NCHECK=$((PB_NCHECK + 1)); echo "ok - $*"; }
# fail MSG : report and exit 1 (with PB_KEEP_GOING=1 set: carry on, and
# pb_done exits 1 at the end; handy to see every failure at once)
PB_NFAIL=0
fail() {
	echo "not ok - $*"
	if [ -n "${ERR+x}" ] && [ -n "$ERR" ]; then printf '  stderr: %s\n' "$ERR" | head -5; fi
	if [ -n "${OUT+x}" ] && [ -n "$OUT" ]; then printf '  stdout: %s\n' "$OUT" | head -5; fi
	if [ -n "${MOCK_PID:-}" ] && ! kill -0 "$MOCK_PID" 2>/dev/null; then
		echo "  (the mock vendor is gone; its stderr follows)"
		sed 's/^/  mock: /' "$T/MOCK.stderr" 2>/dev/null | tail -20
	fi
	PB_NFAIL=$((PB_NFAIL + 1))
	[ -n "${PB_KEEP_GOING:-}" ] || exit 1
	return 1
}

assert_eq() { # A B MSG
	if [ "$1" = "$2" ]; then ok "$3"; else fail "$3 (expected [$2], got [$1])"; fi
}
assert_contains() { # HAYSTACK NEEDLE MSG  (fixed string)
	case "$1" in *"$2"*) ok "$3" ;; *) fail "$3 ([$2] not in [$1])" ;; esac
}
assert_not_contains() { # HAYSTACK NEEDLE MSG
	case "$1" in *"$2"*) fail "$3 ([$2] found)" ;; *) ok "$3" ;; esac
}
assert_match() { # STRING ERE MSG  (case-insensitive POSIX ERE; ^ = start of STRING)
	local re=$2 m
	shopt -s nocasematch; [[ $1 =~ $re ]]; m=$?; shopt -u nocasematch
	if [ $m -eq 0 ]; then ok "$3"; else fail "$3 (/$2/ does not match [$1])"; fi
}
assert_mode() { # FILE OCTAL
	local m
	m=$(stat -c %a "$1" 2>/dev/null)
	if [ "$m" = "$2" ]; then ok "${1##*/} mode $2"; else fail "$1 has mode [$m], want $2"; fi
}
# raw_eq FILE STRING : FILE holds exactly STRING, byte for byte (no fork)
raw_eq() {
	local raw=
	[ -f "$1" ] || return 1
	IFS= read -r -d '' raw <"$1"
	[ "$raw" = "$2" ]
}
# check_modes DIR : DIR is 0700 and every file in it a regular 0600 file
check_modes() {
	local mode type name bad=
	while read -r mode type name; do
		if [ "$name" = "$1" ]; then
			[ "$mode $type" = "700 directory" ] || bad="$bad; $1 is a $type with mode $mode"
		else
			[ "$mode $type" = "600 regular" ] || bad="$bad; $name is a $type with mode $mode"
		fi
	done < <(stat -c '%a %F %n' "$1" "$1"/* | sed 's/ empty file / file /; s/regular file/regular/')
	if [ -z "$bad" ]; then ok "${1##*/} is 0700 and its files are 0600"; else fail "modes${bad}"; fi
}
assert_lines() { # TEXT N MSG : TEXT has exactly N lines
	local nl=${1//[!$'\n']/} n=0
	[ -n "$1" ] && n=$(( ${#nl} + 1 ))
	if [ "$n" -eq "$2" ]; then ok "$3"; else fail "$3 (expected $2 lines, got $n: [$1])"; fi
}

# slurp VAR FILE : VAR = FILE's content minus trailing newlines (no fork)
slurp() {
	local -n _v=$1
	_v=
	IFS= read -r -d '' _v <"$2"
	while [[ $_v == *$'\n' ]]; do _v=${_v%$'\n'}; done
}
# run_cmd cmd... : run cmd, stdout into $OUT, stderr into $ERR, status $RC.
run_cmd() {
	"$@" >"$T/.out" 2>"$T/.err"
	RC=$?
	slurp OUT "$T/.out"; slurp ERR "$T/.err"
}
# expect_exit N cmd... : run_cmd, and fail unless it exits N.
expect_exit() {
	local want=$1; shift
	run_cmd "$@"
	if [ "$RC" -eq "$want" ]; then ok "$* exits $want"; else fail "$* exits $want (got $RC)"; fi
}

bt() { "$BEARER_TOKEN_BIN" "$@"; }

# milliseconds since the epoch (the mock's request times are comparable)
now_ms() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((10#$t / 1000)); }
# wait_for MS CMD... : poll CMD every 50 ms until it succeeds, at most MS
wait_for() {
	local end=$(($(now_ms) + $1))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# jload FILE : J[key] = each top-level member of a JSON object (strings
# raw, others as JSON, null as "null"); J[key@] = epoch seconds of a
# "YYYY-MM-DDTHH:MM:SS[.mmm]Z" string, J[key@ms] the same in ms.
# J[@keys] = the keys. One python run.
declare -A J
jload() {
	local k v
	J=()
	while IFS=$'\t' read -r k v; do J[$k]=$v; done < <("$PYTHON3" -c '
import calendar, json, sys, time
d = json.load(open(sys.argv[1]))
for k, v in d.items():
    print(k, v if isinstance(v, str) else json.dumps(v), sep="\t")
    if isinstance(v, str):
        whole, _, frac = v[:-1].partition(".") if v.endswith("Z") else (v, "", "")
        try:
            t = calendar.timegm(time.strptime(whole + "Z", "%Y-%m-%dT%H:%M:%SZ"))
            print(k + "@", t, sep="\t")
            print(k + "@ms", t * 1000 + (int((frac + "000")[:3]) if frac.isdigit() else 0), sep="\t")
        except ValueError:
            pass
print("@keys", " ".join(d), sep="\t")' "$1" || echo "@error	not JSON")
	[ -z "${J[@error]+x}" ] || fail "$1 is not a JSON object"
}
now() { echo "$EPOCHSECONDS"; }
# deadline_in MS : what pam_bearer.so passes to `pam-session --deadline`, MS
# from now: milliseconds on the CLOCK_MONOTONIC clock (which Python's
# time.monotonic() reads on Linux)
deadline_in() { "$PYTHON3" -c 'import sys, time; print(int(time.monotonic() * 1000) + int(sys.argv[1]))' "$1"; }
# seconds since the epoch of an RFC 3339 "YYYY-MM-DDTHH:MM:SSZ"
epoch_of() { date -u -d "$1" +%s; }

# ------------------------------------------------------------- mock control
# The mock's /_mock/ control endpoints are also served over plain HTTP on
# 127.0.0.1:$CTL_PORT; ctl talks to it through bash's /dev/tcp, so asking
# the mock something costs no process at all (the tests ask a lot).
mock_curl() { curl -s -S --max-time 10 --noproxy '*' --cacert "$T/ca.pem" "$@"; }
mock_post() { # PATH JSON : a POST to the vendor side, over TLS
	mock_curl -X POST -H 'Content-Type: application/json' --data-binary "$2" "$MOCK$1"
}
# ctl METHOD PATH [JSON] : print the answer's body; fail unless HTTP 200
ctl() {
	local LC_ALL=C body=${3-} resp='' status fd
	exec {fd}<>"/dev/tcp/127.0.0.1/$CTL_PORT" || fail "mock control port unreachable"
	printf '%s %s HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
		"$1" "$2" "${#body}" "$body" >&"$fd"
	IFS= read -r -t 10 -d '' resp <&"$fd"
	exec {fd}>&-
	status=${resp#HTTP/* }; status=${status%% *}
	[ "$status" = 200 ] || { fail "mock control $1 $2: HTTP $status"; return 1; }
	resp=${resp#*$'\r\n\r\n'}
	printf '%s' "${resp%$'\n'}"
}
mock_ctl() { ctl POST "$1" "${2-}" >/dev/null; }   # PATH [JSON]
mock_fault() { # PATH MODE [extra JSON members, e.g. '"retry_after": 7']; MODE none clears
	mock_ctl /_mock/fault "{\"path\": \"$1\", \"mode\": \"$2\"${3:+, $3}}"
}
mock_config() { mock_ctl /_mock/config "$1"; }   # JSON object
mock_reset() { mock_ctl /_mock/reset; }
mock_stats() { ctl GET /_mock/stats; }
mock_count() { ctl GET "/_mock/count?path=$1"; }  # PATH: requests the mock saw on it
mock_total() { ctl GET /_mock/count; }            # vendor requests so far
# mock_last PATH FIELD : FIELD of the last request record on PATH (strings
# raw, others JSON: null, true, 200)
mock_last() { ctl GET "/_mock/last?path=$1&field=$2"; }
# mock_latest_refresh VENDOR : the refresh token the mock issued last
mock_latest_refresh() { ctl GET "/_mock/last-refresh?vendor=$1"; }
# whoami FILE.header -> HTTP status of the protected resource with that header
whoami() { mock_curl -o /dev/null -w '%{http_code}' -H @"$1" "$MOCK/v1/whoami"; }

# ------------------------------------------------------------- setup
pb_cleanup() {
	local pid leaks=
	for pid in $MOCK_PIDS; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	MOCK_PIDS=
	[ -n "$T" ] && [ -d "$T" ] && leaks=$(canary_leaks "$T")
	if [ -n "$leaks" ]; then
		printf 'not ok - the canary secret is in a file other than a credentials store: %s\n' $leaks
		PB_NFAIL=$((PB_NFAIL + 1))
	fi
	if [ -n "${PB_KEEP_TMP:-}" ] && [ "$PB_NFAIL" -gt 0 ]; then
		echo "# kept $T"
	elif [ -n "$T" ] && [ -d "$T" ]; then
		chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"
	fi
	[ -z "$leaks" ] || exit 1
}

# canary_leaks DIR : every file under DIR that holds $PB_CANARY, but for the
# credentials stores (a name with "credentials" in it, or a file under a
# credentials.d/). Logs, outputs, configs and token files all count. The
# needle reaches grep on a pipe, never on its command line, where a process
# sampler would take it for a leak.
canary_leaks() {
	local f
	grep -rlsF -D skip -f <(printf '%s\n' "$PB_CANARY") -- "$1" | while IFS= read -r f; do
		case ${f##*/} in *credentials*) continue ;; esac
		case $f in */credentials.d/*) continue ;; esac
		printf '%s\n' "$f"
	done
}

# make_certs DIR : throw-away CA and a server cert for 127.0.0.1/localhost
make_certs() {
	local d=$1
	(
		cd "$d" || exit 1
		"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout ca.key -out ca.pem -days 2 -subj "/CN=pam_bearer test CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
		"$OPENSSL" req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout server.key -out server.csr -subj "/CN=127.0.0.1" &&
		printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
			"basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" >server.ext &&
		"$OPENSSL" x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
			-out server.pem -days 2 -extfile server.ext &&
		# a self-signed cert for the same name, trusted by nobody
		"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout self.key -out self.pem -days 2 -subj "/CN=127.0.0.1" \
			-addext subjectAltName=IP:127.0.0.1,DNS:localhost
	) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log"; fail "cannot make test certificates"; }
}

# start_mock NAME [mock options...] : start a mock, set ${NAME}_PID,
# ${NAME}_PORT and ${NAME}_CTL_PORT (its plain-HTTP control port). The
# first one (NAME=MOCK) is the one $MOCK and ctl talk to. It exits by
# itself after 20 minutes, in case a test dies without stopping it (a
# whole daemon.sh under ASan on a busy machine has taken 6.5).
start_mock() {
	local name=$1; shift
	local pf="$T/$name.port" cf="$T/$name.ctlport"
	rm -f "$pf" "$cf"
	"$PYTHON3" "$TESTS_SRCDIR/mock_vendor.py" --port-file "$pf" --control-port-file "$cf" \
		--log "$T/$name.log" --max-seconds 1200 "$@" 2>>"$T/$name.stderr" &
	eval "${name}_PID=$!"
	MOCK_PIDS="$MOCK_PIDS $!"
	for _ in $(seq 50); do
		[ -s "$pf" ] && break
		sleep 0.1
	done
	[ -s "$pf" ] || { cat "$T/$name.stderr"; fail "mock $name did not start"; }
	eval "${name}_PORT=$(<"$pf") ${name}_CTL_PORT=$(<"$cf")"
}

write_config() { # [extra defaults lines]
	{
		echo "# written by tests/lib.sh"
		echo "[defaults]"
		echo "vendor_dir = $VENDOR_DIR"
		echo "ca_file = $T/ca.pem"
		echo "timeout = 3"
		[ $# -gt 0 ] && printf '%s\n' "$@"
		for p in apivideo unith rythmex-jwt rythmex-apitoken hautai hautai-login oauth2; do
			printf '\n[profile %s]\nvendor = %s\nbase_url = %s\n' "$p" "$p" "$MOCK"
		done
	} >"$BEARER_CONFIG"
	chmod 0644 "$BEARER_CONFIG"
}
# profile_set PROFILE KEY VALUE : add a key to a profile section of the config
profile_set() {
	"$PYTHON3" - "$BEARER_CONFIG" "$1" "$2" "$3" <<'EOF'
import sys
path, prof, key, val = sys.argv[1:]
lines = open(path).read().split("\n")
i = lines.index("[profile %s]" % prof)
lines.insert(i + 1, "%s = %s" % (key, val))
open(path, "w").write("\n".join(lines))
EOF
}
# profile_del PROFILE KEY : drop KEY from a profile section
profile_del() {
	"$PYTHON3" - "$BEARER_CONFIG" "$1" "$2" <<'EOF'
import sys
path, prof, key = sys.argv[1:]
out, cur = [], None
for l in open(path).read().split("\n"):
    if l.startswith("["):
        cur = l
    if cur == "[profile %s]" % prof and l.split("=")[0].strip() == key:
        continue
    out.append(l)
open(path, "w").write("\n".join(out))
EOF
}
# defaults_del KEY : drop KEY from [defaults]
defaults_del() { sed -i "/^\[defaults\]/,/^\[/{/^$1 *=/d}" "$BEARER_CONFIG"; }

HAUTAI_TOKEN=hautai-private-0123456789abcdef
# PB_CANARY: every secret write_creds writes ends in it (the mock takes a test
# secret with or without it), so that a secret that leaks is recognised:
# pb_cleanup fails the test when it is in any file of T but a credentials
# store, and tests/integration/attacks.sh looks for it in every process's
# argv and environment. Random per run, so that one test never sees another's;
# never exported. hautai's static token is the token itself, so it has none.
printf -v PB_CANARY 'canary-SUITE-%04x%04x%x' "$RANDOM" "$RANDOM" "$$"
write_creds() {
	local d="$XDG_CONFIG_HOME/pam_bearer"
	mkdir -p "$d"; chmod 0700 "$d"
	HAUTAI_EXPIRES=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
	CREDS="$d/credentials"
	(umask 077; cat >"$CREDS" <<EOF
# test secrets
[apivideo]
api_key = test-apivideo-key-$PB_CANARY

[unith]
email = user@example.com
secret_key = test-unith-secret-$PB_CANARY

[rythmex-jwt]
email = user@example.com
password = test-rythmex-password-$PB_CANARY

[rythmex-apitoken]
email = user@example.com
password = test-rythmex-password-$PB_CANARY

[hautai]
token = $HAUTAI_TOKEN
expires = $HAUTAI_EXPIRES

[hautai-login]
email = user@example.com
password = test-hautai-password-$PB_CANARY

[oauth2]
client_id = test-client
client_secret = test-client-secret-$PB_CANARY
EOF
	)
	chmod 0600 "$CREDS"
}
SECRETS="test-apivideo-key-$PB_CANARY test-unith-secret-$PB_CANARY test-rythmex-password-$PB_CANARY
	test-hautai-password-$PB_CANARY test-client-secret-$PB_CANARY $HAUTAI_TOKEN"

pb_setup() {
	[ "${BASH_VERSINFO[0]}" -ge 5 ] || skip "bash 5 needed (EPOCHREALTIME, namerefs)"
	command -v "$PYTHON3" >/dev/null 2>&1 || skip "python3 not found"
	command -v "$OPENSSL" >/dev/null 2>&1 || skip "openssl not found"
	command -v curl >/dev/null 2>&1 || skip "curl not found"
	[ -x "$BEARER_TOKEN_BIN" ] || skip "no bearer-token binary at $BEARER_TOKEN_BIN"

	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy NO_PROXY no_proxy \
		SSLKEYLOGFILE CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR BEARER_TOKEN_DIR
	T=$(mktemp -d "${TMPDIR:-/tmp}/pb-test.XXXXXX") || fail "mktemp"
	chmod 0755 "$T"
	trap pb_cleanup EXIT
	trap 'exit 1' INT TERM HUP

	make_certs "$T"
	start_mock MOCK --cert "$T/server.pem" --key "$T/server.key"
	MOCK="https://127.0.0.1:$MOCK_PORT"
	CTL_PORT=$MOCK_CTL_PORT
	MOCK_LOG="$T/MOCK.log"

	export HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" XDG_RUNTIME_DIR="$T/run"
	export BEARER_CONFIG="$T/pam_bearer.conf" MOCK
	mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR"
	chmod 0700 "$HOME" "$XDG_RUNTIME_DIR"
	TOKDIR="$XDG_RUNTIME_DIR/bearer"
	write_config
	write_creds
	[ "$(mock_total)" = 0 ] || fail "mock is not answering"
}

pb_done() {
	echo "# $PB_NCHECK checks passed, $PB_NFAIL failed"
	[ "$PB_NFAIL" -eq 0 ] || exit 1
	exit 0
}
