// Errors raised by odeflow. Every message names the offending value.
//
//   Error                      base of everything odeflow throws
//   ├─ InvalidArgument         bad options or inputs, detected before solving
//   │  ├─ UnknownMethod        a method name not in the registry
//   │  └─ ShapeError           mismatched matrix shapes
//   ├─ SolverError             failure during a solve (carries t and dt)
//   │  ├─ NonFiniteError       NaN/Inf in the state or derivative
//   │  ├─ StepSizeUnderflow    the step size fell below what t can resolve
//   │  ├─ MaxStepsExceeded     more than Options::max_num_steps steps
//   │  └─ EventNotFound        odeint_event reached its t_end without an event
//   └─ IoError                 a file could not be read or written (carries the path)
//      └─ FormatError          a file's contents are malformed or do not match what
//                              was asked for (carries the path and the tensor name)
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace odeflow {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InvalidArgument : public Error {
 public:
  using Error::Error;
};

class UnknownMethod : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

class ShapeError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

class SolverError : public Error {
 public:
  SolverError(const std::string& what, double t, double dt)
      : Error(what), t_(t), dt_(dt) {}
  double t() const { return t_; }
  double dt() const { return dt_; }

 private:
  double t_;
  double dt_;
};

class NonFiniteError : public SolverError {
 public:
  using SolverError::SolverError;
};

class StepSizeUnderflow : public SolverError {
 public:
  using SolverError::SolverError;
};

class MaxStepsExceeded : public SolverError {
 public:
  using SolverError::SolverError;
};

class EventNotFound : public SolverError {
 public:
  using SolverError::SolverError;
};

class IoError : public Error {
 public:
  IoError(const std::string& what, std::string path) : Error(what), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// tensor() is empty when the problem is not tied to one tensor (e.g. the header).
class FormatError : public IoError {
 public:
  FormatError(const std::string& what, std::string path, std::string tensor)
      : IoError(what, std::move(path)), tensor_(std::move(tensor)) {}
  const std::string& tensor() const { return tensor_; }

 private:
  std::string tensor_;
};

}  // namespace odeflow
