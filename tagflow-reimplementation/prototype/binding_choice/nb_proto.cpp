// The binding-choice prototype: the two hot calls of tagflow_cpp (`with doc.div(class_="x"):`
// and `doc.td(v)`) bound with nanobind over the same engine, to compare with the C API binding.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include <string>

#include "tagflow/document.hpp"

namespace nb = nanobind;

namespace {

struct Doc;

struct Guard {
  Doc* doc;
};

struct Doc {
  tagflow::Document doc;
  Guard guard{this};  // one reusable guard, as the C API binding caches per depth

  Guard& open(std::string_view name, nb::kwargs kwargs) {
    doc.start_trusted(name, tagflow::ElementKind::kNormal);
    for (auto [key, value] : kwargs) {
      std::string attr = nb::cast<std::string>(key);
      if (!attr.empty() && attr.back() == '_') attr.pop_back();
      doc.attr_trusted(attr, tagflow::AttrValue(nb::cast<std::string_view>(value)));
    }
    return guard;
  }
  void leaf(std::string_view name, std::string_view text) {
    doc.start_trusted(name, tagflow::ElementKind::kNormal);
    doc.text(text);
    doc.end();
  }
};

}  // namespace

NB_MODULE(nb_proto, m) {
  nb::class_<Guard>(m, "Guard")
      .def("__enter__", [](Guard&) {})
      .def("__exit__", [](Guard& g, nb::args) {
        g.doc->doc.end();
        return false;
      });
  nb::class_<Doc>(m, "Document")
      .def(nb::init<>())
      .def(
          "div", [](Doc& d, nb::kwargs kw) -> Guard& { return d.open("div", kw); },
          nb::rv_policy::reference_internal)
      .def("td", [](Doc& d, std::string_view text) { d.leaf("td", text); })
      .def("render", [](Doc& d) { return std::string(d.doc.view()); });
}
