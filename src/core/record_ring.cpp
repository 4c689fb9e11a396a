// SPDX-License-Identifier: GPL-2.0
// Per-CPU record ring: sequence-counted slots, one writer, many readers.
#include "record_ring.h"

#include <ktl/alloc_checker.h>
#include <ktl/utility.h>

#include "probe_context.h"

namespace forkscope {

FORKSCOPE_PROBE_CONTEXT void RecordSlot::write(const Record& record, ktl::u64 index) {
  seq_.begin_write();
  record_ = record;
  ktl::write_once(index_, index);
  seq_.end_write();
}

bool RecordSlot::read(ktl::u64 index, Record* out) const {
  ktl::u32 seq = seq_.read_begin();
  if (ktl::SeqCount::writing(seq)) return false;
  if (ktl::read_once(index_) != index) return false;
  ktl::copy_bytes(out, &record_, sizeof(Record));
  return !seq_.read_retry(seq);
}

ktl::u64 RecordSlot::stored_index() const {
  ktl::u32 seq = seq_.read_begin();
  if (ktl::SeqCount::writing(seq)) return ktl::kU64Max;
  return ktl::read_once(index_);
}

FORKSCOPE_PROBE_CONTEXT void RecordSlot::clear() {
  seq_.begin_write();
  ktl::write_once(index_, ktl::kU64Max);
  seq_.end_write();
}

int RecordRing::init(ktl::u32 capacity) {
  int err = slots_.init(capacity);
  capacity_ = err == 0 ? capacity : 0;
  return err;
}

FORKSCOPE_PROBE_CONTEXT void RecordRing::push(const Record& record) {
  ktl::u64 index = head_.load(ktl::MemoryOrder::kRelaxed);
  slots_[index % capacity_].write(record, index);
  head_.store(index + 1, ktl::MemoryOrder::kRelease);
}

ktl::u64 RecordRing::oldest() const {
  ktl::u64 written = head_.load(ktl::MemoryOrder::kAcquire);
  ktl::u64 base = base_.load(ktl::MemoryOrder::kAcquire);
  ktl::u64 held = written > capacity_ ? written - capacity_ : 0;
  return held > base ? held : base;
}

}  // namespace forkscope
