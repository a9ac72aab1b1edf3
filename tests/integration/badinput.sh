#!/bin/bash
# SPDX-License-Identifier: MIT
# badinput.sh - the bad-input table (docs/bad-input.md): hostile or broken
# vendor answers, TLS and URL trouble, broken config and credentials files,
# an unsafe or full token dir. Every row starts with a valid token on disk
# and checks, after `bearer-token refresh` (or get) has met the bad input:
#   - the documented exit code, and exactly one line on stderr, starting
#     "bearer-token: ", saying why (and naming the file, field or profile),
#     with no secret in it;
#   - P.token and P.header byte for byte as they were, same mode, same inode;
#   - P.json still says "valid"; if it changed, its last_error says why (a
#     vendor failure must change it); `get` still serves the old token.
# The row names here are the "test case" column of docs/bad-input.md.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
T0=${EPOCHREALTIME/./}
pb_setup

# The fault shim (tests/fault/pbfault.c), built by `make check`.
: "${PB_FAULT_SO:=$PWD/tests/fault/.libs/pbfault.so}"
[ -f "$PB_FAULT_SO" ] || fail "no fault shim at $PB_FAULT_SO (run through make check)"
# a sanitizer runtime must come first in LD_PRELOAD
SHIM_PRELOAD="${ASAN_RUNTIME:+$ASAN_RUNTIME:}$PB_FAULT_SO"
ME=$(id -u)
# user namespaces let a non-root test see files really owned by someone
# else, and mount a tmpfs: probe both a tmpfs and a bind mount
USERNS=
mkdir "$T/probe" && : >"$T/probe-file"
# (PB_NO_USERNS=1 tries the fault shim's way, as where they are not allowed)
if [ -z "${PB_NO_USERNS:-}" ] &&
	unshare -Urm sh -c 'mount -t tmpfs -o size=4k probe "$1" && mount --bind /etc/passwd "$2"' \
		_ "$T/probe" "$T/probe-file" 2>/dev/null; then
	USERNS=1
fi

P=apivideo        # the profile most rows use: it has a refresh token too
J1=rythmex-jwt    # lifetime from the JWT only (set below): the JWT rows
expect_exit 0 bt get $P
expect_exit 0 bt get unith
profile_set $J1 lifetime jwt
expect_exit 0 bt get $J1

