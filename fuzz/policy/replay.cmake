mx_add_fuzz_replay(recipient_glob_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/policy/recipient_glob_fuzz.cc LIBS mx_policy)
