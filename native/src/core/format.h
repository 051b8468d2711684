// Small text helpers for the core's error messages and descriptions.
#pragma once

#include <string>
#include <vector>

namespace smartturn {

/** "16, 32, 64": a list of bucket sizes as messages print it. */
inline std::string JoinInts(const std::vector<int>& values) {
  std::string s;
  for (int v : values) s += (s.empty() ? "" : ", ") + std::to_string(v);
  return s;
}

}  // namespace smartturn
