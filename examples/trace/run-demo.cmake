# The test demo_trace: cmake -DTRACE=<trace> -DTRACE_SVG=<trace-svg>
# -DOUT=<directory> -P run-demo.cmake. Runs the frame loop into
# <directory>/trace.json, checks and draws it into <directory>/trace.svg,
# and fails unless both steps succeed and both files are non-empty.

foreach(var TRACE TRACE_SVG OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run-demo.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
set(json ${OUT}/trace.json)
set(svg ${OUT}/trace.svg)

execute_process(COMMAND ${TRACE} ${json} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "trace ${json} failed: ${rc}")
endif()
execute_process(COMMAND ${TRACE_SVG} --check ${json} ${svg} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "trace-svg --check ${json} ${svg} failed: ${rc}")
endif()
foreach(f ${json} ${svg})
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "${f} was not written")
  endif()
  file(SIZE ${f} size)
  if(size EQUAL 0)
    message(FATAL_ERROR "${f} is empty")
  endif()
  message(STATUS "${f}: ${size} bytes")
endforeach()
