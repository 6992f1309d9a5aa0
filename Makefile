# volkey: top-level build. Targets are stable: other checks rely on their names.
#   make              build all userspace (warnings are errors)
#   make deps         install every Debian package needed (idempotent)
#   make check        deps + build + every test tier (unit, host, rig)
#   make check-unit | check-host | check-layers | check-rig [T=name] | asan | demo | install | clean
#   make instance-image | check-instance [T=name]   the instance tier (a booted Debian 12 guest)
#   make bench        a quick `volkey bench` (fio, raw against dm-crypt) in the rig guest
#   make fuzz         every libFuzzer target for FUZZ_SECONDS (30; make check passes 8)
#   make deb          the Debian packages volkey and volkey-xts-dkms in $(BUILD)/deb (DEB_VERSION=), linted
#   make ssm          the SSM documents checked and the Distributor package in $(BUILD)/ssm (docs/ssm.md)
# See docs/building.md.

VERSION := $(shell cat VERSION)
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
# the kernel module's sources for DKMS (not under PREFIX: DKMS looks in /usr/src)
DKMSDIR ?= /usr/src/volkey-xts-$(VERSION)
# volkey bench's fio job files and plot script
BENCHDIR ?= $(PREFIX)/share/volkey/bench
# The crypttab keyscript (its path goes into /etc/crypttab), initramfs-tools' and dracut's directories.
VOLKEYLIBDIR ?= $(PREFIX)/lib/volkey
INITRAMFSTOOLSDIR ?= $(PREFIX)/share/initramfs-tools
DRACUTDIR ?= $(PREFIX)/lib/dracut
BUILD ?= build
SAN ?= 0

# Linked: what every run uses. Loaded on first use (agent/base/dlib.h, one shim
# agent/base/dl_*.c each): libcurl (KMS, IMDS), p11-kit (pkcs11: URIs), libnvme
# and libsystemd's sd-bus; only their headers are used at build time.
# --as-needed drops what a binary does not call (libssl, libudev for volkey).
PKGS_LINKED := libcryptsetup devmapper json-c openssl inih blkid libudev
PKGS_DLOPEN := libcurl p11-kit-1 libnvme libsystemd
PKGS := $(PKGS_LINKED) $(PKGS_DLOPEN)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = -Wl,--as-needed $(shell pkg-config --libs $(PKGS_LINKED) 2>/dev/null) -lm
CRYPTSETUP_VERSION = $(shell pkg-config --modversion libcryptsetup 2>/dev/null)

# snprintf truncation into fixed buffers is deliberate (bounded messages), hence -Wno-format-truncation.
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wvla -Wformat=2 -Wformat-security -Wno-format-nonliteral -Wno-format-truncation
CFLAGS ?= -O2 -g
ifeq ($(SAN),1)
HARDEN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_LDFLAGS := -fsanitize=address,undefined
else
HARDEN := -D_FORTIFY_SOURCE=3 -fstack-protector-strong
SAN_LDFLAGS :=
endif
# TSAN=1: ThreadSanitizer (build-tsan, for the rig's 8-device volkeyd run).
TSAN ?= 0
ifeq ($(TSAN),1)
HARDEN := -fsanitize=thread -fno-omit-frame-pointer
SAN_LDFLAGS := -fsanitize=thread
endif
# The sanitizer builds also check that every libcryptsetup/libdevmapper call
# holds the lock (agent/base/cslock.h, tests/lockcheck-gen).
LOCKCHECK ?= $(if $(filter 1,$(SAN) $(TSAN)),1,0)
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(HARDEN) -fPIC -MMD -MP -Iagent -Itools \
	-DVOLKEY_VERSION='"$(VERSION)"' -DVOLKEY_BENCH_DATADIR='"$(BENCHDIR)"' -DVOLKEY_CRYPTSETUP_VERSION='"$(CRYPTSETUP_VERSION)"' $(PKG_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SAN_LDFLAGS) -Wl,-z,relro,-z,now

