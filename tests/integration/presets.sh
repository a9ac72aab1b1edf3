#!/bin/bash
# SPDX-License-Identifier: MIT
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

# the presets of issue 14: api.video's sandbox (the mock serves it under
# /sandbox, with its own key) and a Rythmex API token the user holds
RYTHMEX_TOKEN=0123456789abcdef0123456789abcdef01234567
printf '\n[profile %s]\nvendor = %s\nbase_url = %s\n' apivideo-sandbox apivideo-sandbox "$MOCK/sandbox" \
	rythmex-token rythmex-token "$MOCK" >>"$BEARER_CONFIG"
printf '\n[apivideo-sandbox]\napi_key = test-apivideo-sandbox-key-%s\n\n[rythmex-token]\ntoken = %s\n' \
	"$PB_CANARY" "$RYTHMEX_TOKEN" >>"$CREDS"
run_preset apivideo-sandbox Bearer "$LIFE" /sandbox/auth/api-key
run_preset rythmex-token Token null ""
assert_eq "$(<"$TOKDIR/rythmex-token.token")" "$RYTHMEX_TOKEN" "rythmex-token: the API token from the credentials"

echo "# hautai: a key that is a JWT carries its own expiry; one that is not needs 'expires'"
jwt_exp=$(( $(now) + 20 * 86400 ))
HAUTAI_JWT=$("$PYTHON3" -c '
import base64, json, sys
b = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
print(b({"alg": "RS256", "typ": "JWT"}) + "." + b({"exp": int(sys.argv[1]), "sub": "c1"}) + ".c2ln")' "$jwt_exp")
printf '\n[profile %s]\nvendor = hautai\nbase_url = %s\n' hjwt "$MOCK" hplain "$MOCK" >>"$BEARER_CONFIG"
printf '\n[hjwt]\ntoken = %s\n\n[hplain]\ntoken = not-a-jwt-0123456789\n' "$HAUTAI_JWT" >>"$CREDS"
expect_exit 0 bt get hjwt
assert_eq "$OUT" "$HAUTAI_JWT" "hjwt: the JWT key is the token"
jload "$TOKDIR/hjwt.json"
assert_eq "${J[expires_at@]-}" "$jwt_exp" "hjwt: expires_at is the JWT's exp (no 'expires' given)"
expect_exit 3 bt get hplain
assert_match "$ERR" "^bearer-token: $CREDS:[0-9]+: \[hplain\] 'token' is not a JWT with an exp: add its expiry, 'expires = 2027-01-31T00:00:00Z'\$" \
	"hplain: a key that is not a JWT without 'expires' is refused, naming the line and the fix"
assert_eq "$(ls "$TOKDIR" | grep -c '^hplain\.token')" 0 "hplain: no token file"
expect_exit 3 bt check-config
assert_contains "$ERR" "[hplain] 'token' is not a JWT with an exp" "check-config finds it too"
sed -i '/^\[profile hplain\]/,/^base_url/d' "$BEARER_CONFIG"
expect_exit 0 bt check-config
assert_not_contains "$ERR" "warning" "check-config: no warning while only the exp is known"
# both, and they disagree: the exp wins, and check-config says so
sed -i "s/^token = $HAUTAI_JWT\$/&\nexpires = 2030-01-01T00:00:00Z/" "$CREDS"
expect_exit 0 bt check-config
assert_match "$ERR" "^bearer-token: warning: $CREDS:[0-9]+: \[hjwt\] 'expires' 2030-01-01T00:00:00Z is not the token's own exp [0-9T:-]+Z; the exp is used\$" \
	"check-config warns that 'expires' and the exp disagree (and still exits 0)"
expect_exit 0 bt refresh hjwt
jload "$TOKDIR/hjwt.json"
assert_eq "${J[expires_at@]-}" "$jwt_exp" "hjwt: the JWT's exp wins over 'expires'"

echo "# a sandbox key at production: refused, and the message says what to use"
printf '\n[profile prod]\nvendor = apivideo\nbase_url = %s\n' "$MOCK" >>"$BEARER_CONFIG"
printf '\n[prod]\napi_key = test-apivideo-sandbox-key-%s\n' "$PB_CANARY" >>"$CREDS"
expect_exit 4 bt get prod
assert_match "$ERR" "^bearer-token: prod: the vendor refused the credentials: HTTP 400 from $MOCK/auth/api-key: The user credentials were incorrect\. \(a sandbox key\? use vendor = apivideo-sandbox\)\$" \
	"prod: refused credentials, the vendor's message, and the sandbox hint"

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
echo "# unith: the preset sends both spellings of the key; the mock takes each alone"
assert_eq "$(mock_last /auth/token body_keys)" "email secretKey secretkey" "the unith preset sends both spellings"
granted() { mock_post /auth/token "$1" | "$PYTHON3" -c 'import json, sys; d = json.load(sys.stdin); print("token" in d or "data" in d)'; }
for k in secretKey secretkey; do
	assert_eq "$(granted '{"email": "user@example.com", "'$k'": "test-unith-secret"}')" True "mock: $k alone is accepted"
	assert_eq "$(granted '{"email": "user@example.com", "'$k'": "wrong"}')" False "mock: a wrong $k alone is refused"
done

pb_done
