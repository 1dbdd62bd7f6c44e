# postcopy-move: one Makefile for the whole tree.
#
#   make            build bin/postcopy-move and the guest agent (pcm-agent)
#   make deps       install the Debian packages the build needs (root)
#   make demo       live post-copy migration on this machine, with its report
#   make test       build and run every test
#   make bench-core the core benchmark (writes bench/results/core-*.txt)
#   make bench-kvm  the KVM engine's state and downtime benchmark
#   make bench-snapshot  lazy against eager restore of a 1 GiB guest, against reading the file
#   make bench-snapshot-live  a live snapshot's guest stall and rate against --pause
#   make bench      downtime vs pre-copy on shaped links (QUICK=1: reduced, ~6 min)
#   make test-kvm   the KVM tests inside QEMU (hosts without /dev/kvm)
#   make test-asan  unit and integration tests under ASan and UBSan
#   make fuzz       libFuzzer on the message and state-blob decoders (FUZZ_SECONDS)
#   make reliability  faults, bad input, load and soak: tests/RELIABILITY.md
#   make install    bin/postcopy-move and postcopy-move(1) under PREFIX (/usr/local), DESTDIR honoured

CC      ?= cc
CFLAGS  ?= -O2 -g
# WERROR=0 keeps the warnings but lets a compiler other than the one this
# tree is checked with (Debian 12's gcc 12) build it anyway.
WERROR  ?= 1
CFLAGS  += -std=gnu11 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -I. -D_GNU_SOURCE -MMD -MP $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS  += -luring -lxxhash -lsodium -lpthread -lm

# B: object/test directory, BINDIR: where the command goes. A second build
# (e.g. the static one the nested-KVM harness needs) uses other values.
B       ?= build
BINDIR  ?= bin

