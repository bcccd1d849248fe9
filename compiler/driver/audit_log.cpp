// compiler/driver/audit_log.cpp: reading, verifying and extending a hash-chained log.
#include "compiler/driver/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "stdlib/hash.h"
#include "stdlib/time.h"

namespace cdr::driver {

LogCheck VerifyLog(const std::string& text) {
  LogCheck check;
  auto fail = [&check](uint64_t line, std::string problem) {
    check.ok = false;
    check.bad_line = line;
    check.problem = std::move(problem);
    return check;
  };
  size_t start = 0;
  uint64_t n = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    ++n;
    if (end == std::string::npos) {
      return fail(n, "cut short: the log ends inside this entry (the file was truncated, or a write did not finish)");
    }
    LogEntry e;
    e.line = text.substr(start, end - start);
    start = end + 1;
    e.json = nlohmann::json::parse(e.line, nullptr, /*allow_exceptions=*/false);
    if (!e.json.is_object()) return fail(n, "not a JSON object");
    const auto seq = e.json.find("seq");
    if (seq == e.json.end() || !seq->is_number_unsigned()) return fail(n, "no `seq`");
    e.seq = seq->get<uint64_t>();
    if (e.seq != n) {
      return fail(n, "`seq` is " + std::to_string(e.seq) + " where " + std::to_string(n) +
                         " follows: an entry before it was deleted, or entries were moved");
    }
    const auto prev = e.json.find("prev");
    if (prev == e.json.end()) return fail(n, "no `prev`");
    if (n == 1 && !prev->is_null()) return fail(n, "the first entry's `prev` is not null: entries before it were deleted");
    if (n > 1) {
      if (!prev->is_string()) return fail(n, "`prev` is not a hash");
      if (prev->get<std::string>() != check.entries.back().hash) {
        // The entry before was changed after this one recorded its hash.
        check.entries.pop_back();
        return fail(n - 1, "changed after it was written: its hash is not the `prev` entry " + std::to_string(n) +
                               " recorded");
      }
    }
    const auto kind = e.json.find("kind");
    const auto time = e.json.find("time");
    if (kind == e.json.end() || !kind->is_string() || time == e.json.end() || !time->is_string()) {
      return fail(n, "no `kind` or `time`");
    }
    e.kind = kind->get<std::string>();
    e.time = time->get<std::string>();
    e.hash = LineHash(e.line);
    check.entries.push_back(std::move(e));
  }
  return check;
}

namespace {

// The whole file behind `fd`, from its start.
bool ReadAll(int fd, std::string& text, std::string& error) {
  text.clear();
  char buf[1 << 16];
  off_t at = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::strerror(errno);
      return false;
    }
    if (n == 0) return true;
    text.append(buf, static_cast<size_t>(n));
    at += n;
  }
}

}  // namespace

std::string LineHash(const std::string& line) { return "sha256:" + stdlib::Sha256Hex(line); }

LogCheck ReadLog(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    LogCheck check;
    if (errno == ENOENT) {
      check.missing = true;
    } else {
      check.ok = false;
      check.io_error = "cannot read " + path + ": " + std::strerror(errno);
    }
    return check;
  }
  std::string text, error;
  bool read = ReadAll(fd, text, error);
  ::close(fd);
  if (!read) {
    LogCheck check;
    check.ok = false;
    check.io_error = "cannot read " + path + ": " + error;
    return check;
  }
  return VerifyLog(text);
}

std::optional<LogWriter> LogWriter::Open(const std::string& path, std::string& error) {
  LogCheck check = ReadLog(path);
  if (!check.io_error.empty()) {
    error = check.io_error;
    return std::nullopt;
  }
  if (!check.ok) {
    error = "the log " + path + " does not verify: entry " + std::to_string(check.bad_line) + " " + check.problem;
    return std::nullopt;
  }
  LogWriter w;
  w.path_ = path;
  return w;
}

std::optional<std::string> LogWriter::Append(const std::string& kind, const nlohmann::ordered_json& fields,
                                             std::string& error) {
  int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot open " + path_ + ": " + std::strerror(errno);
    return std::nullopt;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }  // also releases the lock
  } closer{fd};
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      error = "cannot lock " + path_ + ": " + std::strerror(errno);
      return std::nullopt;
    }
  }
  // Read again under the lock: another process may have appended since Open.
  std::string text;
  if (!ReadAll(fd, text, error)) {
    error = "cannot read " + path_ + ": " + error;
    return std::nullopt;
  }
  LogCheck check = VerifyLog(text);
  if (!check.ok) {
    error = "the log " + path_ + " does not verify: entry " + std::to_string(check.bad_line) + " " + check.problem +
            "; nothing was appended";
    return std::nullopt;
  }
  nlohmann::ordered_json entry;
  entry["seq"] = check.entries.size() + 1;
  entry["prev"] = check.entries.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(check.head());
  entry["time"] = stdlib::FormatTime(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  entry["kind"] = kind;
  for (const auto& [key, value] : fields.items()) entry[key] = value;
  const std::string line = entry.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  const std::string data = line + "\n";
  const off_t size = static_cast<off_t>(text.size());
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, size + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  if (done < data.size() || ::fdatasync(fd) != 0) {
    error = "cannot write " + path_ + ": " + std::strerror(errno);
    // A part written would leave the log cut short: take it back.
    if (::ftruncate(fd, size) != 0) error += " (and the part written could not be taken back)";
    return std::nullopt;
  }
  return LineHash(line);
}

}  // namespace cdr::driver
