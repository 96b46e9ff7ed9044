// Checkpoints: safetensors files whose tensors are PyTorch state_dict entries
// ("<layer index>.weight" / ".bias", PyTorch layouts) plus optimizer state
// ("optimizer.<slot>.<param name>"); everything else needed to rebuild the model and
// continue the run rides in the header's __metadata__ (see docs/checkpoints.md).
// Saving is atomic (temporary file, fsync, rename): a crash never leaves half a checkpoint.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "batchscope/model.h"
#include "batchscope/optimizer.h"
#include "batchscope/trainer.h"

namespace batchscope {

struct CheckpointInfo {
  std::string model_spec;
  Shape in_sample;
  int64_t num_classes = 10;
  int64_t epoch = 0;  // completed epochs
  int64_t step = 0;   // completed optimizer steps
  TrainConfig train;  // hyper-parameters, seed, normalisation of the run that wrote it
  int64_t optimizer_steps = 0;
};

void save_checkpoint(const std::filesystem::path& file, Model& m, Optimizer* opt,
                     const CheckpointInfo& info);

// Reads the header and metadata only (no model needed): for eval/predict/resume.
CheckpointInfo read_checkpoint_info(const std::filesystem::path& file);

// Copies weights (and, with opt, optimizer state) into an already-built model whose spec
// must match the checkpoint's. Throws DataError naming the file and the mismatch.
void load_checkpoint(const std::filesystem::path& file, Model& m, Optimizer* opt);

}  // namespace batchscope
