#!/bin/bash
# SPDX-License-Identifier: MIT
# examples.sh - everything in examples/ works as shipped: the shell scripts
# parse; examples/scripts/call-api.sh (curl -H @file) and call_api.py
# (standard library) run against the mock, including their errors; the
# systemd units pass `systemd-analyze verify` where systemd is installed
# (and a structural check everywhere); the kubeconfig parses and drives
# bearer-token as kubectl's exec plugin (as shipped with kubectl 1.22 or
# later; with its apiVersion set to v1beta1, as its comment says, with an
# older one such as Debian 12's kubernetes-client 1.20); and every
# seed vendor has a config and a credentials example that pass
# `bearer-token check-config`.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
EX="$TESTS_SRCDIR/../examples"
pb_setup

# bearer-token on PATH for the examples, which run it by name
mkdir -p "$T/bin"
ln -s "$BEARER_TOKEN_BIN" "$T/bin/bearer-token"
export PATH="$T/bin:$PATH"

echo "# syntax"
for f in "$EX"/*.sh "$EX"/scripts/*.sh; do
	expect_exit 0 bash -n "$f"
done
# compile to a file of our own: the source tree may be read-only (distcheck)
for f in "$EX"/scripts/*.py; do
	run_cmd "$PYTHON3" -c 'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)' \
		"$f" "$T/compiled.pyc"
	assert_eq "$RC" 0 "${f##*/} compiles"
done

echo "# call-api.sh: curl -H @\$BEARER_TOKEN_DIR/PROFILE.header"
export CURL_CA_BUNDLE="$T/ca.pem" BEARER_TOKEN_DIR="$TOKDIR"
api() { run_cmd bash "$EX/scripts/call-api.sh" "$@"; }
api apivideo "$MOCK/v1/whoami"
assert_eq "$RC" 0 "call-api.sh with no token yet: bearer-token get fetches one"
assert_contains "$OUT" '"vendor": "apivideo"' "call-api.sh: the mock accepted the token"
assert_eq "$(mock_last /v1/whoami authorization)" "Bearer $(<"$TOKDIR/apivideo.token")" \
	"call-api.sh sent the header line of apivideo.header"
n=$(mock_count /auth/api-key)
api apivideo "$MOCK/v1/whoami"
assert_eq "$RC" 0 "call-api.sh with a token on disk exits 0"
assert_eq "$(mock_count /auth/api-key)" "$n" "call-api.sh used the file: no new exchange"
(unset BEARER_TOKEN_DIR; bash "$EX/scripts/call-api.sh" apivideo "$MOCK/v1/whoami" >"$T/out" 2>&1)
assert_eq "$?" 0 "call-api.sh without BEARER_TOKEN_DIR finds \$XDG_RUNTIME_DIR/bearer"
api apivideo "$MOCK/v1/whoami" -H 'X-Trace: 1' --max-time 20
assert_eq "$RC" 0 "call-api.sh passes extra curl options"
mock_reset      # the mock forgets every token it issued: ours is now refused
api apivideo "$MOCK/v1/whoami"
assert_eq "$RC" 22 "call-api.sh: a refused token exits 22 (curl --fail-with-body)"
assert_contains "$OUT" "Invalid token" "call-api.sh shows the vendor's answer"
mock_fault /oauth/token bad-creds
api oauth2 "$MOCK/v1/whoami"
assert_eq "$RC" 4 "call-api.sh: no token to be had exits with bearer-token's code (4)"
assert_match "$ERR" '^bearer-token: ' "call-api.sh: bearer-token says why"
mock_fault /oauth/token none
api apivideo
assert_eq "$RC" 2 "call-api.sh without a URL exits 2"
assert_contains "$ERR" "usage:" "call-api.sh without a URL prints its usage"

echo "# call_api.py: the token file, standard library only"
export SSL_CERT_FILE="$T/ca.pem"
py() { run_cmd "$PYTHON3" "$EX/scripts/call_api.py" "$@"; }
expect_exit 0 bt refresh apivideo
py apivideo "$MOCK/v1/whoami"
assert_eq "$RC" 0 "call_api.py with a valid token exits 0"
assert_contains "$OUT" '"vendor": "apivideo"' "call_api.py: the mock accepted the token"
assert_eq "$(mock_last /v1/whoami authorization)" "Bearer $(<"$TOKDIR/apivideo.token")" \
	"call_api.py sent the token with the profile's scheme"
