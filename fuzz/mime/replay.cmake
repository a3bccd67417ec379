# Replays fuzz/corpus/mime_*_fuzz (hand-written seeds, fuzzer-grown inputs and every
# recorded crasher) in the normal ctest run, built with the plain standalone main.
mx_add_fuzz_replay(mime_parse_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/mime/mime_parse_fuzz.cc LIBS mx_mime)
target_include_directories(mime_parse_fuzz_replay PRIVATE ${PROJECT_SOURCE_DIR})
mx_add_fuzz_replay(mime_json_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/mime/mime_json_fuzz.cc LIBS mx_mime)
target_include_directories(mime_json_fuzz_replay PRIVATE ${PROJECT_SOURCE_DIR})
