# Replays fuzz/corpus/smtp_*_fuzz (seeds from the transcripts and every recorded crasher)
# in the normal ctest run, built with the plain standalone main.
mx_add_fuzz_replay(smtp_session_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/smtp/smtp_session_fuzz.cc LIBS mx_smtp)
mx_add_fuzz_replay(smtp_alphabet_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/smtp/smtp_alphabet_fuzz.cc LIBS mx_smtp)
