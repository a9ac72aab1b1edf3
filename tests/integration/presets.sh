#!/bin/bash
# presets.sh - every vendor preset against the mock: `get` fetches a token,
# writes .token/.header/.json right (contents and modes), the token works at
# the vendor, and a second `get` is served from disk.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
pb_setup

LIFE=1800   # not a preset's default, so a fallback lifetime would show
mock_config "{\"lifetime\": $LIFE}"
RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z$'

# check_files P SCHEME TOKEN EXPIRY : the files of profile P hold TOKEN;
# EXPIRY is the lifetime in seconds, "null" (never) or an ISO time.
check_files() {
	local p=$1 scheme=$2 tok=$3 want=$4 d
	[ -n "$tok" ] || fail "$p: empty token"
	raw_eq "$TOKDIR/$p.token" "$tok" || fail "$p.token is not the token, without newline"
	ok "$p.token holds exactly the token (no newline)"
	raw_eq "$TOKDIR/$p.header" "Authorization: $scheme $tok"$'\n' ||
		fail "$p.header is not 'Authorization: $scheme <token>\\n'"
	ok "$p.header is exactly 'Authorization: $scheme <token>\\n'"
	jload "$TOKDIR/$p.json"
	assert_eq "${J[profile]-}/${J[vendor]-}/${J[scheme]-}/${J[state]-}" "$p/$p/$scheme/valid" \
		"$p.json profile/vendor/scheme/state"
	assert_match "${J[obtained_at]-}" "$RFC3339" "$p.json obtained_at is RFC 3339 UTC"
	d=$(( $(now) - ${J[obtained_at@]:-0} ))
	[ "$d" -ge -2 ] && [ "$d" -le 5 ] || fail "$p.json obtained_at is $d s ago"
	ok "$p.json obtained_at is now"
	[ -z "${J[last_error]+x}" ] || [ "${J[last_error]}" = null ] || fail "$p.json has last_error after success"
	ok "$p.json has no last_error"
	case "$want" in
	null) assert_eq "${J[expires_at]-}" null "$p.json expires_at is null (never expires)" ;;
	*T*) assert_eq "${J[expires_at]-}" "$want" "$p.json expires_at is the credentials' expires" ;;
	*)
		assert_match "${J[expires_at]-}" "$RFC3339" "$p.json expires_at is RFC 3339 UTC"
		d=$(( ${J[expires_at@]:-0} - $(now) - want ))
		[ "$d" -ge -5 ] && [ "$d" -le 2 ] || fail "$p.json expires_at is now+$want off by $d s"
		ok "$p.json expires_at is now + $want s"
		;;
	esac
	check_modes "$TOKDIR"
}

# run_preset P SCHEME EXPIRY TOKEN-PATH : the whole round for one preset
run_preset() {
	local p=$1 scheme=$2 expiry=$3 path=$4 before tok
	echo "# preset $p"
	before=$(mock_total)
	expect_exit 0 bt get "$p"
	tok=$OUT
	assert_lines "$OUT" 1 "$p: get prints one line"
	assert_eq "$ERR" "" "$p: get is silent on stderr"
	check_files "$p" "$scheme" "$tok" "$expiry"
	if [ -n "$path" ]; then
		assert_eq "$(mock_count "$path")" 1 "$p: one request to $path"
		before=$((before + 1))
	fi
	assert_eq "$(mock_total)" "$before" "$p: no other request"
	if [ -n "$path" ]; then
		assert_eq "$(whoami "$TOKDIR/$p.header")" 200 "$p: curl -H @$p.header is accepted by the vendor"
		assert_match "$(mock_last "$path" user_agent)" '^pam_bearer/' "$p: User-Agent is pam_bearer/VERSION"
		assert_contains "$(mock_last "$path" accept)" application/json "$p: Accept: application/json"
		before=$((before + 1))
	fi
	expect_exit 0 bt get "$p"
	assert_eq "$OUT" "$tok" "$p: second get prints the same token"
	expect_exit 0 bt get "$p" --header
	assert_eq "$OUT" "Authorization: $scheme $tok" "$p: get --header"
	expect_exit 0 bt get "$p" --json
	printf '%s' "$OUT" >"$T/got.json"
	jload "$T/got.json"
	assert_eq "${J[profile]-}/${J[state]-}" "$p/valid" "$p: get --json prints the metadata"
	assert_eq "$(mock_total)" "$before" "$p: get from disk makes no request"
}

