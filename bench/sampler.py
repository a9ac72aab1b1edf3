#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/sampler.py TOKDIR STOP PROFILE... - section 9 of `make bench`.

Every 20 ms until the file STOP exists, look at each profile's files the
way a script would: P.token there and not empty, P.json saying "valid"
with an expires_at still ahead. Prints one line: "SAMPLES INVALID FIRST"
(FIRST: the first invalid one seen, "profile@epoch", or "-")."""
import calendar
import json
import os
import sys
import time


def epoch(s):
    """Seconds since the epoch of an RFC 3339 UTC time, its fraction included."""
    whole, _, frac = s[:-1].partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + \
        (float("0." + frac) if frac else 0.0)


def valid(tokdir, p, now):
    try:
        meta = json.load(open("%s/%s.json" % (tokdir, p)))
        if os.path.getsize("%s/%s.token" % (tokdir, p)) == 0 or meta.get("state") != "valid":
            return False
        return meta.get("expires_at") is None or epoch(meta["expires_at"]) > now
    except (OSError, ValueError):
        return False


def main():
    tokdir, stop, profiles = sys.argv[1], sys.argv[2], sys.argv[3:]
    samples = invalid = 0
    first = "-"
    while not os.path.exists(stop):
        now = time.time()
        for p in profiles:
            samples += 1
            if not valid(tokdir, p, now):
                invalid += 1
                if first == "-":
                    first = "%s@%.3f" % (p, now)
        time.sleep(0.02)
    print(samples, invalid, first)


main()
