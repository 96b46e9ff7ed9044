# Warning and optimisation flags shared by every target.
function(batchscope_set_flags target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  # GCC 12 at -O3 reports impossible std::string memcpy overlaps (GCC bug 105329) on plain
  # string concatenation; the warning is noise there and hides real ones.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(BATCHSCOPE_MARCH)
    target_compile_options(${target} PRIVATE -march=${BATCHSCOPE_MARCH})
  endif()
  # -O3 vectorises the element-wise loops; no -ffast-math: reductions must stay reproducible.
  target_compile_options(${target} PRIVATE $<$<CONFIG:Release>:-O3>)
endfunction()
