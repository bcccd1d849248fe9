// runtime/file_host.h: the embedded file/stdin host: NDJSON lines in, alert, trace,
// dead-letter and late lines out. No server; one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <ostream>

#include "compiler/ir/ir.h"
#include "runtime/engine.h"
#include "runtime/line_reader.h"

namespace cdr::runtime {

struct HostOutputs {
  std::ostream* alerts = nullptr;
  std::ostream* trace = nullptr;
  std::ostream* dead_letter = nullptr;
  std::ostream* late = nullptr;
  /// Whether dead-letter and late lines quote the event (see Outputs::late_input).
  bool dead_letter_input = true, late_input = true;
  /// Called after each input line is processed (its alerts written to the streams);
  /// false stops the intake at once (an output cannot be written).
  std::function<bool()> after_line;
};

/// What a run did. read = used + dead_lettered + late.
struct HostStats {
  uint64_t read = 0;  // non-blank lines
  uint64_t used = 0;
  uint64_t dead_lettered = 0;
  uint64_t late = 0;
  uint64_t blank = 0;
  uint64_t patients = 0;
  uint64_t fired = 0;
  uint64_t retracted = 0;
  uint64_t superseded = 0;  // used events that were older versions of an id in force (changed nothing)
  uint64_t held = 0;         // events held by the stream clock (ahead of the stream time), at some point
  uint64_t quarantined = 0;  // of those, never corroborated: dead-lettered (included in dead_lettered)
  uint64_t implausible_kept = 0;  // values outside their plausible range, used (`plausible ... keep`)
  std::string read_error;  // the input ended on a read error (the run stopped there)
  bool stopped = false;    // after_line stopped the intake (the rest of the input was not read)
  bool native = false;          // the rules ran as native code at the end
  uint64_t native_from_event = 0;  // events read before native code took over
};

/// Streams every line of `in` through the rules of `module`. `progress`, when given, is
/// called now and then with the stats so far. With `keep_state`, the engine's state is
/// not freed on return (for a process that exits right after: freeing 100,000 patients
/// one object at a time takes seconds).
HostStats RunFileHost(const ir::Module& module, const ReadFn& in, const HostOutputs& out, const EngineOptions& options,
                      const std::function<void(const HostStats&)>& progress = {}, bool keep_state = false);
/// The same over a stream.
HostStats RunFileHost(const ir::Module& module, std::istream& in, const HostOutputs& out, const EngineOptions& options,
                      const std::function<void(const HostStats&)>& progress = {}, bool keep_state = false);


}  // namespace cdr::runtime
