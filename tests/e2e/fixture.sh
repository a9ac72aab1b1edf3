# SPDX-License-Identifier: MIT
# tests/e2e/fixture.sh - shared fixture of the end-to-end tests (bash, root).
#
# The end-to-end tests log a throw-away user in through real programs
# (OpenSSH's sshd, su, pamtester) with the INSTALLED pam_bearer, against
# the TLS mock vendor of tests/mock_vendor.py, and check what the user gets.
# Each test script does:
#     . "$TESTS_SRCDIR/e2e/fixture.sh"
#     e2e_setup               # root check, mock, config, user, runtime dir
#     e2e_pam_service NAME    # /etc/pam.d/NAME with the module in it
#     ...
#     pb_done
# Everything it makes (users, /etc/pam.d files, /run/user/UID, processes)
# is recorded and undone on exit, whatever the exit path.
#
# Installed paths, overridable to test a `make install` into /usr/local:
#   E2E_PAM_MODULE   what the PAM line names: pam_bearer.so (found by libpam
#                    in its own module dir, where the package puts it), or
#                    an absolute path such as /usr/local/lib/security/pam_bearer.so
#   E2E_BEARER_TOKEN the helper the module runs: /usr/bin/bearer-token
#   E2E_VENDOR_DIR   the installed presets: /usr/share/pam_bearer/vendors
#   E2E_KEEP=1       keep the temp dir (not the user) after a failure
# e.g. after `./configure && make && make install` (prefix /usr/local):
#   make check-e2e E2E_PAM_MODULE=/usr/local/lib/security/pam_bearer.so \
#     E2E_BEARER_TOKEN=/usr/local/bin/bearer-token \
#     E2E_VENDOR_DIR=/usr/local/share/pam_bearer/vendors

set -u
umask 022

: "${TESTS_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
. "$TESTS_SRCDIR/lib.sh"

: "${E2E_PAM_MODULE:=pam_bearer.so}"
: "${E2E_BEARER_TOKEN:=/usr/bin/bearer-token}"
: "${E2E_VENDOR_DIR:=/usr/share/pam_bearer/vendors}"
# lib.sh's write_config writes this into the config: the installed presets
VENDOR_DIR=$E2E_VENDOR_DIR

E2E_USERS=          # users we added
E2E_RUNDIRS=        # /run/user/UID dirs we made
E2E_RUN_PARENT=     # /run/user, when we made it
E2E_FILES=          # files we created outside $T (PAM service files)
E2E_PIDS=           # processes we started
E2E_RESTORE=        # "saved-copy original" pairs to put back

# e2e_require_root : skip (77) unless root; say why and how to run it
e2e_require_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	echo "SKIP: end-to-end tests need root: they add users, PAM services and"
	echo "      /run/user dirs. Run them as root: make check-e2e (or .ci/e2e)."
	exit 77
}

# e2e_module_path : the file the PAM line loads (the bare name resolved in
# libpam's module dir, next to libpam.so.0, as libpam does)
e2e_module_path() {
	local libpam
	case $E2E_PAM_MODULE in
	/*) echo "$E2E_PAM_MODULE"; return ;;
	esac
	libpam=$(ldconfig -p | sed -n 's/^[[:space:]]*libpam\.so\.0 .*=> //p' | head -1)
	echo "$(dirname "${libpam:-/lib/security/x}")/security/$E2E_PAM_MODULE"
}

# e2e_check_installed : fail with a clear message when the installed
# module, helper or presets are missing
e2e_check_installed() {
	local so
	so=$(e2e_module_path)
	[ -f "$so" ] || fail "no PAM module at $so: install the package (or set E2E_PAM_MODULE)"
	[ -x "$E2E_BEARER_TOKEN" ] || fail "no helper at $E2E_BEARER_TOKEN: install the package (or set E2E_BEARER_TOKEN)"
	[ -f "$E2E_VENDOR_DIR/apivideo.conf" ] || fail "no presets in $E2E_VENDOR_DIR (set E2E_VENDOR_DIR)"
	ok "installed: $so, $E2E_BEARER_TOKEN, $E2E_VENDOR_DIR"
}

# e2e_need CMD... : fail unless each command exists
e2e_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || fail "$c not found (see .ci/install-deps)"
	done
}

# e2e_cleanup : undo everything, in reverse order of making; runs on EXIT
e2e_cleanup() {
	local pid u d pair
	for pid in $E2E_PIDS; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	for u in $E2E_USERS; do
		# what the module started for the user (a refresher that did not
		# stop is a failed test; do not leave it behind either)
		for pid in $(uid_pids "$(id -u "$u" 2>/dev/null || echo none)"); do
			kill -KILL "$pid" 2>/dev/null
		done
		userdel -r -f "$u" >/dev/null 2>&1 || echo "# could not remove user $u"
	done
	for d in $E2E_RUNDIRS; do rm -rf "$d"; done
	[ -n "$E2E_RUN_PARENT" ] && rmdir "$E2E_RUN_PARENT" 2>/dev/null
	for pair in $E2E_RESTORE; do
		cp -p "${pair%%=*}" "${pair#*=}" && echo "# restored ${pair#*=}"
	done
	for d in $E2E_FILES; do rm -f "$d"; done
	[ -n "${E2E_KEEP:-}" ] && PB_KEEP_TMP=1
	pb_cleanup
}

# uid_pids UID : pids of every process whose real uid is UID
uid_pids() {
	local st line f
	[ "$1" = none ] && return 0
	for st in /proc/[0-9]*/status; do
		while read -r line; do
			[[ $line == Uid:* ]] || continue
			read -ra f <<<"$line"
			[ "${f[1]}" = "$1" ] && { st=${st#/proc/}; echo "${st%/status}"; }
			break
		done 2>/dev/null <"$st"
	done
}

# refresher_pids UID : pids of the user's bearer-token processes (the
# refresher, once a session is open); prints "pid:ruid:euid" each
refresher_pids() {
	local pid exe uids
	for pid in $(uid_pids "$1"); do
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
		[ "${exe% (deleted)}" = "$E2E_BEARER_TOKEN" ] || continue
		uids=$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\)[[:space:]]*\([0-9]*\).*/\1:\2/p' "/proc/$pid/status" 2>/dev/null)
		echo "$pid:$uids"
	done
}

# wait_no_refresher UID SECONDS : true once the user has no bearer-token
# process left, polling /proc every 0.1 s for at most SECONDS
wait_no_refresher() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ -z "$(refresher_pids "$1")" ] && return 0
		sleep 0.1
	done
	return 1
}

