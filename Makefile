# Witan build.
#
#   make            libraries, build/bin/witand and build/bin/witan
#   make test       every unit test program, then a summary (non-zero on failure)
#   make bench      every benchmark, figures beside their references
#   make demo       four validators, the climate data, model and contract,
#                   one validator killed, an offline audit (tests/demo/demo.sh)
#   make deps       the Debian packages the project needs (run automatically
#                   by the targets above when one is missing)
#   make SAN=1 ...  the same with AddressSanitizer and UBSan, in build-san/
#   make install    programs, man pages, bash completion, systemd unit
#                   (PREFIX=/usr/local, DESTDIR=; see "install" below)
#
# Each top-level module folder becomes one static library from its *.c files;
# a module's main.c is a program instead (node/main.c is witand, cli/main.c is
# witan). Tests live in tests/<module>/: each test_*.c is a cmocka program,
# each bench_*.c a benchmark, and the other *.c files there (except main_*.c)
# are support code linked into both. tests/<module>/rules.mk may add targets.

SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer
else
BUILD ?= build
SAN_FLAGS :=
endif

CC ?= cc
OPT ?= -O2 -g
CPPFLAGS := -I. -I$(BUILD)/gen -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN := -Wall -Wextra -Werror
CFLAGS_COMMON := -std=c11 $(OPT) $(SAN_FLAGS) -MMD -MP
CFLAGS_PROJECT := $(CFLAGS_COMMON) $(WARN)
# Generated protobuf code is not ours to fix; it still gets the warnings.
CFLAGS_GEN := $(CFLAGS_COMMON) -Wall
LDFLAGS := $(SAN_FLAGS)
LDLIBS := -lnng -lmbedtls -lmbedx509 -lmbedcrypto -llmdb -lsecp256k1 -lsodium \
          -lprotobuf-c -lpthread -lm

# Link order: a module before the modules it uses.
MODULES := cli node render ledger contracts/lang contracts consensus storage inference vm crypto common

# --- Debian packages ---------------------------------------------------------
# package:file-that-proves-it (libnng-dev ships no pkg-config file, so headers
# and binaries are the test for every package alike).
DEP_CHECKS := \
    libsodium-dev:/usr/include/sodium.h \
    liblmdb-dev:/usr/include/lmdb.h \
    lmdb-utils:/usr/bin/mdb_stat \
    libsecp256k1-dev:/usr/include/secp256k1.h \
    libprotobuf-c-dev:/usr/include/protobuf-c/protobuf-c.h \
    protobuf-c-compiler:/usr/bin/protoc-c \
    libnng-dev:/usr/include/nng/nng.h \
    libmbedtls-dev:/usr/include/mbedtls/version.h \
    libcmocka-dev:/usr/include/cmocka.h \
    lua5.4:/usr/bin/lua5.4 \
    clang:/usr/bin/clang \
    libclang-rt-14-dev:/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a \
    protobuf-compiler:/usr/bin/protoc \
    python3-protobuf:/usr/lib/python3/dist-packages/google/protobuf/__init__.py \
    python3-nacl:/usr/lib/python3/dist-packages/nacl/__init__.py
dep_pkg = $(word 1,$(subst :, ,$(1)))
dep_file = $(word 2,$(subst :, ,$(1)))
DEP_MISSING := $(strip $(foreach d,$(DEP_CHECKS),\
    $(if $(wildcard $(call dep_file,$(d))),,$(call dep_pkg,$(d)))))
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
ifneq ($(DEP_MISSING),)
NEED_DEPS := deps
endif

.PHONY: all deps test unit bench demo clean fuzz sim install
all: $(BUILD)/bin/witand $(BUILD)/bin/witan

deps:
ifneq ($(DEP_MISSING),)
	@echo "deps: installing $(DEP_MISSING)"
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEP_MISSING)
else
	@echo "deps: every package is present"
endif

