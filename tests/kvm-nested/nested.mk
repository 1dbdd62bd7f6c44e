# Nested-KVM harness: `make test-kvm` boots Debian's kernel under QEMU
# software emulation (TCG) with an emulated AMD SVM CPU, loads KVM inside
# and runs the project's KVM tests there. For hosts without a usable
# /dev/kvm. Included from the top Makefile; see tests/kvm-nested/run.sh for
# the knobs (KVM_NESTED_* environment variables).
#
#   make test-kvm      static build, initramfs, boot, run, verdict
#   make nested-deps   install qemu-system-x86, busybox-static, xz-utils, cpio

# Rules here must not become the default goal wherever this is included.
KVMN_SAVED_GOAL := $(.DEFAULT_GOAL)

KVMN_DIR    := build/kvm-nested
KVMN_STATIC := build/static
KVMN_PKGS   := qemu-system-x86 busybox-static xz-utils cpio
# The KVM unit tests, built in the static tree (cmocka has no static
# library on Debian, so these link dynamically; run.sh copies their shared
# libraries into the initramfs).
KVMN_TESTS  := $(patsubst tests/unit/%.c,$(KVMN_STATIC)/tests/%,$(wildcard tests/unit/test_kvm*.c))

.PHONY: test-kvm nested-deps bench-kvm-nested

nested-deps:
	@missing=""; for p in $(KVMN_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "nested-deps: installing$$missing"; \
	  apt-get update -qq || { echo "nested-deps: error: apt-get update failed" >&2; exit 1; }; \
	  for p in $$missing; do \
	    apt-cache policy $$p 2>/dev/null | grep -q 'Candidate: [^(]' || \
	      { echo "nested-deps: error: package $$p is not available from the configured Debian sources" >&2; exit 1; }; \
	  done; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || \
	    { echo "nested-deps: error: apt-get install$$missing failed" >&2; exit 1; }; \
	fi

$(KVMN_DIR)/kvm_smoke: tests/kvm-nested/kvm_smoke.c
	@mkdir -p $(dir $@)
	$(CC) -static -O2 -g -std=gnu11 -Wall -Wextra -Werror -o $@ $<

# Under -j, the two package installs must not run apt at the same time.
ifneq ($(filter test-kvm,$(MAKECMDGOALS)),)
nested-deps: | deps
endif

test-kvm: deps nested-deps $(KVMN_DIR)/kvm_smoke
	@echo "test-kvm: static build in $(KVMN_STATIC)"
	@$(MAKE) --no-print-directory B=$(KVMN_STATIC) BINDIR=$(KVMN_STATIC)/bin LDFLAGS=-static \
	  $(KVMN_STATIC)/bin/postcopy-move $(KVMN_STATIC)/guest/linux/pcm-agent
	@$(if $(KVMN_TESTS),$(MAKE) --no-print-directory B=$(KVMN_STATIC) BINDIR=$(KVMN_STATIC)/bin $(KVMN_TESTS),true)
	@bash tests/kvm-nested/run.sh

# The KVM benchmark inside the nested guest: state blob per vCPU and the
# kvm/thread downtime ratio of the same nested run (bench/RESULTS.md).
bench-kvm-nested: deps nested-deps $(KVMN_DIR)/kvm_smoke
	@$(MAKE) --no-print-directory B=$(KVMN_STATIC) BINDIR=$(KVMN_STATIC)/bin LDFLAGS=-static \
	  $(KVMN_STATIC)/bin/postcopy-move $(KVMN_STATIC)/bench/kvm_state
	@mkdir -p bench/results
	@KVM_NESTED_BENCH=1 KVM_NESTED_ONLY=bench bash tests/kvm-nested/run.sh | tee $(KVMN_DIR)/bench.log
	@grep '^NESTED-BENCH ' $(KVMN_DIR)/bench.log | sed 's/^NESTED-BENCH //' \
	  > bench/results/kvm-nested-$$(date +%F)-$$(hostname -s).jsonl
	@echo "bench-kvm-nested: results in bench/results/kvm-nested-$$(date +%F)-$$(hostname -s).jsonl"

.DEFAULT_GOAL := $(KVMN_SAVED_GOAL)
