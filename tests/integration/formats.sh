#!/bin/bash
# SPDX-License-Identifier: MIT
# formats.sh - `bearer-token get --format=token|header|json|env|exec-credential`:
# each format's exact bytes against the token files, --header/--json as
# aliases, env evaluated by sh, dash and bash (a hostile token included),
# the Kubernetes ExecCredential checked against a JSON schema with its
# expirationTimestamp shaved by the refresh margin, in the apiVersion
# KUBERNETES_EXEC_INFO asks for (v1 or v1beta1; v1 when unset), kubectl
# using it as an exec plugin (v1beta1 for a kubectl older than 1.22, such
# as Debian 12's kubernetes-client 1.20, v1 otherwise), and the errors: an
# unknown format, a missing argument, an apiVersion we do not speak or a
# KUBERNETES_EXEC_INFO that is not JSON, a failed fetch (nothing on stdout).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
pb_setup

# get_to FILE ARGS... : bearer-token get ARGS with stdout in FILE; $RC, $ERR
get_to() {
	local f=$1; shift
	"$BEARER_TOKEN_BIN" get "$@" >"$f" 2>"$T/.err"
	RC=$?
	slurp ERR "$T/.err"
}
# same_bytes FILE WANT MSG : FILE holds exactly WANT
same_bytes() {
	if raw_eq "$1" "$2"; then ok "$3"; else fail "$3 (got [$(<"$1")])"; fi
}

echo "# token (the default), header, json"
expect_exit 0 bt get apivideo
tok=$(<"$TOKDIR/apivideo.token")
[ -n "$tok" ] || fail "apivideo.token is empty"
for args in "" "--format=token" "--format token"; do
	# shellcheck disable=SC2086 # word splitting of args is the point
	get_to "$T/out" apivideo $args
	assert_eq "$RC" 0 "get apivideo $args exits 0"
	same_bytes "$T/out" "$tok"$'\n' "get apivideo $args: the token and one newline"
done
IFS= read -r -d '' header <"$TOKDIR/apivideo.header"
assert_eq "$header" "Authorization: Bearer $tok"$'\n' "apivideo.header is the header line"
for args in --format=header --header "--json --format=header"; do
	# shellcheck disable=SC2086
	get_to "$T/out" apivideo $args
	assert_eq "$RC" 0 "get apivideo $args exits 0"
	same_bytes "$T/out" "$header" "get apivideo $args: the header line, byte for byte"
done
expect_exit 0 bt get rythmex-apitoken --format=header
assert_eq "$OUT" "Authorization: Token $(<"$TOKDIR/rythmex-apitoken.token")" \
	"--format=header uses the profile's scheme (Token)"
IFS= read -r -d '' meta <"$TOKDIR/apivideo.json"
for args in --format=json --json "--header --format json"; do
	# shellcheck disable=SC2086
	get_to "$T/out" apivideo $args
	assert_eq "$RC" 0 "get apivideo $args exits 0"
	same_bytes "$T/out" "$meta" "get apivideo $args: apivideo.json, byte for byte"
done
jload "$TOKDIR/apivideo.json"
expires=${J[expires_at@]}
obtained=${J[obtained_at@]}
[ -n "$expires" ] && [ -n "$obtained" ] || fail "apivideo.json has no obtained_at/expires_at"

echo "# env"
get_to "$T/env" apivideo --format=env
assert_eq "$RC" 0 "get --format=env exits 0"
same_bytes "$T/env" "export BEARER_TOKEN='$tok'"$'\n'"export BEARER_TOKEN_EXPIRES_AT=$expires"$'\n' \
	"--format=env: two exports, the expiry as epoch seconds"
get_to "$T/out" apivideo --format env
same_bytes "$T/out" "$(<"$T/env")"$'\n' "--format env (two words) is the same"
# env_in SHELL PROFILE : what a child of SHELL sees after the eval
env_in() {
	"$1" -c 'eval "$("$0" get --format=env "$1")" || exit 9
		printenv BEARER_TOKEN; printenv BEARER_TOKEN_EXPIRES_AT; echo end' \
		"$BEARER_TOKEN_BIN" "$2"
}
shells="sh bash"
command -v dash >/dev/null 2>&1 && shells="$shells dash"
for sh in $shells; do
	assert_eq "$(env_in "$sh" apivideo)" "$tok"$'\n'"$expires"$'\n'end \
		"eval in $sh exports BEARER_TOKEN and BEARER_TOKEN_EXPIRES_AT"
