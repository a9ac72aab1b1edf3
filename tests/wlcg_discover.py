#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""wlcg_discover.py - a token reader written to WLCG Bearer Token Discovery
(WLCG Common JWT Profiles / "Bearer Token Discovery", version 1.0,
https://doi.org/10.5281/zenodo.3937438), as HTCondor, davix, XRootD and
gfal2 read it. The first that applies gives the token:

  1. BEARER_TOKEN is set: its value;
  2. BEARER_TOKEN_FILE is set: the contents of that file;
  3. XDG_RUNTIME_DIR is set: the contents of $XDG_RUNTIME_DIR/bt_u$ID;
  4. otherwise: the contents of /tmp/bt_u$ID;

where $ID is the effective uid, and the token has leading and trailing
white space removed. Prints the token and which step found it on two lines
("step N"), or exits 1 with "no token" on stderr. Python 3 standard
library only.
"""
import os
import sys


def discover():
    uid = os.geteuid()
    if "BEARER_TOKEN" in os.environ:
        return 1, os.environ["BEARER_TOKEN"]
    if "BEARER_TOKEN_FILE" in os.environ:
        path = os.environ["BEARER_TOKEN_FILE"]
        step = 2
    elif "XDG_RUNTIME_DIR" in os.environ:
        path = os.path.join(os.environ["XDG_RUNTIME_DIR"], "bt_u%d" % uid)
        step = 3
    else:
        path = "/tmp/bt_u%d" % uid
        step = 4
    try:
        with open(path, encoding="utf-8") as f:
            return step, f.read()
    except OSError as e:
        print("no token: %s" % e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    step, token = discover()
    token = token.strip()
    if not token:
        print("no token: empty", file=sys.stderr)
        sys.exit(1)
    print(token)
    print("step %d" % step)
