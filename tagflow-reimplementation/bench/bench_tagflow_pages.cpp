// The ceiling: the five shared pages built from C++ directly, no Python in the loop.
// Reports bytes/s and elements/s (counters "elements" = elements per page).
#include <benchmark/benchmark.h>

#include "pages.hpp"

namespace {

template <class Data, void (*Build)(tagflow::Document&, const Data&)>
void run_page(benchmark::State& state, const Data& data) {
  tagflow::Document doc;
  std::size_t bytes = 0;
  std::uint64_t elements = 0;
  for (auto _ : state) {
    doc.clear();
    Build(doc, data);
    const std::string_view out = doc.view();
    benchmark::DoNotOptimize(out.data());
    bytes = out.size();
    elements = doc.elements_written();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * elements));
  state.counters["elements"] = static_cast<double>(elements);
  state.counters["page_bytes"] = static_cast<double>(bytes);
}

void BM_simple(benchmark::State& s) {
  static const tagflow::pages::SimpleData d;
  run_page<tagflow::pages::SimpleData, tagflow::pages::simple>(s, d);
}
void BM_complex(benchmark::State& s) {
  static const tagflow::pages::ComplexData d;
  run_page<tagflow::pages::ComplexData, tagflow::pages::complex>(s, d);
}
void BM_table100(benchmark::State& s) {
  static const tagflow::pages::TableData d(100);
  run_page<tagflow::pages::TableData, tagflow::pages::table>(s, d);
}
void BM_table1000(benchmark::State& s) {
  static const tagflow::pages::TableData d(1000);
  run_page<tagflow::pages::TableData, tagflow::pages::table>(s, d);
}
void BM_escaping(benchmark::State& s) {
  static const tagflow::pages::EscapingData d;
  run_page<tagflow::pages::EscapingData, tagflow::pages::escaping>(s, d);
}

}  // namespace

BENCHMARK(BM_simple)->Name("simple")->UseRealTime();
BENCHMARK(BM_complex)->Name("complex")->UseRealTime();
BENCHMARK(BM_table100)->Name("table100")->UseRealTime();
BENCHMARK(BM_table1000)->Name("table1000")->UseRealTime();
BENCHMARK(BM_escaping)->Name("escaping")->UseRealTime();
BENCHMARK_MAIN();
