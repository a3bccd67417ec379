// aws/xml.h — the one small XML reader mxgate needs: the text of a named element in the flat
// XML answers of AWS query and REST APIs (STS AssumeRoleWithWebIdentity's credentials, S3's
// <Error><Code>, CreateMultipartUpload's <UploadId>). Not a general XML parser: no
// attributes, namespaces or CDATA are interpreted, and the first <tag>…</tag> wins.
// Trust: input is an untrusted network answer: the scan is linear, the element's text is
// bounded by `max_bytes`, and only the five predefined entities are decoded (any other '&'
// stays as it is).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mx::aws {

// The text of the first <tag>…</tag> inside `xml`, entities decoded; nullopt when the element
// is absent, unterminated, or its raw text is longer than `max_bytes`.
std::optional<std::string> xmlElementText(std::string_view xml, std::string_view tag,
                                          size_t max_bytes = size_t{64} * 1024);

}  // namespace mx::aws
