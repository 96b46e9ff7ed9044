// expat-based XML check (see xml_check.h).
#include "support/xml_check.h"

#include <expat.h>

namespace batchscope::testing {

namespace {
void on_start(void* data, const XML_Char* name, const XML_Char**) {
  auto* s = static_cast<XmlSummary*>(data);
  if (s->root.empty()) s->root = name;
  ++s->elements[name];
}
void on_end(void*, const XML_Char*) {}
}  // namespace

XmlSummary check_xml(const std::string& doc) {
  XmlSummary s;
  XML_Parser p = XML_ParserCreate(nullptr);
  XML_SetUserData(p, &s);
  XML_SetElementHandler(p, on_start, on_end);
  if (XML_Parse(p, doc.data(), static_cast<int>(doc.size()), 1) == XML_STATUS_OK) {
    s.well_formed = true;
  } else {
    s.error = std::string(XML_ErrorString(XML_GetErrorCode(p))) + " at line " +
              std::to_string(XML_GetCurrentLineNumber(p));
  }
  XML_ParserFree(p);
  return s;
}

}  // namespace batchscope::testing