# ------------------------------------------------------------- the checks
# snap PROFILE : remember its token files (bytes, mode, inode) and .json.
# A last_error left by the row before is overwritten with a marker first,
# so that this row's own must show.
snap() {
	IFS= read -r -d '' SNAP_TOKEN <"$TOKDIR/$1.token"
	IFS= read -r -d '' SNAP_HEADER <"$TOKDIR/$1.header"
	IFS= read -r -d '' SNAP_JSON <"$TOKDIR/$1.json"
	if [[ $SNAP_JSON == *'"last_error": '* ]]; then
		sed -i 's/"last_error": ".*"/"last_error": "(from the row before)"/' "$TOKDIR/$1.json"
		IFS= read -r -d '' SNAP_JSON <"$TOKDIR/$1.json"
	fi
	SNAP_STAT=$(stat -c '%n %a %i %u' "$TOKDIR/$1.token" "$TOKDIR/$1.header")
}
# untouched ROW PROFILE ERE CODE : the snapped token is still there, unchanged
untouched() {
	local id=$1 p=$2 ere=$3 code=$4 json='' v
	raw_eq "$TOKDIR/$p.token" "$SNAP_TOKEN" && raw_eq "$TOKDIR/$p.header" "$SNAP_HEADER" ||
		fail "$id: $p.token or $p.header changed"
	assert_eq "$(stat -c '%n %a %i %u' "$TOKDIR/$p.token" "$TOKDIR/$p.header")" "$SNAP_STAT" \
		"$id: .token and .header same bytes, mode, inode, owner"
	IFS= read -r -d '' json <"$TOKDIR/$p.json"
	jstr v "$json" state
	assert_eq "$v" valid "$id: $p.json still says valid"
	if [ "$code" = 1 ] || [ "$code" = 4 ]; then
		[ "$json" != "$SNAP_JSON" ] || fail "$id: the failure is not recorded in $p.json"
	fi
	if [ "$json" != "$SNAP_JSON" ]; then
		jstr v "$json" last_error
		assert_match "$v" "$ere" "$id: $p.json last_error says why"
	fi
}
# jstr VAR TEXT KEY : VAR = a string member of a .json as bearer-token
# writes it (one member a line); no python, no fork, per row
jstr() {
	local -n _s=$1
	local re="\"$3\": \"((\\\\.|[^\"\\\\])*)\""
	_s=
	[[ $2 =~ $re ]] && _s=${BASH_REMATCH[1]}
}
# row ID PROFILE CODE ERE cmd... : one row of the table
row() {
	local id=$1 p=$2 code=$3 ere=$4 s; shift 4
	echo "# $id ($(( (${EPOCHREALTIME/./} - T0) / 1000 )) ms)"
	snap "$p"
	expect_exit "$code" "$@"
	printf '#   %s\n' "$ERR"
	assert_lines "$ERR" 1 "$id: one line on stderr"
	assert_match "$ERR" '^bearer-token: ' "$id: starts with 'bearer-token: '"
	assert_match "$ERR" "$ere" "$id: says why"
	for s in $SECRETS; do
		[[ $ERR != *"$s"* ]] || fail "$id: a secret in the message"
	done
	assert_eq "$OUT" "" "$id: nothing on stdout"
	untouched "$id" "$p" "$ere" "$code"
	if [ "$code" = 1 ] || [ "$code" = 4 ]; then
		run_cmd bt get "$p"
		[ "$RC" = 0 ] && [ "$OUT" = "${SNAP_TOKEN%$'\n'}" ] || fail "$id: get no longer serves the old token"
	fi
}
clear_faults() { mock_ctl /_mock/reset; }
# vrow ID CODE ERE MODE [EXTRA-JSON] : the vendor answers both of $P's
# requests (refresh and login) with fault MODE
vrow() {
	local id=$1 code=$2 ere=$3 mode=$4 extra=${5-}
	mock_fault '*' "$mode" "$extra"
	row "$id" $P "$code" "$ere" bt refresh $P
	clear_faults
}
# jrow ID ERE CLAIMS-JSON : a JWT with those claims to the jwt-only profile
jrow() {
	mock_fault '*' jwt "\"claims\": $3"
	row "$1" $J1 1 "$2" bt refresh $J1
	clear_faults
}
# trow ID ERE TOKEN-JSON : a good answer whose access token is TOKEN-JSON
trow() { vrow "$1" 1 "$2" token "\"value\": $3"; }

# ------------------------------------------------------- 1. the answer body
vrow body-malformed 1 "$P: .*answer is not a JSON object" raw \
	'"body": "{\"access_token\": \"abc\", \"expires_in\": 3600,,}"'
vrow body-unterminated 1 "$P: .*answer is not a JSON object" malformed
vrow body-truncated 1 "$P: .*(transfer closed|partial|bytes remaining)" truncate
vrow body-not-json 1 "$P: .*answer is not a JSON object" raw \
	'"ctype": "text/plain", "body": "access_token=abc&expires_in=3600"'
vrow body-empty 1 "$P: .*answer is not a JSON object" raw '"body": ""'
vrow body-json-array 1 "$P: .*answer is not a JSON object" raw '"body": "[\"abc\"]"'
vrow body-trailing-garbage 1 "$P: .*answer is not a JSON object" raw \
	'"body": "{\"access_token\": \"abc\", \"expires_in\": 3600} <!-- cached -->"'
vrow body-over-cap 1 "$P: .*response body over 65536 bytes" oversize
vrow body-html-200 1 "$P: .*answer is not a JSON object" html

# ------------------------------------------------------- 2. HTTP status
vrow redirect-302 1 "$P: HTTP 302 from .*redirects are not followed" raw \
	'"status": 302, "ctype": "text/html", "body": "", "headers": {"Location": "/moved"}'
assert_eq "$(mock_count /moved)" 0 "redirect-302: the Location was not visited"
vrow redirect-308 1 "$P: HTTP 308 from .*redirects are not followed" raw \
	'"status": 308, "body": "", "headers": {"Location": "/moved"}'
assert_eq "$(mock_count /moved)" 0 "redirect-308: the Location was not visited"
vrow http-400-oauth 4 "$P: the vendor refused the credentials: HTTP 400 from .*invalid_client" raw \
	'"status": 400, "body": "{\"error\": \"invalid_client\"}"'
