#include "trt/trt_library.h"

#include <dlfcn.h>

#include <mutex>
#include <optional>
#include <string>

#include "core/error.h"

namespace smartturn {
namespace {

constexpr const char* kInstallHint =
    "install TensorRT 10.13 or newer built for CUDA 13 (Debian/Ubuntu: apt install libnvinfer10 libnvonnxparsers10 from "
    "NVIDIA's CUDA repository; or pip install tensorrt-cu13 and add its tensorrt_libs folder to LD_LIBRARY_PATH)";

template <typename Fn>
Fn Symbol(void* lib, const char* name, const char* file) {
  dlerror();
  void* p = dlsym(lib, name);
  if (p == nullptr) throw Error(ErrorCode::kUnavailable, std::string(file) + " has no symbol " + name + ": it is not TensorRT 10");
  return reinterpret_cast<Fn>(p);
}

/** The name dlopen searches for, or the file in `dir` (TENSORRT_LIB_DIR). */
std::string LibraryPath(const std::string& dir, const char* name) { return dir.empty() ? name : dir + "/" + name; }

/** How a failed load ends its message: the install hint, or the folder it was pointed at. */
std::string Hint(const std::string& dir) {
  return dir.empty() ? kInstallHint : "TENSORRT_LIB_DIR=" + dir + " was given; it must hold libnvinfer.so.10 and libnvonnxparser.so.10";
}

TrtLibrary Load(const std::string& dir) {
  TrtLibrary lib;
  // Never dlclose'd: TensorRT keeps CUDA state that must outlive every engine.
  const std::string nvinfer_path = LibraryPath(dir, "libnvinfer.so.10");
  void* nvinfer = dlopen(nvinfer_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (nvinfer == nullptr) {
    const char* why = dlerror();
    throw Error(ErrorCode::kUnavailable, std::string("TensorRT runtime not found (") + (why ? why : nvinfer_path) + "): " + Hint(dir));
  }
  lib.create_infer_runtime = Symbol<decltype(lib.create_infer_runtime)>(nvinfer, "createInferRuntime_INTERNAL", "libnvinfer.so.10");
  lib.create_infer_builder = Symbol<decltype(lib.create_infer_builder)>(nvinfer, "createInferBuilder_INTERNAL", "libnvinfer.so.10");
  lib.get_infer_lib_version = Symbol<decltype(lib.get_infer_lib_version)>(nvinfer, "getInferLibVersion", "libnvinfer.so.10");
  lib.version = lib.get_infer_lib_version();
  if (lib.version / 10000 != 10) {
    throw Error(ErrorCode::kUnavailable, "libnvinfer.so.10 reports TensorRT " + TrtVersionString(lib.version) + ", expected 10.x");
  }
#ifdef ST_TENSORRT_HEADERS_CODE
  // The headers' inline methods call into whatever the library's objects implement: an older library
  // may lack what they call (10.0 has no setDeviceMemoryV2, for one). A newer one keeps the old API.
  if (lib.version < ST_TENSORRT_HEADERS_CODE) {
    throw Error(ErrorCode::kUnavailable, nvinfer_path + " is TensorRT " + TrtVersionString(lib.version) + ", older than the TensorRT " +
                                             TrtVersionString(ST_TENSORRT_HEADERS_CODE) +
                                             " headers this addon was compiled with; install TensorRT " +
                                             TrtVersionString(ST_TENSORRT_HEADERS_CODE) +
                                             " or newer, or rebuild the addon against this TensorRT's own headers "
                                             "(TENSORRT_ROOT=<its include folder> npm run build:native)");
  }
#endif
  const std::string parser_path = LibraryPath(dir, "libnvonnxparser.so.10");
  void* parser = dlopen(parser_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (parser == nullptr) {
    const char* why = dlerror();
    lib.parser_error = std::string("TensorRT ONNX parser not found (") + (why ? why : parser_path) + "): building engines needs it; " + Hint(dir);
  } else {
    try {
      lib.create_onnx_parser = Symbol<decltype(lib.create_onnx_parser)>(parser, "createNvOnnxParser_INTERNAL", "libnvonnxparser.so.10");
    } catch (const Error& e) {
      lib.parser_error = e.what();
    }
  }
  return lib;
}

}  // namespace

std::string TrtVersionString(int32_t version) {
  return std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) + "." + std::to_string(version % 100);
}

namespace {

struct Loading {
  std::mutex mu;
  std::string dir;
  bool tried = false;
  std::optional<TrtLibrary> loaded;
  std::optional<Error> failure;
};

Loading& State() {
  static Loading state;
  return state;
}

}  // namespace

const TrtLibrary& TrtLibrary::Get() {
  Loading& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.tried) {
    s.tried = true;
    try {
      s.loaded = Load(s.dir);
    } catch (const Error& e) {
      s.failure = e;
    }
  }
  if (s.failure) throw *s.failure;
  return *s.loaded;
}

TrtFindings ProbeTrt() {
  TrtFindings f;
#ifdef ST_WITH_TENSORRT
  f.built = true;
  f.headers = TrtVersionString(ST_TENSORRT_HEADERS_CODE);
#endif
  try {
    f.library = TrtVersionString(TrtLibrary::Get().version);
  } catch (const Error& e) {
    f.problem = e.what();
  }
  return f;
}

void TrtLibrary::UseDirectory(const std::string& dir) {
  Loading& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.tried && s.dir != dir) {
    throw Error(ErrorCode::kState, "TensorRT was already looked up " + (s.dir.empty() ? std::string("on the library search path") : "in " + s.dir) +
                                       " in this process; TENSORRT_LIB_DIR must be set before the first use of TensorRT");
  }
  s.dir = dir;
}

}  // namespace smartturn
