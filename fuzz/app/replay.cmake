# Replays fuzz/corpus/config_fuzz in the normal ctest run.
mx_add_fuzz_replay(config_fuzz SOURCES ${PROJECT_SOURCE_DIR}/fuzz/app/config_fuzz.cc LIBS mx_app_config)