AGENT_SRC := $(filter-out agent/volkeyd/%,$(wildcard agent/*/*.c))
AGENT_OBJ := $(AGENT_SRC:%.c=$(BUILD)/%.o)
CLI_SRC := $(wildcard tools/cli/*.c tools/bench/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
PROG_SRC := $(filter-out tests/progs/%-preload.c,$(wildcard tests/progs/*.c))
PROG_BIN := $(PROG_SRC:tests/progs/%.c=$(BUILD)/tests/progs/%) $(BUILD)/tests/progs/vk-footprint-preload.so

LIBVOLKEY := $(BUILD)/libvolkey.a
ifeq ($(LOCKCHECK),1)
LOCKCHECK_OBJ := $(BUILD)/lockcheck.o
LOCKCHECK_LDFLAGS = -Wl,@$(BUILD)/lockcheck.wrap
else
LOCKCHECK_OBJ :=
LOCKCHECK_LDFLAGS =
endif
VOLKEY := $(BUILD)/volkey
VOLKEYD := $(BUILD)/volkeyd
VOLKEYD_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard agent/volkeyd/*.c))
# The libcryptsetup token handler: same agent code, only the CRYPTSETUP_TOKEN_1.0 symbols exported.
TOKEN_SO := $(BUILD)/libcryptsetup-token-volkey.so
TOKEN_OBJ := $(BUILD)/tools/token/libcryptsetup-token-volkey.o
TOKENDIR ?= $(shell pkg-config --variable=libdir libcryptsetup 2>/dev/null)/cryptsetup
UDEVDIR ?= $(shell pkg-config --variable=udevdir udev 2>/dev/null || echo /usr/lib/udev)
# udev rules and units are templates; @SBINDIR@ becomes where volkey is installed.
UDEV_RULES := $(BUILD)/udev/70-volkey.rules $(BUILD)/udev/volkeyd.service $(BUILD)/udev/volkey-rekey.service
SYSTEMDUNITDIR ?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)

.PHONY: ssm deb rpm tsan module bench bench-peers bench-unwrap bench-unlock bench-storm bench-footprint bench-agent bench-rotate fuzz all deps check check-unit check-host check-layers check-rig asan demo install clean rig-image tests-build instance-image check-instance
.DEFAULT_GOAL := all
.SECONDARY:

all: $(VOLKEY) $(VOLKEYD) $(TOKEN_SO) $(UDEV_RULES)

$(BUILD)/udev/%: udev/%.in
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@sed 's|@SBINDIR@|$(SBINDIR)|g' $< >$@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBVOLKEY): $(AGENT_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	@$(AR) rcs $@ $^

$(BUILD)/lockcheck.o: $(AGENT_OBJ) $(CLI_OBJ) $(VOLKEYD_OBJ) tests/lockcheck-gen
	@echo "  GEN     $(BUILD)/lockcheck.S"
	@tests/lockcheck-gen $(BUILD)/lockcheck.S $(BUILD)/lockcheck.wrap $(AGENT_OBJ) $(CLI_OBJ) $(VOLKEYD_OBJ)
	@$(CC) -c -o $@ $(BUILD)/lockcheck.S

$(VOLKEY): $(CLI_OBJ) $(LIBVOLKEY) $(LOCKCHECK_OBJ)
	@echo "  LD      $@"
	@$(CC) -o $@ $(CLI_OBJ) $(LOCKCHECK_OBJ) $(LIBVOLKEY) $(ALL_LDFLAGS) $(LOCKCHECK_LDFLAGS) $(PKG_LIBS)

$(VOLKEYD): $(VOLKEYD_OBJ) $(LIBVOLKEY) $(LOCKCHECK_OBJ)
	@echo "  LD      $@"
	@$(CC) -o $@ $(VOLKEYD_OBJ) $(LOCKCHECK_OBJ) $(LIBVOLKEY) $(ALL_LDFLAGS) $(LOCKCHECK_LDFLAGS) $(PKG_LIBS)

$(TOKEN_SO): $(TOKEN_OBJ) $(LIBVOLKEY) tools/token/token.sym
	@echo "  LD      $@"
	@$(CC) -shared -o $@ $(TOKEN_OBJ) $(LIBVOLKEY) $(ALL_LDFLAGS) -Wl,-z,nodelete \
		-Wl,--version-script=tools/token/token.sym $(PKG_LIBS)

# The secret allocator's test checks, in a munmap wrapper, that memory is wiped before it is released.
$(BUILD)/tests/unit/test_secret: EXTRA_LDFLAGS = -Wl,--wrap=munmap
# volkeyd's own objects a unit test needs besides libvolkey.a
$(BUILD)/tests/unit/test_owners: EXTRA_OBJS = $(BUILD)/agent/volkeyd/retry.o
$(BUILD)/tests/unit/test_owners: $(BUILD)/agent/volkeyd/retry.o
$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(BUILD)/tests/unit/unit.o $(LIBVOLKEY) $(LOCKCHECK_OBJ)
	@echo "  LD      $@"
	@$(CC) -o $@ $< $(EXTRA_OBJS) $(BUILD)/tests/unit/unit.o $(LOCKCHECK_OBJ) $(LIBVOLKEY) $(ALL_LDFLAGS) $(EXTRA_LDFLAGS) $(LOCKCHECK_LDFLAGS) $(PKG_LIBS)

# the boot-storm driver plays volkeyd's device retry with volkeyd's own retry_delay_ms()
$(BUILD)/tests/progs/storm: EXTRA_OBJS = $(BUILD)/agent/volkeyd/retry.o
$(BUILD)/tests/progs/storm: $(BUILD)/agent/volkeyd/retry.o
$(BUILD)/tests/progs/%: $(BUILD)/tests/progs/%.o $(LIBVOLKEY) $(LOCKCHECK_OBJ)
	@echo "  LD      $@"
	@$(CC) -o $@ $< $(EXTRA_OBJS) $(LOCKCHECK_OBJ) $(LIBVOLKEY) $(ALL_LDFLAGS) $(LOCKCHECK_LDFLAGS) $(PKG_LIBS)

# The footprint benchmark's helpers link with libc alone (their own pages must
# not add to the peak RSS they measure).
$(BUILD)/tests/progs/vk-footprint: $(BUILD)/tests/progs/vk-footprint.o
	@echo "  LD      $@"
	@$(CC) -o $@ $< $(ALL_LDFLAGS)

$(BUILD)/tests/progs/vk-footprint-preload.so: $(BUILD)/tests/progs/vk-footprint-preload.o
	@echo "  LD      $@"
	@$(CC) -shared -o $@ $< $(ALL_LDFLAGS)

tests-build: $(VOLKEY) $(VOLKEYD) $(TOKEN_SO) $(UDEV_RULES) $(UNIT_BIN) $(PROG_BIN)

deps:
	@tools/install-deps

# libFuzzer targets (clang), one per parser of outside input, each built from its
# own source list: KMS answers, the LUKS2 token, key URIs and ARNs, volkey.conf,
# the AWS credential files and JSON answers, NVMe Identify data, the agent's
# status record, the bench records. `make fuzz` runs each for FUZZ_SECONDS on a
# copy of its seeds (tests/fuzz/corpus/<FUZZ_RUN_name's first word>, inputs up to
# its second word or 4096 bytes), goes on past a failure, fails if any target did.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := kms_parse token_parse key_uri config aws_creds nvme_id agent_record bench_record
FUZZ_PKGS := json-c openssl libcurl p11-kit-1 inih libnvme
FUZZ_SRC_kms_parse := agent/keys/kms_parse.c agent/base/json_secret.c agent/base/b64.c agent/base/secret.c
FUZZ_SRC_token_parse := agent/volume/luks_token.c agent/keys/binding.c agent/base/b64.c agent/base/secret.c agent/keys/backend_wrapped.c
FUZZ_SRC_key_uri := agent/keys/keyuri.c agent/base/awsname.c
FUZZ_CONF := agent/conf/config.c agent/conf/nvme_match.c agent/conf/policy.c agent/base/awsname.c
FUZZ_SRC_config := $(FUZZ_CONF)
FUZZ_SRC_aws_creds := agent/keys/aws_creds.c agent/keys/imds.c agent/base/curlutil.c agent/base/json_secret.c \
	agent/base/secret.c agent/base/fileio.c agent/base/log.c agent/base/urlcheck.c $(FUZZ_CONF)
FUZZ_SRC_nvme_id := agent/host/nvme_id.c agent/conf/nvme_match.c
FUZZ_SRC_agent_record := tools/cli/agent_record.c agent/volume/status_doc.c agent/volume/status_prom.c \
	agent/base/jsonget.c agent/base/timeutil.c agent/base/fileio.c agent/base/log.c $(FUZZ_CONF)
FUZZ_SRC_bench_record := agent/host/kmod.c tools/bench/bench_fio.c agent/base/fileio.c agent/base/errbuf.c agent/base/log.c agent/base/spawn.c
FUZZ_RUN_kms_parse := kms
FUZZ_RUN_token_parse := token 16400
FUZZ_RUN_key_uri := key_uri 8192
FUZZ_RUN_config := config 8192
FUZZ_RUN_aws_creds := aws_creds
FUZZ_RUN_nvme_id := nvme_id 1024
FUZZ_RUN_agent_record := agent_record 8192
FUZZ_RUN_bench_record := bench_record 8192
.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRC_$$*) $(wildcard agent/*/*.h tools/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	@clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-Iagent -Itools $(shell pkg-config --cflags $(FUZZ_PKGS)) -o $@ $< $(FUZZ_SRC_$*) \
		$(shell pkg-config --libs $(FUZZ_PKGS)) -lm

bench-unwrap: tests-build
	@BUILD=$(BUILD) tests/bench/unwrap.sh

bench-unlock: tests-build
	@BUILD=$(BUILD) tests/bench/unlock.sh

# Start-up time and peak RSS of open --test against cryptsetup's, with the breakdown.
bench-footprint: tests-build
	@BUILD=$(BUILD) tests/bench/footprint.sh

# 1000 instances booting against a KMS request quota (issue 21, goal 6; N=, QUOTA=)
bench-storm: tests-build
	@BUILD=$(BUILD) tests/bench/storm.sh

# The agent's speed and footprint, one table of issue 21's goals (docs/bench.md#agent):
# footprint, trust store, volkeyd's boot over 1-32 devices, Clevis+Tang, boot storm.
bench-agent: tests-build rig-image
	@BUILD=$(BUILD) tests/bench/agent.sh

bench-rotate: tests-build rig-image
	@BUILD=$(BUILD) tests/bench/rotate.sh

# A quick `volkey bench` in the rig guest; table, JSON and plot in $(BUILD)/bench/.
bench: deps
	@$(MAKE) --no-print-directory tests-build rig-image
	@BUILD=$(BUILD) tests/bench/fio.sh

# Unlock speed and data path against Clevis bound to Tang, in the rig guest.
bench-peers: tests-build rig-image
	@BUILD=$(BUILD) tests/bench/peers.sh

fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
	@fail=0; $(foreach t,$(FUZZ_TARGETS),tests/run-fuzz $(BUILD)/fuzz/fuzz_$(t) \
		tests/fuzz/corpus/$(word 1,$(FUZZ_RUN_$(t))) $(FUZZ_SECONDS) $(word 2,$(FUZZ_RUN_$(t))) || fail=$$((fail + 1));) \
		echo "fuzz: $(words $(FUZZ_TARGETS)) targets, $$fail failed"; exit $$fail

# The kernel module, built out of tree in $(BUILD)/module from a copy of Kbuild
# and kernel/ (the source tree stays clean), against KDIR: by default the
# headers of the rig guest's kernel.
KVER ?= $(shell tests/rig/kernel 2>/dev/null)
KDIR ?= /lib/modules/$(KVER)/build
MODULE_SRC := Kbuild kernel/Kbuild $(wildcard kernel/*.c)
module: $(BUILD)/module/kernel/volkey_xts.ko
$(BUILD)/module/kernel/volkey_xts.ko: $(MODULE_SRC)
	@test -d $(KDIR) || { echo "module: no kernel headers at $(KDIR) (make deps installs the rig kernel's; or KDIR=)"; exit 1; }
	@mkdir -p $(BUILD)/module/kernel
	@cp Kbuild $(BUILD)/module/ && cp kernel/Kbuild kernel/*.c $(BUILD)/module/kernel/
	@echo "  KBUILD  $@ (KDIR=$(KDIR))"
	@$(MAKE) --no-print-directory -C $(KDIR) M=$(abspath $(BUILD)/module) W=1 modules >$(BUILD)/module/build.log 2>&1 || \
		{ cat $(BUILD)/module/build.log; exit 1; }
	@! grep -E "warning:" $(BUILD)/module/build.log || { echo "module: warnings are errors"; exit 1; }

# The guest's initramfs (busybox + virtio/9p/overlay modules); tests/rig/run builds it when missing too.
rig-image:
	@tests/rig/run --prepare

# The instance tier's Debian 12 image (cached in /var/cache/volkey-rig/instance; warm: instant).
instance-image:
	@tests/instance/mkimage >/dev/null

# Scenarios against a booted instance; they install the volkey .deb `make deb`
# builds (VOLKEY_DEB) and upgrade to the same code rebuilt as $(VERSION)-2
# (VOLKEY_DEB_UPGRADE).
check-instance: tests-build instance-image
	@$(MAKE) --no-print-directory deb DEB_VERSION=$(VERSION)-1 >$(BUILD)/deb-1.log 2>&1 || { cat $(BUILD)/deb-1.log; exit 1; }
	@$(MAKE) --no-print-directory deb DEB_VERSION=$(VERSION)-2 >$(BUILD)/deb-2.log 2>&1 || { cat $(BUILD)/deb-2.log; exit 1; }
	@VOLKEY_DEB=$(BUILD)/deb/volkey_$(VERSION)-1_amd64.deb VOLKEY_DEB_UPGRADE=$(BUILD)/deb/volkey_$(VERSION)-2_amd64.deb \
		BUILD=$(BUILD) tests/run-tier instance $(T)

check-unit: tests-build
	@BUILD=$(BUILD) tests/run-tier unit

check-layers: tests-build
	@tests/layers.py --build $(BUILD)

check-host: tests-build
	@BUILD=$(BUILD) tests/run-tier host

check-rig: tests-build rig-image module tsan
	@BUILD=$(BUILD) tests/run-tier rig $(T)

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 tests-build
	@ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		BUILD=build-asan tests/run-tier unit
	@ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		BUILD=build-asan tests/run-tier host

check: deps
	@BUILD=$(BUILD) tests/check-all

demo: deps
	@$(MAKE) --no-print-directory tests-build rig-image
	@tools/demo/run

install: $(VOLKEY) $(VOLKEYD) $(TOKEN_SO)
	install -D -m 0755 $(VOLKEY) $(DESTDIR)$(SBINDIR)/volkey
	install -D -m 0755 $(VOLKEYD) $(DESTDIR)$(SBINDIR)/volkeyd
	install -D -m 0644 docs/man/volkey.8 $(DESTDIR)$(MANDIR)/man8/volkey.8
	install -D -m 0644 docs/man/volkeyd.8 $(DESTDIR)$(MANDIR)/man8/volkeyd.8
	install -D -m 0644 Kbuild $(DESTDIR)$(DKMSDIR)/Kbuild
	install -D -m 0644 kernel/Kbuild $(DESTDIR)$(DKMSDIR)/kernel/Kbuild
	install -m 0644 kernel/*.c $(DESTDIR)$(DKMSDIR)/kernel/
	sed 's|@VERSION@|$(VERSION)|g' kernel/dkms.conf.in >$(DESTDIR)$(DKMSDIR)/dkms.conf
	install -d $(DESTDIR)$(BENCHDIR)
	install -m 0644 tools/bench/*.fio tools/bench/common.fioinc tools/bench/ratio.gp $(DESTDIR)$(BENCHDIR)/
	install -D -m 0644 tools/prometheus/volkey-alerts.yml $(DESTDIR)$(PREFIX)/share/volkey/prometheus/volkey-alerts.yml
	install -D -m 0644 $(TOKEN_SO) $(DESTDIR)$(TOKENDIR)/libcryptsetup-token-volkey.so
	install -d $(DESTDIR)$(UDEVDIR)/rules.d
	sed 's|@SBINDIR@|$(SBINDIR)|g' udev/70-volkey.rules.in >$(DESTDIR)$(UDEVDIR)/rules.d/70-volkey.rules
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' udev/volkeyd.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/volkeyd.service
	sed 's|@SBINDIR@|$(SBINDIR)|g' udev/volkey-rekey.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/volkey-rekey.service
	install -d $(DESTDIR)$(VOLKEYLIBDIR) $(DESTDIR)$(INITRAMFSTOOLSDIR)/hooks $(DESTDIR)$(DRACUTDIR)/modules.d/90volkey
	sed 's|/usr/sbin/volkey|$(SBINDIR)/volkey|g' tools/initramfs/volkey-keyscript >$(DESTDIR)$(VOLKEYLIBDIR)/volkey-keyscript
	chmod 0755 $(DESTDIR)$(VOLKEYLIBDIR)/volkey-keyscript
	sed -e 's|/usr/sbin/volkey|$(SBINDIR)/volkey|g' -e 's|/usr/lib/volkey/|$(VOLKEYLIBDIR)/|g' \
		tools/initramfs/initramfs-tools/volkey >$(DESTDIR)$(INITRAMFSTOOLSDIR)/hooks/volkey
	chmod 0755 $(DESTDIR)$(INITRAMFSTOOLSDIR)/hooks/volkey
	for f in tools/initramfs/dracut/90volkey/*; do \
		sed -e 's|/usr/sbin/volkey|$(SBINDIR)/volkey|g' -e 's|/usr/lib/volkey/|$(VOLKEYLIBDIR)/|g' $$f \
			>$(DESTDIR)$(DRACUTDIR)/modules.d/90volkey/$${f##*/}; \
		case $$f in *.sh) chmod 0755 $(DESTDIR)$(DRACUTDIR)/modules.d/90volkey/$${f##*/};; \
		*) chmod 0644 $(DESTDIR)$(DRACUTDIR)/modules.d/90volkey/$${f##*/};; esac; \
	done

# The Debian packages (debian/, docs/packaging.md), built from a copy of the tree
# in $(BUILD)/deb/volkey-$(VERSION): the files git tracks or would add (outside a
# git checkout, every file but the build directories). DEB_VERSION (upstream part
# VERSION) becomes debian/changelog's version, so `make deb DEB_VERSION=0.1.0-2`
# builds an upgrade of the same code. Fails on a lintian error; prints its warnings.
DEB_VERSION ?= $(VERSION)-1
DEB_FILEVERSION = $(shell echo '$(DEB_VERSION)' | sed 's/^[0-9]*://')
DEBDIR = $(BUILD)/deb
DEBSRC = $(DEBDIR)/volkey-$(VERSION)
DEBS = $(DEBDIR)/volkey_$(DEB_FILEVERSION)_amd64.deb $(DEBDIR)/volkey-xts-dkms_$(DEB_FILEVERSION)_all.deb \
	$(DEBDIR)/volkey-initramfs_$(DEB_FILEVERSION)_all.deb $(DEBDIR)/volkey-dracut_$(DEB_FILEVERSION)_all.deb
deb:
	@v='$(DEB_VERSION)'; v=$${v#*:}; [ "$${v%-*}" = '$(VERSION)' ] && [ "$${v%-*}" != "$$v" ] || \
		{ echo "deb: DEB_VERSION=$(DEB_VERSION) must be $(VERSION)-REVISION (the code's VERSION)"; exit 1; }
	@rm -rf $(DEBSRC) && mkdir -p $(DEBSRC)
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard | grep -zv '^$(BUILD)/'; \
	else \
		find . -mindepth 1 \( -type d \( -name .git -o -name __pycache__ -o -path ./build -o -path ./build-asan \
			-o -path ./build-tsan -o -path './$(BUILD)' \) -prune \) -o \( -type f ! -name '*.o' ! -name '*.d' -print0 \); \
	fi | tar --null -T - --ignore-failed-read -cf - | tar -xf - -C $(DEBSRC)
	@cl=$(DEBSRC)/debian/changelog; cur=$$(dpkg-parsechangelog -l $$cl -S Version); \
	if [ "$$cur" != '$(DEB_VERSION)' ]; then \
		{ printf '%s (%s) %s; urgency=medium\n\n  * Rebuilt by make deb DEB_VERSION=%s.\n\n -- %s  %s\n\n' \
			"$$(dpkg-parsechangelog -l $$cl -S Source)" '$(DEB_VERSION)' "$$(dpkg-parsechangelog -l $$cl -S Distribution)" \
			'$(DEB_VERSION)' "$$(dpkg-parsechangelog -l $$cl -S Maintainer)" "$$(date -R)"; cat $$cl; } >$$cl.new && mv $$cl.new $$cl; \
	fi
	@echo "  DEB     $(DEBS) (log: $(DEBDIR)/build.log)"
	@cd $(DEBSRC) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD \
		dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1 || { tail -n 60 ../build.log; exit 1; }
	@echo "  LINTIAN $(DEBS)"
	@lintian --fail-on error $(DEBS)

# The RPM packages for Amazon Linux 2023 and RHEL 9 (tools/rpm/volkey.spec,
# docs/packaging.md), built here on Debian as a check of the spec only:
# `rpmbuild -bb --nodeps` against Debian's libraries, not RHEL's (the real build
# is `rpmbuild -ba` on an AL2023 or RHEL 9 builder, or in mock). The source
# tarball holds the files `make deb` copies. RHEL's directory macros that
# Debian's rpm lacks are defined on the command line with RHEL's values, its
# systemd scriptlet macros come from tools/rpm/macros.debian-check (the spec
# defines none). rpmlint on the spec and the packages (tools/rpm/rpmlint.toml):
# fails on an error, prints its warnings. Everything in $(BUILD)/rpm.
RPMDIR = $(BUILD)/rpm
RPMSRC = $(RPMDIR)/volkey-$(VERSION)
RPM_UNDEF = $(if $(shell rpm --eval '%{?$(1):1}' 2>/dev/null),,$(2))
RPMBUILD_DEFS = $(call RPM_UNDEF,_unitdir,--define '_unitdir /usr/lib/systemd/system') \
	$(call RPM_UNDEF,_presetdir,--define '_presetdir /usr/lib/systemd/system-preset') \
	$(call RPM_UNDEF,_udevrulesdir,--define '_udevrulesdir /usr/lib/udev/rules.d') \
	$(call RPM_UNDEF,systemd_post,--load tools/rpm/macros.debian-check)
rpm:
	@command -v rpmbuild >/dev/null && command -v rpmlint >/dev/null || \
		{ echo "rpm: rpmbuild and rpmlint are needed (make deps: the rpm group)"; exit 1; }
	@v=$$(sed -n 's/^Version:[[:space:]]*//p' tools/rpm/volkey.spec); [ "$$v" = '$(VERSION)' ] || \
		{ echo "rpm: tools/rpm/volkey.spec says Version: $$v, the code is $(VERSION)"; exit 1; }
	@rm -rf $(RPMDIR) && mkdir -p $(RPMSRC) $(RPMDIR)/SOURCES
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard | grep -zv '^$(BUILD)/'; \
	else \
		find . -mindepth 1 \( -type d \( -name .git -o -name __pycache__ -o -path ./build -o -path ./build-asan \
			-o -path ./build-tsan -o -path './$(BUILD)' \) -prune \) -o \( -type f ! -name '*.o' ! -name '*.d' -print0 \); \
	fi | tar --null -T - --ignore-failed-read -cf - | tar -xf - -C $(RPMSRC)
	@tar -C $(RPMDIR) --sort=name --owner=0 --group=0 --numeric-owner -czf $(RPMDIR)/SOURCES/volkey-$(VERSION).tar.gz volkey-$(VERSION)
	@echo "  RPM     $(RPMDIR)/RPMS (log: $(RPMDIR)/build.log)"
	@env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD rpmbuild -bb --nodeps --define '_topdir $(abspath $(RPMDIR))' \
		$(RPMBUILD_DEFS) $(RPMSRC)/tools/rpm/volkey.spec >$(RPMDIR)/build.log 2>&1 || { tail -n 60 $(RPMDIR)/build.log; exit 1; }
	@echo "  RPMLINT $(RPMDIR)/RPMS"
	@rpmlint -c tools/rpm/rpmlint.toml $(RPMSRC)/tools/rpm/volkey.spec $(RPMDIR)/RPMS/*/*.rpm

# --- ssm: AWS Systems Manager (docs/ssm.md) ---------------------------------------
# The Command documents checked (tools/ssm/validate.py) and the Distributor
# package in $(BUILD)/ssm: manifest.json, one zip per platform with install.sh,
# update.sh, uninstall.sh and make deb's packages of DEB_VERSION (built first
# when the volkey .deb is missing), documents/.
SSMDIR = $(BUILD)/ssm
ssm:
	@[ -f $(DEBDIR)/volkey_$(DEB_FILEVERSION)_amd64.deb ] || $(MAKE) --no-print-directory deb
	@/usr/bin/python3 tools/ssm/validate.py docs tools/ssm/Volkey-*.json
	@tools/ssm/mkpackage --deb-dir $(DEBDIR) --version '$(DEB_VERSION)' --out $(SSMDIR)
	@/usr/bin/python3 tools/ssm/validate.py manifest $(SSMDIR)
# --- end ssm ---------------------------------------------------------------------

# volkeyd under ThreadSanitizer (with the lock check), for the rig scenario agent-stress.
tsan:
	@$(MAKE) --no-print-directory BUILD=build-tsan TSAN=1 build-tsan/volkeyd

clean:
	rm -rf build build-asan build-tsan

-include $(AGENT_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TOKEN_OBJ:.o=.d) $(VOLKEYD_OBJ:.o=.d) $(UNIT_BIN:=.d) $(PROG_BIN:=.d)
