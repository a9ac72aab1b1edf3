#!/bin/bash
# SPDX-License-Identifier: MIT
# call-api.sh - call a vendor's API with the token pam_bearer keeps fresh.
#
#     call-api.sh PROFILE URL [CURL-OPTION...]
#     call-api.sh apivideo https://ws.api.video/videos
#
# curl reads the whole header line from $BEARER_TOKEN_DIR/PROFILE.header
# (-H @FILE), so the token is never in a command line or the environment.
# pam_bearer exports BEARER_TOKEN_DIR at login; outside such a session the
# files are in $XDG_RUNTIME_DIR/bearer. When the file is missing (no login
# through pam_bearer yet, or the token ran out), `bearer-token get` renews
# it, or says in one line why it cannot.
set -u -o pipefail

usage="usage: ${0##*/} PROFILE URL [CURL-OPTION...]"
[ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
profile=$1 url=$2
shift 2

dir=${BEARER_TOKEN_DIR:-${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/bearer}
header="$dir/$profile.header"
if [ ! -r "$header" ]; then
	bearer-token get --min-valid 60 "$profile" >/dev/null || exit
fi
# --fail-with-body: a 401 or 5xx exits 22 and still shows the vendor's answer
exec curl --silent --show-error --fail-with-body -H @"$header" "$@" "$url"
