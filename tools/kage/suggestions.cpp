#include "kage/suggestions.hpp"

#include <algorithm>

#include "kage/text.hpp"

namespace kage::cli::detail {
namespace {

// Optimal string alignment distance: a swapped pair ("bakcup") costs one edit, like a typo.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

// The candidate a typo most likely meant: within two edits, else the only one it abbreviates.
std::optional<std::string> closest(std::string_view wrong,
                                   const std::vector<std::string>& options) {
  std::string w = lower(wrong);
  std::optional<std::string> best;
  std::size_t best_distance = 3;
  for (const auto& o : options) {
    auto d = edit_distance(w, o);
    if (d < best_distance) best_distance = d, best = o;
  }
  if (best) return best;
  std::vector<std::string> prefixed;
  for (const auto& o : options)
    if (w.size() >= 4 && o.starts_with(w)) prefixed.push_back(o);
  if (prefixed.size() == 1) return prefixed.front();
  return std::nullopt;
}

std::string did_you_mean(const std::optional<std::string>& s) {
  return s ? " (did you mean " + quoted(*s) + "?)" : "";
}

}  // namespace kage::cli::detail
