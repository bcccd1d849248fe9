// compiler/driver/lsp.h: `cdr lsp`, a language server (LSP 3.17, JSON-RPC over stdio) for
// rule authors' editors (docs/editors.md).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cdr::driver::lsp {

/// One language server's state: the workspace's files (open documents over the files on
/// disk) and the latest analysis of them. Single-threaded; the transport is Serve's.
class Server {
 public:
  Server();
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Handles one JSON-RPC message (the content, without its header); returns the messages
  /// to send, in order. A request is answered from an analysis of the latest text (after
  /// the diagnostics that analysis publishes); an edit only marks the workspace changed.
  std::vector<std::string> Handle(std::string_view message);
  /// Analyses the workspace when an edit is pending; returns the publishDiagnostics
  /// notifications of the files whose diagnostics changed.
  std::vector<std::string> Flush();
  /// `exit` was received: the process ends with exit_code() (0 after `shutdown`, else 1).
  bool exited() const;
  int exit_code() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// `cdr lsp`: serves on file descriptors `in` and `out` (Content-Length framing) until
/// `exit` or the end of the input. 0 after shutdown and exit, 1 otherwise, 2 on a
/// message that breaks the framing.
int Serve(int in, int out);

}  // namespace cdr::driver::lsp
