// stdlib/hash.h: SHA-256 (OpenSSL) for rule content hashes and alert ids.
#pragma once

#include <string>
#include <string_view>

namespace cdr::stdlib {

/// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

/// SHA-256 of data given in pieces (a checkpoint written from several buffers).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  /// Lowercase hex of the digest of everything given (once).
  std::string HexDigest();

 private:
  void* ctx_;  // EVP_MD_CTX
};

}  // namespace cdr::stdlib
