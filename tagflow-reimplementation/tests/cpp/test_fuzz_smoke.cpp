// A short, deterministic smoke run of the fuzz target's entry point inside the unit tests
// (the real libFuzzer run is `make fuzz`).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

TEST(TagflowFuzzSmoke, RandomProgramsNeverCrash) {
  std::mt19937 rng(2024);
  const std::uint8_t interesting[] = {'<', '>', '&', '"', '\'', '/',  's',  'c',  'r', 'i',
                                      'p', 't', ' ', '=', 0,    0x80, 0xC2, 0x85, 'a', 'B'};
  for (int iter = 0; iter < 4000; ++iter) {
    std::vector<std::uint8_t> input(rng() % 200);
    for (auto& b : input) {
      b = (rng() % 3 == 0) ? static_cast<std::uint8_t>(rng())
                           : interesting[rng() % sizeof interesting];
    }
    ASSERT_EQ(LLVMFuzzerTestOneInput(input.data(), input.size()), 0);
  }
}
