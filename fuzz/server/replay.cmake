mx_add_fuzz_replay(proxy_protocol_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/server/proxy_protocol_fuzz.cc LIBS mx_server_proto)
mx_add_fuzz_replay(edge_request_fuzz
  SOURCES ${PROJECT_SOURCE_DIR}/fuzz/server/edge_request_fuzz.cc LIBS mx_server_proto)
