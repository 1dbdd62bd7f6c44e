# tests/fuzz/fuzz.mk - libFuzzer targets for the decoders that read what a
# peer sends: the frame header and the messages (fuzz_proto), the state blob
# of both engines (fuzz_state), the JSON-lines control messages (fuzz_json:
# lib/json.c's parser and writer), snapshot files (fuzz_snap: snap/'s
# decoders and reader), a Linux guest's console lines (fuzz_agent:
# kvm/agent.c's reader, postcopy/agentcheck.c's verdict). Included from the
# top Makefile; works on its own too (make -f tests/fuzz/fuzz.mk fuzz).
#
#   make fuzz          build the targets and run each for FUZZ_SECONDS (60)
#   make fuzz-build    only build them (build/fuzz/)
#   make fuzz-corpus   regenerate the committed seeds (tests/fuzz/corpus/; the
#                      JSON ones, corpus/json/, and the console ones,
#                      corpus/agent/, are written by hand)
#   make fuzz-cov      line/branch coverage of the decoders by the corpora
#   make fuzz-deps     install clang, its libFuzzer runtime, llvm-cov (root)
#
# Everything the targets reach is compiled again with clang into
# build/fuzz/obj, with coverage instrumentation and ASan + UBSan (UB aborts,
# so it counts as a crash). The KVM payload is a guest image, not host
# code: it comes from the top Makefile's own rule, built into
# build/fuzz/pl so no other build's tree is touched.
#
# A crash stops that target, its input lands in tests/fuzz/crashes/ and the
# run fails. Replay one with: build/fuzz/fuzz_proto tests/fuzz/crashes/FILE
# Knobs: FUZZ_SECONDS, FUZZ_ARGS (extra libFuzzer flags, e.g. -jobs=2),
# FUZZ_PROTO_ALIGN (1: payloads at any byte alignment, as net/chan.h
# promises none; 8: only as postcopy/proto.h assumes).

ifndef FUZZ_MK_INCLUDED
FUZZ_MK_INCLUDED := 1

# Rules here must not become the default goal wherever this is included.
FZ_SAVED_GOAL := $(.DEFAULT_GOAL)

FZ_MK            := $(lastword $(MAKEFILE_LIST))
FUZZ_SECONDS     ?= 60
FUZZ_ARGS        ?=
FUZZ_PROTO_ALIGN ?= 1
FUZZ_CC          ?= clang

FZ_DIR   := build/fuzz
# clang's libFuzzer and sanitizer runtimes are in libclang-rt-14-dev;
# llvm-14 has llvm-cov and llvm-profdata (fuzz-cov).
FZ_PKGS  := clang libclang-rt-14-dev llvm-14
FZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FZ_FLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -D_GNU_SOURCE -MMD -MP $(FZ_SAN)
# The tree is gnu11 on purpose (kvm/sys.c puts struct kvm_msrs, which ends
# in a flexible array, inside another struct): clang warns of GNU
# extensions gcc takes silently.
FZ_FLAGS += -Wno-gnu-variable-sized-type-not-at-end
FZ_LIBS  := -luring -lxxhash -lsodium -lpthread -lm

