# Replays fuzz/corpus/spool_*_fuzz (seeds and every recorded crasher) in the normal ctest
# run, built with the plain standalone main.
mx_add_fuzz_replay(spool_envelope_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/spool/envelope_fuzz.cc LIBS mx_spool)
mx_add_fuzz_replay(spool_segment_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/spool/segment_fuzz.cc LIBS mx_spool)
