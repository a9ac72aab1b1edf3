#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/fetch-token.sh - the baseline: what a careful admin writes today
# without pam_bearer, run at session start by
#     session optional pam_exec.so /usr/local/sbin/fetch-token.sh /etc/fetch-token.conf
# pam_exec runs it as root with the PAM environment only (PAM_USER,
# XDG_RUNTIME_DIR from pam_systemd or pam_env, ...). It trades an api.video
# API key for a token and writes $XDG_RUNTIME_DIR/vendor-token/apivideo.token
# (0600, owned by the user, replaced atomically), unless the token already
# there is good for another minute. Fair to it: no secret in argv, timeouts,
# TLS verified against one CA, no extra processes where bash can do it.
#
# The config (root-owned, sourced) sets URL, CA, KEY_FILE and TIMEOUT.
set -eu
umask 077
PATH=/usr/sbin:/usr/bin:/sbin:/bin
. "$1"

dir=$XDG_RUNTIME_DIR/vendor-token
tok=$dir/apivideo.token
exp=$dir/apivideo.expires
printf -v now '%(%s)T' -1

# a cached token good for at least another minute: nothing to do
if [ -s "$tok" ] && [ -s "$exp" ] && read -r until <"$exp" && [ "$until" -gt $((now + 60)) ]; then
	exit 0
fi

owner=$(stat -c '%u:%g' "$XDG_RUNTIME_DIR")
[ -d "$dir" ] || { mkdir -m 0700 "$dir"; chown "$owner" "$dir"; }

# the key goes to curl on stdin, as the JSON body jq builds from the key file
resp=$(jq -Rn '{apiKey: input}' <"$KEY_FILE" |
	curl -sS --fail --proto =https --connect-timeout "$TIMEOUT" --max-time "$TIMEOUT" \
		--cacert "$CA" -H 'Content-Type: application/json' -H 'Accept: application/json' \
		--data-binary @- "$URL/auth/api-key")
{ read -r token; read -r lifetime; } < <(jq -r '.access_token, .expires_in' <<<"$resp")
case $token in ''|null|*[!A-Za-z0-9._~+/=-]*) echo "fetch-token: bad token" >&2; exit 1 ;; esac

tmp=$(mktemp "$dir/.apivideo.XXXXXX")
printf '%s' "$token" >"$tmp"
chown "$owner" "$tmp"
mv -f "$tmp" "$tok"
tmp=$(mktemp "$dir/.apivideo.XXXXXX")
echo $((now + lifetime)) >"$tmp"
chown "$owner" "$tmp"
mv -f "$tmp" "$exp"
