# SPDX-License-Identifier: MIT
# bench/local.mk - `make bench`: pam_bearer against the pam_exec + curl + jq
# script admins write today, and against one bare curl (bench/RESULTS.md
# says what each section measures).
# Figures, never assertions; not part of make check.
#   make bench                 the full run (15 to 20 minutes); rewrites
#                              bench/RESULTS.md and bench/latency.png in the
#                              source tree
#   make bench BENCH_QUICK=1   a short run for development; its report goes
#                              to bench-out/ in the build dir only
# Raw data (samples, results.tsv, logs): bench-out/ in the build dir.
EXTRA_PROGRAMS = bench/pam_open bench/timeit
bench_pam_open_SOURCES = bench/pam_open.c
bench_pam_open_LDADD = $(PAM_LIBS)
bench_timeit_SOURCES = bench/timeit.c
BENCH_ENV = $(AM_TESTS_ENVIRONMENT) \
	BENCH_BIN='$(abs_top_builddir)/bench'; BENCH_SRC='$(abs_top_srcdir)/bench'; \
	BENCH_OUT='$(abs_top_builddir)/bench-out'; BENCH_QUICK='$(BENCH_QUICK)'; \
	export BENCH_BIN BENCH_SRC BENCH_OUT BENCH_QUICK;
bench: all $(check_LTLIBRARIES) $(check_PROGRAMS) bench/pam_open bench/timeit
	@$(BENCH_ENV) $(SHELL) $(srcdir)/bench/run.sh
.PHONY: bench
CLEANFILES += $(EXTRA_PROGRAMS)
clean-local: clean-bench
clean-bench:
	rm -rf bench-out
.PHONY: clean-bench
EXTRA_DIST += bench/run.sh bench/lib.sh bench/sessions.sh bench/refresher.sh bench/report.sh bench/notes.md \
	bench/sampler.py \
	bench/fetch-token.sh bench/RESULTS.md bench/latency.png
