// compiler/source/suggest.h: "did you mean": the closest of some names to a misspelt one
// (names, keywords, rules, schemas; every stage that suggests uses these).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cdr::source {

/// Edit distance (optimal string alignment: a swap of two neighbours is one edit), for
/// "did you mean" suggestions.
size_t EditDistance(std::string_view a, std::string_view b);
/// The closest candidate within a small distance (a third of the name's length, at least
/// 1), or empty.
std::string Suggest(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace cdr::source
