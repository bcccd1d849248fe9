// compiler/source/suggest.cpp: edit distance and the closest name.
#include "compiler/source/suggest.h"

#include <algorithm>

namespace cdr::source {

size_t EditDistance(std::string_view a, std::string_view b) {
  // Optimal string alignment (Damerau-Levenshtein without edits of a moved pair): an
  // insertion, a deletion, a substitution or a swap of two neighbours costs 1, so the
  // usual typing slip `scroe` is one edit from `score`.
  std::vector<size_t> before(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) cur[j] = std::min(cur[j], before[j - 2] + 1);
    }
    std::swap(before, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Suggest(std::string_view name, const std::vector<std::string>& candidates) {
  if (name.size() > 64) return {};
  size_t limit = std::max<size_t>(1, name.size() / 3);
  std::string best;
  size_t best_d = limit + 1;
  for (const auto& c : candidates) {
    if (c.size() > 64) continue;
    size_t d = EditDistance(name, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

}  // namespace cdr::source
