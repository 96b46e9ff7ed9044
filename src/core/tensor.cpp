// Shape arithmetic and aligned Tensor storage.
#include "batchscope/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <new>

#include "batchscope/error.h"

namespace batchscope {

Shape::Shape(std::initializer_list<int64_t> dims) {
  BS_CHECK(dims.size() <= kMaxRank, "rank above 4");
  for (int64_t d : dims) dims_[static_cast<size_t>(rank_++)] = d;
}

Shape Shape::from_span(std::span<const int64_t> dims) {
  BS_CHECK(dims.size() <= kMaxRank, "rank above 4");
  Shape s;
  for (int64_t d : dims) s.dims_[static_cast<size_t>(s.rank_++)] = d;
  return s;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<size_t>(i)];
  return rank_ == 0 ? 0 : n;
}

Shape Shape::with_batch(int64_t n) const {
  Shape s = *this;
  BS_CHECK(rank_ > 0, "with_batch on empty shape");
  s.dims_[0] = n;
  return s;
}

int64_t Shape::sample_numel() const {
  int64_t n = 1;
  for (int i = 1; i < rank_; ++i) n *= dims_[static_cast<size_t>(i)];
  return n;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ",";
    s += std::to_string(dims_[static_cast<size_t>(i)]);
  }
  return s + "]";
}

bool Shape::operator==(const Shape& o) const {
  return rank_ == o.rank_ && std::equal(dims_.begin(), dims_.begin() + rank_, o.dims_.begin());
}

float* aligned_alloc_floats(size_t n) {
  // Round up so the size is a multiple of the alignment, as std::aligned_alloc requires.
  size_t bytes = ((std::max<size_t>(n, 1) * sizeof(float) + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<float*>(p);
}

void aligned_free(float* p) { std::free(p); }

Tensor::Tensor(const Shape& shape) { resize(shape); fill(0.f); }

Tensor Tensor::view(float* data, const Shape& shape) {
  Tensor t;
  t.data_ = data;
  t.shape_ = shape;
  t.capacity_ = static_cast<size_t>(shape.numel());
  return t;
}

void Tensor::resize(const Shape& shape) {
  size_t need = static_cast<size_t>(shape.numel());
  if (need > capacity_) {
    BS_CHECK(owned_ || data_ == nullptr, "resize would grow a view");
    owned_.reset(aligned_alloc_floats(need));
    capacity_ = need;
    data_ = owned_.get();
  }
  shape_ = shape;
}

void Tensor::fill(float v) { std::fill_n(data_, numel(), v); }

}  // namespace batchscope
