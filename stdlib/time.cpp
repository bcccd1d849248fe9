// stdlib/time.cpp: RFC 3339 parsing and formatting (proleptic Gregorian, UTC).
#include "stdlib/time.h"

#include <cstdio>

namespace cdr::stdlib {
namespace {

// Days from 1970-01-01 to y-m-d (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool Digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<int64_t> ParseTime(std::string_view s) {
  int y, mo, d;
  if (!Digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, mo) || s[7] != '-' ||
      !Digits(s, 8, 2, d)) {
    return std::nullopt;
  }
  if (y < 1 || mo < 1 || mo > 12 || d < 1) return std::nullopt;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return std::nullopt;
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  if (s.size() == 10) return days * 86400000;
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return std::nullopt;
  int h, mi, sec;
  if (!Digits(s, 11, 2, h) || s.size() < 19 || s[13] != ':' || !Digits(s, 14, 2, mi) || s[16] != ':' ||
      !Digits(s, 17, 2, sec)) {
    return std::nullopt;
  }
  if (h > 23 || mi > 59 || sec > 60) return std::nullopt;  // 60: a leap second, counted as the next minute
  size_t pos = 19;
  int64_t ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) return std::nullopt;
  }
  int64_t offset_min = 0;
  if (pos >= s.size()) return std::nullopt;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!Digits(s, pos + 1, 2, oh) || pos + 6 > s.size() || s[pos + 3] != ':' || !Digits(s, pos + 4, 2, om) ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  return ((days * 24 + h) * 60 + mi - offset_min) * 60000 + static_cast<int64_t>(sec) * 1000 + ms;
}

std::string FormatTime(int64_t ms) {
  int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  int64_t rem = ms - days * 86400000;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  int h = static_cast<int>(rem / 3600000), mi = static_cast<int>(rem / 60000 % 60), s = static_cast<int>(rem / 1000 % 60);
  int milli = static_cast<int>(rem % 1000);
  if (y < 0 || y > 9999) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%lld-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<long long>(y), m, d, h, mi, s, milli);
    return buf;
  }
  // Hand-formatted: this runs for every alert and trace record.
  char out[24] = "0000-00-00T00:00:00.000";
  auto put = [&](int pos, int value, int width) {
    for (int i = width - 1; i >= 0; --i) {
      out[pos + i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  put(0, static_cast<int>(y), 4);
  put(5, static_cast<int>(m), 2);
  put(8, static_cast<int>(d), 2);
  put(11, h, 2);
  put(14, mi, 2);
  put(17, s, 2);
  if (milli) {
    put(20, milli, 3);
    return std::string(out, 23) + "Z";
  }
  return std::string(out, 19) + "Z";
}

}  // namespace cdr::stdlib