# e2e_add_user : a throw-away user (E2E_USER, E2E_UID, E2E_HOME) with the
# test secrets in ~/.config/pam_bearer/credentials, 0600, its own
e2e_add_user() {
	local name
	name=pbe2e$(printf '%04x%02x' $((RANDOM)) $((RANDOM % 256)))
	useradd -m -s /bin/bash -c "pam_bearer end-to-end test" "$name" ||
		fail "useradd $name"
	E2E_USERS="$E2E_USERS $name"
	E2E_USER=$name
	E2E_UID=$(id -u "$name")
	E2E_GID=$(id -g "$name")
	E2E_HOME=$(getent passwd "$name" | cut -d: -f6)
	XDG_CONFIG_HOME=$E2E_HOME/.config write_creds
	chown -R "$E2E_UID:$E2E_GID" "$E2E_HOME/.config"
	ok "user $name (uid $E2E_UID) with credentials in ~/.config/pam_bearer"
}

# e2e_runtime_dir : /run/user/UID as logind makes it (0700, the user's),
# unless logind runs here and pam_systemd will make it
e2e_runtime_dir() {
	E2E_RUNDIR=/run/user/$E2E_UID
	if [ -d /run/systemd/system ]; then
		echo "# systemd runs here: pam_systemd makes $E2E_RUNDIR"
		return 0
	fi
	if [ ! -d /run/user ]; then
		mkdir -m 0755 /run/user || fail "mkdir /run/user"
		E2E_RUN_PARENT=/run/user
	fi
	[ ! -e "$E2E_RUNDIR" ] || fail "$E2E_RUNDIR exists already"
	install -d -m 0700 -o "$E2E_UID" -g "$E2E_GID" "$E2E_RUNDIR" || fail "mkdir $E2E_RUNDIR"
	E2E_RUNDIRS="$E2E_RUNDIRS $E2E_RUNDIR"
}

# e2e_pam_service NAME [module options...] : /etc/pam.d/NAME as an admin
# would write it (Debian's common stacks, then pam_bearer after
# pam_systemd), with the test config
e2e_pam_service() {
	local f=/etc/pam.d/$1; shift
	[ ! -e "$f" ] || fail "$f exists already"
	E2E_FILES="$E2E_FILES $f"
	cat >"$f" <<EOF || fail "cannot write $f"
# written by pam_bearer's end-to-end tests; removed after them
@include common-auth
@include common-account
@include common-session
session optional $E2E_PAM_MODULE config=$BEARER_CONFIG debug $*
EOF
}

