#!/bin/sh
# test_exports.sh - the shape of the pam_bearer.so that gets installed
# ($PAM_MODULE_SO): what libpam and an admin rely on.
#   - it exports pam_sm_open_session and pam_sm_close_session, nothing else
#     (a stray export can be interposed by, or clash with, the host)
#   - it needs libpam and never libcurl (no HTTP inside sshd/login/gdm: the
#     helper does it)
#   - no RPATH/RUNPATH (a module must not pull libraries from build dirs)
#   - hardened: BIND_NOW, GNU_RELRO, a non-executable stack
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

echo "$dyn" | grep -qE '\((RPATH|RUNPATH)\)' && bad "has an RPATH/RUNPATH: $(echo "$dyn" | grep -E '\((RPATH|RUNPATH)\)')" ||
	ok "no RPATH/RUNPATH"

if echo "$dyn" | grep -qE '\(BIND_NOW\)|\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW'; then
	ok "BIND_NOW"
else
	bad "not linked with -z now"
fi
echo "$phdr" | grep -q 'GNU_RELRO' && ok "GNU_RELRO" || bad "no GNU_RELRO segment"
stack=$(echo "$phdr" | awk '$1 == "GNU_STACK" { print $(NF-1) }')
case "$stack" in
RW) ok "non-executable stack" ;;
"") bad "no GNU_STACK segment (the stack would be executable)" ;;
*) bad "GNU_STACK flags are $stack, want RW" ;;
esac

exit $failed
