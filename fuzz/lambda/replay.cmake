mx_add_fuzz_replay(lambda_event_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/lambda/lambda_event_fuzz.cc LIBS mx_lambda)
mx_add_fuzz_replay(runtime_api_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/lambda/runtime_api_fuzz.cc LIBS mx_lambda)
