// compiler/driver/audit_log.h: the hash-chained JSON Lines log of governance: approvals
// (`cdr approve`), deployments, refused reloads and retirements (`cdr run`, `cdr serve`).
// Each entry is one line, a JSON object whose first fields are `seq` (1, 2, ...), `prev`
// (the SHA-256 of the line before, exactly as written; null for the first), `time` and
// `kind`. Editing, deleting, reordering or cutting an entry breaks the chain at that
// entry; `Verify` names the first bad one (docs/governance.md, "The audit log").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cdr::driver {

/// The string at `key` of a JSON object (json or ordered_json), or empty when absent or not
/// a string.
template <class Json>
std::string StringField(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->template get<std::string>() : "";
}

/// One entry as read: its parsed object, its line, its hash ("sha256:<hex>").
struct LogEntry {
  nlohmann::json json;
  std::string line;  // without the newline
  std::string hash;
  uint64_t seq = 0;
  std::string kind, time;
};

/// What reading a log found: its entries up to the first bad one, and that one named.
struct LogCheck {
  std::vector<LogEntry> entries;  // the entries that verify, in order
  bool ok = true;
  uint64_t bad_line = 0;  // 1-based line of the first bad entry
  std::string problem;    // what is wrong with it
  bool missing = false;   // the file does not exist (an empty log)
  std::string io_error;   // it could not be read
  std::string head() const { return entries.empty() ? "" : entries.back().hash; }
};

/// Verifies the text of a log: every entry up to the first bad one.
LogCheck VerifyLog(const std::string& text);

/// Reads and verifies a log. A missing file is an empty, valid log (`missing` set).
LogCheck ReadLog(const std::string& path);

/// "sha256:" and the hex SHA-256 of a line.
std::string LineHash(const std::string& line);

/// Appends entries to a log: each gets `seq`, `prev`, `time` (the wall clock) and the
/// given `kind` first, then the fields of `fields` in their order. The file is locked
/// (flock) while the chain is read and extended, and fdatasync'd before Append returns.
/// A chain that does not verify is never extended.
class LogWriter {
 public:
  /// Opens (creating, mode 0600) and verifies the log; nullopt with the reason.
  static std::optional<LogWriter> Open(const std::string& path, std::string& error);
  /// Appends one entry; its hash, or nullopt with the reason (nothing was appended).
  std::optional<std::string> Append(const std::string& kind, const nlohmann::ordered_json& fields,
                                    std::string& error);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace cdr::driver
