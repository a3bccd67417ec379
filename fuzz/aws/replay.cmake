# Replays fuzz/corpus/sigv4_canonical_fuzz in the normal ctest run.
mx_add_fuzz_replay(sigv4_canonical_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/aws/sigv4_canonical_fuzz.cc LIBS mx_aws)
