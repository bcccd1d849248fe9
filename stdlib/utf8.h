// stdlib/utf8.h: UTF-8 validation shared by the parser, the diagnostic printer and the
// event host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cdr::stdlib {

/// The length of the valid UTF-8 sequence that starts at `s[i]`, or 0 when the bytes
/// there are not valid UTF-8 (a stray continuation byte, a truncated sequence, an
/// overlong form, a surrogate, a code point past U+10FFFF) or are NUL.
inline size_t Utf8SequenceLength(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == 0) return 0;
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len <= 1) return len;
  if (i + len > s.size()) return 0;
  uint32_t cp = len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) {
    unsigned char n = static_cast<unsigned char>(s[i + k]);
    if ((n & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (n & 0x3F);
  }
  bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
  if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return len;
}

/// `s` with each invalid byte replaced by `replacement`. NUL is kept when `keep_nul`
/// (a JSON writer escapes it) and replaced otherwise (a terminal should not get it).
inline std::string ReplaceInvalidUtf8(std::string_view s, std::string_view replacement, bool keep_nul) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    size_t len = (keep_nul && s[i] == '\0') ? 1 : Utf8SequenceLength(s, i);
    if (len == 0) {
      out += replacement;
      ++i;
      continue;
    }
    out.append(s, i, len);
    i += len;
  }
  return out;
}

}  // namespace cdr::stdlib
