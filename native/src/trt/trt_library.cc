#include "trt/trt_library.h"

#include <dlfcn.h>

#include <mutex>
#include <optional>

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

TrtLibrary Load() {
  TrtLibrary lib;
  // Never dlclose'd: TensorRT keeps CUDA state that must outlive every engine.
  void* nvinfer = dlopen("libnvinfer.so.10", RTLD_NOW | RTLD_LOCAL);
  if (nvinfer == nullptr) {
    const char* why = dlerror();
    throw Error(ErrorCode::kUnavailable, std::string("TensorRT runtime not found (") + (why ? why : "libnvinfer.so.10") + "): " + kInstallHint);
  }
  lib.create_infer_runtime = Symbol<decltype(lib.create_infer_runtime)>(nvinfer, "createInferRuntime_INTERNAL", "libnvinfer.so.10");
  lib.create_infer_builder = Symbol<decltype(lib.create_infer_builder)>(nvinfer, "createInferBuilder_INTERNAL", "libnvinfer.so.10");
  lib.get_infer_lib_version = Symbol<decltype(lib.get_infer_lib_version)>(nvinfer, "getInferLibVersion", "libnvinfer.so.10");
  lib.version = lib.get_infer_lib_version();
  if (lib.version / 10000 != 10) {
    throw Error(ErrorCode::kUnavailable, "libnvinfer.so.10 reports TensorRT " + TrtVersionString(lib.version) + ", expected 10.x");
  }
  void* parser = dlopen("libnvonnxparser.so.10", RTLD_NOW | RTLD_LOCAL);
  if (parser == nullptr) {
    const char* why = dlerror();
    lib.parser_error = std::string("TensorRT ONNX parser not found (") + (why ? why : "libnvonnxparser.so.10") +
                       "): building engines needs it; " + kInstallHint;
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

const TrtLibrary& TrtLibrary::Get() {
  static std::once_flag once;
  static std::optional<TrtLibrary> loaded;
  static std::optional<Error> failure;
  std::call_once(once, [] {
    try {
      loaded = Load();
    } catch (const Error& e) {
      failure = e;
    }
  });
  if (failure) throw *failure;
  return *loaded;
}

}  // namespace smartturn
