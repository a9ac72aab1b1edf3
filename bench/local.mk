# bench/local.mk - `make bench`: figures, never assertions (not part of make check).
EXTRA_PROGRAMS = bench/pam_open
bench_pam_open_SOURCES = bench/pam_open.c
bench_pam_open_LDADD = $(PAM_LIBS)
bench: all $(check_LTLIBRARIES) bench/pam_open
	@$(AM_TESTS_ENVIRONMENT) BENCH_PAM_OPEN=$(abs_top_builddir)/bench/pam_open \
		$(SHELL) $(srcdir)/bench/fastpath.sh
.PHONY: bench
CLEANFILES += $(EXTRA_PROGRAMS)
EXTRA_DIST += bench/fastpath.sh

