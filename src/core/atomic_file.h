// Whole-file writes that never leave a half-written file behind: the bytes go to a temporary
// file beside the target, which is flushed to disk and renamed over it.
//   write_file_atomic("out/sweep.csv", csv_text);  // throws Error naming the file on failure
#pragma once
#include <filesystem>
#include <string_view>

namespace batchscope {

void write_file_atomic(const std::filesystem::path& file, std::string_view bytes);

}  // namespace batchscope
