// libFuzzer target: the model-spec parser and shape checks on arbitrary strings, building the
// model on the reference back-end. Every input must give a model or a ShapeError.
// Run: build-fuzz/fuzz/fuzz_model_spec fuzz/corpus/spec
#include <string>

#include "batchscope/error.h"
#include "batchscope/model.h"
#include "kernels/kernels.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string spec(reinterpret_cast<const char*>(data), size);
  try {
    batchscope::Model m(spec, batchscope::Shape{1, 28, 28}, 10,
                        batchscope::kernels::Backend::Reference, 1);
  } catch (const batchscope::ShapeError&) {
  }
  return 0;
}
