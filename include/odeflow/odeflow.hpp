// odeflow: neural ordinary differential equations in C++.
#pragma once

#include <odeflow/core/error.hpp>
#include <odeflow/core/stats.hpp>
#include <odeflow/core/types.hpp>
#include <odeflow/io/safetensors.hpp>
#include <odeflow/sensitivity/odeint.hpp>
#include <odeflow/solve/event.hpp>
#include <odeflow/solve/odeint.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/registry.hpp>
#include <odeflow/solve/solution.hpp>
