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
DOCDIR	?= $(PREFIX)/share/doc/psync
BUILD	?= build

CC	?= cc
PKG_CONFIG ?= pkg-config
OPTFLAGS ?= -O2 -g
WARNFLAGS = -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes \
	-Wmissing-declarations -Wshadow -Wpointer-arith -Wwrite-strings \
	-Wformat=2 -Wno-format-nonliteral
SANFLAGS ?=
DEPS	= libevent_core jansson libsodium

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(DEPS) 2>/dev/null)
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(DEPS) 2>/dev/null)
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPTFLAGS) $(WARNFLAGS) $(SANFLAGS) \
	-Iproto $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

PROTO_SRCS  = $(wildcard proto/*.c)
SERVER_SRCS = $(filter-out server/main.c,$(wildcard server/*.c))
TEST_SRCS   = $(wildcard tests/unit/*.c tests/integration/*.c tests/util/*.c)

PROTO_OBJS  = $(PROTO_SRCS:%.c=$(BUILD)/%.o)
SERVER_OBJS = $(SERVER_SRCS:%.c=$(BUILD)/%.o)
TEST_OBJS   = $(TEST_SRCS:%.c=$(BUILD)/%.o)

PSYNCD      = $(BUILD)/psyncd
CHECK_BIN   = $(BUILD)/check_psync

.PHONY: all deps run check check-asan check-valgrind install uninstall clean

all: $(PSYNCD) $(CHECK_BIN)

deps:
	@sh .ci/install-deps

$(PSYNCD): $(BUILD)/server/main.o $(SERVER_OBJS) $(PROTO_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(CHECK_BIN): $(TEST_OBJS) $(SERVER_OBJS) $(PROTO_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS) -lm

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iserver -Itests/util $(CHECK_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

run: deps
	@$(MAKE) --no-print-directory $(PSYNCD)
	exec $(PSYNCD) $(ARGS)

# Every layer: Check unit and integration suites (the daemon on temporary
# sockets), then the socat scripts; Check prints the closing summary.
check: deps
	@$(MAKE) --no-print-directory all
	sh tests/integration/run-socat-tests.sh $(PSYNCD)
	PSYNCD=$(PSYNCD) $(CHECK_BIN)

check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
	    SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    OPTFLAGS="-O1 -g" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    sh tests/integration/run-socat-tests.sh build-asan/psyncd
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	PSYNC_TEST_SLOW=2 PSYNCD=build-asan/psyncd build-asan/check_psync

check-valgrind: deps
	@$(MAKE) --no-print-directory all
	PSYNCD=$(PSYNCD) PSYNC_TEST_SLOW=10 \
	PSYNC_TEST_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite" \
	    $(CHECK_BIN)

install: $(PSYNCD)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(PSYNCD) $(DESTDIR)$(SBINDIR)/psyncd
	install -m 0644 proto/PROTOCOL.md $(DESTDIR)$(DOCDIR)/PROTOCOL.md
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/psyncd
	rm -f $(DESTDIR)$(DOCDIR)/PROTOCOL.md
	rm -f $(DESTDIR)$(DOCDIR)/README.md
	-rmdir $(DESTDIR)$(DOCDIR)

clean:
	rm -rf build build-asan