expect_exit 0 bt get rythmex-apitoken
py rythmex-apitoken "$MOCK/v1/whoami"
assert_eq "$RC" 0 "call_api.py: a Token-scheme profile works"
assert_eq "$(mock_last /v1/whoami authorization)" "Token $(<"$TOKDIR/rythmex-apitoken.token")" \
	"call_api.py sent 'Authorization: Token ...'"
py hautai-login "$MOCK/v1/whoami"
assert_eq "$RC" 1 "call_api.py with no token exits 1"
assert_lines "$ERR" 1 "call_api.py: no token: one line"
assert_match "$ERR" '^call_api.py: no token for hautai-login .*bearer-token get hautai-login' \
	"call_api.py: no token: says so and what to run"
mock_config '{"lifetime": 2}'
expect_exit 0 bt get unith
mock_config '{"lifetime": 3600}'
sleep 2.2
py unith "$MOCK/v1/whoami"
assert_eq "$RC" 1 "call_api.py with an expired token exits 1"
assert_match "$ERR" '^call_api.py: the unith token expired at [0-9T:-]+Z' "call_api.py: says when it expired"
mock_fault /auth/token 503
run_cmd bt refresh unith
assert_eq "$RC" 1 "a failed renewal of unith exits 1"
py unith "$MOCK/v1/whoami"
assert_eq "$RC" 1 "call_api.py after a failed renewal exits 1"
assert_match "$ERR" '^call_api.py: the unith token is (expired|error): .*503' \
	"call_api.py: gives the state and last_error of unith.json"
mock_fault /auth/token none
expect_exit 0 bt refresh apivideo
mock_reset
py apivideo "$MOCK/v1/whoami"
assert_eq "$RC" 1 "call_api.py: a refused token exits 1"
assert_contains "$ERR" "HTTP 401" "call_api.py: says HTTP 401"
py apivideo
assert_eq "$RC" 2 "call_api.py without a URL exits 2"

echo "# the systemd user units"
units="$EX/systemd/api-report.service $EX/systemd/api-report.timer"
# structure, everywhere: the sections, a oneshot that reads the header file
"$PYTHON3" - "$EX/systemd" <<'EOF' || fail "a systemd unit is malformed"
import configparser, sys
d = sys.argv[1]
def unit(name):
    c = configparser.ConfigParser(strict=True, interpolation=None)
    c.optionxform = str
    c.read_string(open(d + "/" + name).read())
    return c
