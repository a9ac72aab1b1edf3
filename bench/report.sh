#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/report.sh - the table of `make bench`, from $BENCH_OUT/results.tsv
# and machine.tsv: printed, written as RESULTS.md, and the latency
# distributions of sections 1 and 2 drawn with gnuplot as latency.png.
# A full run writes both into the source tree's bench/ (they are committed);
# a quick run (BENCH_QUICK=1) or one of some sections (BENCH_SECTIONS)
# into $BENCH_OUT only.
set -u
: "${BENCH_OUT:?run me through make bench}" "${BENCH_SRC:?}"
PYTHON3=${PYTHON3:-python3}
# only a full run of every section rewrites the committed RESULTS.md
if [ -n "${BENCH_QUICK:-}" ] || [ -n "${BENCH_SECTIONS:-}" ]; then DEST=$BENCH_OUT; else DEST=$BENCH_SRC; fi

"$PYTHON3" - "$BENCH_OUT" "$DEST" <<'EOF' || exit 1
import os, sys
out, dest = sys.argv[1], sys.argv[2]
machine = dict(l.rstrip("\n").split("\t", 1) for l in open(os.path.join(out, "machine.tsv")))
rows = []
for l in open(os.path.join(out, "results.tsv")):
    sec, key, label, n, med, p99, value, note = (l.rstrip("\n").split("\t") + [""] * 8)[:8]
    rows.append(dict(sec=sec, key=key, label=label, n=n, med=med, p99=p99, value=value, note=note))
get = {(r["sec"], r["key"]): r for r in rows}

def us(r, f="med"):
    return float(r[f]) if r and r.get(f) not in ("", "-", None) else None

def ms(v):
    return "-" if v is None else ("%.2f ms" % (v / 1000) if v < 10000 else "%.0f ms" % (v / 1000))

def ratio(a, b):
    return "" if a is None or b is None or b == 0 else "%.2fx" % (a / b)

TITLES = {"1": "Session open with a fresh fetch", "2": "Session open, valid token already there",
          "3": "Vendor down or hanging (configured timeout 1 s)", "4": "Reading a valid token",
          "5": "The refresher (3 profiles)", "6": "100 session opens for 100 users at once",
          "7": "A refresh herd (one refresher, one lifetime)",
          "8": "First login with 7 profiles", "9": "One hung vendor beside 5 healthy profiles",
          "10": "Session open, oauth2: a client secret or a signed assertion"}
REF = {"1": ("1", "floor", "x floor"), "2": ("2", "pam_bearer", "x pam_bearer"),
       "4": ("4", "cat", "x cat"), "6": ("6", "open", "x median"), "8": ("8", "floor", "x floor"),
       "10": ("10", "secret-rsa", "x secret")}
lines, table = [], []
for sec in sorted({r["sec"] for r in rows}, key=int):
    table.append("")
    table.append("### %s. %s" % (sec, TITLES.get(sec, "")))
    table.append("")
    lat = [r for r in rows if r["sec"] == sec and r["med"]]
    other = [r for r in rows if r["sec"] == sec and not r["med"]]
    if lat:
        table.append("| | runs | median | p99 | ratio (median) |")
        table.append("|---|---:|---:|---:|---:|")
    for r in lat:
        ref = get.get(REF[sec][:2]) if sec in REF else None
        if sec == "10" and r["key"] in ("secret-ec", "es256"):
            ref = get.get(("10", "secret-ec"))   # each key against its own batches
        rt = ratio(us(r), us(ref))[:-1] + REF[sec][2] if sec in REF and ref else ""
        if sec == "3":
            rt = "%.2fx timeout" % (us(r) / 1e6)
        if sec == "6":
            rt = "p99 = %.2fx median" % (us(r, "p99") / us(r))
        table.append("| %s | %s | %s | %s | %s |" % (r["label"], r["n"], ms(us(r)), ms(us(r, "p99")), rt))
    if other:
        if lat:
            table.append("")
        table.append("| | |")
        table.append("|---|---|")
        for r in other:
            table.append("| %s | %s |" % (r["label"], r["value"]))

# ---- the targets: met or missed, by how much
def target(name, ok, how):
    return "| %s | %s | %s |" % (name, "**met**" if ok else "**missed**", how)
tg = []
pb, fl, bl = get.get(("1", "pam_bearer")), get.get(("1", "floor")), get.get(("1", "baseline"))
if pb and fl and bl:
    r1 = us(pb) / us(fl)
    tg.append(target("fresh-fetch open within 1.3x of the bare-curl floor", r1 <= 1.3,
                     "median %s vs %s: %.2fx" % (ms(us(pb)), ms(us(fl)), r1)))
    r2 = us(bl) / us(pb)
    tg.append(target("several (3+) times faster than the baseline", r2 >= 3,
                     "the baseline's median is %.2fx pam_bearer's" % r2))
for key in ("pam_bearer", "pam_bearer_daemon"):
    c = get.get(("2", key))
    if c:
        tg.append(target("cached open under 2 ms (median): " + c["label"], us(c) < 2000,
                         "median %s, p99 %s" % (ms(us(c)), ms(us(c, "p99")))))
