#!/bin/bash
# SPDX-License-Identifier: MIT
# fuzz/smoke.sh - run every fuzz target briefly over its seed corpus
# (`make fuzz-smoke`, and CI). One line per target with its execution
# count; exit 1 when any target crashes, leaks, times out or breaks an
# invariant. A failing input is kept in BINDIR/smoke-artifacts/.
#
# usage: smoke.sh BINDIR CORPUSDIR SECONDS TARGET...
set -u

bindir=$1 corpus=$2 seconds=$3
shift 3
work=$(mktemp -d "${TMPDIR:-/tmp}/pb-fuzz-smoke.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
artifacts=$bindir/smoke-artifacts
failed=0

# Run one target; print its line; return non-zero on any finding.
smoke_one() {
	local name=$1 bin=$bindir/fuzz_$1 log=$work/$1.log runs secs rc
	mkdir -p "$work/$name" "$artifacts"
	# new inputs go to the scratch dir: the seed corpus in the tree stays as it is
	"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$artifacts/$name-" "$work/$name" "$corpus/$name" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log")
	secs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log")
	if [ "$rc" -ne 0 ] || [ -z "$runs" ]; then
		printf 'fuzz_%-9s FAILED (exit %s); log tail:\n' "$name" "$rc"
		tail -n 40 "$log" | sed 's/^/    /'
		return 1
	fi
	printf 'fuzz_%-9s %10s runs in %3s s, %4s seed files, ok\n' "$name" "$runs" "$secs" \
		"$(ls "$corpus/$name" | wc -l)"
}

for name in "$@"; do
	if [ ! -x "$bindir/fuzz_$name" ] || [ ! -d "$corpus/$name" ]; then
		echo "fuzz_$name: missing target or seed corpus ($bindir, $corpus)" >&2
		failed=1
		continue
	fi
	smoke_one "$name" || failed=1
done
exit "$failed"
