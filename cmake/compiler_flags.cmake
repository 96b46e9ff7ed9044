# Warning and optimisation flags shared by every target.
function(batchscope_set_flags target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(BATCHSCOPE_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
  # -O3 vectorises the element-wise loops; no -ffast-math: reductions must stay reproducible.
  target_compile_options(${target} PRIVATE $<$<CONFIG:Release>:-O3>)
endfunction()
