# Replays fuzz/corpus/<events targets> (seeds and recorded crashers) in the normal ctest run.
mx_add_fuzz_replay(outbox_record_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/events/outbox_record_fuzz.cc LIBS mx_events)
