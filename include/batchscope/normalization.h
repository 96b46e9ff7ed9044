// Input normalisation of uint8 pixels: x = (p/255 - mean) / std, MNIST's mean and std by
// default. Part of a training run's settings (TrainConfig) and of every checkpoint.
#pragma once

namespace batchscope {

struct Normalization {
  float mean = 0.1307f;  // MNIST training-set pixel mean (of p/255)
  float std = 0.3081f;   // and standard deviation
};

}  // namespace batchscope
