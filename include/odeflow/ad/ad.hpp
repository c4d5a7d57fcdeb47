// The autodiff engine: tensors on a tape, ops with VJPs, reverse mode to any
// order, and Jacobian products.
#pragma once

#include <odeflow/ad/arena.hpp>
#include <odeflow/ad/functional.hpp>
#include <odeflow/ad/gradcheck.hpp>
#include <odeflow/ad/ops.hpp>
#include <odeflow/ad/parameter.hpp>
#include <odeflow/ad/tape.hpp>
#include <odeflow/ad/tensor.hpp>