run_preset apivideo Bearer "$LIFE" /auth/api-key
assert_match "$(mock_last /auth/api-key content_type)" '^application/json' "apivideo: JSON body"
r=$(mock_latest_refresh apivideo)
grep -qF "$r" "$TOKDIR/apivideo.state" 2>/dev/null || fail "apivideo.state lacks the refresh token"
ok "apivideo.state holds the refresh token"
assert_not_contains "$(<"$TOKDIR/apivideo.json")" "$r" "apivideo.json does not hold the refresh token"

run_preset unith Bearer "$LIFE" /auth/token
run_preset rythmex-jwt Bearer "$LIFE" /api/v1/auth/jwt/create/
run_preset rythmex-apitoken Token null /api/v1/auth/api-token/get-or-create/
assert_match "$(<"$TOKDIR/rythmex-apitoken.token")" '^[0-9a-f]{40}$' "rythmex-apitoken: the 40-hex API token"
run_preset hautai Bearer "$HAUTAI_EXPIRES" ""
assert_eq "$(<"$TOKDIR/hautai.token")" "$HAUTAI_TOKEN" "hautai: the static token from the credentials"
run_preset hautai-login Bearer "$LIFE" /api/v1/auth/login/
run_preset oauth2 Bearer "$LIFE" /oauth/token
assert_match "$(mock_last /oauth/token content_type)" '^application/x-www-form-urlencoded' "oauth2: form body"
assert_eq "$(mock_last /oauth/token grant_type)" client_credentials "oauth2: client_credentials grant"
assert_eq "$(mock_last /oauth/token client_auth)" body "oauth2: client auth in the body by default"

echo "# unith answering {\"token\": ...}"
mock_config '{"unith_shape": "token"}'
old=$(<"$TOKDIR/unith.token")
expect_exit 0 bt refresh unith
assert_eq "$(mock_count /auth/token)" 2 "unith: refresh made a new exchange"
new=$(<"$TOKDIR/unith.token")
[ "$new" != "$old" ] || fail "unith: token unchanged after refresh"
ok "unith: new token from the {\"token\"} shape"
check_files unith Bearer "$new" "$LIFE"
assert_eq "$(whoami "$TOKDIR/unith.header")" 200 "unith: new token is accepted"

echo "# oauth2 with client_auth = basic, scope and audience"
profile_set oauth2 client_auth basic
profile_set oauth2 scope "read write"
profile_set oauth2 audience https://api.example.com/
expect_exit 0 bt refresh oauth2
assert_eq "$(mock_last /oauth/token status)" 200 "oauth2 basic: token granted"
assert_eq "$(mock_last /oauth/token client_auth)" basic "oauth2 basic: mock saw HTTP Basic"
assert_eq "$(mock_last /oauth/token body_client_secret)" false "oauth2 basic: no client_secret in the body"
assert_eq "$(mock_last /oauth/token scope)" "read write" "oauth2: scope sent"
assert_eq "$(mock_last /oauth/token audience)" "https://api.example.com/" "oauth2: audience sent"
assert_eq "$(whoami "$TOKDIR/oauth2.header")" 200 "oauth2 basic: token accepted"
check_files oauth2 Bearer "$(<"$TOKDIR/oauth2.token")" "$LIFE"

echo "# User-Agent of every request"
ua=$(mock_stats | "$PYTHON3" -c '
import json, sys
rs = [r for r in json.load(sys.stdin)["requests"] if r["method"] == "POST"]
bad = [r["path"] for r in rs if not (r["user_agent"] or "").startswith("pam_bearer/")]
print(len(rs), "requests, bad:", " ".join(bad))')
assert_match "$ua" '^[1-9][0-9]* requests, bad: $' "every vendor request has User-Agent pam_bearer/... ($ua)"
pb_done