# e2e_setup : root, tools, the installed files, mock, config, user, runtime dir
e2e_setup() {
	e2e_require_root
	[ "${BASH_VERSINFO[0]}" -ge 5 ] || fail "bash 5 needed"
	e2e_need "$PYTHON3" "$OPENSSL" curl useradd userdel setpriv ldconfig
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy NO_PROXY no_proxy \
		SSLKEYLOGFILE CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR BEARER_TOKEN_DIR BEARER_CONFIG
	T=$(mktemp -d /tmp/pb-e2e.XXXXXX) || fail "mktemp"
	chmod 0755 "$T"   # the user reads the config and the CA in here
	trap e2e_cleanup EXIT
	trap 'exit 1' INT TERM HUP
	e2e_check_installed

	make_certs "$T"
	start_mock MOCK --cert "$T/server.pem" --key "$T/server.key"
	MOCK="https://127.0.0.1:$MOCK_PORT"
	CTL_PORT=$MOCK_CTL_PORT
	BEARER_CONFIG=$T/pam_bearer.conf
	write_config
	[ "$(stat -c '%U %a' "$BEARER_CONFIG")" = "root 644" ] || fail "config must be root's, 0644"
	[ "$(mock_total)" = 0 ] || fail "mock is not answering"

	e2e_add_user
	e2e_runtime_dir
	TOKDIR=/run/user/$E2E_UID/bearer
}

# as_user CMD... : run CMD as the test user (curl with the token files)
as_user() {
	setpriv --reuid="$E2E_UID" --regid="$E2E_GID" --init-groups \
		env -i HOME="$E2E_HOME" PATH=/usr/bin:/bin "$@"
}