for scen in ("refused", "hang", "dns"):
    c = get.get(("3", "pam_bearer-" + scen))
    if c:
        worst = us(c, "p99")
        tg.append(target("bounded by timeout + 100 ms (p99): " + c["label"], worst <= 1.1e6,
                         "p99 %s (limit 1100 ms)" % ms(worst)))
for r in rows:
    if r["sec"] == "5" and r["key"].startswith("rss-"):
        kib = int(r["value"].split()[0])
        tg.append(target("refresher idle RSS under 2 MiB (%s)" % r["key"][4:], kib < 2048,
                         "%s KiB = %.1f MiB" % (kib, kib / 1024)))
    if r["sec"] == "5" and r["key"].startswith("wake-"):
        w = int(r["value"].split()[0])
        tg.append(target("zero wake-ups between deadlines (%s)" % r["key"][5:], w == 0, r["value"]))
o, s6 = get.get(("6", "open")), get.get(("6", "success"))
if o and s6:
    okn, _, tot = s6["value"].split()[:3]
    tg.append(target("100 users at once, 3 profiles each: every token within the timeout",
                     okn == tot, s6["value"]))
    tg.append(target("their p99 under 3x p50", us(o, "p99") < 3 * us(o),
                     "p50 %s, p99 %s: %.2fx" % (ms(us(o)), ms(us(o, "p99")), us(o, "p99") / us(o))))
h = get.get(("7", "ratio"))
if h:
    tg.append(target("herd peak under 1.5x the mean", float(h["value"]) < 1.5,
                     "peak %s, mean %s: %sx" % (get[("7", "peak")]["value"], get[("7", "mean")]["value"],
                                                h["value"])))

p7, f8 = get.get(("8", "pam_bearer7")), get.get(("8", "floor"))
if p7 and f8:
    r8 = us(p7) / us(f8)
    tg.append(target("first login with 7 profiles within 1.5x of the single-exchange floor",
                     r8 <= 1.5, "median %s vs %s: %.2fx" % (ms(us(p7)), ms(us(f8)), r8)))
g9, i9 = get.get(("9", "get")), get.get(("9", "invalid"))
if g9:
    tg.append(target("hung vendor: get of a healthy profile, p99 under 50 ms",
                     us(g9, "p99") <= 50000, "p99 %s, median %s" % (ms(us(g9, "p99")), ms(us(g9)))))
if i9:
    tg.append(target("hung vendor: the healthy tokens never invalid",
                     i9["value"].split()[0] == "0", i9["value"]))

for key, base in (("rs256", "secret-rsa"), ("es256", "secret-ec")):
    c, sec = get.get(("10", key)), get.get(("10", base))
    if sec and c:
        r10 = us(c) / us(sec)
        tg.append(target("a signed assertion within 1.1x of a client secret: " + c["label"], r10 <= 1.1,
                         "median %s vs %s: %.2fx" % (ms(us(c)), ms(us(sec)), r10)))

print("\n".join(table))
print("\n### Targets\n\n| target | | figure |\n|---|---|---|")
print("\n".join(tg))

