#include "plan.h"

#include <sstream>

namespace trt_standin {
namespace {

constexpr const char* kMagic = "smart-turn TensorRT stand-in plan, format 1";

void WriteDims(std::ostream& out, const nvinfer1::Dims& d) {
  out << ' ' << d.nbDims;
  for (int i = 0; i < d.nbDims; ++i) out << ' ' << d.d[i];
}

bool ReadDims(std::istream& in, nvinfer1::Dims& d) {
  d = nvinfer1::Dims{};
  if (!(in >> d.nbDims) || d.nbDims < 0 || d.nbDims > nvinfer1::Dims::MAX_DIMS) return false;
  for (int i = 0; i < d.nbDims; ++i) {
    if (!(in >> d.d[i])) return false;
  }
  return true;
}

/** The rest of the line after one space: names may hold spaces. */
std::string Rest(std::istream& in) {
  std::string s;
  std::getline(in, s);
  return s.empty() ? s : s.substr(1);
}

}  // namespace

std::string DimsString(const nvinfer1::Dims& d) {
  std::string s = "[";
  for (int i = 0; i < d.nbDims; ++i) s += (i ? ", " : "") + std::to_string(d.d[i]);
  return s + "]";
}

std::string Serialize(const Plan& plan) {
  std::ostringstream out;
  out << kMagic << "\n";
  out << "tensorrt " << plan.tensorrt << "\n";
  out << "device " << plan.device.major << ' ' << plan.device.minor << ' ' << plan.device.name << "\n";
  out << "function " << plan.function << "\n";
  out << "flags " << plan.flags << "\n";
  out << "profiling " << plan.profiling_verbosity << "\n";
  for (const auto& t : plan.tensors) {
    out << (t.input ? "input " : "output ") << static_cast<int32_t>(t.type);
    WriteDims(out, t.dims);
    if (t.input) {
      WriteDims(out, t.min);
      WriteDims(out, t.opt);
      WriteDims(out, t.max);
    }
    out << ' ' << t.name << "\n";
  }
  for (const auto& l : plan.layers) out << "layer " << l.type << ' ' << l.precision << ' ' << l.name << "\n";
  out << "network " << plan.network << "\n";
  out << "end\n";
  return out.str();
}

bool Deserialize(const void* data, std::size_t size, Plan& plan, std::string& why) {
  const std::string text(static_cast<const char*>(data), size);
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kMagic) {
    why = "not a plan of the smart-turn TensorRT stand-in (a plan from real TensorRT, or another file?)";
    return false;
  }
  plan = Plan{};
  std::string key;
  bool ended = false;
  while (in >> key) {
    bool ok = true;
    if (key == "tensorrt") {
      ok = static_cast<bool>(in >> plan.tensorrt);
    } else if (key == "device") {
      ok = static_cast<bool>(in >> plan.device.major >> plan.device.minor);
      plan.device.name = Rest(in);
      continue;
    } else if (key == "function") {
      ok = static_cast<bool>(in >> plan.function);
    } else if (key == "flags") {
      ok = static_cast<bool>(in >> plan.flags);
    } else if (key == "profiling") {
      ok = static_cast<bool>(in >> plan.profiling_verbosity);
    } else if (key == "input" || key == "output") {
      PlanTensor t;
      t.input = key == "input";
      int32_t type = 0;
      ok = static_cast<bool>(in >> type) && ReadDims(in, t.dims);
      if (ok && t.input) ok = ReadDims(in, t.min) && ReadDims(in, t.opt) && ReadDims(in, t.max);
      t.type = static_cast<nvinfer1::DataType>(type);
      t.name = Rest(in);
      plan.tensors.push_back(t);
      if (!ok) break;
      continue;
    } else if (key == "layer") {
      PlanLayer l;
      ok = static_cast<bool>(in >> l.type >> l.precision);
      l.name = Rest(in);
      plan.layers.push_back(l);
      if (!ok) break;
      continue;
    } else if (key == "network") {
      plan.network = Rest(in);
      continue;
    } else if (key == "end") {
      ended = true;
      break;
    } else {
      ok = false;
    }
    if (!ok) break;
  }
  if (!ended) {
    why = "the stand-in plan is truncated or corrupt";
    return false;
  }
  return true;
}

}  // namespace trt_standin
