// A tiny nanobind extension built by hatchling-native's `cmake` hook.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace nb = nanobind;

namespace {

std::int64_t add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    throw std::overflow_error("sum overflows a 64-bit integer");
  }
  return sum;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) {
    throw std::invalid_argument("dot: vectors differ in length");
  }
  double total = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    total += a[i] * b[i];
  }
  return total;
}

std::string greet(const std::string& name) {
  return "Hello, " + name + "!";
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "nanobind demo built with hatchling-native";
  m.def("add", &add, nb::arg("a"), nb::arg("b"), "a + b; OverflowError past 64 bits");
  m.def("dot", &dot, nb::arg("a"), nb::arg("b"), "dot product of two float lists");
  m.def("greet", &greet, nb::arg("name"));
}
