// The CUDA side of status(): driver, runtime and the configured device.
#pragma once

#include "core/status.h"

namespace smartturn {

/** Never throws: a missing driver or device is a finding. */
CudaFindings ProbeCuda(int device);

}  // namespace smartturn
