#pragma once

namespace smartturn {

/** What every GPU executor is told at open. */
struct GpuOptions {
  int device = 0;
  bool cuda_graphs = true;
};

}  // namespace smartturn
