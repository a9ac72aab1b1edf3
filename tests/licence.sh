#!/bin/bash
# SPDX-License-Identifier: MIT
# licence.sh - pam_bearer is released under the MIT licence, and says so
# where a reader or a tool looks:
#   - LICENSE holds the MIT text;
#   - debian/copyright is machine-readable (DEP-5) and gives Files: * the
#     Expat licence (Debian's name for MIT) with its text;
#   - every source, script, man page, preset and test carries the line
#     "SPDX-License-Identifier: MIT" in its first three lines.
# Data is left alone: fuzz corpora, example configs an admin copies,
# packaging metadata and prose (*.md). Every file missing the line is one
# "not ok" line naming it.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
: "${TESTS_SRCDIR:=$(cd "$(dirname "$0")" && pwd)}"
top=$TESTS_SRCDIR/..
shopt -s nullglob globstar
bad=0 n=0
nok() { echo "not ok - $*"; bad=$((bad + 1)); }

grep -q '^MIT License$' "$top/LICENSE" 2>/dev/null &&
	grep -q 'Permission is hereby granted, free of charge' "$top/LICENSE" ||
	nok "LICENSE does not hold the MIT licence"
if [ -f "$top/debian/copyright" ]; then
	c=$top/debian/copyright
	head -1 "$c" | grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/$' ||
		nok "debian/copyright is not machine-readable (no DEP-5 Format: line)"
	awk '/^Files: \*$/ { f = 1 } f && /^License: / { print; exit }' "$c" | grep -q '^License: Expat$' ||
		nok "debian/copyright: Files: * is not License: Expat"
	grep -q '^License: Expat$' <(grep -v '^Files' "$c" | sed -n '/^License: Expat$/,$p') &&
		grep -q 'Permission is hereby granted' "$c" || nok "debian/copyright lacks the Expat text"
fi

# sources, scripts, man pages, presets and tests (a distribution tarball
# has a subset of them: what is there is checked)
cd "$top" || exit 99
for f in lib/*.[ch] helper/*.[ch] module/*.[ch] module/*.map fuzz/*.[ch] fuzz/*.sh fuzz/*.mk \
	tests/**/*.c tests/**/*.sh tests/**/*.py tests/**/*.mk tests/**/*.supp \
	bench/*.c bench/*.sh bench/*.py bench/*.mk .ci/* .clang-tidy Makefile.am configure.ac \
	autogen.sh man/* vendors/*.conf examples/*.sh examples/scripts/* examples/systemd/* \
	examples/kubernetes/*.yaml debian/rules debian/*.postinst debian/*.postrm debian/*.prerm; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	head -3 "$f" | grep -q 'SPDX-License-Identifier: MIT' || nok "$f has no SPDX-License-Identifier: MIT line"
done
[ "$n" -ge 40 ] || nok "only $n files found to check under $top"
echo "# $n files checked, $bad problems"
[ "$bad" -eq 0 ]
