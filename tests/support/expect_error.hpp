// expect_error<E>(body, needle): runs `body`, expects it to throw E whose
// message contains `needle`, and returns the exception for further checks
// (nothing when it failed the expectation).
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace odeflow::test {

template <class E, class F>
std::optional<E> expect_error(F&& body, const std::string& needle) {
  try {
    body();
    ADD_FAILURE() << "no exception; expected one mentioning '" << needle << "'";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
    return e;
  }
  return std::nullopt;
}

}  // namespace odeflow::test
