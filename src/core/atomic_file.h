// Whole-file writes that never leave a half-written file behind: the bytes go to a temporary
// file beside the target, which is flushed to disk and renamed over it, and then the folder
// entry is flushed too, so the new file survives a crash once the call returns.
//   write_file_atomic("out/sweep.csv", csv_text);   // DataError naming the file on failure
//   write_file_atomic(path, {header, data});         // pieces written back to back
#pragma once
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string_view>

namespace batchscope {

// Throws DataError "writing '<file>': <what failed>: <errno text>"; the target is untouched
// and the temporary file removed.
void write_file_atomic(const std::filesystem::path& file, std::span<const std::string_view> pieces);

inline void write_file_atomic(const std::filesystem::path& file, std::string_view bytes) {
  write_file_atomic(file, std::span<const std::string_view>(&bytes, 1));
}

}  // namespace batchscope
