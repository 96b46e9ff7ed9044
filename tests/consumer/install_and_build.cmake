# ctest PublicApi.AProgramBuiltAgainstTheInstalledPackageTrains:
#   cmake -DBUILD_DIR=... -DWORK_DIR=... -DCONSUMER_SOURCE=... -DCXX_COMPILER=... [-DSANITIZE=...]
#         -P install_and_build.cmake
# Installs the build into a fresh prefix, configures a separate project that finds it with
# find_package(batchscope), builds the public-API consumer there and runs it.
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
file(GLOB_RECURSE installed_headers RELATIVE ${WORK_DIR}/prefix/include ${WORK_DIR}/prefix/include/*)
list(FILTER installed_headers EXCLUDE REGEX "^batchscope/[a-z_]+\\.h$")
if(NOT EXISTS ${WORK_DIR}/prefix/include/batchscope/trainer.h OR installed_headers)
  message(FATAL_ERROR "expected the public headers, batchscope/*.h, alone in the install; besides them: ${installed_headers}")
endif()
# The user builds with the compiler (and, in the sanitizer build, the sanitizers) the library
# was built with: a static library carries both in its objects.
run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/installed -B ${WORK_DIR}/build -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCONSUMER_SOURCE=${CONSUMER_SOURCE}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} "-DCONSUMER_SANITIZE=${SANITIZE}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
execute_process(COMMAND ${WORK_DIR}/build/consumer RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the consumer built against the installed package failed (${rc})")
endif()
file(REMOVE_RECURSE ${WORK_DIR})
