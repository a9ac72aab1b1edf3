#!/bin/bash
# SPDX-License-Identifier: MIT
# assertions.sh - signed client assertions (RFC 7523, issue 15): OAuth 2.0
# client_auth = private_key_jwt with RSA and P-256 keys, and the github-app
# preset, against the mock, which verifies every signature with the public
# key and checks iss, aud, exp - iat <= 10 min and jti (tests/mock_vendor.py
# check_assertion). A wrong key, an expired assertion and a wrong audience
# are each refused as bad credentials (exit 4) naming the failed check; the
# key file is held to the credentials file's rules, and keys that cannot
# sign RS256/ES256 are refused before any request.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
pb_setup
"$PYTHON3" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography not found (the mock verifies with it)"

# keys: what signs, and what must be refused
K=$T/keys
mkdir -m 0700 "$K"
genkey() { (umask 077; "$OPENSSL" genpkey "$@" 2>/dev/null) || fail "openssl genpkey $*"; }
genkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rsa.pem"
genkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/other.pem"
genkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/ec.pem"
genkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$K/p384.pem"
genkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$K/rsa1024.pem"
genkey -algorithm ED25519 -out "$K/ed25519.pem"
genkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes256 -pass pass:secret -out "$K/encrypted.pem"
# register PEM : the public key the mock verifies with
register() {
	local pub
	pub=$("$OPENSSL" pkey -in "$1" -pubout 2>/dev/null) || fail "openssl pkey -pubout $1"
	mock_config "$("$PYTHON3" -c 'import json, sys; print(json.dumps({"assertion_public_key": sys.argv[1]}))' "$pub")"
}
# last_assertion FIELD : a claim (or header.alg) of the last assertion the mock accepted
last_assertion() {
	mock_stats | "$PYTHON3" -c '
import json, sys
a = json.load(sys.stdin)["assertions"][-1]
f = sys.argv[1]
print(a["header"][f[7:]] if f.startswith("header.") else a["claims"].get(f))' "$1"
}

printf '\n[profile pkjwt]\nvendor = oauth2\nbase_url = %s\nclient_auth = private_key_jwt\n' "$MOCK" >>"$BEARER_CONFIG"
printf '\n[profile github]\nvendor = github-app\nbase_url = %s\n' "$MOCK" >>"$BEARER_CONFIG"
{
	printf '\n[pkjwt]\nclient_id = test-client\nprivate_key_file = %s\n' "$K/rsa.pem"
	printf '\n[github]\napp_id = 12345\ninstallation_id = 67890\nprivate_key_file = %s\n' "$K/rsa.pem"
} >>"$CREDS"
# use_key PROFILE PEM : the profile's private_key_file
use_key() { sed -i "/^\[$1\]/,/^\[/{s|^private_key_file = .*|private_key_file = $2|}" "$CREDS"; }

echo "# private_key_jwt, RS256"
register "$K/rsa.pem"
expect_exit 0 bt get pkjwt
tok=$OUT
assert_eq "$(mock_last /oauth/token client_auth)" private_key_jwt "the mock verified a client assertion"
assert_eq "$(mock_last /oauth/token body_client_secret)" false "no client_secret in the body"
assert_eq "$(last_assertion header.alg)" RS256 "RS256 for an RSA key"
assert_eq "$(last_assertion iss)/$(last_assertion sub)" test-client/test-client "iss and sub are the client_id"
assert_eq "$(last_assertion aud)" "$MOCK/oauth/token" "aud is the token endpoint"
assert_match "$(last_assertion jti)" '^[0-9a-f]{32}$' "jti: 128 random bits"
d=$(( $(last_assertion exp) - $(last_assertion iat) ))
[ "$d" -gt 0 ] && [ "$d" -le 600 ] || fail "exp - iat is $d s"
ok "exp - iat is $d s (at most 10 minutes)"
assert_eq "$(whoami "$TOKDIR/pkjwt.header")" 200 "the token works at the vendor"
expect_exit 0 bt refresh pkjwt
[ "$OUT" != "$tok" ] || fail "refresh gave the same token"
ok "a second exchange signs a new assertion (the mock refuses a replayed jti)"

