#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/run.sh - `make bench`: every section, then the report.
#   BENCH_QUICK=1         fewer runs and shorter windows (development)
#   BENCH_SECTIONS="1 2"  only these sections (1-4, 6, 8, 10: sessions.sh;
#                         5, 7, 9: refresher.sh); the report shows what ran
set -u
here=$(dirname "$0")
: "${BENCH_OUT:?run me through make bench}"
mkdir -p "$BENCH_OUT"
rm -f "$BENCH_OUT/results.tsv" "$BENCH_OUT"/*.samples "$BENCH_OUT/pam.log"
{
	echo "date	$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "load	$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "nproc	$(nproc)"
	echo "cpu	$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "kernel	$(uname -r)"
	echo "debian	$(cat /etc/debian_version 2>/dev/null || echo unknown)"
	echo "mode	$([ -n "${BENCH_QUICK:-}" ] && echo quick || echo full)"
	echo "user	$(id -un)"
} >"$BENCH_OUT/machine.tsv"
start=$EPOCHSECONDS
echo "pam_bearer benchmark ($([ -n "${BENCH_QUICK:-}" ] && echo quick || echo full) run; load average at start $(cut -d' ' -f1-3 /proc/loadavg))"
want=" ${BENCH_SECTIONS:-1 2 3 4 5 6 7 8 9 10} "
sess= ref=
for s in 1 2 3 4 6 8 10; do [[ $want == *" $s "* ]] && sess="$sess $s"; done
for s in 5 7 9; do [[ $want == *" $s "* ]] && ref="$ref $s"; done
rc=0
[ -n "$sess" ] && { BENCH_SECTIONS=$sess bash "$here/sessions.sh" || rc=1; }
[ -n "$ref" ] && { BENCH_SECTIONS=$ref bash "$here/refresher.sh" || rc=1; }
echo "load	$(cut -d' ' -f1-3 /proc/loadavg)" | sed 's/^load/load_end/' >>"$BENCH_OUT/machine.tsv"
echo "seconds	$((EPOCHSECONDS - start))" >>"$BENCH_OUT/machine.tsv"
bash "$here/report.sh" || rc=1
exit $rc
