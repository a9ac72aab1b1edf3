#!/bin/sh
# SPDX-License-Identifier: MIT
# test_exports.sh - the shape of the pam_bearer.so that gets installed
# ($PAM_MODULE_SO): what libpam and an admin rely on.
#   - it exports pam_sm_open_session and pam_sm_close_session, nothing else
#     (a stray export can be interposed by, or clash with, the host)
#   - it needs libpam and never libcurl or libcrypto (no HTTP and no
#     signing inside sshd/login/gdm), and bearer-token neither: the HTTP
#     worker bearer-fetch does both
#   - no RPATH/RUNPATH (a module must not pull libraries from build dirs)
# and the hardening of every object we build and install: pam_bearer.so,
# bearer-token, bearer-fetch (when this build has it) and the test copy
# $BEARER_TOKEN_BIN when it is another file. Each must have:
#   - full RELRO: a GNU_RELRO segment and BIND_NOW (DT_FLAGS BIND_NOW or
#     DT_FLAGS_1 NOW), so the GOT is read-only before any of our code runs
#   - a non-executable stack (GNU_STACK RW, not RWE)
#   - the stack protector: it imports __stack_chk_fail
#   - FORTIFY: it imports some *_chk function (not in a sanitizer build,
#     where configure leaves _FORTIFY_SOURCE out: ASan does that checking)
#   - executables only: position-independent (ET_DYN with DF_1_PIE)
# A failure is one line naming the object and the missing property.
# Exit 0 pass, 1 fail, 77 skip.
set -u

command -v readelf >/dev/null 2>&1 || { echo "SKIP: readelf not found"; exit 77; }
: "${PAM_MODULE_SO:?PAM_MODULE_SO is not set}"
[ -f "$PAM_MODULE_SO" ] || { echo "not ok - no module at $PAM_MODULE_SO"; exit 1; }

failed=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; failed=1; }

dyn=$(readelf -dW "$PAM_MODULE_SO") || { echo "not ok - readelf -d failed"; exit 1; }
phdr=$(readelf -lW "$PAM_MODULE_SO") || { echo "not ok - readelf -l failed"; exit 1; }

# defined, global or weak, dynamic symbols (functions and objects), names
# without version suffixes
syms=$(readelf --dyn-syms -W "$PAM_MODULE_SO" |
	awk '$7 != "UND" && ($5 == "GLOBAL" || $5 == "WEAK") && $4 != "SECTION" && $4 != "FILE" && $8 != "" { sub(/@.*/, "", $8); print $8 }' |
	sort -u)
want=$(printf '%s\n' pam_sm_close_session pam_sm_open_session)
if [ "$syms" = "$want" ]; then
	ok "exports exactly pam_sm_open_session and pam_sm_close_session"
else
	bad "exports [$(echo $syms)], want [$(echo $want)]"