echo "# private_key_jwt, ES256"
register "$K/ec.pem"
use_key pkjwt "$K/ec.pem"
expect_exit 0 bt refresh pkjwt
assert_eq "$(last_assertion header.alg)" ES256 "ES256 for a P-256 key"

echo "# what the vendor refuses: bad credentials, naming the check"
# vendor_refuses ID ERE PROFILE : exit 4, one line naming the failed check
vendor_refuses() {
	local n
	n=$(mock_total)
	expect_exit 4 bt refresh "$3"
	assert_eq "$(mock_total)" $((n + 1)) "$1: one request"
	assert_lines "$ERR" 1 "$1: one line"
	assert_match "$ERR" "^bearer-token: $3: the vendor refused the credentials: HTTP 401 from [^ ]+: $2" "$1: says which check failed"
}
register "$K/rsa.pem"
use_key pkjwt "$K/other.pem"
vendor_refuses wrong-key "invalid_client: client assertion: signature does not verify" pkjwt
use_key pkjwt "$K/rsa.pem"
profile_set pkjwt assertion.claims '{"iss": "${client_id}", "sub": "${client_id}", "aud": "https://elsewhere.example/token", "iat": ${iat}, "exp": ${exp}, "jti": "${jti}"}'
vendor_refuses wrong-audience "invalid_client: client assertion: aud is https://elsewhere.example/token, not $MOCK/oauth/token" pkjwt
profile_del pkjwt assertion.claims
profile_set pkjwt assertion.claims '{"iss": "${client_id}", "sub": "${client_id}", "aud": "${token_url}", "iat": ${iat}, "exp": ${iat}, "jti": "${jti}"}'
vendor_refuses expired "invalid_client: client assertion: expired or not yet valid" pkjwt
profile_del pkjwt assertion.claims
expect_exit 0 bt refresh pkjwt

echo "# keys that cannot sign, and key files held to the credentials' rules: refused before any request"
# key_refused ID KEY ERE
key_refused() {
	local n
	use_key pkjwt "$2"
	n=$(mock_total)
	expect_exit 3 bt refresh pkjwt
	assert_eq "$(mock_total)" "$n" "$1: no request"
	assert_lines "$ERR" 1 "$1: one line"
	assert_match "$ERR" "$3" "$1: says why"
}
key_refused rsa-1024 "$K/rsa1024.pem" "the private key is RSA of 1024 bits; RS256 needs at least 2048"
key_refused p-384 "$K/p384.pem" "the private key is EC on secp384r1; ES256 needs P-256"
key_refused ed25519 "$K/ed25519.pem" "the private key is ED25519; an RSA or a P-256 EC key is needed"
key_refused encrypted "$K/encrypted.pem" "the private key is not an unencrypted PEM private key"
key_refused relative keys/rsa.pem "^bearer-token: $CREDS:[0-9]+: \\[pkjwt\\] private_key_file: 'keys/rsa.pem' is not an absolute path\$"
key_refused missing "$K/none.pem" "^bearer-token: $CREDS:[0-9]+: \\[pkjwt\\] private_key_file $K/none.pem"
chmod 0640 "$K/rsa.pem"
key_refused group-readable "$K/rsa.pem" "^bearer-token: $CREDS:[0-9]+: \\[pkjwt\\] private_key_file $K/rsa.pem: bad permissions 0640, must be 0600 \\(chmod 600 $K/rsa.pem\\)\$"
chmod 0600 "$K/rsa.pem"
ln -s "$K/rsa.pem" "$K/link.pem"
key_refused symlink "$K/link.pem" "\\[pkjwt\\] private_key_file $K/link.pem"
use_key pkjwt "$K/rsa.pem"
register "$K/rsa.pem"
expect_exit 0 bt check-config
expect_exit 0 bt refresh pkjwt

