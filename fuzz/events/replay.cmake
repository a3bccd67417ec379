# Replays fuzz/corpus/cloud_event_split_fuzz (seeds and every recorded crasher) in the normal
# ctest run, built with the plain standalone main.
mx_add_fuzz_replay(cloud_event_split_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/events/cloud_event_split_fuzz.cc LIBS mx_events)