vrow http-401 4 "$P: the vendor refused the credentials: HTTP 401 from .*Authentication credentials were not provided" 401
vrow http-403 4 "$P: the vendor refused the credentials: HTTP 403 from .*forbidden" 403
vrow http-404-html 1 "$P: the vendor refused the request: HTTP 404 from .*HTML error page" not-found
# unith's page: 401 is a wrong email or key; a 400 is not (issue 14). Its
# message is shown, a string or a list.
mock_fault '*' raw '"status": 400, "body": "{\"message\": [\"email must be an email\"]}"'
row http-400-not-creds unith 1 "unith: the vendor refused the request: HTTP 400 from [^ ]+: email must be an email\$" bt refresh unith
mock_fault '*' raw '"status": 400, "body": "{\"message\": \"Bad Request\"}"'
row http-400-message unith 1 "unith: the vendor refused the request: HTTP 400 from [^ ]+: Bad Request\$" bt refresh unith
mock_fault '*' 401
row http-401-unith unith 4 "unith: the vendor refused the credentials: HTTP 401 from " bt refresh unith
clear_faults
vrow http-429-retry-after 1 "$P: HTTP 429 from .*retry after 37 s" 429 '"retry_after": 37'
jload "$TOKDIR/$P.json"
d=$(( ${J[next_attempt_at@]:-0} - $(now) ))
[ "$d" -ge 30 ] && [ "$d" -le 40 ] || fail "http-429-retry-after: next_attempt_at is now+$d, want ~37"
ok "http-429-retry-after: next_attempt_at honours Retry-After"
vrow http-500-html 1 "$P: HTTP 500 from .*HTML error page" 500
vrow http-503-html 1 "$P: HTTP 503 from .*HTML error page" 503
vrow http-502-empty 1 "$P: HTTP 502 from .*empty body" raw '"status": 502, "body": ""'

# ------------------------------------------------------- 3. fields
vrow field-missing 1 "$P: .*no token \(string\) at 'access_token'" missing-field
trow token-number "$P: .*no token \(string\) at 'access_token'" 123
trow token-null "$P: .*no token \(string\) at 'access_token'" null
trow token-object "$P: .*no token \(string\) at 'access_token'" '{"value": "abc"}'
trow token-empty "$P: .*empty token" '""'
vrow expires-in-negative 1 "$P: .*expires_in -5 is not a positive number" token \
	'"value": "abc", "set": {"expires_in": -5}'
vrow expires-in-zero 1 "$P: .*expires_in 0 is not a positive number" token \
	'"value": "abc", "set": {"expires_in": 0}'
vrow expires-in-huge 1 "$P: .*expires_in 99999999999 is more than 10 years" token \
	'"value": "abc", "set": {"expires_in": 99999999999}'
vrow expires-in-not-number 1 "$P: .*expires_in is not a number" token \
	'"value": "abc", "set": {"expires_in": "one hour"}'
vrow expires-in-bool 1 "$P: .*expires_in is not a number" token \
	'"value": "abc", "set": {"expires_in": true}'

# ------------------------------------------------------- 4. JWTs (lifetime = jwt)
jrow jwt-exp-past "$J1: .*token expired at 20" '{"exp": 1000000000}'
jrow jwt-exp-absurd "$J1: .*cannot tell when the token expires.*exp 99999999999 is more than 10 years" \
	'{"exp": 99999999999}'
jrow jwt-exp-out-of-range "$J1: .*JWT exp claim is out of range" '{"exp": 1e300}'
jrow jwt-exp-not-number "$J1: .*JWT has no numeric exp claim" '{"exp": "tomorrow"}'
mock_fault '*' token '"value": "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE*fQ.c2ln"'
row jwt-bad-base64 $J1 1 "$J1: .*JWT payload is not base64url" bt refresh $J1
clear_faults
mock_fault '*' token '"value": "opaque-token-without-dots"'
row jwt-no-dots $J1 1 "$J1: .*cannot tell when the token expires \(jwt: token is not a JWT\)" bt refresh $J1
clear_faults

# ------------------------------------------------------- 5. the token's bytes
trow token-crlf "$P: .*space, control or non-ASCII character" '"abc\r\nX-Injected: 1"'
! grep -rqs X-Injected "$TOKDIR" || fail "token-crlf: injected header text reached the token dir"
trow token-cr "$P: .*space, control or non-ASCII character" '"abc\rdef"'
trow token-lf "$P: .*space, control or non-ASCII character" '"abc\ndef"'
trow token-nul "$P: .*NUL" '"abc\u0000def"'
vrow refresh-token-nul 1 "$P: .*the refresh token at 'refresh_token' holds a NUL byte" token \
	'"value": "good-looking-token", "set": {"refresh_token": "def\u0000502"}'