echo "# github-app: the app's JWT as bearer, an installation token with expires_at"
expect_exit 0 bt get github
assert_match "$OUT" '^ghs_[0-9a-f]{36}$' "github: an installation token"
assert_eq "$(mock_last /app/installations/67890/access_tokens status)" 201 "the mock verified the app's JWT"
assert_eq "$(last_assertion iss)" 12345 "iss is the app id"
assert_eq "$(last_assertion header.alg)" RS256 "RS256"
jload "$TOKDIR/github.json"
d=$(( ${J[expires_at@]:-0} - $(now) ))
[ "$d" -ge 3590 ] && [ "$d" -le 3601 ] || fail "github.json expires in $d s, not the answer's expires_at (1 h)"
ok "expires_at comes from the answer's expires_at"
assert_eq "$(whoami "$TOKDIR/github.header")" 200 "the installation token works"
sed -i 's/^installation_id = 67890$/installation_id = 1/' "$CREDS"
expect_exit 1 bt refresh github
assert_match "$ERR" "github: the vendor refused the request: HTTP 404 from $MOCK/app/installations/1/access_tokens" \
	"another installation: the request refused (404), not the key"
sed -i 's/^installation_id = 1$/installation_id = 6789 0/' "$CREDS"
expect_exit 1 bt refresh github
assert_contains "$ERR" "/app/installations/6789%200/access_tokens" "a field in the URL is percent-encoded"

echo "# google-service-account: the JSON key file, the jwt-bearer grant at its token_uri"
# jsonkey PEM OUT [DROP] : a service account key file around PEM (without member DROP)
jsonkey() {
	(umask 077; "$PYTHON3" -c 'import json, sys
k = {"type": "service_account", "project_id": "pam-bearer-test",
     "private_key_id": "0123456789abcdef", "private_key": open(sys.argv[1]).read(),
     "client_email": "svc@pam-bearer-test.iam.gserviceaccount.com", "client_id": "1",
     "token_uri": sys.argv[2]}
k.pop(sys.argv[3], None)
print(json.dumps(k, indent=2))' "$1" "$MOCK/google/token" "${3:-}" >"$2")
}
jsonkey "$K/rsa.pem" "$K/gcp.json"
printf '\n[profile gcp]\nvendor = google-service-account\nscope = https://www.googleapis.com/auth/cloud-platform\n' >>"$BEARER_CONFIG"
printf '\n[gcp]\nkey_file = %s\n' "$K/gcp.json" >>"$CREDS"
register "$K/rsa.pem"
expect_exit 0 bt get gcp
assert_eq "$(mock_last /google/token status)" 200 "the mock verified the service account's assertion"
assert_eq "$(last_assertion iss)" svc@pam-bearer-test.iam.gserviceaccount.com "iss is the key's client_email"
assert_eq "$(last_assertion aud)" "$MOCK/google/token" "aud is the key's token_uri"
assert_eq "$(last_assertion scope)" https://www.googleapis.com/auth/cloud-platform "scope is the profile's"
assert_eq "$(last_assertion header.kid)" 0123456789abcdef "kid is the key's private_key_id"
assert_eq "$(whoami "$TOKDIR/gcp.header")" 200 "the access token works"
jsonkey "$K/other.pem" "$K/gcp.json"
expect_exit 4 bt refresh gcp
assert_match "$ERR" "gcp: the vendor refused the credentials: HTTP 400 from $MOCK/google/token: invalid_grant: assertion: signature does not verify" \
	"another key: refused credentials (Google's 400 invalid_grant), naming the check"
jsonkey "$K/rsa.pem" "$K/gcp.json" private_key
n=$(mock_total)
expect_exit 3 bt refresh gcp
assert_match "$ERR" "^bearer-token: $CREDS:[0-9]+: \\[gcp\\] key_file $K/gcp.json: no \"private_key\" in it\$" \
	"a key file without private_key: file:line and the member"
assert_eq "$(mock_total)" "$n" "no request"
jsonkey "$K/rsa.pem" "$K/gcp.json"
chmod 0644 "$K/gcp.json"
expect_exit 3 bt refresh gcp
assert_contains "$ERR" "key_file $K/gcp.json: bad permissions 0644, must be 0600" "the key file is held to the credentials' rules"
chmod 0600 "$K/gcp.json"
profile_set gcp scope ""
expect_exit 3 bt refresh gcp
assert_contains "$ERR" "scope" "no scope: the claims template says which field is missing"

echo "# the PEM key never leaves bearer-fetch's request: not in any file of the token dir"
key_line=$(sed -n 2p "$K/rsa.pem")
! grep -rqF "$key_line" "$TOKDIR" || fail "a line of the private key is in the token dir"
ok "no line of the private key in the token dir"
pb_done
