#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""call_api.py - call a vendor's API with the token pam_bearer keeps fresh.

    call_api.py PROFILE URL
    call_api.py unith https://platform-api.unith.ai/head/all

Python standard library only. Reads $BEARER_TOKEN_DIR/PROFILE.token (the
bare token) and PROFILE.json (its metadata: state, scheme, expires_at,
last_error). BEARER_TOKEN_DIR is exported by pam_bearer at login; outside
such a session the files are in $XDG_RUNTIME_DIR/bearer. When there is no
valid token it says why, from PROFILE.json, and exits 1 (`bearer-token get
PROFILE` renews it by hand). Prints the answer's body; exits 1 on an HTTP
error.
"""
import calendar
import json
import os
import sys
import time
import urllib.error
import urllib.request

PROG = os.path.basename(sys.argv[0])


def token_dir():
    """Where pam_bearer keeps the token files."""
    if os.environ.get("BEARER_TOKEN_DIR"):
        return os.environ["BEARER_TOKEN_DIR"]
    runtime = os.environ.get("XDG_RUNTIME_DIR") or "/run/user/%d" % os.getuid()
    return os.path.join(runtime, "bearer")


def die(message):
    sys.exit("%s: %s" % (PROG, message))


def read_token(profile):
    """(scheme, token) of a valid token, or exit saying why there is none.

    The metadata is read first: a renewal replaces the token before its
    metadata, so the token read after it is never older than what it says.
    """
    base = os.path.join(token_dir(), profile)
    try:
        with open(base + ".json", encoding="utf-8") as f:
            meta = json.load(f)
    except FileNotFoundError:
        die("no token for %s in %s: log in again, or run `bearer-token get %s`"
            % (profile, token_dir(), profile))
    except (OSError, ValueError) as e:
        die("cannot read %s.json: %s" % (base, e))
    state, expires = meta.get("state"), meta.get("expires_at")
    if state != "valid":
        why = meta.get("last_error") or "no reason recorded"
        die("the %s token is %s: %s" % (profile, state, why))
    # RFC 3339 in UTC, to the millisecond when it has a fraction: ...T12:00:00.250Z
    if expires is not None and \
            calendar.timegm(time.strptime(expires[:19], "%Y-%m-%dT%H:%M:%S")) + \
            float("0" + expires[19:-1]) <= time.time():
        die("the %s token expired at %s: is the refresher running? "
            "(`bearer-token status`)" % (profile, expires))
    try:
        with open(base + ".token", encoding="utf-8") as f:
            token = f.read()
    except OSError as e:
        die("cannot read the %s token: %s" % (profile, e.strerror))
    return meta.get("scheme") or "Bearer", token


def main():
    if len(sys.argv) != 3:
        print("usage: %s PROFILE URL" % PROG, file=sys.stderr)
        return 2
    profile, url = sys.argv[1], sys.argv[2]
    scheme, token = read_token(profile)
    request = urllib.request.Request(url, headers={
        "Authorization": "%s %s" % (scheme, token), "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            sys.stdout.write(answer.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        die("%s: HTTP %d %s" % (url, e.code, e.reason))
    except urllib.error.URLError as e:
        die("%s: %s" % (url, e.reason))
    return 0


if __name__ == "__main__":
    sys.exit(main())
