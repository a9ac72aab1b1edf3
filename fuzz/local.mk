# SPDX-License-Identifier: MIT
# fuzz/local.mk - libFuzzer targets for every parser (`make fuzz`).
#
# Built with clang whatever compiler configure picked (FUZZ_CC), straight
# from the sources, with ASan + UBSan + libFuzzer; never part of `make all`
# or `make check`. fuzz/README.md says how to run them.
#   make fuzz         build fuzz/fuzz_* in the build dir
#   make fuzz-smoke   run each briefly over its seed corpus (CI)

FUZZ_CC = clang
FUZZ_SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -std=gnu99 \
	-Wall -Wextra -Wno-unused-parameter -Wdeclaration-after-statement -Wcast-qual \
	-Wwrite-strings -Werror
FUZZ_CPPFLAGS = -include $(top_builddir)/config.h -I$(top_srcdir)/lib -I$(top_srcdir)/module \
	-I$(top_srcdir)/fuzz $(PB_PATHS) -DFUZZ_VENDOR_DIR='"$(abs_top_srcdir)/vendors"'
FUZZ_COMPILE = $(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JSONC_CFLAGS) $(CRYPTO_CFLAGS) $(FUZZ_CFLAGS) \
	$(FUZZ_SANITIZE)
FUZZ_LINK = $(FUZZ_COMPILE) -fsanitize=fuzzer
FUZZ_LIBS = fuzz/libbearer-fuzz.a $(JSONC_LIBS) $(CRYPTO_LIBS) -lm
# smoke: seconds per target
FUZZ_SMOKE_SECONDS = 10

FUZZ_NAMES = ini template jsonmap jwt header options proto config expiry ctl keyfile
FUZZ_TARGETS = fuzz/fuzz_ini fuzz/fuzz_template fuzz/fuzz_jsonmap fuzz/fuzz_jwt \
	fuzz/fuzz_header fuzz/fuzz_options fuzz/fuzz_proto fuzz/fuzz_config fuzz/fuzz_expiry \
	fuzz/fuzz_ctl fuzz/fuzz_keyfile

# The lib code under test, instrumented for coverage, in one archive: each
# target links only the objects it uses. No libcurl: fetch.c's HTTP layer
# is fuzz/fake_http.c in fuzz_header.
FUZZ_LIB_SRC = \
	$(top_srcdir)/lib/util.c $(top_srcdir)/lib/ini.c $(top_srcdir)/lib/conf.c \
	$(top_srcdir)/lib/conf_keys.c $(top_srcdir)/lib/conf_check.c $(top_srcdir)/lib/conf_applies.c \
	$(top_srcdir)/lib/jws.c \
	$(top_srcdir)/lib/creds.c $(top_srcdir)/lib/template.c $(top_srcdir)/lib/jsonmap.c \
	$(top_srcdir)/lib/jwt.c $(top_srcdir)/lib/expiry.c $(top_srcdir)/lib/store.c \
	$(top_srcdir)/lib/storefile.c \
	$(top_srcdir)/lib/proto.c $(top_srcdir)/lib/token.c $(top_srcdir)/lib/fetch.c \
	$(top_srcdir)/lib/ctl.c \
	$(top_srcdir)/module/options.c
FUZZ_LIB_HDR = \
	$(top_srcdir)/lib/util.h $(top_srcdir)/lib/ini.h $(top_srcdir)/lib/conf.h \
	$(top_srcdir)/lib/conf_int.h $(top_srcdir)/lib/jws.h \
	$(top_srcdir)/lib/creds.h $(top_srcdir)/lib/template.h $(top_srcdir)/lib/jsonmap.h \
	$(top_srcdir)/lib/jwt.h $(top_srcdir)/lib/expiry.h $(top_srcdir)/lib/store.h \
	$(top_srcdir)/lib/storefile.h \
	$(top_srcdir)/lib/proto.h $(top_srcdir)/lib/token.h $(top_srcdir)/lib/fetch.h \
	$(top_srcdir)/lib/http.h $(top_srcdir)/lib/ctl.h \
	$(top_srcdir)/module/options.h

