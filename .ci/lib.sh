# SPDX-License-Identifier: MIT
# .ci/lib.sh - shared by the CI stages .ci/sanitizers, .ci/valgrind and
# .ci/lint (bash; sourced, not run).
#
# Each stage builds from a private copy of the source in its own work dir
# ($PB_CI_DIR, default /tmp/pam_bearer-ci.STAGE), so it never touches the
# checkout and works whether the checkout was configured in place or not
# (an in-place configure would make a VPATH build refuse to start).
#
#   ci_init STAGE         work dir W, a clean W/src and W/build, the timer
#   ci_configure ARGS...  autogen.sh in W/src, configure ARGS in W/build
#   ci_make TARGETS...    make -j2 in W/build, quiet unless it fails
#   ci_finish STATUS MSG  print "STAGE: ok|FAILED - MSG (N s)" and exit
set -u

ci_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ci_copy_source SRC DEST : the source files of SRC (the checkout) into
# DEST. In a git checkout: the tracked and the untracked-but-not-ignored
# files as they are on disk (so uncommitted work is tested too, and build
# output is not). Otherwise: everything but build dirs, then a distclean.
ci_copy_source() {
	local src=$1 dest=$2 list=$W/files.list
	mkdir -p "$dest" || return 1
	# (git refuses a checkout another user owns: then the plain copy)
	if [ -d "$src/.git" ] && command -v git >/dev/null 2>&1 &&
		(cd "$src" && git ls-files -z -co --exclude-standard) >"$list" 2>/dev/null && [ -s "$list" ]; then
		(cd "$src" && while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done <"$list" |
			tar --null -T - -cf -) | tar -xf - -C "$dest"
	else
		tar -C "$src" --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$dest" &&
			if [ -f "$dest/Makefile" ]; then make -C "$dest" distclean >/dev/null 2>&1 || true; fi
	fi
}

ci_init() {
	CI_STAGE=$1
	W=${PB_CI_DIR:-/tmp/pam_bearer-ci.$CI_STAGE}
	# another user's run may have left the default dir behind
	[ -n "${PB_CI_DIR:-}" ] || [ "$(id -u)" -eq 0 ] || W=$W.$(id -u)
	CI_T0=$EPOCHSECONDS
	echo "== $CI_STAGE: source $ci_top, work dir $W"
	rm -rf "$W" && mkdir -p "$W/build" || ci_finish 1 "cannot create $W"
	ci_copy_source "$ci_top" "$W/src" || ci_finish 1 "cannot copy the source to $W/src"
}

# ci_log_tail FILE : the last lines of a log, indented, after a failure
ci_log_tail() { tail -n "${2:-30}" "$1" | sed 's/^/    /'; }

ci_configure() {
	(cd "$W/src" && ./autogen.sh) >"$W/autogen.log" 2>&1 ||
		{ ci_log_tail "$W/autogen.log"; ci_finish 1 "autogen.sh failed (log: $W/autogen.log)"; }
	(cd "$W/build" && ../src/configure "$@") >"$W/configure.log" 2>&1 ||
		{ ci_log_tail "$W/configure.log"; ci_finish 1 "configure $* failed (log: $W/configure.log)"; }
}

ci_make() {
	make -C "$W/build" -j2 "$@" >>"$W/make.log" 2>&1 ||
		{ ci_log_tail "$W/make.log"; ci_finish 1 "make $* failed (log: $W/make.log)"; }
}

ci_finish() { # STATUS MESSAGE
	local verdict=ok
	[ "$1" -eq 0 ] || verdict=FAILED
	echo "$CI_STAGE: $verdict - $2 ($((EPOCHSECONDS - CI_T0)) s)"
	exit "$1"
}
