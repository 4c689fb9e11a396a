// SPDX-License-Identifier: GPL-2.0
// The calibration's own in-flight record: the glue's calibration hooks run
// the real handlers, which find this slot and mark the calibration anchor's
// boundaries in it as they would a creation's, so the measured bias covers
// forkscope's own work after each timestamp. Nothing here is probe context.
#include "engine_state.h"

namespace forkscope {

int Engine::calibration_begin(const void* task) {
  bool leftover = false;
  InflightSlot* slot = inflight_->find_or_claim(reinterpret_cast<ktl::uintptr_t>(task), &leftover);
  if (slot == nullptr) return -FORKSCOPE_ENOMEM;
  if (leftover) return -FORKSCOPE_EBUSY;  // the task's own creation: not ours to reuse
  Record& record = slot->record;
  record = Record{};
  record.event = EventType::kFork;
  record.verdict.reason = "calibration";
  return 0;
}

void Engine::calibration_rearm(const void* task, bool entered) {
  InflightSlot* slot = find_slot(task);
  if (slot == nullptr) return;
  Record& record = slot->record;
  ktl::u64 in = ktl::u64{1} << entry_boundary(kCalibrationAnchor);
  ktl::u64 out = ktl::u64{1} << return_boundary(kCalibrationAnchor);
  record.present &= ~(in | out);
  record.boundary_ns[entry_boundary(kCalibrationAnchor)] = 0;
  record.boundary_ns[return_boundary(kCalibrationAnchor)] = 0;
  if (entered) record.present |= in;
  record.repeated_boundaries = 0;
}

void Engine::calibration_stamps(const void* task, ktl::u64* entry, ktl::u64* ret) {
  *entry = 0;
  *ret = 0;
  InflightSlot* slot = find_slot(task);
  if (slot == nullptr) return;
  *entry = slot->record.boundary_ns[entry_boundary(kCalibrationAnchor)];
  *ret = slot->record.boundary_ns[return_boundary(kCalibrationAnchor)];
}

void Engine::calibration_end(const void* task) {
  if (InflightSlot* slot = find_slot(task)) TaskTable<InflightSlot>::release(slot);
}

}  // namespace forkscope
