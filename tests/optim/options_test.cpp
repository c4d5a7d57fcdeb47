// Options validation and parameter-view checks: each bad value is rejected
// with a message naming the optimizer, the field and the value.
#include <odeflow/core/error.hpp>
#include <odeflow/optim/adam.hpp>
#include <odeflow/optim/rmsprop.hpp>
#include <odeflow/optim/sgd.hpp>

#include <gtest/gtest.h>

#include "support/expect_error.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace odeflow::optim {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

using test::expect_error;

TEST(SgdOptions, RejectsBadFieldsNamingThem) {
  expect_error<InvalidArgument>([] { SgdOptions{}.validate(); }, "SGD: lr is not set");
  expect_error<InvalidArgument>([] { SgdOptions{.lr = -0.1}.validate(); }, "SGD: lr = -0.1");
  expect_error<InvalidArgument>([] { SgdOptions{.lr = 0.1, .momentum = -0.9}.validate(); }, "momentum = -0.9");
  expect_error<InvalidArgument>([] { SgdOptions{.lr = 0.1, .dampening = kInf}.validate(); }, "dampening = inf");
  expect_error<InvalidArgument>([] { SgdOptions{.lr = 0.1, .weight_decay = kNan}.validate(); }, "weight_decay = nan");
  expect_error<InvalidArgument>([] { SgdOptions{.lr = 0.1, .nesterov = true}.validate(); }, "nesterov needs momentum > 0");
  expect_error<InvalidArgument>([] { SgdOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}.validate(); },
               "dampening = 0.1");
  EXPECT_NO_THROW((SgdOptions{.lr = 0.0, .momentum = 0.9, .nesterov = true}.validate()));
}

TEST(AdamOptions, RejectsBadFieldsNamingThem) {
  expect_error<InvalidArgument>([] { AdamOptions{.lr = kInf}.validate(); }, "Adam: lr = inf");
  expect_error<InvalidArgument>([] { AdamOptions{.beta1 = 1.0}.validate(); }, "Adam: beta1 = 1 must lie in [0, 1)");
  expect_error<InvalidArgument>([] { AdamOptions{.beta2 = -0.1}.validate(); }, "beta2 = -0.1");
  expect_error<InvalidArgument>([] { AdamOptions{.eps = 0.0}.validate(); }, "eps = 0 must be finite and positive");
  expect_error<InvalidArgument>([] { AdamOptions{.weight_decay = -1e-2}.validate(); }, "weight_decay = -0.01");
  expect_error<InvalidArgument>([] { AdamWOptions{.beta2 = kNan}.validate(); }, "AdamW: beta2 = nan");
  expect_error<InvalidArgument>([] { AdamWOptions{.weight_decay = -1.0}.validate(); }, "AdamW: weight_decay = -1");
  EXPECT_NO_THROW((AdamOptions{.beta1 = 0.0, .beta2 = 0.0}.validate()));
}

TEST(RmsPropOptions, RejectsBadFieldsNamingThem) {
  expect_error<InvalidArgument>([] { RmsPropOptions{.lr = -1.0}.validate(); }, "RMSprop: lr = -1");
  expect_error<InvalidArgument>([] { RmsPropOptions{.alpha = 1.5}.validate(); }, "alpha = 1.5 must lie in [0, 1]");
  expect_error<InvalidArgument>([] { RmsPropOptions{.eps = -1e-8}.validate(); }, "eps = -1e-08");
  expect_error<InvalidArgument>([] { RmsPropOptions{.weight_decay = kInf}.validate(); }, "weight_decay = inf");
  expect_error<InvalidArgument>([] { RmsPropOptions{.momentum = -0.5}.validate(); }, "momentum = -0.5");
}

struct Vectors {
  Eigen::VectorXd a = Eigen::VectorXd::Ones(3), a_grad = Eigen::VectorXd::Ones(3);
  Eigen::VectorXd b = Eigen::VectorXd::Ones(2), b_grad = Eigen::VectorXd::Ones(2);
};

TEST(Optimizers, ValidateTheirOptionsAndLrOnConstruction) {
  Vectors v;
  expect_error<InvalidArgument>([&] { Adam<double>({view_of<double>("a", v.a, v.a_grad)}, AdamOptions{.eps = -1.0}); }, "eps = -1");
  expect_error<InvalidArgument>([&] { Sgd<float>({}, SgdOptions{}); }, "lr is not set");
  expect_error<InvalidArgument>([&] { Sgd<float>({}, SgdOptions{.lr = 0.1}); }, "empty parameter list");
  Sgd<double> sgd({view_of<double>("a", v.a, v.a_grad)}, SgdOptions{.lr = 0.1});
  expect_error<InvalidArgument>([&] { sgd.set_lr(-1.0); }, "lr = -1");
  expect_error<InvalidArgument>([&] { sgd.set_lr(kNan); }, "lr = nan");
  EXPECT_EQ(sgd.lr(), 0.1);
}

TEST(ParamView, BadViewsAreRejectedNamingTheParameter) {
  Vectors v;
  const SgdOptions o{.lr = 0.1};
  expect_error<InvalidArgument>([&] { Sgd<double>({view_of<double>("", v.a, v.a_grad)}, o); }, "parameter 0 has an empty name");
  expect_error<InvalidArgument>([&] { Sgd<double>({view_of<double>("w", v.a, v.a_grad), view_of<double>("w", v.b, v.b_grad)}, o); },
               "'w' is repeated");
  expect_error<ShapeError>([&] { Sgd<double>({view_of<double>("w", v.a, v.b_grad)}, o); },
                           "'w' has 3 values but its gradient has 2");
  expect_error<ShapeError>([&] { Sgd<double>({view_of<double>("w", v.a, v.a_grad, {2, 2})}, o); },
                           "'w' has shape [2, 2] (4 elements) but 3 values");
}

TEST(Optimizers, ZeroGradZeroesEveryGradientAndNothingElse) {
  Vectors v;
  v.a_grad << 1.0, -2.0, 3.0;
  Sgd<double> sgd({view_of<double>("a", v.a, v.a_grad), view_of<double>("b", v.b, v.b_grad)}, SgdOptions{.lr = 0.1});
  sgd.zero_grad();
  EXPECT_TRUE(v.a_grad.isZero(0.0));
  EXPECT_TRUE(v.b_grad.isZero(0.0));
  EXPECT_TRUE(v.a.isOnes(0.0));
  sgd.step();  // a zero gradient moves nothing
  EXPECT_TRUE(v.a.isOnes(0.0));
}

TEST(Optimizers, MaximizeAscendsWhereMinimizeDescends) {
  Vectors v;
  Vectors w;
  Adam<double> down({view_of<double>("a", v.a, v.a_grad)}, AdamOptions{.lr = 0.1});
  Adam<double> up({view_of<double>("a", w.a, w.a_grad)}, AdamOptions{.lr = 0.1, .maximize = true});
  down.step();
  up.step();
  EXPECT_LT(v.a(0), 1.0);
  EXPECT_NEAR(w.a(0) - 1.0, 1.0 - v.a(0), 1e-15);
}

}  // namespace
}  // namespace odeflow::optim
