// SPDX-License-Identifier: GPL-2.0
// Records as trace events: fills the plain-data forkscope_event_view of
// platform.h from a published record, for forkscope_platform_emit.
#ifndef FORKSCOPE_CORE_EVENT_VIEW_H
#define FORKSCOPE_CORE_EVENT_VIEW_H

#include <forkscope/platform.h>

#include "record.h"
#include "stage_model.h"

namespace forkscope {

static_assert(kStageCount <= FORKSCOPE_EVENT_MAX_STAGES, "every stage fits in an event");
static_assert(kCommLength == FORKSCOPE_EVENT_COMM_LEN, "comm lengths agree");
static_assert(kFilenameLength == FORKSCOPE_EVENT_FILENAME_LEN, "filename lengths agree");

// The view of a record (any event type) and its partition.
void build_event_view(const Record& record, const Partition& partition, forkscope_event_view* out);

// Builds the view and hands it to the platform; called by Engine::publish
// only when forkscope_platform_events_enabled().
void emit_event(const Record& record, const Partition& partition);

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_EVENT_VIEW_H