SRC_DIRS  := lib net uffd vm kvm kvm/x86 kvm/dev guest pages snap postcopy host cli
MAIN_SRC  := cli/main.c
LIB_SRCS  := $(filter-out $(MAIN_SRC),$(wildcard $(addsuffix /*.c,$(SRC_DIRS))))
LIB_OBJS  := $(LIB_SRCS:%.c=$(B)/%.o) $(B)/kvm/payload.o

# The KVM guest payload: guest/ workloads plus the guest/pc/ boot stub,
# freestanding x86-64, one flat image linked into the VMM (kvm/payload.S).
# Its flags never take CFLAGS: sanitizers and host options do not belong
# in a guest.
PAYLOAD_SRCS   := $(wildcard guest/*.c guest/pc/*.c) guest/pc/boot.S
PAYLOAD_OBJS   := $(patsubst %,$(B)/payload/%.o,$(PAYLOAD_SRCS))
PAYLOAD_BIN    := $(B)/payload/payload.bin
PAYLOAD_CFLAGS := -std=gnu11 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -I. -O2 -MMD -MP \
		  -ffreestanding -fno-pic -fno-pie -fno-stack-protector -mno-red-zone \
		  -fno-asynchronous-unwind-tables -fcf-protection=none -mgeneral-regs-only
LIB       := $(B)/libpcm.a
BIN       := $(BINDIR)/postcopy-move

# The agent for Linux guests (guest/linux/): a static x86-64 program for
# the guest's initramfs, libc only, with flags of its own (a sanitizer or a
# host option has no place in a guest). Neither in libpcm.a nor in the
# payload: SRC_DIRS and PAYLOAD_SRCS name guest/*.c and guest/pc/*.c only.
AGENT        := $(B)/guest/linux/pcm-agent
AGENT_CFLAGS := -std=gnu11 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -I. -D_GNU_SOURCE \
		-O2 -g -MMD -MP -static

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(B)/tools/%)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(B)/bench/%)

DEB_PKGS  := liburing-dev libxxhash-dev libcmocka-dev libsodium-dev pkg-config iproute2 procps jq \
	     python3-minimal groff-base man-db acpica-tools

.PHONY: all agent deps demo test test-asan unit integration bench bench-core bench-kvm bench-snapshot bench-snapshot-live \
	clean reliability \
	install uninstall
all: $(BIN) $(AGENT)
agent: $(AGENT)

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/payload/%.o: %
	@mkdir -p $(dir $@)
	$(CC) $(PAYLOAD_CFLAGS) -c -o $@ $<

$(PAYLOAD_BIN): $(PAYLOAD_OBJS) guest/pc/payload.ld
	$(CC) -nostdlib -static -no-pie -Wl,-T,guest/pc/payload.ld -Wl,--build-id=none \
	  -Wl,--no-warn-rwx-segments -o $(B)/payload/payload.elf $(PAYLOAD_OBJS)
	objcopy -O binary $(B)/payload/payload.elf $@

$(B)/kvm/payload.o: kvm/payload.S $(PAYLOAD_BIN)
	@mkdir -p $(dir $@)
	$(CC) -c -DPAYLOAD_BIN='"$(PAYLOAD_BIN)"' -o $@ $<

$(AGENT): guest/linux/agent.c
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_CFLAGS) -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN): $(B)/$(MAIN_SRC:.c=.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

$(B)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(B)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	$(BIN) demo

# Each runner names its failures last, so the tail of a long log says
# which test broke.
unit: $(UNIT_BINS)
	@failed=; for t in $(UNIT_BINS); do \
	  echo "== $$t"; $$t || failed="$$failed $$t"; \
	done; if [ -n "$$failed" ]; then echo "unit: FAILED:$$failed"; exit 1; fi

integration: $(BIN) $(TOOL_BINS)
	@mkdir -p $(B)/logs; failed=; for t in tests/integration/test_*.sh; do \
	  n=$$(basename $$t .sh); echo "== $$t"; \
	  { PCM_BIN=$(BINDIR) PCM_BUILD=$(B) bash $$t; echo "exit $$?"; } 2>&1 | \
	    tee $(B)/logs/$$n.log; \
	  tail -n1 $(B)/logs/$$n.log | grep -qx "exit 0" || failed="$$failed $$n"; \
	done; if [ -n "$$failed" ]; then for n in $$failed; do \
	  echo "integration: $$n FAILED (log: $(B)/logs/$$n.log):"; \
	  grep -E "^FAIL|Sanitizer|runtime error" $(B)/logs/$$n.log | head -20; \
	done; exit 1; fi

# The unit and integration tests again, built with AddressSanitizer and
# UndefinedBehaviorSanitizer into build/asan (the KVM payload is not
# instrumented: it runs inside the guest). Any report fails the run.
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test-asan: deps
	@$(MAKE) --no-print-directory B=build/asan BINDIR=build/asan/bin \
	  SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer" \
	  build/asan/bin/postcopy-move $(UNIT_SRCS:tests/unit/%.c=build/asan/tests/%) \
	  $(TOOL_SRCS:tests/tools/%.c=build/asan/tools/%)
	@$(ASAN_ENV) $(MAKE) --no-print-directory B=build/asan BINDIR=build/asan/bin \
	  SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer" unit integration

# The KVM tests (test_kvm*, test_kvm.sh) run directly where /dev/kvm works
# and skip themselves elsewhere; there the nested harness runs them inside
# QEMU instead, when Debian's qemu-system-x86 can be installed.
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(BENCH_BINS) $(TOOL_BINS)
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration
	@if $(BIN) engines --check kvm; then \
	  echo "test: /dev/kvm works here, so the KVM tests ran directly"; \
	  echo "test: a Linux guest needs VMX/SVM, which this /dev/kvm may not give: its test runs nested"; \
	  KVM_NESTED_ONLY=linux.sh $(MAKE) --no-print-directory test-kvm; \
	elif apt-cache show qemu-system-x86 >/dev/null 2>&1; then \
	  echo "test: no usable /dev/kvm: running the KVM tests nested under QEMU"; \
	  $(MAKE) --no-print-directory test-kvm; \
	else \
	  echo "test: no usable /dev/kvm and no qemu-system-x86 to nest in: KVM tests skipped"; \
	fi

bench-core: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	bash bench/core.sh

BENCH_PKGS := gnuplot-nox iputils-ping

# Pre-copy, hybrid and post-copy on loopback and on tbf-shaped veth links
# between two network namespaces (bench/matrix.sh; QUICK=1 for the short one).
bench: deps
	@missing=""; for p in $(BENCH_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "bench: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@$(MAKE) --no-print-directory all
	QUICK=$(QUICK) bash bench/matrix.sh

# Every fault, bad-input, load and soak test, written up as
# tests/RELIABILITY.md (tests/reliability/run.sh; about 10 minutes).
reliability: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(TOOL_BINS)
	bash tests/reliability/run.sh

bench-kvm: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	bash bench/kvm.sh

bench-snapshot: deps
	@$(MAKE) --no-print-directory all
	bash bench/snapshot.sh

bench-snapshot-live: deps
	@$(MAKE) --no-print-directory all $(TOOL_BINS)
	bash bench/snapshot_live.sh

# PREFIX and DESTDIR as every Makefile takes them: the command goes to
# $(DESTDIR)$(PREFIX)/bin, its man page to .../share/man/man1.
PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/postcopy-move
	install -m 644 docs/postcopy-move.1 $(DESTDIR)$(MANDIR)/man1/postcopy-move.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/postcopy-move $(DESTDIR)$(MANDIR)/man1/postcopy-move.1

clean:
	rm -rf build bin

include tests/kvm-nested/nested.mk
include tests/fuzz/fuzz.mk

-include $(shell find $(B) -name '*.d' 2>/dev/null)