done
expect_exit 0 bt get rythmex-apitoken --format=env
assert_eq "$OUT" "export BEARER_TOKEN='$(<"$TOKDIR/rythmex-apitoken.token")'"$'\n'"export BEARER_TOKEN_EXPIRES_AT=" \
	"--format=env: a token that never expires has an empty BEARER_TOKEN_EXPIRES_AT"

echo "# a token full of shell and JSON metacharacters"
# hautai's token is the one in the credentials file: make it hostile. The
# store takes any token without spaces or control characters.
nasty='it'"'"'s"a\b$(touch${IFS}PWNED)`touch${IFS}PWNED`;'"'"'\'"'"'&|<>*?~#!{}%s\n'
while IFS= read -r line; do
	[[ $line == "token = "* ]] && line="token = $nasty"
	printf '%s\n' "$line"
done <"$CREDS" >"$CREDS.new"
chmod 0600 "$CREDS.new" && mv "$CREDS.new" "$CREDS"
expect_exit 0 bt refresh hautai
IFS= read -r -d '' stored <"$TOKDIR/hautai.token"
assert_eq "$stored" "$nasty" "the hostile token is stored as it is"
for sh in $shells; do
	(cd "$T" && env_in "$sh" hautai) >"$T/out"
	[ ! -e "$T/PWNED" ] || fail "eval in $sh ran a command from the token"
	assert_eq "$(head -n 1 "$T/out")" "$nasty" "eval in $sh: BEARER_TOKEN is the hostile token, unchanged"
done
expect_exit 0 bt get hautai --format=exec-credential
assert_eq "$(printf '%s' "$OUT" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["status"]["token"], end="")')" \
	"$nasty" "exec-credential: the hostile token survives JSON escaping"

echo "# exec-credential"
# check_exec FILE [VERSION] : FILE is one line of JSON, a valid ExecCredential
# of client.authentication.k8s.io/VERSION (v1 by default) by a JSON schema
# (a small validator of the keywords used, which first proves it rejects
# broken documents); prints the token and the expirationTimestamp ("-"
# when there is none)
check_exec() {
	"$PYTHON3" - "$1" "client.authentication.k8s.io/${2:-v1}" <<'EOF'
import datetime, json, re, sys

API = sys.argv[2]
OTHER = {"client.authentication.k8s.io/v1": "client.authentication.k8s.io/v1beta1"}.get(
    API, "client.authentication.k8s.io/v1")
# an ExecCredential as kubectl reads it: v1 and v1beta1 have the same shape
SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "status"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": API},
        "kind": {"const": "ExecCredential"},
        "spec": {"type": "object"},
        "status": {
            "type": "object",
            "required": ["token"],
            "additionalProperties": False,
            "properties": {
                "token": {"type": "string", "minLength": 1, "pattern": r"^[^\s]+$"},
                "expirationTimestamp": {"type": "string", "format": "date-time"},
                "clientCertificateData": {"type": "string"},
                "clientKeyData": {"type": "string"},
            },
        },
    },
}
TYPES = {"object": dict, "string": str}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def errors(v, s, where="$"):
    """Every way v breaks schema s, one string each."""
    out = []
    if "type" in s and not isinstance(v, TYPES[s["type"]]):
        return ["%s: not a%s %s" % (where, "n" if s["type"][0] in "aeiou" else "", s["type"])]
    if "const" in s and v != s["const"]:
        out.append("%s: %r is not %r" % (where, v, s["const"]))
    if "minLength" in s and len(v) < s["minLength"]:
        out.append("%s: too short" % where)
    if "pattern" in s and not re.search(s["pattern"], v):
        out.append("%s: does not match %s" % (where, s["pattern"]))
    if s.get("format") == "date-time":
        try:
            assert RFC3339.match(v)
            datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
        except (AssertionError, ValueError):
            out.append("%s: %r is not an RFC 3339 date-time" % (where, v))
    if isinstance(v, dict):
        out += ["%s: %s is missing" % (where, k) for k in s.get("required", []) if k not in v]
        for k, child in v.items():
            if k in s.get("properties", {}):
                out += errors(child, s["properties"][k], where + "." + k)
            elif s.get("additionalProperties") is False:
                out.append("%s: unexpected member %s" % (where, k))
    return out


