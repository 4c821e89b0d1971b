# Obelisk build. Sources are found by folder, so adding a module needs no edit here:
#   src/{base,protocol,storage,server}/*.c  -> libobelisk.a (everything but main.c)
#   src/server/main.c                       -> obelisk-server
#   src/tools/obelisk_check.c               -> obelisk-check
#   src/tools/obelisk_backup.c              -> obelisk-backup
#   tests/unit/test_*.c                     -> build/tests/unit/test_*     (cmocka, no sockets)
#   tests/integration/test_*.c              -> build/tests/integration/... (cmocka + hiredis)
#   fuzz/fuzz_*.c                           -> build-fuzz/fuzz/fuzz_* (libFuzzer, clang, make fuzz)
#   tests/tools/powercut_shim.c             -> build/tests/powercut_shim.so (LD_PRELOAD, for
#                                              the power-cut test; never sanitized)

CC      ?= cc
BUILD   ?= build
PKGS     = libevent_core libevent_extra libevent_pthreads libevent_openssl libssl libcrypto \
           jansson libxxhash libzstd
TESTPKGS = cmocka hiredis

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN     = -Wall -Wextra -Werror -Wno-missing-field-initializers
CPPFLAGS_ALL = -std=c11 -D_GNU_SOURCE -Iinclude -Itests/lib -MMD -MP
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
TEST_CFLAGS := $(shell pkg-config --cflags $(TESTPKGS) 2>/dev/null)
TEST_LIBS   := $(shell pkg-config --libs $(TESTPKGS) 2>/dev/null)
# The server and the checker allocate through jemalloc, as Redis does on Linux: glibc's malloc
# took its slow path on every small object of the HTTP API's JSON (docs/benchmarks.md). The
# sanitizer builds keep their own allocators (MALLOC_LIBS= there); the tests keep glibc's.
MALLOC_LIBS ?= $(shell pkg-config --libs jemalloc 2>/dev/null)

ALL_CFLAGS = $(CPPFLAGS_ALL) $(WARN) $(CFLAGS) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_ALL = $(LDFLAGS) $(EXTRA_LDFLAGS) $(TEST_WRAP)

