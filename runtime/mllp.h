// runtime/mllp.h: an MLLP listener (HL7 v2 over TCP: the Minimal Lower Layer Protocol of
// HL7 v2.5.1 appendix C; each message framed <VT> ... <FS><CR>). Each message received is
// checked (parsed and translated by the hl7v2 input format), appended to a journal file
// and fsync'd, and only then acknowledged: MSA-1 AA (accepted), AE (it parses, but nothing
// of it can be used: no patient, no time) or AR (it does not parse), with the reason in
// MSA-3 and an ERR segment. The pipeline reads the journal as its input (a followed
// file), so a message acknowledged is on disk: a crash after the ACK loses nothing, and a
// restart with a checkpoint continues where the pipeline was.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "runtime/input_format.h"
#include "runtime/journal.h"

namespace cdr::runtime {

/// Connections read at once; one more is closed at once (logged, counted).
inline constexpr size_t kMaxMllpConnections = 64;

struct MllpStats {
  uint64_t connections = 0;
  uint64_t turned_away = 0;  // over kMaxMllpConnections
  uint64_t messages = 0;
  uint64_t accepted = 0;  // AA
  uint64_t errors = 0;    // AE
  uint64_t rejected = 0;  // AR
  uint64_t not_stored = 0;  // the journal could not be written: AE, for the sender to send again
};

class MllpListener {
 public:
  /// Binds HOST:PORT (PORT 0: any free one); messages go to `journal`, which must outlive
  /// the listener. Null, with the reason, when it cannot listen.
  static std::unique_ptr<MllpListener> Open(const std::string& host, int port, Journal& journal,
                                            const FormatOptions& options, std::string& error);
  ~MllpListener();
  /// Accepts connections on a thread (and reads each on a thread of its own).
  void Start();
  /// Closes the listening socket and every connection; waits for the threads.
  void Stop();
  /// HOST:PORT as bound.
  const std::string& address() const { return address_; }
  MllpStats stats() const;
  /// Lines to log (connections opened and closed, stray bytes), taken by the caller.
  std::vector<std::string> TakeLog();

 private:
  // The connections being read, each on its thread; a finished one is joined when the
  // next is accepted (a sender that connects for each message leaves no thread behind).
  struct Connection {
    std::thread thread;
    int fd = -1;
    bool done = false;  // under mu_
  };
  MllpListener() = default;
  void Accept();
  void Serve(Connection* c, std::string peer);
  /// Joins the connections' threads that have ended (mu_ not held).
  void Reap();
  // What one message gets back, after it is stored.
  std::string Handle(std::string_view message);
  void Log(std::string line);

  int listen_fd_ = -1;
  Journal* journal_ = nullptr;
  int stop_pipe_[2] = {-1, -1};
  std::string address_;
  std::unique_ptr<InputFormat> format_;
  std::thread acceptor_;
  mutable std::mutex mu_;  // the stats, the log, the connections
  std::vector<std::unique_ptr<Connection>> connections_;  // see Connection
  MllpStats stats_;
  std::vector<std::string> log_;
  uint64_t acks_ = 0;
  std::atomic<bool> stopping_{false};
};

/// The acknowledgement of `message` (HL7 v2.5.1 section 2.9.2): MSH with the sender as
/// receiver, MSA with `code` (AA, AE, AR), the message's control id (MSH-10) and `text`;
/// with an ERR segment (`error`: an HL7 table 0357 code) unless AA. Read from the
/// message's MSH as far as it can be (a message that does not parse may still name its
/// control id). Segments ended by CR.
std::string MllpAck(std::string_view message, std::string_view code, std::string_view text, int error, int64_t now_ms,
                    uint64_t ack_number);

}  // namespace cdr::runtime