fuzz/libbearer-fuzz.a: $(FUZZ_LIB_SRC) $(FUZZ_LIB_HDR) $(top_builddir)/config.h \
		$(srcdir)/fuzz/local.mk
	@$(MKDIR_P) fuzz/obj
	$(AM_V_GEN)set -e; rm -f $@ fuzz/obj/*.o; \
	for src in $(FUZZ_LIB_SRC); do \
	  $(FUZZ_COMPILE) -fsanitize=fuzzer-no-link -c -o fuzz/obj/`basename $$src .c`.o $$src; \
	done; \
	$(AR) rcs $@ fuzz/obj/*.o

FUZZ_DEPS = $(srcdir)/fuzz/fuzz.h fuzz/libbearer-fuzz.a
fuzz/fuzz_ini: $(srcdir)/fuzz/fuzz_ini.c $(FUZZ_DEPS)
	$(AM_V_CCLD)$(FUZZ_LINK) -o $@ $(srcdir)/fuzz/fuzz_ini.c $(FUZZ_LIBS)
fuzz/fuzz_template: $(srcdir)/fuzz/fuzz_template.c $(FUZZ_DEPS)
	$(AM_V_CCLD)$(FUZZ_LINK) -o $@ $(srcdir)/fuzz/fuzz_template.c $(FUZZ_LIBS)
fuzz/fuzz_jsonmap: $(srcdir)/fuzz/fuzz_jsonmap.c $(FUZZ_DEPS)
	$(AM_V_CCLD)$(FUZZ_LINK) -o $@ $(srcdir)/fuzz/fuzz_jsonmap.c $(FUZZ_LIBS)
fuzz/fuzz_jwt: $(srcdir)/fuzz/fuzz_jwt.c $(FUZZ_DEPS)
	$(AM_V_CCLD)$(FUZZ_LINK) -o $@ $(srcdir)/fuzz/fuzz_jwt.c $(FUZZ_LIBS)
fuzz/fuzz_header: $(srcdir)/fuzz/fuzz_header.c $(srcdir)/fuzz/fake_http.c $(srcdir)/fuzz/fake_http.h $(FUZZ_DEPS)
	$(AM_V_CCLD)$(FUZZ_LINK) -o $@ $(srcdir)/fuzz/fuzz_header.c $(srcdir)/fuzz/fake_http.c \
		$(FUZZ_LIBS)
fuzz/fuzz_options: $(srcdir)/fuzz/fuzz_options.c $(FUZZ_DEPS)
	$(AM_V_CCLD)$(FUZZ_LINK) -o $@ $(srcdir)/fuzz/fuzz_options.c $(FUZZ_LIBS)
fuzz/fuzz_proto: $(srcdir)/fuzz/fuzz_proto.c $(FUZZ_DEPS)
	$(AM_V_CCLD)$(FUZZ_LINK) -o $@ $(srcdir)/fuzz/fuzz_proto.c $(FUZZ_LIBS)
fuzz/fuzz_config: $(srcdir)/fuzz/fuzz_config.c $(FUZZ_DEPS)
	$(AM_V_CCLD)$(FUZZ_LINK) -o $@ $(srcdir)/fuzz/fuzz_config.c $(FUZZ_LIBS)
fuzz/fuzz_expiry: $(srcdir)/fuzz/fuzz_expiry.c $(FUZZ_DEPS)
	$(AM_V_CCLD)$(FUZZ_LINK) -o $@ $(srcdir)/fuzz/fuzz_expiry.c $(FUZZ_LIBS)
fuzz/fuzz_ctl: $(srcdir)/fuzz/fuzz_ctl.c $(FUZZ_DEPS)
	$(AM_V_CCLD)$(FUZZ_LINK) -o $@ $(srcdir)/fuzz/fuzz_ctl.c $(FUZZ_LIBS)
fuzz/fuzz_keyfile: $(srcdir)/fuzz/fuzz_keyfile.c $(FUZZ_DEPS)
	$(AM_V_CCLD)$(FUZZ_LINK) -o $@ $(srcdir)/fuzz/fuzz_keyfile.c $(FUZZ_LIBS)

fuzz: $(FUZZ_TARGETS)
fuzz-smoke: fuzz
	$(SHELL) $(srcdir)/fuzz/smoke.sh fuzz $(srcdir)/fuzz/corpus $(FUZZ_SMOKE_SECONDS) \
		$(FUZZ_NAMES)
.PHONY: fuzz fuzz-smoke

CLEANFILES += $(FUZZ_TARGETS) fuzz/libbearer-fuzz.a fuzz/obj/*.o fuzz/smoke-artifacts/*
EXTRA_DIST += fuzz/README.md fuzz/smoke.sh fuzz/fuzz.h fuzz/fake_http.c fuzz/fake_http.h \
	fuzz/fuzz_ini.c fuzz/fuzz_template.c fuzz/fuzz_jsonmap.c fuzz/fuzz_jwt.c \
	fuzz/fuzz_header.c fuzz/fuzz_options.c fuzz/fuzz_proto.c fuzz/fuzz_config.c \
	fuzz/fuzz_expiry.c fuzz/fuzz_ctl.c fuzz/fuzz_keyfile.c fuzz/corpus