LIB_SRCS  := $(filter-out src/server/main.c,$(wildcard src/base/*.c src/protocol/*.c src/storage/*.c src/server/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/dash_assets.o
# The dashboard (web/) embedded in the binary; uPlot from web/node_modules when installed.
WEB_SRCS  := $(wildcard web/*.html web/*.js web/*.css) \
             $(wildcard web/node_modules/uplot/dist/uPlot.iife.min.js web/node_modules/uplot/dist/uPlot.min.css)
LIB       := $(BUILD)/libobelisk.a
TESTLIB_SRCS := $(wildcard tests/lib/*.c)
TESTLIB_OBJS := $(TESTLIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
INT_SRCS  := $(wildcard tests/integration/test_*.c)
INT_BINS  := $(INT_SRCS:%.c=$(BUILD)/%)
SHIM      := $(BUILD)/tests/powercut_shim.so
# bench/syncdelay.c is an LD_PRELOAD library (bench/replication.sh --replica-own-disk), not a program
BENCH_SRCS := $(filter-out bench/syncdelay.c,$(wildcard bench/*.c))
BENCH_BINS := $(BENCH_SRCS:%.c=$(BUILD)/%)
BENCH_SHIM := $(BUILD)/bench/syncdelay.so

SERVER := obelisk-server
CHECK  := obelisk-check
BACKUP := obelisk-backup
CONF   ?= conf/obelisk.conf

.PHONY: all deps test-deps run test unit integration redis-tests asan tsan format format-check \
        check-deps clean bench bench-scale bench-scale-big crash-long fuzz fuzz-build fuzz-bins \
        fuzz-merge

all: $(SERVER) $(CHECK) $(BACKUP)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -c $< -o $@

$(BUILD)/gen/dash_assets.c: $(WEB_SRCS) scripts/embed-web.sh
	@scripts/embed-web.sh $@

$(BUILD)/gen/dash_assets.o: $(BUILD)/gen/dash_assets.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcsT $@ $^

$(SERVER): $(BUILD)/src/server/main.o $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(MALLOC_LIBS)

$(CHECK): $(BUILD)/src/tools/obelisk_check.o $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(MALLOC_LIBS)

$(BACKUP): $(BUILD)/src/tools/obelisk_backup.o $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(MALLOC_LIBS)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(TESTLIB_OBJS) $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

# test_nomem fails chosen allocations: the linker sends the program's and the library's calls
# to malloc, calloc and realloc through the test's __wrap_ functions (nothing else changes).
$(BUILD)/tests/unit/test_nomem: TEST_WRAP = -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc

$(BUILD)/tests/integration/%: $(BUILD)/tests/integration/%.o $(TESTLIB_OBJS) $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

# Loaded into sanitized servers too: built without EXTRA_CFLAGS and without the test packages'
# flags (hiredis brings -D_FILE_OFFSET_BITS=64, which would rename open to open64 here).
$(SHIM): tests/tools/powercut_shim.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

$(BENCH_SHIM): bench/syncdelay.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

tests-build: all $(UNIT_BINS) $(INT_BINS) $(BENCH_BINS) $(SHIM) $(BENCH_SHIM)

# Set-up: install what is missing (Debian), then build. Safe to run again.
deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

run:
	@scripts/install-deps.sh run
	@$(MAKE) --no-print-directory all
	./$(SERVER) $(CONF)

# The README's test command: every unit, integration and real-client test, and each fuzz
# target on its corpus plus FUZZ_TEST_TIME seconds of new inputs; ends with "N passed, N failed".
FUZZ_TEST_TIME ?= 20
test: test-deps
	@$(MAKE) --no-print-directory check-deps format-check
	@$(MAKE) --no-print-directory tests-build
	@$(MAKE) --no-print-directory fuzz-build
	@OBELISK_FUZZ_DIR=$(CURDIR)/$(FUZZ_BUILD)/fuzz OBELISK_FUZZ_TIME=$(FUZZ_TEST_TIME) \
	  scripts/run-tests.sh $(BUILD) $(TESTS)

asan: test-deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 MALLOC_LIBS= \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" SERVER=build-asan/obelisk-server \
	  CHECK=build-asan/obelisk-check BACKUP=build-asan/obelisk-backup tests-build
	@OBELISK_SERVER=build-asan/obelisk-server OBELISK_CHECK=build-asan/obelisk-check \
	  OBELISK_BACKUP=build-asan/obelisk-backup OBELISK_FUZZ_DIR= \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  scripts/run-tests.sh build-asan $(TESTS)

# ThreadSanitizer: the server and the tests built with -fsanitize=thread, then the unit and
# integration suites (the threads are the main loop, the persist thread and the loader thread).
# A report makes the program exit non-zero, which the runner counts as a failure.
tsan: test-deps
	@$(MAKE) --no-print-directory BUILD=build-tsan OPT=-O1 MALLOC_LIBS= \
	  EXTRA_CFLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
	  EXTRA_LDFLAGS="-fsanitize=thread" SERVER=build-tsan/obelisk-server \
	  CHECK=build-tsan/obelisk-check BACKUP=build-tsan/obelisk-backup tests-build
	@OBELISK_SERVER=build-tsan/obelisk-server OBELISK_CHECK=build-tsan/obelisk-check \
	  OBELISK_BACKUP=build-tsan/obelisk-backup \
	  TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" \
	  scripts/run-tests.sh build-tsan $(or $(TESTS),build-tsan/tests/)

# Fuzzing (fuzz/README.md): libFuzzer targets built by clang with ASan and UBSan over a clang
# build of the library. make fuzz runs each target FUZZ_TIME seconds (new inputs are kept in
# build-fuzz/new/, make fuzz-merge adds those that reach new code to fuzz/corpus/).
FUZZ_BUILD ?= build-fuzz
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 60
FUZZ_SAN    = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_BINS  := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard fuzz/fuzz_*.c))

$(BUILD)/fuzz/%: $(BUILD)/fuzz/%.o $(LIB)
	$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

fuzz-bins: $(FUZZ_BINS)
.SECONDARY: $(FUZZ_BINS:%=%.o)

fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT=-O1 \
	  EXTRA_CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" EXTRA_LDFLAGS="$(FUZZ_SAN)" fuzz-bins

fuzz: fuzz-build
	@fuzz/run.sh --keep $(FUZZ_BUILD)/new $(FUZZ_BUILD)/fuzz $(FUZZ_TIME)

fuzz-merge:
	@fuzz/run.sh --merge $(FUZZ_BUILD)/new $(FUZZ_BUILD)/fuzz

# Side-by-side benchmark against a redis-server it starts itself (docs/benchmarks.md).
bench: all tests-build
	@bench/streams.sh

# Scale run against redis-server (docs/benchmarks.md): 10M entries; bench-scale-big: 100M
# (about 10 minutes and 3.5 GB of RAM for Redis).
bench-scale: all
	@bench/scale.sh

bench-scale-big: all
	@bench/scale.sh --big

# Long crash runs: kill -9 under load, many seeded rounds (ROUNDS=50 by default).
ROUNDS ?= 50
crash-long: all tests-build
	@OBELISK_SERVER=$(CURDIR)/$(SERVER) OBELISK_CHECK=$(CURDIR)/$(CHECK) scripts/crash-long.sh $(ROUNDS)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format-check: ok"

# Layer rules (docs/architecture.md): storage speaks no RESP and knows no libevent; the protocol
# layer knows no storage or server; base knows nothing above it. Inside storage
# (docs/storage.md): store -> keyspace -> topic -> cgstore -> cgroup, and no include circle.
check-deps:
	@scripts/check-deps.sh

clean:
	rm -rf $(BUILD) build-asan build-tsan $(FUZZ_BUILD) $(SERVER) $(CHECK) $(BACKUP)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
