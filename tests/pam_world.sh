# SPDX-License-Identifier: MIT
# tests/pam_world.sh - a throw-away PAM world for one user under cwrap, for
# the demo and the benchmark. Source it after lib.sh, with T set.
#
#   pam_world NAME [MOCK OPTIONS]
#                     sets U, G, PRELOAD, MOCK and CTL_PORT (a fresh mock,
#                     started with these extra options, e.g. --max-seconds);
#                     writes passwd/group for NAME, the config with every
#                     preset pointing at the mock, NAME's credentials and
#                     runtime dir, and pam_env.conf (standing in for
#                     pam_systemd, which sets XDG_RUNTIME_DIR)
#   pam_service SVC [module options]
#                     a service file: pam_env, then the test module
#   in_pam CMD...     run CMD in that world: pam_wrapper, nss_wrapper, and,
#                     when we are not root, uid_wrapper's fake root (as root
#                     it would fake the helper's setuid too, so it stays out)

pam_world() {
	local name=$1; shift
	[ -n "${PAM_WRAPPER_SO:-}" ] && [ -n "${NSS_WRAPPER_SO:-}" ] || skip "cwrap libraries not found"
	if [ "$(id -u)" -eq 0 ]; then U=4242 G=4242 PRELOAD="$PAM_WRAPPER_SO:$NSS_WRAPPER_SO"
	else U=$(id -u) G=$(id -g) PRELOAD="$PAM_WRAPPER_SO:$UID_WRAPPER_SO:$NSS_WRAPPER_SO"; fi
	make_certs "$T"
	start_mock MOCK --cert "$T/server.pem" --key "$T/server.key" "$@"
	MOCK="https://127.0.0.1:$MOCK_PORT" CTL_PORT=$MOCK_CTL_PORT
	mkdir -p "$T/services" "$T/run/$U" "$T/home"
	printf 'root:x:0:0:root:/root:/bin/sh\n%s:x:%s:%s:%s:%s:/bin/sh\n' \
		"$name" "$U" "$G" "$name" "$T/home" >"$T/passwd"
	printf 'root:x:0:\n%s:x:%s:\n' "$name" "$G" >"$T/group"
	BEARER_CONFIG=$T/pam_bearer.conf XDG_CONFIG_HOME=$T/home/.config
	write_config
	write_creds
	chmod 0644 "$T/ca.pem"
	chmod 0700 "$T/run/$U"
	[ "$(id -u)" -eq 0 ] && chown -R "$U:$G" "$T/run/$U" "$T/home"
	echo "XDG_RUNTIME_DIR DEFAULT=$T/run/$U" >"$T/pam_env.conf"
	echo "session required pam_deny.so" >"$T/services/other"
}

pam_service() {
	local svc=$1; shift
	printf 'session required pam_env.so readenv=0 conffile=%s\nsession optional %s config=%s %s\n' \
		"$T/pam_env.conf" "$PAM_TEST_MODULE_SO" "$T/pam_bearer.conf" "$*" >"$T/services/$svc"
}

in_pam() {
	env LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" \
	    PAM_WRAPPER_DEBUGLEVEL="${PAM_WRAPPER_DEBUGLEVEL:-0}" UID_WRAPPER=1 UID_WRAPPER_ROOT=1 \
	    NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group" "$@"
}
