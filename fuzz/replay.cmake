# Replay tests for the fuzz targets, included from tests/CMakeLists.txt: one
# fuzz/<module>/replay.cmake per module that has fuzz targets.
file(GLOB replay_files ${PROJECT_SOURCE_DIR}/fuzz/*/replay.cmake)
foreach(f ${replay_files})
  include(${f})
endforeach()