fi
if command -v nm >/dev/null 2>&1; then
	nsyms=$(nm -D --defined-only "$PAM_MODULE_SO" | awk '$2 ~ /^[A-Z]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u)
	[ "$nsyms" = "$want" ] && ok "nm -D agrees" || bad "nm -D --defined-only shows [$(echo $nsyms)]"
fi

needed=$(echo "$dyn" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p')
echo "# NEEDED: $(echo $needed)"
echo "$needed" | grep -q '^libpam\.so' && ok "needs libpam" || bad "libpam is not in DT_NEEDED"
echo "$needed" | grep -qi 'curl' && bad "links libcurl" || ok "no libcurl"
echo "$needed" | grep -qE '^lib(crypto|ssl)\.so' && bad "links libcrypto/libssl" || ok "no libcrypto (signing is bearer-fetch's)"

echo "$dyn" | grep -qE '\((RPATH|RUNPATH)\)' && bad "has an RPATH/RUNPATH: $(echo "$dyn" | grep -E '\((RPATH|RUNPATH)\)')" ||
	ok "no RPATH/RUNPATH"

# ------------------------------------------------------------ hardening
# hardened OBJECT exe|lib : the properties above, one line each
hardened() {
	local f=$1 kind=$2 name dyn phdr hdr imports stack
	name=${f#"$top"/}
	if ! dyn=$(readelf -dW "$f" 2>&1) || ! phdr=$(readelf -lW "$f" 2>&1) ||
		! hdr=$(readelf -hW "$f" 2>&1); then
		bad "$name: readelf cannot read it (not an ELF object?)"
		return
	fi
	imports=$(readelf --dyn-syms -W "$f" | awk '$7 == "UND" { sub(/@.*/, "", $8); print $8 }')

	echo "$phdr" | grep -q 'GNU_RELRO' && ok "$name: GNU_RELRO" ||
		bad "$name: no GNU_RELRO segment (link with -Wl,-z,relro)"
	if echo "$dyn" | grep -qE '\(BIND_NOW\)|\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW'; then
		ok "$name: BIND_NOW (full RELRO)"
	else
		bad "$name: no BIND_NOW, so only partial RELRO (link with -Wl,-z,now)"
	fi
	stack=$(echo "$phdr" | awk '$1 == "GNU_STACK" { print $(NF-1) }')
	case "$stack" in
	RW) ok "$name: non-executable stack" ;;
	"") bad "$name: no GNU_STACK segment, so an executable stack (link with -Wl,-z,noexecstack)" ;;
	*) bad "$name: GNU_STACK flags are $stack, want RW (an executable stack)" ;;
	esac
	echo "$imports" | grep -qx '__stack_chk_fail' && ok "$name: stack protector" ||
		bad "$name: does not import __stack_chk_fail (built without -fstack-protector-strong)"
	if [ -n "${ASAN_RUNTIME:-}" ]; then
		echo "# $name: FORTIFY not checked in a sanitizer build"
	else
		echo "$imports" | grep -qE '^__[a-z_]+_chk$' && ok "$name: FORTIFY ($(echo $(echo "$imports" | grep -E '^__[a-z_]+_chk$' | grep -v stack_chk | head -3)))" ||
			bad "$name: imports no *_chk function (built without -D_FORTIFY_SOURCE and -O)"
	fi
	if [ "$kind" = exe ]; then
		if echo "$hdr" | grep -qE 'Type: +DYN' && echo "$dyn" | grep -qE '\(FLAGS_1\).*PIE'; then
			ok "$name: PIE"
		else
			bad "$name: not a position-independent executable (build with -fPIE, link with -pie)"
		fi
	fi
}

# elf_of FILE : FILE, or the real program behind a libtool wrapper script
elf_of() {
	local d=${1%/*} b=${1##*/}
	if [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; then
		echo "$1"
	elif [ -f "$d/.libs/$b" ]; then
		echo "$d/.libs/$b"
	elif [ -f "$d/.libs/lt-$b" ]; then
		echo "$d/.libs/lt-$b"
	else
		echo "$1"
	fi
}

top=$(cd "$(dirname "$PAM_MODULE_SO")/.." && pwd)   # the build dir: .libs/pam_bearer.so
hardened "$PAM_MODULE_SO" lib
if [ -f "$top/bearer-token" ]; then
	hardened "$(elf_of "$top/bearer-token")" exe
	# the CLI and refresher: no HTTP and no signing key ever in them
	readelf -dW "$(elf_of "$top/bearer-token")" | grep -qE 'NEEDED.*\[lib(curl|crypto|ssl)\.so' &&
		bad "bearer-token links libcurl or libcrypto" || ok "bearer-token: no libcurl, no libcrypto"
else
	bad "bearer-token: not found in $top"
fi
if [ -n "${BEARER_TOKEN_BIN:-}" ] && [ -f "$BEARER_TOKEN_BIN" ] &&
	[ "$(elf_of "$BEARER_TOKEN_BIN")" != "$(elf_of "$top/bearer-token")" ]; then
	hardened "$(elf_of "$BEARER_TOKEN_BIN")" exe
fi
# the HTTP worker, where this build has one (installed in pkglibexecdir)
for f in "$top/bearer-fetch" "$top"/*/bearer-fetch; do
	[ -f "$f" ] && hardened "$(elf_of "$f")" exe
done

exit $failed
