# SPDX-License-Identifier: MIT
# tests/valgrind/local.mk - `make valgrind`: the PAM module (1,000 session
# cycles in one process) and the helper's commands under valgrind memcheck.
# Not part of `make check` (minutes, and valgrind is optional); .ci/valgrind
# runs it. Each script prints its figures and exits 0 only when clean.
VALGRIND_TESTS = tests/valgrind/pam_cycles.sh tests/valgrind/helper.sh
valgrind: all $(check_LTLIBRARIES) $(check_PROGRAMS) bench/pam_open
	@fail=0; for t in $(VALGRIND_TESTS); do \
		echo "# $$t"; \
		$(AM_TESTS_ENVIRONMENT) BENCH_PAM_OPEN=$(abs_top_builddir)/bench/pam_open \
			$(SHELL) $(srcdir)/$$t || { echo "FAIL: $$t"; fail=1; }; \
	done; exit $$fail
.PHONY: valgrind
EXTRA_DIST += $(VALGRIND_TESTS) tests/valgrind/vg.sh tests/valgrind/pam_bearer.supp
