# SPDX-License-Identifier: MIT
# tests/e2e/local.mk - end-to-end tests with real sshd, su and pamtester (root only).
#
# They test the INSTALLED pam_bearer (the Debian package, or a `make install`
# with E2E_PAM_MODULE, E2E_BEARER_TOKEN and E2E_VENDOR_DIR pointing at it;
# see tests/e2e/fixture.sh), add throw-away users and PAM services, and so
# are not part of `make check`. As root:
#     make check-e2e      # log: tests/e2e/test-suite.log
# .ci/e2e builds and installs the package, then runs this. Not root: each
# script says so and exits 77 (skip).
E2E_TESTS = \
	tests/e2e/sshd.sh \
	tests/e2e/su.sh \
	tests/e2e/pamtester.sh \
	tests/e2e/broker.sh

# the automake harness (.sh.log rules), on these scripts only, with a log
# of its own; nothing is built (check-TESTS would build every check
# program first: emptied here, the e2e tests use none of them)
check-e2e:
	@$(MAKE) $(AM_MAKEFLAGS) check-TESTS TESTS='$(E2E_TESTS)' \
		TEST_SUITE_LOG=tests/e2e/test-suite.log check_PROGRAMS= check_LTLIBRARIES=
.PHONY: check-e2e

EXTRA_DIST += $(E2E_TESTS) tests/e2e/fixture.sh .ci/e2e
CLEANFILES += tests/e2e/test-suite.log $(E2E_TESTS:.sh=.log) $(E2E_TESTS:.sh=.trs)