trow token-space "$P: .*space, control or non-ASCII character" '"abc def"'
trow token-tab "$P: .*space, control or non-ASCII character" '"abc\tdef"'
trow token-utf8 "$P: .*space, control or non-ASCII character" '"t\u00f6ken"'
trow token-bidi "$P: .*space, control or non-ASCII character" '"abc\u202edef"'
# raw bytes that are not UTF-8 at all (0xff) inside the token string
vrow token-invalid-utf8 1 "$P: .*(space, control or non-ASCII character|not a JSON object)" raw \
	"\"body_b64\": \"$(printf '{"access_token": "abc\xffdef", "expires_in": 3600}' | base64 -w0)\""
trow token-too-long "$P: .*token over 16384 bytes" "\"$(printf 'a%.0s' $(seq 20000))\""

# ------------------------------------------------------- 6. TLS and URLs
start_mock SELF --cert "$T/self.pem" --key "$T/self.key"
profile_del $P base_url
profile_set $P base_url "https://127.0.0.1:$SELF_PORT"
sed -i '/^ca_file *=/d' "$BEARER_CONFIG"
row tls-self-signed $P 1 "$P: .*(certificate|SSL|TLS).*; a private CA\? set ca_file = " bt refresh $P
sed -i "s|^\[defaults\]\$|[defaults]\nca_file = $T/ca.pem|" "$BEARER_CONFIG"
row tls-self-signed-ca-file $P 1 "$P: .*(certificate|SSL|TLS).*; ca_file $T/ca.pem does not vouch for it" \
	bt refresh $P
(cd "$T" && "$OPENSSL" req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout wrong.key \
	-out wrong.csr -subj "/CN=example.com" &&
	"$OPENSSL" x509 -req -in wrong.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out wrong.pem \
		-days 2 -extfile <(echo subjectAltName=DNS:example.com)) >/dev/null 2>&1 || fail "openssl"
start_mock WRONG --cert "$T/wrong.pem" --key "$T/wrong.key"
profile_del $P base_url
profile_set $P base_url "https://127.0.0.1:$WRONG_PORT"
row tls-wrong-host $P 1 "$P: .*(certificate|name|host|SSL)" bt refresh $P
assert_not_contains "$ERR" "ca_file" "tls-wrong-host: no ca_file hint for a name that does not match"
profile_del $P base_url
profile_set $P base_url http://192.0.2.1
t0=${EPOCHREALTIME/./}
row http-not-loopback $P 3 "$P: http://192.0.2.1/.*plain http is only allowed to loopback" bt refresh $P
[ $(( (${EPOCHREALTIME/./} - t0) / 1000 )) -lt 1500 ] || fail "http-not-loopback: 192.0.2.1 was tried"
profile_del $P base_url
profile_set $P base_url "$MOCK"

