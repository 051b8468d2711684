// The addon's own TensorRT glue (native/src/trt: the dlopen loader, the logger and its failure
// messages) run against the stand-in's libraries on the host, where TensorRT's factories fail for
// want of a GPU, as they do on a machine whose CUDA is broken.
//   trt_addon_hosttest <folder with the stand-in's libnvinfer.so.10>
// Prints one line per check and "PASS: <n> failed"; exits 1 if any failed, 0 with SKIP lines where a
// GPU makes a check moot.
#include <cstdio>
#include <string>

#include "trt/trt_common.h"

namespace {

int failures = 0;

void Check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok" : "FAIL", what.c_str());
  if (!ok) ++failures;
}

/** The message CheckTrt throws for a factory that returned null, or "" if it returned an object. */
template <typename Make>
std::string FailureOf(Make make) {
  try {
    make();
  } catch (const smartturn::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <folder with libnvinfer.so.10>\n", argv[0]);
    return 2;
  }
  smartturn::TrtLibrary::UseDirectory(argv[1]);
  const smartturn::TrtLibrary& lib = smartturn::TrtLibrary::Get();
  Check(lib.version == NV_TENSORRT_VERSION, "the loader reads the library's version: " + smartturn::TrtVersionString(lib.version));

  smartturn::TrtLogger logger;
  const std::string builder = FailureOf([&] {
    std::unique_ptr<nvinfer1::IBuilder> b(smartturn::CheckTrt(static_cast<nvinfer1::IBuilder*>(lib.create_infer_builder(&logger, NV_TENSORRT_VERSION)),
                                                              "createInferBuilder", logger));
  });
  if (builder.empty()) {
    std::printf("SKIP a GPU is present: the factories succeed, so their failure message cannot be checked here\n");
  } else {
    // TensorRT gives the cause only as a warning: the message must still carry it.
    Check(builder.rfind("createInferBuilder failed (TensorRT warned: ", 0) == 0 && builder.find("CUDA initialization failure") != std::string::npos,
          "a null builder's error says why, from TensorRT's warnings: " + builder);
    smartturn::TrtLogger fresh;
    const std::string runtime = FailureOf([&] { smartturn::MakeRuntime(fresh); });
    Check(runtime.find("createInferRuntime failed") == 0 && runtime.find("CUDA initialization failure") != std::string::npos,
          "so does a null runtime's: " + runtime);
  }
  std::printf("PASS: %d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