FZ_SRCS  := $(wildcard lib/*.c net/*.c uffd/*.c vm/*.c kvm/*.c kvm/dev/*.c kvm/x86/*.c guest/*.c pages/*.c \
	      snap/*.c) \
	    postcopy/proto.c postcopy/migopts.c postcopy/auth.c postcopy/agentcheck.c
FZ_OBJS  := $(FZ_SRCS:%.c=$(FZ_DIR)/obj/%.o) $(FZ_DIR)/pl/kvm/payload.o
FZ_BINS  := $(FZ_DIR)/fuzz_proto $(FZ_DIR)/fuzz_state $(FZ_DIR)/fuzz_json $(FZ_DIR)/fuzz_virtq \
	    $(FZ_DIR)/fuzz_snap $(FZ_DIR)/fuzz_agent
FZ_GEN   := $(FZ_DIR)/gen_corpus

.PHONY: fuzz fuzz-deps fuzz-build fuzz-corpus fuzz-cov

fuzz-deps:
	@missing=""; for p in $(FZ_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "fuzz-deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Instrumented for coverage (and compares) but without libFuzzer's main:
# the same objects link into the targets and into gen_corpus.
$(FZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# The payload image through the top Makefile's rule (its flags, its
# compiler). That make reads this file too when the top Makefile includes
# it: FZ_SUB keeps this rule out of it, else the target would have two
# recipes and the later one, this one, would call itself.
ifneq ($(FZ_SUB),1)
$(FZ_DIR)/pl/kvm/payload.o: kvm/payload.S guest/pc/payload.ld $(wildcard guest/*.[ch] guest/pc/*.[chS])
	@$(MAKE) --no-print-directory -f Makefile FZ_SUB=1 B=$(FZ_DIR)/pl $@
endif

$(FZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FZ_OBJS)
	$(FUZZ_CC) $(FZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FZ_OBJS) $(FZ_LIBS)

$(FZ_GEN): tests/fuzz/gen_corpus.c $(FZ_OBJS)
	$(FUZZ_CC) $(FZ_FLAGS) -o $@ $< $(FZ_OBJS) $(FZ_LIBS)

fuzz-build: $(FZ_BINS) $(FZ_GEN)

fuzz-corpus: fuzz-deps
	@$(MAKE) --no-print-directory -f $(FZ_MK) $(FZ_GEN)
	$(FZ_GEN) tests/fuzz/corpus

# Each target starts from the committed seeds plus what gen_corpus makes on
# this host (a KVM blob needs a working /dev/kvm; gen_corpus makes no JSON,
# so seeds/json stays empty); what it finds goes to build/fuzz/work/, never
# into the committed corpus. Every target runs even when one before it
# crashed; the run fails if any did.
fuzz: fuzz-deps
	@$(MAKE) --no-print-directory -f $(FZ_MK) fuzz-build
	@mkdir -p $(FZ_DIR)/work/proto $(FZ_DIR)/work/state $(FZ_DIR)/work/json \
	  $(FZ_DIR)/work/virtq $(FZ_DIR)/work/snap $(FZ_DIR)/work/agent $(FZ_DIR)/seeds/json \
	  $(FZ_DIR)/seeds/virtq $(FZ_DIR)/seeds/snap $(FZ_DIR)/seeds/agent tests/fuzz/crashes
	@$(FZ_GEN) $(FZ_DIR)/seeds >/dev/null || echo "fuzz: some seeds could not be made on this host"
	@fail=""; for t in proto state json virtq snap agent; do \
	  echo "== fuzz_$$t: $(FUZZ_SECONDS) s"; \
	  FUZZ_PROTO_ALIGN=$(FUZZ_PROTO_ALIGN) $(FZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	    -artifact_prefix=tests/fuzz/crashes/$$t- $(FUZZ_ARGS) \
	    $(FZ_DIR)/work/$$t tests/fuzz/corpus/$$t $(FZ_DIR)/seeds/$$t \
	    2>$(FZ_DIR)/fuzz_$$t.log; rc=$$?; \
	  grep -E '^fuzz_(proto|state|json|virtq|snap|agent):|^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|^==[0-9]+==ERROR|^SUMMARY|Test unit written|runtime error|broken promise' \
	    $(FZ_DIR)/fuzz_$$t.log; \
	  [ $$rc -eq 0 ] || { fail="$$fail $$t"; echo "fuzz_$$t: CRASH (log: $(FZ_DIR)/fuzz_$$t.log)"; }; \
	done; \
	if [ -n "$$fail" ]; then \
	  echo "fuzz: crashed:$$fail; inputs in tests/fuzz/crashes/"; exit 1; \
	fi; echo "fuzz: no crash"

# Line and branch coverage of the decoders by what the fuzzers kept
# (build/fuzz/work) and the seeds: the targets again with clang's source
# coverage, no sanitizers (libFuzzer's own "cov:" counts their report
# branches too, which no input takes).
FZ_COV_FLAGS := -std=gnu11 -O0 -g -I. -D_GNU_SOURCE -MMD -MP \
		-Wno-gnu-variable-sized-type-not-at-end -fprofile-instr-generate -fcoverage-mapping
FZ_COV_OBJS  := $(FZ_SRCS:%.c=$(FZ_DIR)/cov/%.o) $(FZ_DIR)/pl/kvm/payload.o
FZ_COV_SRCS  := net/wire.c postcopy/proto.c vm/machine.c vm/thread.c kvm/engine.c kvm/state.c \
		lib/json.c
FZ_COV_FUNCS := wire_hdr_check|wire_payload_check|pm_decode|hello_layout_check|machine_load
FZ_COV_FUNCS := $(FZ_COV_FUNCS)|thread_load_body|kvm_load_body|kvm_state_load|parse|sec_len_ok
FZ_COV_FUNCS := $(FZ_COV_FUNCS)|load_vm|load_vcpu|load_msrs|load_cpuid
FZ_COV_FUNCS := $(FZ_COV_FUNCS)|pcm_json_[a-z_]+|pcm_jw_[a-z0-9_]+|container|member|unicode_escape
FZ_COV_FUNCS := $(FZ_COV_FUNCS)|utf8_len|raw_char|to_double|to_int64
FUZZ_LLVM    ?= /usr/lib/llvm-14/bin

$(FZ_DIR)/cov/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FZ_COV_FLAGS) -c -o $@ $<

$(FZ_DIR)/cov/fuzz_%: tests/fuzz/fuzz_%.c $(FZ_COV_OBJS)
	$(FUZZ_CC) $(FZ_COV_FLAGS) -fsanitize=fuzzer -o $@ $< $(FZ_COV_OBJS) $(FZ_LIBS)

fuzz-cov: fuzz-deps
	@$(MAKE) --no-print-directory -f $(FZ_MK) $(FZ_DIR)/cov/fuzz_proto $(FZ_DIR)/cov/fuzz_state \
	  $(FZ_DIR)/cov/fuzz_json
	@for t in proto state json; do \
	  mkdir -p $(FZ_DIR)/work/$$t $(FZ_DIR)/seeds/$$t; \
	  LLVM_PROFILE_FILE=$(FZ_DIR)/cov/$$t.profraw $(FZ_DIR)/cov/fuzz_$$t -runs=0 \
	    $(FZ_DIR)/work/$$t tests/fuzz/corpus/$$t $(FZ_DIR)/seeds/$$t 2>/dev/null || exit 1; \
	done
	@$(FUZZ_LLVM)/llvm-profdata merge -o $(FZ_DIR)/cov/all.profdata $(FZ_DIR)/cov/*.profraw
	@$(FUZZ_LLVM)/llvm-cov report -show-functions $(FZ_DIR)/cov/fuzz_state \
	  -object $(FZ_DIR)/cov/fuzz_proto -object $(FZ_DIR)/cov/fuzz_json -instr-profile=$(FZ_DIR)/cov/all.profdata $(FZ_COV_SRCS) | \
	  grep -E '^(Name|-+$$|([a-z_]+\.c:)?($(FZ_COV_FUNCS)))'

# Kept between runs: make would delete them as intermediate.
.SECONDARY: $(FZ_OBJS) $(FZ_COV_OBJS)

ifneq ($(filter fuzz fuzz-build fuzz-corpus fuzz-cov $(FZ_BINS) $(FZ_GEN),$(MAKECMDGOALS)),)
-include $(shell find $(FZ_DIR)/obj $(FZ_DIR)/cov -name '*.d' 2>/dev/null)
endif

.DEFAULT_GOAL := $(FZ_SAVED_GOAL)
endif
