// stdlib/hash.h: SHA-256 (OpenSSL) for rule content hashes and alert ids.
#pragma once

#include <string>
#include <string_view>

namespace cdr::stdlib {

/// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace cdr::stdlib
