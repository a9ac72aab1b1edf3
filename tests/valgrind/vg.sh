# SPDX-License-Identifier: MIT
# tests/valgrind/vg.sh - run a program under valgrind memcheck and judge
# the result (bash; sourced after tests/lib.sh).
#
#   vg_run NAME CMD...   run CMD under memcheck; the log goes to $T/vg/NAME.*
#                        (one file per process: with VG_CHILDREN=yes, the
#                        default, the programs CMD starts are checked too;
#                        with VG_WRAP=FUNCTION, FUNCTION runs valgrind,
#                        e.g. in_pam to put it in the cwrap PAM world);
#                        RC is CMD's exit status (VG_ERROR_RC: memcheck
#                        found an error or a definite/indirect leak)
#   vg_judge NAME WHAT   ok or fail with the figures: errors, definitely and
#                        indirectly lost bytes, summed over NAME's processes
#
# Only errors count, and leaks of the kinds that are always bugs: definitely
# lost (nothing points to the block) and indirectly lost (only lost blocks
# point to it). "Still reachable" memory is what a library keeps until exit
# (libpam, OpenSSL, nss) and "possibly lost" is an interior pointer, which
# is how several libraries keep their pools: neither makes the run fail.
# Suppressions: tests/valgrind/pam_bearer.supp, each entry with its reason.

VG_ERROR_RC=99
command -v valgrind >/dev/null 2>&1 || skip "valgrind not found"
VG_SUPP=${VG_SUPP:-$TESTS_SRCDIR/valgrind/pam_bearer.supp}
[ -f "$VG_SUPP" ] || fail "no suppression file $VG_SUPP"

vg_run() {
	local name=$1
	shift
	mkdir -p "$T/vg"
	# the cwrap libraries open the real libraries with RTLD_DEEPBIND,
	# which valgrind's malloc replacement cannot follow
	run_cmd ${VG_WRAP:-} env PAM_WRAPPER_DISABLE_DEEPBIND=1 NSS_WRAPPER_DISABLE_DEEPBIND=1 \
		UID_WRAPPER_DISABLE_DEEPBIND=1 \
		valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=$VG_ERROR_RC \
		--num-callers=30 --trace-children="${VG_CHILDREN:-yes}" \
		--suppressions="$VG_SUPP" --gen-suppressions=all \
		--log-file="$T/vg/$name.%p" "$@"
}

# vg_sum NAME FIELD-REGEX : the sum of a figure over NAME's logs
vg_sum() {
	cat "$T/vg/$1".* 2>/dev/null | sed -n "s/.*$2: *\([0-9,]*\) .*/\1/p" | tr -d , |
		awk '{ s += $1 } END { print s + 0 }'
}

vg_judge() {
	local name=$1 what=$2 nlogs errors def ind
	nlogs=$(ls "$T/vg/$name".* 2>/dev/null | wc -l)
	[ "$nlogs" -gt 0 ] || { fail "$what: valgrind wrote no log"; return 1; }
	errors=$(vg_sum "$name" 'ERROR SUMMARY')
	def=$(vg_sum "$name" 'definitely lost')
	ind=$(vg_sum "$name" 'indirectly lost')
	echo "# $what: $nlogs process(es) under memcheck, $errors errors," \
		"$def bytes definitely and $ind indirectly lost (exit $RC)"
	if [ "$errors" -ne 0 ] || [ "$def" -ne 0 ] || [ "$ind" -ne 0 ] || [ "$RC" -eq "$VG_ERROR_RC" ]; then
		grep -l -E 'ERROR SUMMARY: [1-9]|(definitely|indirectly) lost: [1-9]' "$T/vg/$name".* |
			head -3 | while read -r f; do
				echo "  --- $f"
				awk '/^==[0-9]+== .*(are (definitely|indirectly) lost in|Invalid|uninitiali[sz]ed|Mismatched|overlap|Syscall param|Conditional jump|Use of)/ { p = 1 }
					p { print "  " $0 } p && /^==[0-9]+== $/ { p = 0 }' "$f" | head -60
			done
		fail "$what: memcheck found errors or leaks (PB_KEEP_TMP=1 keeps the logs, $T/vg/$name.*)"
		return 1
	fi
	ok "$what: no memcheck error, no definite or indirect leak"
}
