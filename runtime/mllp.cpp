// runtime/mllp.cpp: the MLLP listener: frames in, each message checked, journaled with
// fsync, then acknowledged.
#include "runtime/mllp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <chrono>
#include <cstring>

#include "runtime/hl7v2.h"
#include "stdlib/time.h"

namespace cdr::runtime {
namespace {

constexpr char kStart = 0x0B, kEnd = 0x1C, kCr = 0x0D;

// The `n`th field (HL7 numbering) of a message's first line when it starts `MSH` and a
// separator: read without parsing, for a message that does not parse.
std::string MshField(std::string_view message, size_t n) {
  if (message.substr(0, 3) != "MSH" || message.size() < 4) return {};
  const char sep = message[3];
  std::string_view line = message.substr(0, message.find_first_of("\r\n"));
  size_t field = 1, start = 3;  // MSH-1 is the separator itself
  for (size_t i = 4; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == sep) {
      if (field + 1 == n) return std::string(line.substr(start + 1, i - start - 1));
      ++field;
      start = i;
    }
  }
  return {};
}

// An HL7 DTM of a time in UTC: YYYYMMDDHHMMSS+0000.
std::string Dtm(int64_t ms) {
  std::string t = stdlib::FormatTime(ms);  // 2024-01-01T10:00:00Z or with .mmm
  std::string out;
  for (char c : t.substr(0, 19)) {
    if (c >= '0' && c <= '9') out += c;
  }
  return out + "+0000";
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::string MllpAck(std::string_view message, std::string_view code, std::string_view text, int error, int64_t now_ms,
                    uint64_t ack_number) {
  const hl7v2::Encoding enc;  // the ACK's own: | ^ ~ \ &
  auto field = [&](size_t n) { return hl7v2::Escape(hl7v2::Unescape(MshField(message, n), enc), enc); };
  const std::string trigger = MshField(message, 9).substr(0, 7);  // MSH-9.2, the trigger event
  const size_t hat = trigger.find('^');
  const std::string event = hat == std::string::npos ? "" : trigger.substr(hat + 1, 3);
  const std::string version = field(12).empty() ? "2.5.1" : field(12);
  std::string ack = "MSH|^~\\&|CDR|CDR|" + field(3) + "|" + field(4) + "|" + Dtm(now_ms) + "||ACK^" + hl7v2::Escape(event, enc) +
                    "^ACK|CDR" + std::to_string(ack_number) + "|P|" + version + "\r";
  ack += "MSA|" + std::string(code) + "|" + field(10) + "|" + hl7v2::Escape(text.substr(0, 1000), enc) + "\r";
  if (code != "AA") {
    // HL7 table 0357: 100 segment sequence error, 101 required field missing, 102 data
    // type error, 207 application internal error.
    const char* name = error == 100 ? "Segment sequence error" : error == 101 ? "Required field missing"
                     : error == 102 ? "Data type error" : "Application internal error";
    ack += "ERR|||" + std::to_string(error) + "^" + name + "^HL70357|E||||" + hl7v2::Escape(text.substr(0, 1000), enc) + "\r";
  }
  return ack;
}

std::unique_ptr<MllpListener> MllpListener::Open(const std::string& host, int port, Journal& journal,
                                                 const FormatOptions& options, std::string& error) {
  std::unique_ptr<MllpListener> l(new MllpListener());
  l->format_ = MakeInputFormat("hl7v2", options, error);
  in_addr addr{};
  if (::inet_pton(AF_INET, host.c_str(), &addr) != 1) {
    error = "mllp: `" + host + "` is not an IPv4 address (such as 127.0.0.1 or 0.0.0.0)";
    return nullptr;
  }
  l->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(l->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr = addr;
  if (l->listen_fd_ < 0 || ::bind(l->listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(l->listen_fd_, 16) != 0) {
    error = "mllp: cannot listen on " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
    return nullptr;
  }
  socklen_t len = sizeof sa;
  ::getsockname(l->listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  l->address_ = host + ":" + std::to_string(ntohs(sa.sin_port));
  l->journal_ = &journal;
  if (::pipe2(l->stop_pipe_, O_CLOEXEC) != 0) {
    error = std::string("mllp: ") + std::strerror(errno);
    return nullptr;
  }
  return l;
}

MllpListener::~MllpListener() {
  Stop();
  for (int fd : {listen_fd_, stop_pipe_[0], stop_pipe_[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

void MllpListener::Start() { acceptor_ = std::thread([this] { Accept(); }); }

void MllpListener::Stop() {
  if (stopping_.exchange(true)) return;
  if (stop_pipe_[1] >= 0) (void)!::write(stop_pipe_[1], "x", 1);
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::unique_ptr<Connection>> connections;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& c : connections_) {
      if (!c->done) ::shutdown(c->fd, SHUT_RDWR);
    }
    connections.swap(connections_);
  }
  for (const auto& c : connections) c->thread.join();
}

void MllpListener::Reap() {
  std::vector<std::unique_ptr<Connection>> ended;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto keep = std::stable_partition(connections_.begin(), connections_.end(), [](const auto& c) { return !c->done; });
    std::move(keep, connections_.end(), std::back_inserter(ended));
    connections_.erase(keep, connections_.end());
  }
  for (const auto& c : ended) c->thread.join();
}

MllpStats MllpListener::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::vector<std::string> MllpListener::TakeLog() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  out.swap(log_);
  return out;
}

void MllpListener::Log(std::string line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (log_.size() < 10000) log_.push_back(std::move(line));
}

void MllpListener::Accept() {
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (fd < 0) continue;
    char ip[INET_ADDRSTRLEN] = "?";
    ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    std::string who = std::string(ip) + ":" + std::to_string(ntohs(peer.sin_port));
    Reap();
    std::lock_guard<std::mutex> lock(mu_);
    if (connections_.size() >= kMaxMllpConnections) {
      ::close(fd);
      ++stats_.turned_away;
      if (log_.size() < 10000) {
        log_.push_back("mllp: " + who + " turned away: " + std::to_string(kMaxMllpConnections) + " connections are open");
      }
      continue;
    }
    ++stats_.connections;
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    Connection* raw = c.get();
    c->thread = std::thread([this, raw, who] { Serve(raw, who); });
    connections_.push_back(std::move(c));
  }
}

// Reads frames until the peer closes; each message handled, its ACK sent back.
void MllpListener::Serve(Connection* connection, std::string peer) {
  const int fd = connection->fd;
  Log("mllp: " + peer + " connected");
  std::string buf, frame;
  bool in_frame = false, too_large = false;
  uint64_t stray = 0;
  char chunk[65536];
  bool open = true;
  while (open && !stopping_) {
    pollfd p[2] = {{fd, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) break;
    if (p[1].revents) break;
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n && open; ++i) {
      const char c = chunk[i];
      if (!in_frame) {
        if (c == kStart) {
          in_frame = true;
          too_large = false;
          frame.clear();
        } else if (c != kCr && c != '\n') {
          ++stray;  // bytes outside any frame: not a message
        }
        continue;
      }
      if (c == kEnd) {
        // <FS> then <CR> ends the frame; the <CR> is read with the next byte (a lone <FS>
        // ends it too: senders differ).
        in_frame = false;
        std::string ack;
        if (too_large) {
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.messages;
          ++stats_.rejected;
          ack = MllpAck(frame, "AR", "the message is over the limit of " + std::to_string(kMaxRecordBytes) + " bytes", 100,
                        std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count(), ++acks_);
        } else {
          ack = Handle(frame);
        }
        open = WriteAll(fd, std::string(1, kStart) + ack + std::string(1, kEnd) + std::string(1, kCr));
        continue;
      }
      if (c == kStart) {  // a new frame before the last ended: the last is lost
        ++stray;
        frame.clear();
        continue;
      }
      if (frame.size() < kMaxRecordBytes) {
        frame += c;
      } else {
        too_large = true;
      }
    }
  }
  if (stray) Log("mllp: " + peer + ": " + std::to_string(stray) + " bytes outside any frame ignored");
  Log("mllp: " + peer + " closed");
  std::lock_guard<std::mutex> lock(mu_);
  ::close(fd);
  connection->done = true;
}

std::string MllpListener::Handle(std::string_view message) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  // Checked as the pipeline will read it: translated.
  std::string code = "AA", text;
  int error = 0;
  Translation t;
  format_->Translate(message, t);
  const size_t events = t.events();
  const std::vector<std::string> refused = t.reasons();
  if (t.malformed) {  // it does not parse
    code = "AR";
    text = refused[0];
    error = 100;
  } else if (events == 0 && !refused.empty()) {
    code = "AE";
    text = refused[0];
    error = text.find("PID") != std::string::npos ? 101 : 102;
  } else if (!refused.empty()) {
    text = std::to_string(refused.size()) + " of " + std::to_string(refused.size() + events) +
           " observations cannot be used (dead-lettered): " + refused[0];
  }
  // The journal holds the message as the hl7v2 format reads a file: its segments ended by
  // CR, then an empty line (which ends it there, without waiting for the next). Refused
  // messages too: the pipeline dead-letters them with the reason, for the operators.
  std::string entry;
  entry.reserve(message.size() + 4);
  size_t start = 0;
  for (size_t i = 0; i <= message.size(); ++i) {
    if (i == message.size() || message[i] == '\r' || message[i] == '\n') {
      if (i > start) {
        entry.append(message.substr(start, i - start));
        entry += '\r';
      }
      start = i + 1;
    }
  }
  if (entry.empty()) entry = "\r";
  entry += "\n\r\n";
  std::string why;
  const bool stored = journal_->Append(entry, why);
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.messages;
  if (!stored) {
    ++stats_.not_stored;
    ++stats_.errors;
    return MllpAck(message, "AE", "the message could not be stored (" + why + "): send it again", 207, now, ++acks_);
  }
  (code == "AA" ? stats_.accepted : code == "AE" ? stats_.errors : stats_.rejected)++;
  return MllpAck(message, code, text, error, now, ++acks_);
}

}  // namespace cdr::runtime