s = unit("api-report.service")
assert s.sections() == ["Unit", "Service"], s.sections()
assert "bearer-token.service" in s["Unit"]["After"]
assert s["Service"]["Type"] == "oneshot"
start = s["Service"]["ExecStart"]
assert start.startswith("/") and "-H @%t/bearer/apivideo.header" in start, start
assert s["Service"]["ExecStartPre"].endswith(">/dev/null'"), "the token would reach the journal"
t = unit("api-report.timer")
assert t.sections() == ["Unit", "Timer", "Install"], t.sections()
assert t["Install"]["WantedBy"] == "timers.target"
r = unit("bearer-token.service.in")
assert r["Service"]["ExecStart"] == "@bindir@/bearer-token daemon --foreground"
EOF
ok "the units have the expected sections and keys"
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify needs the programs they run to exist: point them at this build
	# (and the man pages of Documentation=, which are not installed: --man=no)
	mkdir -p "$T/units" "$T/units-rt"
	chmod 0700 "$T/units-rt"
	for u in $units "$EX/systemd/bearer-token.service.in"; do
		n=${u##*/}
		sed -e "s|/usr/bin/bearer-token|$BEARER_TOKEN_BIN|g" \
			-e "s|@bindir@/bearer-token|$BEARER_TOKEN_BIN|g" "$u" >"$T/units/${n%.in}"
	done
	(cd "$T/units" && XDG_RUNTIME_DIR="$T/units-rt" systemd-analyze --user verify --man=no \
		./api-report.service ./api-report.timer ./bearer-token.service) >"$T/verify" 2>&1
	rc=$?
	slurp OUT "$T/verify"
	assert_eq "$rc $OUT" "0 " "systemd-analyze verify: no error, no warning"
else
	echo "# systemd-analyze is not installed: structure checked only"
fi

echo "# the kubeconfig"
kc="$EX/kubernetes/kubeconfig.yaml"
for want in "apiVersion: client.authentication.k8s.io/v1" "command: /usr/bin/bearer-token" \
	"- --format=exec-credential" "interactiveMode: Never"; do
	assert_contains "$(<"$kc")" "$want" "kubeconfig.yaml has '$want'"
done
assert_contains "$(<"$kc")" "client.authentication.k8s.io/v1beta1" \
	"kubeconfig.yaml tells users of an older kubectl to use v1beta1"
if "$PYTHON3" -c 'import yaml' 2>/dev/null; then
	"$PYTHON3" - "$kc" <<'EOF' || fail "kubeconfig.yaml does not parse as a kubeconfig"
import sys, yaml
k = yaml.safe_load(open(sys.argv[1]))
assert k["kind"] == "Config" and k["apiVersion"] == "v1"
user = {u["name"]: u["user"] for u in k["users"]}[k["contexts"][0]["context"]["user"]]
e = user["exec"]
assert e["apiVersion"] == "client.authentication.k8s.io/v1", e
assert e["command"] == "/usr/bin/bearer-token", e
assert e["args"] == ["get", "--format=exec-credential", "oauth2"], e["args"]
EOF
	ok "kubeconfig.yaml parses, its user runs bearer-token get --format=exec-credential"
else
	echo "# python3-yaml is not installed: kubeconfig.yaml checked by text only"
fi
kminor=$(kubectl version --client -o json 2>/dev/null | "$PYTHON3" -c \
	'import json,re,sys; print(int(re.match(r"\d+", json.load(sys.stdin)["clientVersion"]["minor"]).group()))' 2>/dev/null)
if [ -n "$kminor" ]; then
	# the snippet as shipped, pointed at the mock and this build; a kubectl
	# before 1.22 knows only v1beta1: the edit the snippet's comment gives
	kver=v1
	[ "$kminor" -ge 22 ] || kver=v1beta1
	sed -e "s|https://k8s.example.com:6443|$MOCK|" -e "s|/etc/kubernetes/pki/ca.crt|$T/ca.pem|" \
		-e "s|/usr/bin/bearer-token|$BEARER_TOKEN_BIN|" \
		-e "s|^\( *apiVersion: client.authentication.k8s.io/\)v1\$|\1$kver|" "$kc" >"$T/kubeconfig"
	assert_contains "$(<"$T/kubeconfig")" "apiVersion: client.authentication.k8s.io/$kver" \
		"kubectl 1.$kminor: the exec user asks for $kver"
	# kubectl keeps a cache under $HOME/.kube; HOME is $T/home (pb_setup)
	expect_exit 0 kubectl --kubeconfig "$T/kubeconfig" --request-timeout=10s get --raw /v1/whoami
	assert_contains "$OUT" '"vendor": "oauth2"' "kubectl with kubeconfig.yaml: the mock accepted the oauth2 token"
	assert_eq "$(mock_last /v1/whoami authorization)" "Bearer $(<"$TOKDIR/oauth2.token")" \
		"kubectl with kubeconfig.yaml sent the oauth2 token"
else
	echo "# no kubectl here (Debian: apt-get install kubernetes-client): kubeconfig.yaml not run"
fi

echo "# the PAM snippets"
# every line is PAM syntax, and pam_bearer.so gets only options it knows
# (module/options.c); the pam-auth-update profile is off by default
"$PYTHON3" - "$EX" "$TESTS_SRCDIR/../module/options.c" <<'EOF' || fail "a PAM snippet is malformed"
import glob, re, sys
ex, options_c = sys.argv[1], sys.argv[2]
known = {n + ("" if t == "FLAG" else "=")
         for n, t in re.findall(r'\{ "([a-z_]+)", ([A-Z]+), offsetof', open(options_c).read())}
assert known, "no options found in " + options_c
LINE = re.compile(r"^-?(auth|account|password|session)\s+(\[[^]]*\]|\S+)\s+(\S+)(\s+.*)?$")

def check_module(where, module, args):
    if module != "pam_bearer.so":
        return
    for a in (args or "").split():
        name = a.split("=")[0] + ("=" if "=" in a else "")
        assert name in known, "%s: pam_bearer.so has no option %s" % (where, a)

files = sorted(glob.glob(ex + "/pam.d/*"))
assert len(files) >= 4, files
for f in files:
    mods = []
    for n, l in enumerate(open(f).read().splitlines(), 1):
        if not l.strip() or l.startswith("#") or re.match(r"^@include \S+$", l):
            continue
        m = LINE.match(l)
        assert m, "%s:%d: not a PAM line: %s" % (f, n, l)
        check_module("%s:%d" % (f, n), m.group(3), m.group(4))
        mods.append(m.group(3))
    assert "pam_bearer.so" in mods, f + " has no pam_bearer.so line"
prof = open(ex + "/pam-configs/pam_bearer").read()
fields = dict(re.findall(r"^([A-Z][\w-]*):[ \t]*(.*)$", prof, re.M))
for k in ("Name", "Default", "Priority", "Session-Type", "Session"):
    assert k in fields, "pam-configs/pam_bearer has no " + k
assert fields["Default"] == "no", "the pam-auth-update profile must be off by default"
body = prof.split("Session:", 1)[1].splitlines()[1:]
lines = [l.strip() for l in body if l.strip()]
assert lines, "pam-configs/pam_bearer: an empty Session: block"
for l in lines:
    m = re.match(r"^(\[[^]]*\]|\S+)\s+(\S+)(\s+.*)?$", l)
    assert m, "pam-configs/pam_bearer: not a PAM line: " + l
    check_module("pam-configs/pam_bearer", m.group(2), m.group(3))
EOF
ok "the pam.d snippets and the pam-auth-update profile are well formed"

echo "# a config and a credentials example for every seed vendor"
for preset in "$VENDOR_DIR"/*.conf; do
	v=${preset##*/}; v=${v%.conf}
	[ -f "$EX/config/$v.conf" ] && [ -f "$EX/config/$v.credentials" ] ||
		fail "examples/config/ has no $v.conf and $v.credentials"
