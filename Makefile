# psync -- top-level build.  GNU make.
#
#   make            build psyncd and the tests
#   make run        install missing dependencies, build, run psyncd
#   make check      install missing dependencies, build, run every test
#   make check-asan / check-valgrind   the same tests under ASan+UBSan / memcheck
#   make install / uninstall  (PREFIX, DESTDIR)

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
LIBDIR	?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DOCDIR	?= $(PREFIX)/share/doc/psync
MANDIR	?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
BUILD	?= build

CC	?= cc
OBJCOPY	?= objcopy
PKG_CONFIG ?= pkg-config
OPTFLAGS ?= -O2 -g
WARNFLAGS = -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes \
	-Wmissing-declarations -Wshadow -Wpointer-arith -Wwrite-strings \
	-Wformat=2 -Wno-format-nonliteral
SANFLAGS ?=
DEPS	= libevent_core libevent_extra jansson libsodium

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(DEPS) 2>/dev/null)
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(DEPS) 2>/dev/null)
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPTFLAGS) $(WARNFLAGS) $(SANFLAGS) \
	-Iproto -I$(BUILD)/gen $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

PROTO_SRCS  = $(wildcard proto/*.c)
SERVER_SRCS = $(filter-out server/main.c,$(wildcard server/*.c))
TEST_SRCS   = $(wildcard tests/unit/*.c tests/integration/*.c tests/util/*.c \
	tests/client/*.c)
FUZZ_TARGETS = conn script
FUZZ_SECONDS ?= 300
BENCH_BINS  = $(BUILD)/bench/psync-bench $(BUILD)/bench/echo-server
HIREDIS_LIBS = $(shell $(PKG_CONFIG) --libs hiredis 2>/dev/null)
EXAMPLES    = $(patsubst client/examples/%.c,$(BUILD)/examples/%,$(wildcard client/examples/*.c))

PROTO_OBJS  = $(PROTO_SRCS:%.c=$(BUILD)/%.o)
SERVER_OBJS = $(SERVER_SRCS:%.c=$(BUILD)/%.o)
TEST_OBJS   = $(TEST_SRCS:%.c=$(BUILD)/%.o)

PSYNCD      = $(BUILD)/psyncd
# Debian's interpreter: .ci/install-deps gives it its test package.
PYTHON      ?= /usr/bin/python3
PSYNC_CLI   = $(BUILD)/psync
CLI_SRCS    = $(wildcard client/cli/*.c)
CHECK_BIN   = $(BUILD)/check_psync
FUZZ_OBJS   = $(BUILD)/tests/fuzz/fuzz_common.o $(SERVER_OBJS) $(PROTO_OBJS)
REPLAYS     = $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay-%)

# The one version of psync: PSYNC_VERSION_MAJOR/MINOR/MICRO in the public
# header, which must carry it; the library's file name, the .pc file and
# the daemon (through the generated version.h) take it from there.
version_part = $(shell sed -n 's/^\#define PSYNC_VERSION_$(1)[[:space:]]*\([0-9]*\)$$/\1/p' client/psync.h)
VERSION    := $(call version_part,MAJOR).$(call version_part,MINOR).$(call version_part,MICRO)

# libpsync-client: soname libpsync-client.so.1; only psync_* exported.
LIB_VERSION = $(VERSION)
LIB_SONAME  = libpsync-client.so.1
LIB_SO      = $(BUILD)/libpsync-client.so.$(LIB_VERSION)
LIB_A       = $(BUILD)/libpsync-client.a
LIB_OBJS    = $(BUILD)/pic/client/handle.o $(BUILD)/pic/client/psync.o \
	$(PROTO_SRCS:%.c=$(BUILD)/pic/%.o)
LIB_LINK    = -L$(BUILD) -lpsync-client -Wl,-rpath,$(abspath $(BUILD))
JANSSON_LIBS = $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null)

.PHONY: all deps run check check-once check-layers check-repeat check-asan check-valgrind install uninstall clean \
	lib examples bench bench-quick bench-deps fuzz stress

all: $(PSYNCD) lib $(PSYNC_CLI) $(CHECK_BIN) examples $(REPLAYS) \
	$(BUILD)/stress/chaos

lib: $(LIB_SO) $(LIB_A)

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -Iclient -MMD -MP -c -o $@ $<

$(LIB_SO): $(LIB_OBJS) client/psync.map
	$(CC) $(ALL_LDFLAGS) -shared -Wl,-soname,$(LIB_SONAME) \
	    -Wl,--version-script=client/psync.map \
	    $(if $(SANFLAGS),,-Wl,--no-undefined) \
	    -o $@ $(LIB_OBJS) $(JANSSON_LIBS) -pthread
	ln -sf libpsync-client.so.$(LIB_VERSION) $(BUILD)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(BUILD)/libpsync-client.so

# One relocatable object with its hidden symbols made local: the static
# archive then exports the public API alone, as the shared library does,
# and the proto/ internals cannot clash with a program's own names.
$(LIB_A): $(LIB_OBJS)
	rm -f $@ $(BUILD)/pic/libpsync-client.o
	$(LD) -r -o $(BUILD)/pic/libpsync-client.o $(LIB_OBJS)
	$(OBJCOPY) --localize-hidden $(BUILD)/pic/libpsync-client.o
	ar rcs $@ $(BUILD)/pic/libpsync-client.o

examples: $(EXAMPLES)

# psync(1), the CLI: linked against the shared library, as users link it;
# proto/ for the socket path and framing of psync raw.
# Its run path finds the library beside it in build/, and in ../lib once
# installed, never in the build tree.
$(PSYNC_CLI): $(CLI_SRCS:%.c=$(BUILD)/%.o) $(PROTO_OBJS) $(LIB_SO)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_SRCS:%.c=$(BUILD)/%.o) $(PROTO_OBJS) \
	    -L$(BUILD) -lpsync-client -Wl,-rpath,'$$ORIGIN:$$ORIGIN/../lib' \
	    $(JANSSON_LIBS)

$(BUILD)/client/cli/%.o: client/cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iclient -MMD -MP -c -o $@ $<

# make bench: psync side by side with the echo floor, Redis, Python's
# multiprocessing and flock(2), unpinned and pinned to one CPU.
bench-deps: deps
	@sh .ci/install-deps bench

$(BUILD)/bench/psync-bench: tests/bench/psync-bench.c $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iclient -o $@ $< $(ALL_LDFLAGS) $(LIB_LINK) \
	    $(HIREDIS_LIBS)

$(BUILD)/bench/echo-server: tests/bench/echo-server.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS) $(PKG_LIBS)

# Fuzzing (tests/fuzz): libFuzzer builds with clang, and plain replay
# drivers that make check runs over the corpus.

# Built by a pattern chain, the fuzz objects would be deleted as
# intermediates, and every make would build and link the replays again.
.SECONDARY: $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/fuzz_%.o) \
	$(BUILD)/tests/fuzz/replay.o $(BUILD)/tests/fuzz/fuzz_common.o

$(BUILD)/fuzz/replay-%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

fuzz: deps
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang \
	    SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
	    OPTFLAGS="-O1 -g" build-fuzz/server/admin.o $(patsubst $(BUILD)/%,build-fuzz/%,$(FUZZ_OBJS)) \
	    $(FUZZ_TARGETS:%=build-fuzz/tests/fuzz/fuzz_%.o)
	for t in $(FUZZ_TARGETS); do \
	    clang -fsanitize=fuzzer,address,undefined -o build-fuzz/fuzz-$$t \
	        build-fuzz/tests/fuzz/fuzz_$$t.o $(patsubst $(BUILD)/%,build-fuzz/%,$(FUZZ_OBJS)) \
	        $(PKG_LIBS) -lm || exit 1; \
	    mkdir -p build-fuzz/corpus-$$t && \
	    build-fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) \
	        -dict=tests/fuzz/psync.dict -artifact_prefix=tests/fuzz/corpus/$$t/crash- \
	        build-fuzz/corpus-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

# make stress: chaos with a history checker (STRESS_SECONDS, 32 clients).
STRESS_SECONDS ?= 60

$(BUILD)/stress/chaos: tests/stress/chaos.c $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iclient -o $@ $< $(ALL_LDFLAGS) $(LIB_LINK) \
	    $(JANSSON_LIBS)

stress: deps
	@$(MAKE) --no-print-directory $(PSYNCD) $(BUILD)/stress/chaos
	$(BUILD)/stress/chaos $(PSYNCD) $(STRESS_SECONDS) 32
	$(BUILD)/stress/chaos $(PSYNCD) $(STRESS_SECONDS) 32 restart

bench: bench-deps
	@$(MAKE) --no-print-directory $(PSYNCD) $(BENCH_BINS)
	python3 tests/bench/bench.py --build $(BUILD) --scale 1

bench-quick: bench-deps
	@$(MAKE) --no-print-directory $(PSYNCD) $(BENCH_BINS)
	python3 tests/bench/bench.py --build $(BUILD) --scale 0.05

$(BUILD)/examples/%: client/examples/%.c $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iclient -o $@ $< $(ALL_LDFLAGS) $(LIB_LINK)

deps:
	@sh .ci/install-deps

$(PSYNCD): $(BUILD)/server/main.o $(SERVER_OBJS) $(PROTO_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(CHECK_BIN): $(TEST_OBJS) $(SERVER_OBJS) $(PROTO_OBJS) $(LIB_SO)
	$(CC) $(ALL_LDFLAGS) -o $@ $(TEST_OBJS) $(SERVER_OBJS) $(PROTO_OBJS) \
	    $(LIB_LINK) $(PKG_LIBS) $(CHECK_LIBS) -lpthread -lm

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iserver -Iclient -Itests/util $(CHECK_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# The daemon's version, from client/psync.h: rewritten only when it changes.
$(BUILD)/gen/version.h: client/psync.h
	@mkdir -p $(dir $@)
	@printf '/* Generated from client/psync.h by make. */\n#define PSYNCD_VERSION\t"%s"\n' \
	    '$(VERSION)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
$(BUILD)/server/admin.o $(BUILD)/server/main.o: $(BUILD)/gen/version.h

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

run: deps
	@$(MAKE) --no-print-directory $(PSYNCD)
	exec $(PSYNCD) $(ARGS)

# Every layer: Check unit and integration suites (the daemon on temporary
# sockets), then the socat scripts; Check prints the closing summary.
check: deps
	@$(MAKE) --no-print-directory check-once

# make check-repeat N=20: the whole of make check N times in a row on one
# build, stopping at the first failure; HOGS=2 adds that many CPU-bound
# processes for the duration.  A flaky test shows up here, not in CI.
N	?= 20
HOGS	?= 0
check-repeat: deps
	@$(MAKE) --no-print-directory all
	@sh tests/util/check-repeat.sh $(N) $(HOGS) $(MAKE) --no-print-directory check-once

# make check without the dependency step, for check-repeat.
check-once: all check-layers
	sh tests/integration/run-socat-tests.sh $(PSYNCD)
	sh tests/client/check-snippets.sh
	sh tests/cli/run-cli-tests.sh $(BUILD)
	sh tests/client/check-man.sh $(BUILD)
	sh tests/python/run-examples.sh $(PYTHON) $(BUILD)
	sh tests/python/check-install.sh $(PYTHON)
	PSYNCD=$(PSYNCD) PYTHONPATH=client/python/src:tests/python \
	    timeout 600 $(PYTHON) -W ignore::ResourceWarning -m unittest \
	    tests/python/test_psync.py tests/python/test_cpython_multiprocessing.py
	sh tests/client/run-examples.sh $(BUILD)
	sh tests/client/run-installed-test.sh $(BUILD)
	sh tests/fuzz/run-replays.sh $(BUILD)
	$(BUILD)/stress/chaos --selftest
	PSYNCD=$(PSYNCD) timeout 600 $(PYTHON) -W error::ResourceWarning \
	    -m unittest tests/cluster/test_cluster.py
	PSYNCD=$(PSYNCD) $(CHECK_BIN)

# No server source includes a header above its layer (each header says
# its layer in its opening comment).
check-layers:
	sh tests/util/check-layers.sh

# The sanitizers' settings, once: leaks reported, the first UB fatal.
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
	    SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    OPTFLAGS="-O1 -g" all
	$(SAN_ENV) sh tests/integration/run-socat-tests.sh build-asan/psyncd
	$(SAN_ENV) sh tests/client/run-examples.sh build-asan
	$(SAN_ENV) PSYNC_TEST_SLOW=2 sh tests/cli/run-cli-tests.sh build-asan
	$(SAN_ENV) sh tests/fuzz/run-replays.sh build-asan
	$(SAN_ENV) PSYNC_TEST_SLOW=2 PSYNCD=build-asan/psyncd timeout 600 \
	    $(PYTHON) -m unittest tests/cluster/test_cluster.py
	$(SAN_ENV) PSYNC_TEST_SLOW=2 PSYNCD=build-asan/psyncd build-asan/check_psync

VALGRIND = valgrind --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite

# The daemon under memcheck in every integration test; then the client
# library's tests and the examples themselves under memcheck.
check-valgrind: deps
	@$(MAKE) --no-print-directory all
	PSYNCD=$(PSYNCD) PSYNC_TEST_SLOW=10 PSYNC_TEST_WRAPPER="$(VALGRIND)" \
	    $(CHECK_BIN)
	PSYNC_EXAMPLE_WRAPPER="$(VALGRIND)" sh tests/client/run-examples.sh $(BUILD)
	CK_FORK=no CK_RUN_SUITE=client PSYNCD=$(PSYNCD) PSYNC_TEST_SLOW=10 \
	    $(VALGRIND) --trace-children=no $(CHECK_BIN)

install: $(PSYNCD) lib $(PSYNC_CLI)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(PSYNCD) $(DESTDIR)$(SBINDIR)/psyncd
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(PSYNC_CLI) $(DESTDIR)$(BINDIR)/psync
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 man/psync.1 $(DESTDIR)$(MANDIR)/man1/psync.1
	install -m 0644 man/libpsync-client.3 \
	    $(DESTDIR)$(MANDIR)/man3/libpsync-client.3
	install -m 0644 man/psyncd.8 $(DESTDIR)$(MANDIR)/man8/psyncd.8
	install -m 0644 client/cli/psync.bash $(DESTDIR)$(BASHCOMPDIR)/psync
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libpsync-client.so.$(LIB_VERSION)
	ln -sf libpsync-client.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libpsync-client.so
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libpsync-client.a
	install -m 0644 client/psync.h $(DESTDIR)$(INCLUDEDIR)/psync.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(LIB_VERSION)|' \
	    client/psync-client.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/psync-client.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/psync-client.pc
	# The docs side by side in DOCDIR, their links rewritten to match
	# (the header's to where it is installed); check-installed tests them.
	install -m 0644 proto/PROTOCOL.md $(DESTDIR)$(DOCDIR)/PROTOCOL.md
	install -m 0644 RELIABILITY.md $(DESTDIR)$(DOCDIR)/RELIABILITY.md
	install -m 0644 BENCHMARKS.md $(DESTDIR)$(DOCDIR)/BENCHMARKS.md
	sed -e 's|](proto/PROTOCOL.md)|](PROTOCOL.md)|g' \
	    -e 's|](client/README.md)|](CLIENT.md)|g' \
	    -e 's|](client/python/README.md)|](PYTHON.md)|g' \
	    README.md > $(DESTDIR)$(DOCDIR)/README.md
	sed -e 's|](../../README.md)|](README.md)|g' \
	    client/python/README.md > $(DESTDIR)$(DOCDIR)/PYTHON.md
	chmod 0644 $(DESTDIR)$(DOCDIR)/PYTHON.md
	sed -e "s|](psync.h)|]($$(realpath -m --relative-to=$(DOCDIR) \
	        $(INCLUDEDIR)/psync.h))|g" \
	    -e 's|](../proto/PROTOCOL.md)|](PROTOCOL.md)|g' \
	    client/README.md > $(DESTDIR)$(DOCDIR)/CLIENT.md
	chmod 0644 $(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/CLIENT.md
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(TMPFILESDIR)
	for u in psyncd.service psyncd.socket; do \
	    sed -e 's|/usr/local/sbin/psyncd|$(SBINDIR)/psyncd|' \
	        -e 's|/usr/local/share/doc/psync|$(DOCDIR)|' \
	        systemd/$$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u && \
	    chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; done
	install -m 0644 systemd/psync.sysusers $(DESTDIR)$(SYSUSERSDIR)/psync.conf
	install -m 0644 systemd/psync.tmpfiles $(DESTDIR)$(TMPFILESDIR)/psync.conf

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/psyncd
	rm -f $(DESTDIR)$(BINDIR)/psync
	rm -f $(DESTDIR)$(MANDIR)/man1/psync.1
	rm -f $(DESTDIR)$(MANDIR)/man3/libpsync-client.3
	rm -f $(DESTDIR)$(MANDIR)/man8/psyncd.8
	rm -f $(DESTDIR)$(BASHCOMPDIR)/psync
	rm -f $(DESTDIR)$(LIBDIR)/libpsync-client.so.$(LIB_VERSION)
	rm -f $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	rm -f $(DESTDIR)$(LIBDIR)/libpsync-client.so
	rm -f $(DESTDIR)$(LIBDIR)/libpsync-client.a
	rm -f $(DESTDIR)$(INCLUDEDIR)/psync.h
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/psync-client.pc
	rm -f $(DESTDIR)$(DOCDIR)/PROTOCOL.md
	rm -f $(DESTDIR)$(DOCDIR)/README.md
	rm -f $(DESTDIR)$(DOCDIR)/CLIENT.md
	rm -f $(DESTDIR)$(DOCDIR)/RELIABILITY.md
	rm -f $(DESTDIR)$(DOCDIR)/BENCHMARKS.md
	rm -f $(DESTDIR)$(DOCDIR)/PYTHON.md
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/psyncd.service
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/psyncd.socket
	rm -f $(DESTDIR)$(SYSUSERSDIR)/psync.conf
	rm -f $(DESTDIR)$(TMPFILESDIR)/psync.conf
	-rmdir $(DESTDIR)$(DOCDIR)

clean:
	rm -rf build build-asan build-fuzz
