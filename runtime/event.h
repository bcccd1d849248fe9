// runtime/event.h: normalized events and the per-patient state the rules read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cdr::runtime {

enum class Status : uint8_t { Final, Amended, EnteredInError };

/// One event after ingest: its signal resolved, its value in the signal's canonical unit.
struct Event {
  std::string id;
  std::string patient;
  int32_t signal = -1;  // index into ir::Module::signals
  int64_t time = 0;     // event time, ms since the epoch
  int64_t recorded = 0;
  bool has_value = false;
  int64_t value = 0;  // raw: bool 0/1, int, decimal raw, interned text id
  Status status = Status::Final;
};

/// An event as stored for a patient and signal.
struct StoredEvent {
  int64_t time = 0;
  int64_t value = 0;
  bool has_value = false;
  std::string id;
};

/// A patient's events, per signal, each list sorted by (time, id).
struct PatientEvents {
  std::vector<std::vector<StoredEvent>> by_signal;
};

}  // namespace cdr::runtime