# --- protobuf ----------------------------------------------------------------
PROTOS := $(wildcard spec/*.proto)
GEN_C := $(PROTOS:%.proto=$(BUILD)/gen/%.pb-c.c)
GEN_H := $(PROTOS:%.proto=$(BUILD)/gen/%.pb-c.h)
GEN_O := $(PROTOS:%.proto=$(BUILD)/obj/gen/%.pb-c.o)
.SECONDARY: $(GEN_C) $(GEN_H)

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: %.proto | $(NEED_DEPS)
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS_GEN) -c $< -o $@

$(BUILD)/lib/libspec.a: $(GEN_O)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# --- release and commit ------------------------------------------------------
# common/version.c includes this header: the release from VERSION, the commit
# from git when the tree is a git checkout, "unknown" otherwise (a tarball;
# WITAN_COMMIT=... on the command line names it), "-dirty" when the checkout
# has uncommitted changes. Regenerated on every make but rewritten only when
# it changes, so that nothing is rebuilt for it otherwise. Listed in GEN_H so
# that every object (fuzz and -O0 builds too) waits for it.
WITAN_RELEASE := $(shell cat VERSION 2>/dev/null || echo unknown)
VERSION_H := $(BUILD)/gen/witan_version.h
GEN_H += $(VERSION_H)
.PHONY: FORCE
$(VERSION_H): FORCE
	@mkdir -p $(dir $@)
	@commit='$(WITAN_COMMIT)'; \
	if [ -z "$$commit" ]; then commit=unknown; \
	    if [ -e .git ] && c=$$(git rev-parse --short=12 HEAD 2>/dev/null); then \
	        commit=$$c; git diff --quiet HEAD -- 2>/dev/null || commit=$$c-dirty; \
	    fi; \
	fi; \
	printf '#define WITAN_RELEASE_TEXT "%s"\n#define WITAN_COMMIT_TEXT "%s"\n' \
	    '$(WITAN_RELEASE)' "$$commit" > $@.tmp; \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

# --- modules -----------------------------------------------------------------
$(BUILD)/obj/%.o: %.c | $(GEN_H) $(NEED_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS_PROJECT) -c $< -o $@

define module_rules
$(1)_SRCS := $$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c))
$(1)_OBJS := $$($(1)_SRCS:%.c=$(BUILD)/obj/%.o)
ifneq ($$($(1)_SRCS),)
LIBS += $(BUILD)/lib/lib$(1).a
$(BUILD)/lib/lib$(1).a: $$($(1)_OBJS)
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
endif
endef
LIBS :=
$(foreach m,$(MODULES),$(eval $(call module_rules,$(m))))
LIBS += $(BUILD)/lib/libspec.a
# Libraries appear twice so that the order of modules never matters for
# symbols used across them (each library is small; the cost is nil).
LINK_LIBS = $(LIBS) $(LIBS) $(LDLIBS)

$(BUILD)/bin/witand: $(BUILD)/obj/node/main.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(LINK_LIBS) -o $@

$(BUILD)/bin/witan: $(BUILD)/obj/cli/main.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(LINK_LIBS) -o $@

# --- install -----------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=...]: the two programs, their man
# pages (made from their --help by packaging/help2roff.sh: witand(8), and
# witan(1) with every command's --help), bash completion, the systemd unit
# template witand@.service and the licence.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/witan
MAN_PAGES := $(BUILD)/man/witand.8 $(BUILD)/man/witan.1
UNIT := $(BUILD)/packaging/witand@.service

$(BUILD)/man/witand.8: $(BUILD)/bin/witand packaging/help2roff.sh
	@mkdir -p $(dir $@)
	$< --help | sh packaging/help2roff.sh witand 8 "the Witan validator daemon" \
	    "$$($< --version)" > $@.tmp && mv $@.tmp $@

# witan's page: its --help, then each command's (the commands are read from
# its --help, so a new one is included without touching this rule).
$(BUILD)/man/witan.1: $(BUILD)/bin/witan packaging/help2roff.sh
	@mkdir -p $(dir $@)
	{ $< --help; \
	  for c in $$($< --help | awk '/^commands:/ { on = 1; next } \
	                              on && NF && $$1 != "version" { print $$1 }'); do \
	      echo; echo "### witan $$c"; $< $$c --help; \
	  done; } | sh packaging/help2roff.sh witan 1 \
	    "the Witan command-line client" "$$($< version)" > $@.tmp && mv $@.tmp $@

# The unit names BINDIR, so it is remade when that changes.
$(UNIT): packaging/witand@.service.in FORCE
	@mkdir -p $(dir $@)
	@sed 's|@BINDIR@|$(BINDIR)|g' $< > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

.PHONY: install
install: all $(MAN_PAGES) $(UNIT)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR) \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DOCDIR)
	install -m 755 $(BUILD)/bin/witand $(BUILD)/bin/witan $(DESTDIR)$(BINDIR)
	install -m 644 $(BUILD)/man/witan.1 $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(BUILD)/man/witand.8 $(DESTDIR)$(MANDIR)/man8
	install -m 644 packaging/witan.bash $(DESTDIR)$(BASHCOMPDIR)/witan
	ln -sf witan $(DESTDIR)$(BASHCOMPDIR)/witand
	install -m 644 $(UNIT) $(DESTDIR)$(SYSTEMDUNITDIR)/witand@.service
	install -m 644 LICENSE $(DESTDIR)$(DOCDIR)

# --- tests and benchmarks ----------------------------------------------------
TEST_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard tests/*/*.c))))
define testdir_rules
$(1)_SUPPORT := $$(filter-out $(1)/test_% $(1)/bench_% $(1)/main_%,$$(wildcard $(1)/*.c))
$(1)_SUPPORT_OBJS := $$($(1)_SUPPORT:%.c=$(BUILD)/obj/%.o)
$(1)_TESTS := $$(patsubst %.c,$(BUILD)/%,$$(wildcard $(1)/test_*.c))
$(1)_BENCHES := $$(patsubst %.c,$(BUILD)/%,$$(wildcard $(1)/bench_*.c))
TEST_BINS += $$($(1)_TESTS)
BENCH_BINS += $$($(1)_BENCHES)
$$($(1)_TESTS): $(BUILD)/$(1)/test_%: $(BUILD)/obj/$(1)/test_%.o $$($(1)_SUPPORT_OBJS) $$(LIBS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) $$< $$($(1)_SUPPORT_OBJS) $$(LINK_LIBS) -lcmocka -o $$@
$$($(1)_BENCHES): $(BUILD)/$(1)/bench_%: $(BUILD)/obj/$(1)/bench_%.o $$($(1)_SUPPORT_OBJS) $$(LIBS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) $$< $$($(1)_SUPPORT_OBJS) $$(LINK_LIBS) -lcmocka -o $$@
endef
TEST_BINS :=
BENCH_BINS :=
$(foreach d,$(TEST_DIRS),$(eval $(call testdir_rules,$(d))))

# Fragments add to these: TEST_EXTRA (targets make test runs after the unit
# tests), BENCH_TARGETS (targets make bench runs), FUZZ_TARGETS.
TEST_EXTRA :=
BENCH_TARGETS :=
FUZZ_TARGETS :=
# Every benchmark runs through it: the machine's load beside its figures
# (tests/load/rules.mk).
LOAD_MAIN := $(BUILD)/tests/load/main_load
-include $(wildcard tests/*/rules.mk)

# `unit` runs the unit-test programs only; `test` adds the fragments' extras
# (simulator seeds, integration tests).
unit: all $(TEST_BINS)
	@sh tests/run-tests.sh $(TEST_BINS)

test: unit
	@$(if $(TEST_EXTRA),$(MAKE) --no-print-directory $(TEST_EXTRA))

bench: all $(BENCH_BINS) $(LOAD_MAIN)
	@for b in $(BENCH_BINS); do echo "== $$b"; $(LOAD_MAIN) $$b || exit 1; \
	done
	@$(if $(BENCH_TARGETS),$(MAKE) --no-print-directory $(BENCH_TARGETS))

demo: all
	@sh tests/demo/demo.sh $(BUILD)/bin

fuzz: $(FUZZ_TARGETS)

clean:
	rm -rf build build-san

DEPFILES := $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
-include $(DEPFILES)