done
ok "every preset in vendors/ has an example config and credentials"
(umask 077; "$OPENSSL" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/example-key.pem" 2>/dev/null) ||
	fail "openssl could not make an RSA key"
# and a service account's JSON key around it, as Google hands them out
(umask 077; "$PYTHON3" -c 'import json, sys; print(json.dumps({"type": "service_account",
	"client_email": "svc@example.iam.gserviceaccount.com", "private_key_id": "k1",
	"private_key": open(sys.argv[1]).read(), "token_uri": "https://oauth2.googleapis.com/token"}))' \
	"$T/example-key.pem" >"$T/example-key.json")
# check VENDOR : check-config on the example with its credentials in place
check() {
	local v=$1
	# the presets of this source tree, not of an installed copy
	sed "s|^\[defaults\]\$|[defaults]\nvendor_dir = $VENDOR_DIR|" "$EX/config/$v.conf" >"$T/$v.conf"
	grep -q "^vendor_dir = " "$T/$v.conf" || fail "examples/config/$v.conf has no [defaults]"
	# a key file where the example names one (its path is a placeholder)
	sed -e "s|^private_key_file = .*|private_key_file = $T/example-key.pem|" \
		-e "s|^key_file = .*|key_file = $T/example-key.json|" "$EX/config/$v.credentials" >"$CREDS"
	chmod 0600 "$CREDS"
	expect_exit 0 bt --config "$T/$v.conf" check-config
	assert_contains "$OUT" "$T/$v.conf: OK, 1 profile" "$v.conf: valid, one profile"
	assert_contains "$OUT" "$CREDS: OK, 1 profile" "$v.credentials: safe and complete"
}
for conf in "$EX"/config/*.conf; do
	v=${conf##*/}; check "${v%.conf}"
	grep -q REPLACE-WITH "$EX/config/${v%.conf}.credentials" ||
		fail "${v%.conf}.credentials has no REPLACE-WITH placeholder"
done
# and the check can fail: a credentials example short of its last field
cp "$EX/config/oauth2.credentials" "$CREDS"
sed -i '$d' "$CREDS"
expect_exit 3 bt --config "$T/oauth2.conf" check-config
assert_contains "$ERR" "client_secret" "check-config names a field the credentials lack"
pb_done
