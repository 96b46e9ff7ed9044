// libFuzzer target: the safetensors reader and the checkpoint metadata parser on arbitrary
// bytes. Every input must end in a result or a DataError.
// Run: build-fuzz/fuzz/fuzz_safetensors fuzz/corpus/safetensors
#include "batchscope/checkpoint.h"
#include "batchscope/error.h"
#include "fuzz_input_file.h"
#include "formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = batchscope::fuzz::write_input(data, size);
  try {
    batchscope::read_safetensors(file);
    batchscope::read_checkpoint_info(file);
  } catch (const batchscope::DataError&) {
  }
  return 0;
}
