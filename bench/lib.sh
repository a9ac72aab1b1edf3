# SPDX-License-Identifier: MIT
# bench/lib.sh - shared parts of the benchmark scripts (bash). Source it
# from a bench/*.sh script run by `make bench`; it brings in tests/lib.sh
# (the mock, certificates, config) and tests/pam_world.sh (the cwrap PAM
# world).
#
#   bench_init NAME   a temp dir T (removed at exit) and the output dir OUT
#   n_runs FULL QUICK the run count for this mode (BENCH_QUICK=1: QUICK)
#   record SEC KEY LABEL SAMPLES [NOTE]
#                     a latency row: median and p99 of a samples file (us)
#   figure SEC KEY LABEL VALUE [NOTE]
#                     any other figure, as printed
#   as_user CMD...    run CMD as the world's user (setpriv when root)
#   user_cmd CMD...   the same, with only that user's environment (HOME,
#                     XDG dirs, BEARER_CONFIG), as a login would give
#
# Raw data: $OUT/results.tsv (one row per figure: section, key, label,
# n, median_us, p99_us, value, note) and $OUT/*.samples (one time a line).

set -u
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/pam_world.sh"
: "${BENCH_OUT:?run me through make bench}"
: "${BENCH_BIN:?run me through make bench}"   # build dir with bench/pam_open, bench/timeit
OUT=$BENCH_OUT
QUICK=${BENCH_QUICK:-}
PAM_OPEN=$BENCH_BIN/pam_open
TIMEIT=$BENCH_BIN/timeit

bench_init() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/pam_bearer-bench-$1.XXXXXX") || exit 1
	chmod 0755 "$T"
	trap pb_cleanup EXIT
	trap 'exit 1' INT TERM HUP
	mkdir -p "$OUT"
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy NO_PROXY no_proxy \
		SSLKEYLOGFILE CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR BEARER_TOKEN_DIR
}

n_runs() { if [ -n "$QUICK" ]; then echo "$2"; else echo "$1"; fi; }

# stats FILE : "N MEDIAN P99" (same ranks as pam_open and timeit)
stats() {
	sort -n "$1" | awk '{ v[NR - 1] = $1 } END {
		if (NR == 0) { print "0 - -"; exit }
		print NR, v[int(NR / 2)], v[int(NR * 99 / 100)] }'
}

record() { # SEC KEY LABEL SAMPLES [NOTE]
	local n med p99
	read -r n med p99 < <(stats "$4")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t\t%s\n' "$1" "$2" "$3" "$n" "$med" "$p99" "${5:-}" \
		>>"$OUT/results.tsv"
	printf '  %-52s n=%-5s median %8s us   p99 %8s us\n' "$3" "$n" "$med" "$p99"
}

figure() { # SEC KEY LABEL VALUE [NOTE]
	printf '%s\t%s\t%s\t\t\t\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$OUT/results.tsv"
	printf '  %-52s %s\n' "$3" "$4"
}

as_user() {
	if [ "$(id -u)" -eq 0 ]; then setpriv --reuid="$U" --regid="$G" --clear-groups "$@"; else "$@"; fi
}

user_cmd() {
	as_user env -i PATH=/usr/bin:/bin USER=bench HOME="$T/home" \
		XDG_RUNTIME_DIR="$T/run/$U" XDG_CONFIG_HOME="$T/home/.config" \
		BEARER_CONFIG="$BEARER_CONFIG" "$@"
}

# keep_profiles P... : drop every other [profile] section from the config
keep_profiles() {
	local re
	re=$(printf '%s|' "$@"); re=${re%|}
	awk -v re="^\\\\[profile ($re)\\\\]\$" '/^\[profile /{keep = ($0 ~ re)} !/^\[profile / && /^\[/{keep = 1} keep' \
		"$BEARER_CONFIG" >"$T/conf.new" && mv "$T/conf.new" "$BEARER_CONFIG" && chmod 0644 "$BEARER_CONFIG"
}

# set_default KEY VALUE : add KEY = VALUE to the config's [defaults]
set_default() {
	sed -i "s|^\[defaults\]\$|[defaults]\n$1 = $2|" "$BEARER_CONFIG"
}

# daemon_pid : the refresher of this world's user, from its socket
daemon_pid() {
	"$PYTHON3" - "$T/run/$U/bearer/daemon.sock" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"ping\n")
s.shutdown(socket.SHUT_WR)
print(s.makefile().read().split()[1])
EOF
}
