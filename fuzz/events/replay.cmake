# Replays the events module's and the sinks' fuzz corpora (seeds and recorded crashers) in
# the normal ctest run.
mx_add_fuzz_replay(outbox_record_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/events/outbox_record_fuzz.cc LIBS mx_events)
mx_add_fuzz_replay(cloud_event_split_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/events/cloud_event_split_fuzz.cc LIBS mx_events)
if(TARGET mx_events_webhook)
  mx_add_fuzz_replay(retry_after_fuzz
    SOURCES ${PROJECT_SOURCE_DIR}/fuzz/events/retry_after_fuzz.cc LIBS mx_events_webhook)
endif()
if(TARGET mx_events_sqs)
  mx_add_fuzz_replay(sqs_response_fuzz
    SOURCES ${PROJECT_SOURCE_DIR}/fuzz/events/sqs_response_fuzz.cc LIBS mx_events_sqs)
endif()
