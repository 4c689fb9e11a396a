/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's kselftest_harness.h with forkscope's default per-test timeout:
 * 30 s is too short on a KASAN+lockdep kernel under TCG (~20x slower).
 */
#ifndef FS_HARNESS_H
#define FS_HARNESS_H

#include "kselftest_harness.h"

/* A real hang is still bounded by the VM's own timeout (scripts/vm). */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 600

#endif
