# FFTW for examples/fftw and the benchmark's fftw workload: FFTW 3.3.9 or
# later with its threads library (fftw_threads_set_callback). Sets
#   MP_FFTW_INCLUDE_DIR, MP_FFTW_LIB, MP_FFTW_THREADS_LIB, MP_FFTW_OMP_LIB
#   MP_FFTW_WHY   empty when FFTW can be used, else why not
# (Debian: libfftw3-dev, listed in .ci/deps/fftw.list).
find_package(Threads REQUIRED)
find_path(MP_FFTW_INCLUDE_DIR fftw3.h)
find_library(MP_FFTW_LIB fftw3)
find_library(MP_FFTW_THREADS_LIB fftw3_threads)
find_library(MP_FFTW_OMP_LIB fftw3_omp)
set(MP_FFTW_WHY "")
if(NOT MP_FFTW_INCLUDE_DIR OR NOT MP_FFTW_LIB OR NOT MP_FFTW_THREADS_LIB)
  set(MP_FFTW_WHY "FFTW or its threads library was not found (Debian package libfftw3-dev)")
else()
  include(CheckSymbolExists)
  set(CMAKE_REQUIRED_INCLUDES ${MP_FFTW_INCLUDE_DIR})
  set(CMAKE_REQUIRED_LIBRARIES ${MP_FFTW_THREADS_LIB} ${MP_FFTW_LIB} Threads::Threads m)
  check_symbol_exists(fftw_threads_set_callback fftw3.h MP_FFTW_HAS_CALLBACK)
  unset(CMAKE_REQUIRED_INCLUDES)
  unset(CMAKE_REQUIRED_LIBRARIES)
  if(NOT MP_FFTW_HAS_CALLBACK)
    set(MP_FFTW_WHY "this FFTW has no fftw_threads_set_callback (FFTW 3.3.9 or later is needed)")
  endif()
endif()
