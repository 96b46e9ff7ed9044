# `cmake --install build --prefix P`: the public headers (include/batchscope/), the static
# libraries with a CMake package (find_package(batchscope) then batchscope::batchscope, and
# batchscope::commands for run_command_json), the binary, and the Python package where it was
# built (in P/lib/python3/dist-packages, which Debian's /usr/bin/python3 searches under /usr/local).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(batchscope_lib PROPERTIES EXPORT_NAME batchscope OUTPUT_NAME batchscope)
set_target_properties(batchscope_commands PROPERTIES EXPORT_NAME commands OUTPUT_NAME batchscope_commands)
install(TARGETS batchscope_lib batchscope_commands EXPORT batchscopeTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS batchscope RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/batchscope DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
set(BATCHSCOPE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/batchscope)
install(EXPORT batchscopeTargets NAMESPACE batchscope:: DESTINATION ${BATCHSCOPE_CMAKE_DIR})
if(TARGET MPI::MPI_CXX)
  set(BATCHSCOPE_CONFIG_NEEDS_MPI ON)
else()
  set(BATCHSCOPE_CONFIG_NEEDS_MPI OFF)
endif()
configure_package_config_file(cmake/batchscopeConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/batchscopeConfig.cmake INSTALL_DESTINATION ${BATCHSCOPE_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/batchscopeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/batchscopeConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/batchscopeConfigVersion.cmake
        DESTINATION ${BATCHSCOPE_CMAKE_DIR})
