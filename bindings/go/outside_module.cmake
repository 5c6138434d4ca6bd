# Builds and runs the module of testdata/outside as a module outside the
# tree would be: copied to WORK, its replace directive pointed with
# `go mod edit` at MODULE_DIR (a checkout's bindings/go, or the installed
# share/gocode/src/micropool.invalid/micropool), then `go build` and the program run.
#
#   cmake -DGO=<go> -DEXAMPLE=<testdata/outside> -DMODULE_DIR=<dir>
#         -DWORK=<dir> [-DINSTALL_FROM=<build tree> -DINSTALL_PREFIX=<dir>]
#         -P outside_module.cmake
#
# With INSTALL_FROM, the go component of that build tree is first
# installed under INSTALL_PREFIX, as the golang-micropool-dev package
# installs it under /usr. The go tool's environment comes from the caller.

if(DEFINED INSTALL_FROM)
  file(REMOVE_RECURSE ${INSTALL_PREFIX})
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${INSTALL_FROM} --component go
                          --prefix ${INSTALL_PREFIX}
                  RESULT_VARIABLE rc OUTPUT_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "installing the go component failed: ${rc}")
  endif()
endif()
if(NOT EXISTS ${MODULE_DIR}/go.mod)
  message(FATAL_ERROR "no go.mod in ${MODULE_DIR}")
endif()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
file(COPY ${EXAMPLE}/go.mod ${EXAMPLE}/main.go DESTINATION ${WORK})

function(run)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY ${WORK}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${ARGN} failed (${rc}):\n${out}${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

run(${GO} mod edit -replace=micropool.invalid/micropool=${MODULE_DIR})
run(${GO} build -o poolapp .)
run(${WORK}/poolapp)
message(STATUS "${out}")
if(NOT out MATCHES "^micropool [0-9.]+: sum of squares 30\n$")
  message(FATAL_ERROR "unexpected output: ${out}")
endif()