# ------------------------------------------------------- 7. the config file
BAD="$T/bad.conf"
# crow ID ERE : $BAD (set up by the caller) must be refused
crow() {
	chmod 0644 "$BAD"
	row "$1" $P 3 "$2" bt --config "$BAD" refresh $P
}
cp "$BEARER_CONFIG" "$BAD"
sed -i '/^\[profile apivideo\]/,/^$/d' "$BAD"
crow config-missing-section "$BAD: no profile named 'apivideo'"
cp "$BEARER_CONFIG" "$BAD"
sed -i 's/^\[profile apivideo\]$/&\nvendor = apivideo/' "$BAD"
crow config-duplicate-key "$BAD:[0-9]+: duplicate key 'vendor' \(first set at line [0-9]+\)"
cp "$BEARER_CONFIG" "$BAD"
printf '\n[profile apivideo]\nvendor = apivideo\n' >>"$BAD"
crow config-duplicate-section "$BAD:[0-9]+: duplicate section \[profile apivideo\]"
cp "$BEARER_CONFIG" "$BAD"
sed -i '/^\[profile apivideo\]/,/^$/s/^vendor = apivideo$/vendor = nosuchvendor/' "$BAD"
crow config-unknown-vendor "$BAD:[0-9]+: .*nosuchvendor"
cp "$BEARER_CONFIG" "$BAD"
sed -i 's/^\[profile apivideo\]$/&\ntoken.body = {"apiKey": "${api_secret}"}/' "$BAD"
crow config-template-unknown-field "$BAD:[0-9]+: .*api_secret"
cp "$BEARER_CONFIG" "$BAD"
sed -i 's/^\[profile apivideo\]$/&\nscope_typo = x/' "$BAD"
crow config-unknown-key "$BAD:[0-9]+: unknown key 'scope_typo' in \[profile apivideo\]"
cp "$BEARER_CONFIG" "$BAD"
printf '# %s\n' "$(printf 'x%.0s' $(seq 5000))" >>"$BAD"
crow config-long-line "$BAD:[0-9]+: line too long \(more than 4096 bytes\)"
cp "$BEARER_CONFIG" "$BAD"
printf 'timeout = 3\0\n' >>"$BAD"
crow config-nul-byte "$BAD:[0-9]+: NUL byte in the file"
cp "$BEARER_CONFIG" "$BAD"
sed -i 's/^\[profile apivideo\]$/[profile apivideo/' "$BAD"
crow config-bad-header "$BAD:[0-9]+: malformed section header"
cp "$BEARER_CONFIG" "$BAD"
sed -i '/^\[profile apivideo\]/,/^$/s/^base_url = .*/base_url = ftp:\/\/127.0.0.1\//' "$BAD"
crow config-ftp-url "$BAD:[0-9]+: .*base_url"
cp "$BEARER_CONFIG" "$BAD"
chmod 0666 "$BAD"
row config-world-writable $P 3 "$BAD: mode 0666, must not be writable by group or others \\(chmod go-w $BAD\\)" \
	bt --config "$BAD" refresh $P

# ------------------------------------------------------- 8. the credentials file
cp -p "$CREDS" "$T/credentials.good"
restore_creds() { rm -f "$CREDS"; cp -p "$T/credentials.good" "$CREDS"; }
chmod 0644 "$CREDS"
row creds-world-readable $P 3 "$CREDS: bad permissions 0644, must be 0600" bt refresh $P
chmod 0640 "$CREDS"
row creds-group-readable $P 3 "$CREDS: bad permissions 0640, must be 0600" bt refresh $P
restore_creds
mv "$CREDS" "$T/creds.real"; ln -s "$T/creds.real" "$CREDS"
row creds-symlink $P 3 "$CREDS: is a symlink, refusing it" bt refresh $P
restore_creds; rm -f "$T/creds.real"
sed -i '/^\[unith\]/,/^$/d' "$CREDS"
row creds-missing-section unith 3 "$CREDS: no \[unith\] section \\(it needs 'email'\\)" bt refresh unith
restore_creds
sed -i 's/^secret_key = .*/&\nsecret_key = again/' "$CREDS"
row creds-duplicate-key unith 3 "$CREDS:[0-9]+: duplicate key 'secret_key'" bt refresh unith
restore_creds
printf '# %s\n' "$(printf 'x%.0s' $(seq 5000))" >>"$CREDS"
row creds-long-line $P 3 "$CREDS:[0-9]+: line too long" bt refresh $P
restore_creds
# foreign_run PATH SYSTEM-FILE cmd... : run cmd while PATH is owned by
# another uid. Root: chown. Otherwise, in a user namespace, a root-owned
# SYSTEM-FILE bind-mounted over PATH (the kernel reports its real owner);
# without user namespaces, the fault shim reports PATH as root's.
foreign_run() {
	local path=$1 sys=$2; shift 2
	local rc
	if [ "$ME" -eq 0 ]; then
		chown 65534 "$path"
		"$@"; rc=$?
		chown 0 "$path"
		return $rc
	elif [ -n "$USERNS" ]; then
		unshare -Urm bash -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' _ "$sys" "$path" "$@"
	else
		env LD_PRELOAD="$SHIM_PRELOAD" PB_FAULT_FOREIGN="$path" "$@"
	fi
}
echo "# foreign ownership by: $([ "$ME" -eq 0 ] && echo chown || { [ -n "$USERNS" ] && echo 'a user namespace' || echo 'the fault shim'; })"
row creds-foreign-owned $P 3 "$CREDS: owned by [^ ]+, must be owned by [^ ]+ \\(chown [^ ]+ $CREDS\\)" \
	foreign_run "$CREDS" /etc/passwd "$BEARER_TOKEN_BIN" refresh $P