quiet = float(machine["load"].split()[0]) < 0.5 * int(machine["nproc"])
md = ["# Benchmarks", "",
      "Produced by `make bench` (bench/run.sh; a full run rewrites this file and",
      "latency.png). Figures are quoted as the benchmark printed them.", "",
      "## Machine", "",
      "| | |", "|---|---|",
      "| date | %s |" % machine["date"],
      "| CPU | %s (`nproc`: %s) |" % (machine["cpu"], machine["nproc"]),
      "| kernel | %s |" % machine["kernel"],
      "| Debian | %s |" % machine["debian"],
      "| load average at start / end | %s / %s |" % (machine["load"], machine.get("load_end", "?")),
      "| run | %s, as %s, %s s |" % (machine["mode"], machine["user"], machine.get("seconds", "?")),
      "",
      ("The machine was quiet (load below half the cores)." if quiet else
       "**The machine was busy** (load average %s on %s cores): other work shared the CPUs, "
       "so absolute times are inflated and tails are long. Rerun `make bench` on a quiet machine."
       % (machine["load"].split()[0], machine["nproc"])), "",
      "## What runs", "",
      "Everything is on loopback: the TLS mock vendor (tests/mock_vendor.py), a real libpam",
      "stack under cwrap (pam_wrapper, nss_wrapper; tests/pam_world.sh), `pam_env` for",
      "XDG_RUNTIME_DIR, then the module under test. Each open is timed around",
      "`pam_open_session()` (bench/pam_open.c); programs are timed fork to exit",
      "(bench/timeit.c).", "",
      "- **pam_bearer**: `session optional pam_bearer.so profiles=apivideo nodaemon`.",
      "- **baseline**: `session optional pam_exec.so quiet /bin/bash bench/fetch-token.sh CONF`:",
      "  what a careful admin writes (set -eu, umask 077, curl with timeouts and",
      "  `--proto =https`, the key to curl on stdin through `jq`, `jq` for the answer,",
      "  mktemp + chown + mv, a cached-token check first).",
      "- **floor**: one bare `curl` doing the same single exchange (same mock, same CA).",
      "- Sections 1 and 2 interleave the contenders in batches of 10 opens.",
      "- Section 3: the module's `timeout=1` and the script's curl `--max-time 1`;",
      "  *refusing*: nothing listens on the port; *hanging*: the mock accepts and never",
      "  answers; *DNS*: the vendor's name is looked up through a UDP listener on",
      "  127.0.0.87:53 that never answers (a mount namespace with its own",
      "  /etc/resolv.conf, `options timeout:5 attempts:2`; root only).",
      "- Section 4: timed as the user, fork to exit.",
      "- Section 5: the refresher started as a login starts it, 1-hour tokens, so no",
      "  deadline falls in the idle windows; RSS from /proc/PID/status (VmRSS, RssAnon),",
      "  CPU from /proc/PID/stat (utime+stime; cutime+cstime for its HTTP children),",
      "  wake-ups = voluntary + involuntary context switches over the window. Refreshes",
      "  are `refresh P` requests on its control socket, round robin over the profiles,",
      "  with `min_interval = 0.001` (the default 2-s floor would time the floor).",
      "- Section 6: 100 users in nss_wrapper's passwd, each with a runtime dir and",
      "  credentials; 100 processes open at the same instant (`nodaemon`), each for",
      "  three profiles (apivideo, unith, oauth2) within the default 3-s timeout.",
      "  Success = each user's three token files exist afterwards.",
      "- Section 7: one refresher, every profile a plain exchange (UNITH) whose tokens live",
      "  the same time; the mock logs each request's time. Mean = profiles / (mean time",
      "  from a token's fetch to its refresh): the rate the vendor sees on average. Peak =",
      "  the most refresh requests in one wall-clock second of the first refresh round.",
      "- Section 8: a first login with all seven preset profiles (six exchanges and one",
      "  static token, `nodaemon`), interleaved with the single-exchange floor of",
      "  section 1 in batches of 10.",
      "- Section 9: a refresher with six profiles and 8-s tokens (timeout 5 s);",
      "  hautai-login's vendor accepts and never answers. Meanwhile `bearer-token get` of",
      "  the five healthy profiles, round robin, timed as the user, and a sampler reading",
      "  their files every 20 ms as a script would (P.token there, P.json valid and",
      "  unexpired).", ""]
md += ["## Results"] + table + ["", "## Targets", "", "| target | | figure |", "|---|---|---|"] + tg
md += ["", "![latency distributions](latency.png)", ""]
open(os.path.join(dest, "RESULTS.md.new"), "w").write("\n".join(md) + "\n")

# CDF data for gnuplot: one file per contender, "ms fraction"
for name in sorted(os.listdir(out)):
    if name.startswith(("s1-", "s2-")) and name.endswith(".samples"):
        v = sorted(float(x) for x in open(os.path.join(out, name)) if x.strip())
        with open(os.path.join(out, name[:-8] + ".cdf"), "w") as f:
            for i, x in enumerate(v):
                f.write("%.3f %.4f\n" % (x / 1000, (i + 1) / len(v)))
EOF

# notes written by hand live in bench/NOTES.md.in-style text below the figures
[ -f "$BENCH_SRC/notes.md" ] && cat "$BENCH_SRC/notes.md" >>"$DEST/RESULTS.md.new"
mv "$DEST/RESULTS.md.new" "$DEST/RESULTS.md"
echo "wrote $DEST/RESULTS.md"

command -v gnuplot >/dev/null || { echo "gnuplot not found (Debian: gnuplot-nox): no latency.png"; exit 0; }
cdf() { [ -s "$BENCH_OUT/$1.cdf" ] && printf "'%s' using 1:2 with steps lw 2 title '%s', " "$BENCH_OUT/$1.cdf" "$2"; }
p1=$(cdf s1-pam_bearer "pam_bearer"; cdf s1-baseline "baseline (pam_exec script)"; cdf s1-floor "floor (bare curl)")
p2=$(cdf s2-pam_bearer "pam_bearer (nodaemon)"; cdf s2-pam_bearer_daemon "pam_bearer (refresher running)"; cdf s2-baseline "baseline (cached file)")
[ -n "$p1$p2" ] || exit 0
gnuplot <<EOF || echo "gnuplot failed: no latency.png"
set terminal pngcairo noenhanced size 1000,420 font "sans,10"
set output "$DEST/latency.png"
set multiplot layout 1,2 title "pam_bearer session open latency ($(sed -n 's/^date\t//p' "$BENCH_OUT/machine.tsv"))"
set logscale x
set xlabel "milliseconds (log scale)"
set ylabel "fraction of opens"
set yrange [0:1]
set grid
set key top left
set title "1. fresh fetch"
$( [ -n "$p1" ] && echo "plot ${p1%, }" || echo "plot 2 notitle")
set title "2. valid token already there"
$( [ -n "$p2" ] && echo "plot ${p2%, }" || echo "plot 2 notitle")
unset multiplot
EOF
echo "wrote $DEST/latency.png"
