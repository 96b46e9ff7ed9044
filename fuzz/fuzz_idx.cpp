// libFuzzer target: the IDX image and label readers (plain and gzip) on arbitrary bytes.
// Any input must end in a result or a DataError: no crash, no sanitizer report, no huge
// allocation (max_bytes keeps declared sizes small). Run: build-fuzz/fuzz/fuzz_idx fuzz/corpus/idx
#include "batchscope/error.h"
#include "batchscope/idx.h"
#include "fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = batchscope::fuzz::write_input(data, size);
  try {
    batchscope::read_idx_images(file, /*max_bytes=*/int64_t{1} << 24);
  } catch (const batchscope::DataError&) {
  }
  try {
    batchscope::read_idx_labels(file, /*num_classes=*/10);
  } catch (const batchscope::DataError&) {
  }
  try {
    batchscope::read_pgm(file);
  } catch (const batchscope::DataError&) {
  }
  return 0;
}