# ------------------------------------------------------- 9. the token dir
n=$(mock_total)
mv "$TOKDIR" "$T/real-tokdir"; ln -s "$T/real-tokdir" "$TOKDIR"
TOKDIR_REAL=$TOKDIR; TOKDIR="$T/real-tokdir"   # the checks look at the real files
row tokdir-symlink $P 5 "token dir $TOKDIR_REAL is a symlink" "$BEARER_TOKEN_BIN" refresh $P
rm "$TOKDIR_REAL"; mv "$TOKDIR" "$TOKDIR_REAL"; TOKDIR=$TOKDIR_REAL
mkdir -m 0700 "$T/run-file"; echo "not a dir" >"$T/run-file/bearer"
row tokdir-is-a-file $P 5 "token dir $T/run-file/bearer is not a directory" \
	env XDG_RUNTIME_DIR="$T/run-file" "$BEARER_TOKEN_BIN" refresh $P
assert_eq "$(<"$T/run-file/bearer")" "not a dir" "tokdir-is-a-file: the file is left alone"
chmod 0755 "$TOKDIR"
row tokdir-group-readable $P 5 "token dir $TOKDIR has mode 0755, must be 0700 \\(chmod 700 $TOKDIR\\)" bt refresh $P
chmod 0700 "$TOKDIR"
row tokdir-foreign-owned $P 5 "token dir $TOKDIR is owned by [^ ]+, must be owned by [^ ]+ \\(chown [^ ]+ $TOKDIR\\)" \
	foreign_run "$TOKDIR" /etc "$BEARER_TOKEN_BIN" refresh $P
# a runtime dir of someone else's: root's own / when we are not root
RUN_FOREIGN=/
[ "$ME" -ne 0 ] || { mkdir -m 0700 "$T/run-foreign"; chown 65534 "$T/run-foreign"; RUN_FOREIGN=$T/run-foreign; }
row rundir-foreign-owned $P 5 "runtime dir $RUN_FOREIGN is owned by [^ ]+, must be owned by $(id -un)" \
	env XDG_RUNTIME_DIR="$RUN_FOREIGN" "$BEARER_TOKEN_BIN" refresh $P
assert_eq "$(mock_total)" "$n" "token dir rows: refused before any request"
row tokdir-full $P 5 "cannot write $TOKDIR/$P\.(state|token|header|json): No space left on device" \
	env LD_PRELOAD="$SHIM_PRELOAD" PB_FAULT_ENOSPC_DIR="$TOKDIR" "$BEARER_TOKEN_BIN" refresh $P
[ -z "$(find "$TOKDIR" -name '.*.*' -newer "$TOKDIR/$P.token")" ] || fail "tokdir-full: temp files left behind"
ok "tokdir-full: no temp file left behind"

# the same with a real, full tmpfs, where user namespaces allow mounting one
if [ -n "$USERNS" ]; then
	mkdir -m 0700 "$T/tiny"
	unshare -Urm bash -c '
		mount -t tmpfs -o size=128k,mode=0700 tiny "$1" || exit 9
		export XDG_RUNTIME_DIR=$1
		"$2" get apivideo >/dev/null || exit 8
		cp -p "$1/bearer/apivideo.token" "$3/tiny.before"
		stat -c "%i %a" "$1/bearer/apivideo.token" >"$3/tiny.stat.before"
		dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null
		"$2" refresh apivideo 2>"$3/tiny.err"; echo $? >"$3/tiny.rc"
		cmp -s "$1/bearer/apivideo.token" "$3/tiny.before" && echo same >"$3/tiny.same"
		stat -c "%i %a" "$1/bearer/apivideo.token" >"$3/tiny.stat.after"
		' _ "$T/tiny" "$BEARER_TOKEN_BIN" "$T"
	assert_eq "$(cat "$T/tiny.rc" 2>/dev/null)" 5 "tokdir-full (real tmpfs): refresh exits 5"
	assert_match "$(cat "$T/tiny.err" 2>/dev/null)" 'No space left on device' "tokdir-full (real tmpfs): says why"
	assert_eq "$(cat "$T/tiny.same" 2>/dev/null)" same "tokdir-full (real tmpfs): token unchanged"
	assert_eq "$(cat "$T/tiny.stat.after" 2>/dev/null)" "$(cat "$T/tiny.stat.before")" \
		"tokdir-full (real tmpfs): same inode and mode"
else
	echo "# no user namespaces here: the full disk is the fault shim's only"
fi

expect_exit 0 bt refresh $P
assert_eq "$(whoami "$TOKDIR/$P.header")" 200 "after all that, a good answer still works"
pb_done