# check_tokens : the token dir and files the session left, as a user
# relies on them: 0700/0600, the user's, every profile there
check_tokens() {
	local p mode type uid name bad=
	[ -d "$TOKDIR" ] || { fail "no token dir $TOKDIR after login"; return 1; }
	# 0700 dir, 0600 files, all the user's; the refresher's daemon.sock for its owner only
	while read -r mode type uid name; do
		case "$name:$type" in
		"$TOKDIR:directory") [ "$mode" = 700 ] || bad="$bad; the dir has mode $mode" ;;
		*:regular*file) [ "$mode" = 600 ] || bad="$bad; $name has mode $mode" ;;
		*/daemon.sock:socket) [[ $mode == [67]00 ]] || bad="$bad; $name has mode $mode" ;;
		*) bad="$bad; $name is a $type" ;;
		esac
		[ "$uid" = "$E2E_UID" ] || bad="$bad; $name is owned by uid $uid"
	done < <(stat -c '%a %F %u %n' "$TOKDIR" "$TOKDIR"/* | sed 's/ empty file / file /; s/regular file/regular-file/')
	if [ -z "$bad" ]; then ok "token dir 0700, files 0600, all the user's"; else fail "token dir:$bad"; fi
	for p in apivideo unith rythmex-jwt rythmex-apitoken hautai hautai-login oauth2; do
		[ -f "$TOKDIR/$p.header" ] || fail "no $p.header after login"
	done
	ok "a .header for each of the 7 profiles"
	slurp TOKEN "$TOKDIR/apivideo.token"
	raw_eq "$TOKDIR/apivideo.header" "Authorization: Bearer $TOKEN"$'\n' ||
		fail "apivideo.header is not 'Authorization: Bearer <apivideo.token>'"
	ok "apivideo.header carries apivideo.token"
}

# check_whoami OUTPUT : curl's answer in the session (OUTPUT is its body
# then "status=CODE"), and the mock saw exactly the token of the file
check_whoami() {
	assert_contains "$1" '"vendor": "apivideo"' "the mock accepted the session's token"
	assert_contains "$1" "status=200" "curl -H @\$BEARER_TOKEN_DIR/apivideo.header: HTTP 200"
	assert_eq "$(mock_last /v1/whoami authorization)" "Bearer $TOKEN" \
		"the mock saw the token of apivideo.token"
}

# session_cmd : the shell command a logged-in user runs: where the tokens
# are, and curl with the header file against the mock
session_cmd() {
	printf '%s' 'echo "dir=$BEARER_TOKEN_DIR"; ' \
		"curl -sS --max-time 10 --cacert $T/ca.pem -w ' status=%{http_code}' " \
		'-H @"$BEARER_TOKEN_DIR/apivideo.header" ' "$MOCK/v1/whoami"
}

# hold_open NAME CMD... : run CMD (a login whose remote command ends in
# `echo READY; read -r _`) in the background, its stdin a fifo we hold,
# and wait until it prints READY (or matches $HOLD_WAIT, an ERE, on stdout
# or stderr): the session is open. Output in $T/NAME.out and .err, pid in
# HOLD_PID.
hold_open() {
	local name=$1 i; shift
	mkfifo "$T/$name.in"
	exec {HOLD_FD}<>"$T/$name.in"   # the session ends when this closes
	"$@" <"$T/$name.in" {HOLD_FD}>&- >"$T/$name.out" 2>"$T/$name.err" &
	HOLD_PID=$!
	E2E_PIDS="$E2E_PIDS $HOLD_PID"
	for ((i = 0; i < 200; i++)); do
		grep -qE "${HOLD_WAIT:-^READY\$}" "$T/$name.out" "$T/$name.err" 2>/dev/null && break
		kill -0 "$HOLD_PID" 2>/dev/null || break
		sleep 0.1
	done
	slurp OUT "$T/$name.out"; slurp ERR "$T/$name.err"
	grep -qE "${HOLD_WAIT:-^READY\$}" "$T/$name.out" "$T/$name.err" ||
		fail "$name: the session did not get to its command"
}

# hold_close : end the session hold_open opened (EOF on its stdin: the
# command returns, the program closes the PAM session); status in RC
hold_close() {
	exec {HOLD_FD}>&-
	wait "$HOLD_PID"
	RC=$?
}

# check_refresher : exactly one refresher, running as the user; REFRESHER
# is "pid:ruid:euid"
check_refresher() {
	REFRESHER=$(refresher_pids "$E2E_UID")
	assert_lines "$REFRESHER" 1 "one refresher while logged in"
	assert_eq "${REFRESHER#*:}" "$E2E_UID:$E2E_UID" "the refresher runs as the user (real and effective uid)"
}

# check_refresher_gone WHEN : no bearer-token process of the user within 5 s
check_refresher_gone() {
	if wait_no_refresher "$E2E_UID" 5; then
		ok "no refresher left 5 s after $1"
	else
		fail "a refresher still runs 5 s after $1: $(refresher_pids "$E2E_UID")"
	fi
}

# ------------------------------------------------------------- sshd
# The system's sshd, run through a link named $SERVICE (OpenSSH takes its
# PAM service name from its program name, so it reads /etc/pam.d/$SERVICE
# and the machine's sshd is left alone), on a spare port of 127.0.0.1,
# with its own config and host key, UsePAM yes. ($E2E_SSHD: the binary.)
: "${E2E_SSHD:=/usr/sbin/sshd}"

# e2e_sshd_keys : host and client keys, the client's in the user's
# authorized_keys, and sshd's privilege separation dir
e2e_sshd_keys() {
	mkdir -m 0700 "$T/ssh"
	ssh-keygen -q -t ed25519 -N '' -C e2e-host -f "$T/ssh/host_key" || fail "ssh-keygen (host)"
	ssh-keygen -q -t ed25519 -N '' -C e2e-client -f "$T/ssh/id" || fail "ssh-keygen (client)"
	install -d -m 0700 -o "$E2E_UID" -g "$E2E_GID" "$E2E_HOME/.ssh"
	install -m 0600 -o "$E2E_UID" -g "$E2E_GID" "$T/ssh/id.pub" "$E2E_HOME/.ssh/authorized_keys"

	# sshd's privilege separation dir (Debian's init script or unit makes it)
	if [ ! -d /run/sshd ]; then
		mkdir -m 0755 /run/sshd
		E2E_RUNDIRS="$E2E_RUNDIRS /run/sshd"
	fi
}

# free_port : a TCP port of 127.0.0.1 that nobody listens on right now
free_port() {
	"$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_sshd : sshd on a spare port (SSHD_PORT), its pid recorded
start_sshd() {
	local try i
	ln -s "$E2E_SSHD" "$T/$SERVICE"
	for try in 1 2 3; do
		SSHD_PORT=$(free_port)
		cat >"$T/ssh/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $T/ssh/host_key
PidFile $T/ssh/sshd.pid
UsePAM yes
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $E2E_USER
StrictModes yes
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
LogLevel VERBOSE
EOF
		"$T/$SERVICE" -t -f "$T/ssh/sshd_config" || fail "sshd -t rejects the test config"
		"$T/$SERVICE" -D -f "$T/ssh/sshd_config" -E "$T/ssh/sshd.log" &
		SSHD_PID=$!
		E2E_PIDS="$E2E_PIDS $SSHD_PID"
		for ((i = 0; i < 50; i++)); do
			grep -q "Server listening on 127.0.0.1 port $SSHD_PORT" "$T/ssh/sshd.log" 2>/dev/null && break
			kill -0 "$SSHD_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$SSHD_PID" 2>/dev/null; then
			ok "sshd as $SERVICE on 127.0.0.1:$SSHD_PORT (PAM service $SERVICE)"
			return 0
		fi
		wait "$SSHD_PID"
	done
	sed 's/^/  sshd: /' "$T/ssh/sshd.log"
	fail "sshd did not start"
}

# ssh_user CMD : run CMD over ssh as the test user, key only, no prompt
ssh_user() {
	ssh -F /dev/null -T -p "$SSHD_PORT" -i "$T/ssh/id" -o IdentitiesOnly=yes \
		-o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile="$T/ssh/known_hosts" -o LogLevel=ERROR \
		"$E2E_USER@127.0.0.1" "$1"
}