good = {"apiVersion": API, "kind": "ExecCredential",
        "status": {"token": "t", "expirationTimestamp": "2030-01-01T00:00:00Z"}}
for bad in ({**good, "apiVersion": OTHER},
            {**good, "status": {}},
            {**good, "status": {"token": "a b"}},
            {**good, "status": {"token": "t", "expirationTimestamp": "2030-01-01 00:00"}},
            {**good, "extra": 1}, [good]):
    assert errors(bad, SCHEMA), "the schema check let a broken document through: %r" % bad
assert not errors(good, SCHEMA)

text = open(sys.argv[1]).read()
assert text.endswith("\n") and text.count("\n") == 1, "not one line: %r" % text
doc = json.loads(text)
problems = errors(doc, SCHEMA)
if problems:
    sys.exit("ExecCredential does not match the schema: " + "; ".join(problems))
print(doc["status"]["token"])
print(doc["status"].get("expirationTimestamp", "-"))
EOF
}
get_to "$T/exec" apivideo --format=exec-credential
assert_eq "$RC" 0 "get --format=exec-credential exits 0"
mapfile -t ec < <(check_exec "$T/exec" || echo "SCHEMA-FAILED")
[ "${ec[0]:-}" != SCHEMA-FAILED ] || fail "the ExecCredential of apivideo is not valid"
ok "the ExecCredential of apivideo matches the schema"
assert_eq "${ec[0]}" "$tok" "exec-credential: status.token is the token"
# a 3600 s token: margin min(60 s, 10%) = 60 s
margin=$(( (expires - obtained) / 10 < 60 ? (expires - obtained) / 10 : 60 ))
assert_eq "$margin" 60 "apivideo's token lives an hour"
assert_eq "$(epoch_of "${ec[1]}")" "$((expires - margin))" \
	"expirationTimestamp = expires_at - 60 s (the refresh margin)"
assert_match "${ec[1]}" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' \
	"expirationTimestamp is RFC 3339 UTC"
# want_exec VERSION : the exact ExecCredential of apivideo in VERSION
apivideo_at=${ec[1]}
want_exec() {
	printf '{"apiVersion":"client.authentication.k8s.io/%s","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\n' \
		"$1" "$tok" "$apivideo_at"
}
same_bytes "$T/exec" "$(want_exec v1)"$'\n' "exec-credential: exact bytes"
# a 200 s token: the margin is a tenth of it
mock_config '{"lifetime": 200}'
expect_exit 0 bt refresh unith
get_to "$T/exec" unith --format=exec-credential
mapfile -t ec < <(check_exec "$T/exec" || echo "SCHEMA-FAILED")
[ "${ec[0]:-}" != SCHEMA-FAILED ] || fail "the ExecCredential of unith is not valid"
jload "$TOKDIR/unith.json"
life=$((J[expires_at@] - J[obtained_at@]))
# the mock's clock and ours may be a second apart
[ "$life" -ge 199 ] && [ "$life" -le 201 ] || fail "unith's token lives $life s, not 200"
assert_eq "$(epoch_of "${ec[1]}")" "$((J[expires_at@] - life / 10))" \
	"200 s token: expirationTimestamp = expires_at - a tenth of the lifetime"
mock_config '{"lifetime": 3600}'
# a token that never expires: no expirationTimestamp
get_to "$T/exec" rythmex-apitoken --format=exec-credential
mapfile -t ec < <(check_exec "$T/exec" || echo "SCHEMA-FAILED")
[ "${ec[0]:-}" != SCHEMA-FAILED ] || fail "the ExecCredential of rythmex-apitoken is not valid"
assert_eq "${ec[1]}" - "a token that never expires has no expirationTimestamp"

