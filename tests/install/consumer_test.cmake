# Installs the built odeflow into a scratch prefix, then configures, builds and
# runs the stand-alone examples/ project against that installation.
#
# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -DCXX_COMPILER=...
#       -DBUILD_TYPE=... -DCXX_FLAGS=... -P consumer_test.cmake
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER BUILD_TYPE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "consumer_test: ${var} is not set")
  endif()
endforeach()

function(run_step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer_test: ${name} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${name}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/examples)
file(REMOVE_RECURSE ${WORK_DIR})

run_step("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --config ${BUILD_TYPE})
foreach(file include/odeflow/odeflow.hpp include/odeflow/solve/odeint.hpp)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "consumer_test: ${file} was not installed")
  endif()
endforeach()

run_step("configure examples" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples -B ${build} -G ${GENERATOR}
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
# The package must come from the scratch prefix, not from anywhere else.
file(STRINGS ${build}/CMakeCache.txt found_dir REGEX "^odeflow_DIR:")
file(REAL_PATH ${prefix} real_prefix)
if(NOT found_dir MATCHES "${real_prefix}/")
  message(FATAL_ERROR "consumer_test: odeflow was found elsewhere: ${found_dir}")
endif()

run_step("build examples" ${CMAKE_COMMAND} --build ${build} --config ${BUILD_TYPE})
foreach(example lorenz batch_rotation bouncing_ball)
  run_step("run ${example}" ${build}/${example})
  message(STATUS "${step_output}")
endforeach()
file(REMOVE_RECURSE ${WORK_DIR})
