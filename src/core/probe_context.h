// SPDX-License-Identifier: GPL-2.0
// FORKSCOPE_PROBE_CONTEXT marks core functions that run inside probe handlers: the
// module puts them in .kprobes.text, which kprobes refuses to probe (the C++
// counterpart of NOKPROBE_SYMBOL), so a probe can never recurse into us.
#ifndef FORKSCOPE_CORE_PROBE_CONTEXT_H
#define FORKSCOPE_CORE_PROBE_CONTEXT_H

#if defined(FORKSCOPE_HOST)
#define FORKSCOPE_PROBE_CONTEXT
#else
#define FORKSCOPE_PROBE_CONTEXT __attribute__((section(".kprobes.text"), noinline))
#endif

#endif  // FORKSCOPE_CORE_PROBE_CONTEXT_H
