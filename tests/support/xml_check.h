// Well-formedness of the XML documents batchscope writes (SVG charts), checked with expat,
// and a count of their elements by name.
#pragma once
#include <map>
#include <string>

namespace batchscope::testing {

struct XmlSummary {
  bool well_formed = false;
  std::string error;                   // expat's message and line when not well-formed
  std::string root;                    // the document element's name
  std::map<std::string, int> elements; // count per element name
};

XmlSummary check_xml(const std::string& doc);

}  // namespace batchscope::testing
