// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel side of platform.h's trace events: creates forkscope:fork, :exec
 * and :spawn (forkscope_trace.h) and emits a record's view as one of them.
 */
#include <linux/kprobes.h>

#include <forkscope/platform.h>

#include "glue.h"

#define CREATE_TRACE_POINTS
#include "forkscope_trace.h"

/* Static-key tests: a patched-out branch each while the events are off. */
int forkscope_platform_events_enabled(void)
{
	return trace_fork_enabled() || trace_exec_enabled() ||
	       trace_spawn_enabled();
}
NOKPROBE_SYMBOL(forkscope_platform_events_enabled);

void forkscope_platform_emit(const struct forkscope_event_view *view)
{
	switch (view->event) {
	case FORKSCOPE_EVENT_FORK:
		trace_fork(view);
		break;
	case FORKSCOPE_EVENT_EXEC:
		trace_exec(view);
		break;
	case FORKSCOPE_EVENT_SPAWN:
		trace_spawn(view);
		break;
	}
}
NOKPROBE_SYMBOL(forkscope_platform_emit);
