// lambda/xray_trace.h — the AWS X-Ray trace header a Lambda invocation carries
// (Lambda-Runtime-Trace-Id, also exported as _X_AMZN_TRACE_ID) turned into a W3C
// traceparent, so the event of a message processed by the function joins the invocation's
// trace (CloudEvents distributed-tracing extension, events/cloud_event.h).
//
// X-Ray: "Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>[;Lineage=…]"
// (AWS X-Ray Developer Guide, "Tracing header"). W3C Trace Context: "00-<32 hex trace id>-
// <16 hex parent id>-<2 hex flags>"; the X-Ray trace id is the 8 + 24 hex digits joined, as
// the AWS Distro for OpenTelemetry maps it.
// Trust: the header is untrusted text: fields are matched by exact shape (lower-case hex of
// the right length, not all zero), anything else gives nullopt.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mx::lambda {

std::optional<std::string> traceparentFromXRay(std::string_view header);

}  // namespace mx::lambda