echo "# the apiVersion KUBERNETES_EXEC_INFO asks for"
# exec_info VERSION : KUBERNETES_EXEC_INFO as kubectl sets it for an exec
# user of client.authentication.k8s.io/VERSION
exec_info() {
	printf '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/%s","spec":{"interactive":false}}' "$1"
}
# exec_as INFO [PROFILE] : get --format=exec-credential with
# KUBERNETES_EXEC_INFO=INFO, stdout in $T/exec; $RC, $ERR
exec_as() {
	KUBERNETES_EXEC_INFO=$1 get_to "$T/exec" "${2:-apivideo}" --format=exec-credential
}
get_to "$T/exec" apivideo --format=exec-credential
same_bytes "$T/exec" "$(want_exec v1)"$'\n' "KUBERNETES_EXEC_INFO unset: v1"
exec_as ''
same_bytes "$T/exec" "$(want_exec v1)"$'\n' "KUBERNETES_EXEC_INFO empty: v1"
exec_as "$(exec_info v1)"
assert_eq "$RC" 0 "asked for v1: exits 0"
same_bytes "$T/exec" "$(want_exec v1)"$'\n' "asked for v1: v1, byte for byte"
exec_as "$(exec_info v1beta1)"
assert_eq "$RC" 0 "asked for v1beta1: exits 0"
mapfile -t ec < <(check_exec "$T/exec" v1beta1 || echo "SCHEMA-FAILED")
[ "${ec[0]:-}" != SCHEMA-FAILED ] || fail "the v1beta1 ExecCredential of apivideo is not valid"
ok "asked for v1beta1: a valid v1beta1 ExecCredential"
same_bytes "$T/exec" "$(want_exec v1beta1)"$'\n' "asked for v1beta1: v1beta1, byte for byte"
# pretty-printed, as another client may send it
exec_as $'{\n  "apiVersion": "client.authentication.k8s.io/v1beta1",\n  "kind": "ExecCredential"\n}\n' \
	rythmex-apitoken
mapfile -t ec < <(check_exec "$T/exec" v1beta1 || echo "SCHEMA-FAILED")
[ "${ec[0]:-}" != SCHEMA-FAILED ] || fail "a multi-line KUBERNETES_EXEC_INFO: no valid v1beta1 answer"
assert_eq "${ec[1]}" - "v1beta1, a token that never expires: no expirationTimestamp"

# exec_info_error INFO ERE MSG : with KUBERNETES_EXEC_INFO=INFO, get exits 2,
# prints nothing and says ERE in one line; with no token on disk, before
# any vendor request (the answer could not be printed)
exec_info_error() {
	local n
	rm -f "$TOKDIR/unith.token"
	n=$(mock_total)
	KUBERNETES_EXEC_INFO=$1 expect_exit 2 bt get unith --format=exec-credential
	assert_eq "$(mock_total)" "$n" "$3: no vendor request (unith has no token)"
	KUBERNETES_EXEC_INFO=$1 expect_exit 2 bt get apivideo --format=exec-credential
	assert_eq "$OUT" "" "$3: nothing on stdout"
	assert_lines "$ERR" 1 "$3: one line on stderr"
	assert_match "$ERR" "$2" "$3: says why"
	assert_not_contains "$ERR" "$tok" "$3: the token is not in the message"
}
asks='^bearer-token: get: KUBERNETES_EXEC_INFO asks for'
speaks='; this plugin speaks v1 and v1beta1$'
exec_info_error "$(exec_info v1alpha1)" "$asks client\.authentication\.k8s\.io/v1alpha1$speaks" \
	"asked for v1alpha1"
exec_info_error '{"apiVersion":"client.authentication.k8s.io/v2","kind":"ExecCredential"}' \
	"$asks client\.authentication\.k8s\.io/v2$speaks" "asked for v2"
exec_info_error '{"kind":"ExecCredential"}' "$asks no apiVersion$speaks" "no apiVersion"
exec_info_error '{"apiVersion":1}' "$asks no apiVersion$speaks" "a number for apiVersion"
exec_info_error $'{"apiVersion":"v1\\n\\u001b[2Jx"}' "$asks v1..\[2Jx$speaks" \
	"control characters in the apiVersion"
