// safetensors files: 8-byte little-endian header length, a JSON header, raw little-endian
// tensor bytes. https://github.com/huggingface/safetensors (format section).
// Writing is atomic: a temporary file beside the target, fsync, rename, fsync of the folder,
// so a crash leaves either the old file or the new one, never half of one.
// Reading validates everything before trusting it: header length vs. file size, JSON,
// dtypes, shapes vs. byte counts, every byte range inside the data section, no overlaps.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace batchscope {

enum class StDtype { F32, I64, U64, I32, U8 };

struct StTensor {
  StDtype dtype = StDtype::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // little-endian, row-major, size = numel * dtype size
};

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;  // the header's "__metadata__" (string → string)
  std::map<std::string, StTensor> tensors;
};

// Helpers to build/read float tensors.
StTensor st_from_floats(const float* data, std::vector<int64_t> shape);
// Copies tensor `name` into out[0..n). Throws DataError (naming file and tensor) if missing,
// not F32, or not of the expected shape.
void st_to_floats(const SafetensorsFile& f, const std::string& name,
                  const std::vector<int64_t>& expected_shape, float* out,
                  const std::string& file_for_messages);

void write_safetensors(const std::filesystem::path& file, const SafetensorsFile& st);
// Throws DataError naming the file and the first problem found.
SafetensorsFile read_safetensors(const std::filesystem::path& file);

}  // namespace batchscope
