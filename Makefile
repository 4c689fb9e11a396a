# SPDX-License-Identifier: GPL-2.0
# forkscope top-level Makefile: module build against Debian's 6.1 headers,
# host unit tests, in-VM selftests, demo and check. Kbuild reads ./Kbuild.
KVER ?= $(shell cat build/kver 2>/dev/null || ls /lib/modules 2>/dev/null | grep -- '-amd64$$' | sort -V | tail -n 1)
KDIR ?= /lib/modules/$(KVER)/build

.PHONY: all module clean
all: module

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