for junk in client.authentication.k8s.io/v1beta1 '{"apiVersion":"client.authentication.k8s.io/v1"' \
	'["client.authentication.k8s.io/v1"]' '{"apiVersion":"client.authentication.k8s.io/v1"} x'; do
	exec_info_error "$junk" '^bearer-token: get: KUBERNETES_EXEC_INFO is not a JSON ExecCredential; this plugin speaks client\.authentication\.k8s\.io/v1 and v1beta1$' \
		"KUBERNETES_EXEC_INFO=$junk"
done

echo "# kubectl with bearer-token as its exec plugin"
# client.authentication.k8s.io/v1 needs kubectl 1.22 or later; Debian 12's
# kubernetes-client is 1.20, which knows only v1beta1: use what it speaks.
# kubectl keeps a cache under $HOME/.kube; HOME is $T/home (pb_setup).
kminor=$(kubectl version --client -o json 2>/dev/null | "$PYTHON3" -c \
	'import json,re,sys; print(int(re.match(r"\d+", json.load(sys.stdin)["clientVersion"]["minor"]).group()))' 2>/dev/null)
if [ -n "$kminor" ]; then
	kver=v1
	[ "$kminor" -ge 22 ] || kver=v1beta1
	echo "# kubectl 1.$kminor: exec apiVersion client.authentication.k8s.io/$kver"
	# the plugin as kubectl runs it, noting the KUBERNETES_EXEC_INFO it got
	cat >"$T/kexec" <<EOF
#!/bin/sh
printf '%s\n' "\${KUBERNETES_EXEC_INFO-unset}" >"$T/exec-info"
exec "$BEARER_TOKEN_BIN" "\$@"
EOF
	chmod 0755 "$T/kexec"
	cat >"$T/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: mock
  cluster:
    server: $MOCK
    certificate-authority: $T/ca.pem
contexts:
- name: mock
  context:
    cluster: mock
    user: apivideo
current-context: mock
users:
- name: apivideo
  user:
    exec:
      apiVersion: client.authentication.k8s.io/$kver
      command: $T/kexec
      args: [--config, $BEARER_CONFIG, get, --format=exec-credential, apivideo]
      interactiveMode: Never
EOF
	run_cmd kubectl --kubeconfig "$T/kubeconfig" config view --raw -o 'jsonpath={.users[0].user.exec.command}'
	assert_eq "$OUT" "$T/kexec" "kubectl config view reads the exec user"
	expect_exit 0 kubectl --kubeconfig "$T/kubeconfig" --request-timeout=10s get --raw /v1/whoami
	assert_contains "$OUT" '"vendor": "apivideo"' "kubectl: the mock accepted the token"
	assert_eq "$(mock_last /v1/whoami authorization)" "Bearer $(<"$TOKDIR/apivideo.token")" \
		"kubectl sent the ExecCredential's token"
	assert_eq "$("$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["apiVersion"])' \
		"$T/exec-info" 2>&1)" "client.authentication.k8s.io/$kver" \
		"kubectl asked for $kver in KUBERNETES_EXEC_INFO"
else
	echo "# no kubectl here (Debian: apt-get install kubernetes-client): checked by schema only"
fi

echo "# errors"
before=$(mock_total)
for args in --format=bogus --format=TOKEN --format= "--format=json --format=nope"; do
	# shellcheck disable=SC2086
	expect_exit 2 bt get apivideo $args
	assert_lines "$ERR" 1 "get $args: one line on stderr"
	assert_match "$ERR" "^bearer-token: get: unknown format '.*' \(one of token, header, json, env, exec-credential\)\$" \
		"get $args: names the format and the known ones"
	assert_eq "$OUT" "" "get $args: nothing on stdout"
done
expect_exit 2 bt get apivideo --format
assert_match "$ERR" '^bearer-token: .*missing its argument' "--format without a name: says so"
assert_eq "$(mock_total)" "$before" "usage errors made no request"
# a failed fetch prints nothing on stdout, whatever the format
mock_fault /oauth/token 503
for f in token header json env exec-credential; do
	expect_exit 1 bt get oauth2 --format=$f
	assert_eq "$OUT" "" "--format=$f: a failed fetch prints nothing on stdout"
	assert_lines "$ERR" 1 "--format=$f: a failed fetch says why in one line"
done
mock_fault /oauth/token none
pb_done
