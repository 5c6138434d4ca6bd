# Debian packages with CPack, one package per install component:
#
#   component  package                Section      contents
#   lib        libmicropool1          libs         libmicropool.so.1 (+ shlibs, symbols)
#   dev        libmicropool-dev       libdevel     header, .so link, .a, .pc, CMake files
#   lua        lua-micropool          interpreters the Lua 5.4 module
#   ruby       ruby-micropool         ruby         the gem's files in vendor_ruby
#   go         golang-micropool-dev   golang       the Go source under /usr/share/gocode/src
#
# Build them from a tree configured for /usr (GNUInstallDirs then gives the
# multiarch libdir, lib/<triplet>):
#
#   cmake -S . -B build-deb -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build-deb && (cd build-deb && cpack -G DEB)
#
# The symbols and shlibs files of libmicropool1 are written here from the
# version script: each symbol's minimal version is the release of its node
# (MICROPOOL_1.0 -> 1.0.0).

set(MP_DEB_DIR ${CMAKE_BINARY_DIR}/packaging)
set(MP_DEB_RELEASE 1 CACHE STRING "Debian revision of the packages (the part after the '-')")
set(MP_DEB_MAINTAINER "micropool maintainers <maintainers@micropool.invalid>" CACHE STRING
    "Maintainer field of the Debian packages")
set(MP_DEB_VERSION ${PROJECT_VERSION}-${MP_DEB_RELEASE})

# ------------------------------------------------------------ symbols, shlibs
# Version nodes and their global symbols, read from abi/micropool.map.
file(READ ${MP_MAP} mp_map_text)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${MP_MAP})
string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" mp_map_text "${mp_map_text}")
string(REGEX REPLACE "#[^\n]*" "" mp_map_text "${mp_map_text}")
# CMake lists split at ';': the script's terminators become ','.
string(REPLACE ";" "," mp_map_text "${mp_map_text}")
string(REGEX MATCHALL "[A-Za-z_][A-Za-z0-9_.]*[ \t\n]*{[^}]*}" mp_map_nodes "${mp_map_text}")
set(mp_symbol_lines "")
set(mp_newest_version "")
foreach(node_text IN LISTS mp_map_nodes)
  string(REGEX MATCH "^[A-Za-z_][A-Za-z0-9_.]*" node "${node_text}")
  if(NOT node MATCHES "^MICROPOOL_([0-9]+)\\.([0-9]+)$")
    message(FATAL_ERROR "packaging: version node '${node}' of ${MP_MAP} is not MICROPOOL_<major>.<minor>")
  endif()
  set(node_version "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}.0")
  if(mp_newest_version STREQUAL "" OR node_version VERSION_GREATER mp_newest_version)
    set(mp_newest_version ${node_version})
  endif()
  list(APPEND mp_symbol_lines " ${node}@${node} ${node_version}")
  # The global: part, up to local: or the end of the node.
  string(REGEX REPLACE "^[^{]*{" "" body "${node_text}")
  string(REGEX REPLACE "}$" "" body "${body}")
  string(REGEX REPLACE "local:.*" "" body "${body}")
  string(REGEX REPLACE "global:" "" body "${body}")
  string(REGEX REPLACE "[ \t\n]+" "" body "${body}")
  string(REPLACE "," "\n" body "${body}")
  string(REGEX MATCHALL "[^\n]+" symbols "${body}")
  foreach(symbol IN LISTS symbols)
    list(APPEND mp_symbol_lines " ${symbol}@${node} ${node_version}")
  endforeach()
endforeach()
if(mp_newest_version STREQUAL "")
  message(FATAL_ERROR "packaging: no version node found in ${MP_MAP}")
endif()
list(SORT mp_symbol_lines)
list(JOIN mp_symbol_lines "\n" mp_symbol_lines)
set(MP_DEB_SONAME libmicropool.so.${PROJECT_VERSION_MAJOR})
set(MP_DEB_LIB_PACKAGE libmicropool${PROJECT_VERSION_MAJOR})
file(WRITE ${MP_DEB_DIR}/lib/symbols
"${MP_DEB_SONAME} ${MP_DEB_LIB_PACKAGE} #MINVER#
* Build-Depends-Package: libmicropool-dev
${mp_symbol_lines}
")
# shlibs cannot tell symbols apart: it asks for the newest node's release.
file(WRITE ${MP_DEB_DIR}/lib/shlibs
  "libmicropool ${PROJECT_VERSION_MAJOR} ${MP_DEB_LIB_PACKAGE} (>= ${mp_newest_version})\n")

# ------------------------------------------------------------ components
# Every install component must map to a package; one that does not (an
# install() without COMPONENT lands in "Unspecified") is reported by the
# package test.
set(mp_known_components lib dev lua ruby go)
get_cmake_property(mp_all_components COMPONENTS)
set(CPACK_COMPONENTS_ALL "")
set(mp_unpackaged "")
foreach(c IN LISTS mp_all_components)
  if(c IN_LIST mp_known_components)
    list(APPEND CPACK_COMPONENTS_ALL ${c})
  else()
    list(APPEND mp_unpackaged ${c})
  endif()
endforeach()
if(mp_unpackaged)
  message(WARNING "packaging: install component(s) ${mp_unpackaged} belong to no package")
endif()

# What the package test expects of each binding: "package" when its
# component exists in this build, "not-built" when the binding declares
# install rules for it but they were not reached (its toolchain is
# missing), "no-install-rules" when the binding has none (yet).
set(mp_binding_state "")
foreach(lang lua ruby go)
  if(lang IN_LIST CPACK_COMPONENTS_ALL)
    set(state package)
  else()
    set(state no-install-rules)
    file(GLOB mp_binding_cmake ${PROJECT_SOURCE_DIR}/bindings/${lang}/CMakeLists.txt
                               ${PROJECT_SOURCE_DIR}/bindings/${lang}/*.cmake)
    foreach(f IN LISTS mp_binding_cmake)
      file(READ ${f} text)
      if(text MATCHES "COMPONENT[ \t\n]+${lang}[ \t\n)]")
        set(state not-built)
      endif()
    endforeach()
  endif()
  string(APPEND mp_binding_state "${lang} ${state}\n")
endforeach()
file(WRITE ${MP_DEB_DIR}/components.txt
  "${mp_binding_state}unpackaged ${mp_unpackaged}\nprefix ${CMAKE_INSTALL_PREFIX}\nlibdir ${CMAKE_INSTALL_LIBDIR}\n")

# ------------------------------------------------------------ CPack
set(CPACK_PACKAGE_NAME micropool)
set(CPACK_PACKAGE_VENDOR "micropool")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${MP_DEB_MAINTAINER}")
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPack would put it before each
# component's description, whose first line is already its summary.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${MP_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SOURCE micropool)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Shared objects are stripped (Debian policy 10.1); the static library keeps
# its symbols.
set(CPACK_STRIP_FILES ON)
# cpack refuses a tree that was not configured for /usr (see the file
# named here): the .pc file and the multiarch libdir are fixed at configure
# time.
set(CPACK_PROJECT_CONFIG_FILE ${MP_DEB_DIR}/cpack-project.cmake)
file(WRITE ${MP_DEB_DIR}/cpack-project.cmake
"if(CPACK_GENERATOR STREQUAL \"DEB\" AND NOT \"${CMAKE_INSTALL_PREFIX}\" STREQUAL \"/usr\")
  message(FATAL_ERROR \"Debian packages need a build tree configured with -DCMAKE_INSTALL_PREFIX=/usr (this one has ${CMAKE_INSTALL_PREFIX})\")
endif()
")

set(mp_lib_dep "${MP_DEB_LIB_PACKAGE} (>= ${mp_newest_version})")
# Descriptions: the summary, then the extended text without indentation
# and an empty line between paragraphs; CPack indents it and writes the
# empty lines as " .".
set(mp_description_body
"micropool runs fork-join, parallel loops and reductions, broadcasts,
scopes and background tasks on a pool of threads that steal work from
each other; the thread that calls into the pool works too. Its C ABI is
stable and versioned.")

set(CPACK_DEBIAN_LIB_PACKAGE_NAME ${MP_DEB_LIB_PACKAGE})
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_LIB_PACKAGE_SHLIBDEPS ON)
# ldconfig runs from dpkg's trigger (Debian policy 8.1.1). CPack would add
# a postinst and a postrm that call ldconfig themselves unless the package
# brings its own: these do nothing else.
file(WRITE ${MP_DEB_DIR}/lib/triggers "activate-noawait ldconfig\n")
file(WRITE ${MP_DEB_DIR}/lib/postinst "#!/bin/sh\nset -e\n")
file(WRITE ${MP_DEB_DIR}/lib/postrm "#!/bin/sh\nset -e\n")
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA
  "${MP_DEB_DIR}/lib/shlibs;${MP_DEB_DIR}/lib/symbols;${MP_DEB_DIR}/lib/triggers;${MP_DEB_DIR}/lib/postinst;${MP_DEB_DIR}/lib/postrm")
set(CPACK_COMPONENT_LIB_DESCRIPTION
"low-latency work-stealing thread pool - runtime library
${mp_description_body}

This package contains the shared library.
")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libmicropool-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${MP_DEB_LIB_PACKAGE} (= ${MP_DEB_VERSION})")
set(CPACK_COMPONENT_DEV_DESCRIPTION
"low-latency work-stealing thread pool - development files
${mp_description_body}

This package contains the header, the static library, the pkg-config
file and the CMake package files.")

# The bindings' native parts link libmicropool.so.1; dpkg-shlibdeps finds
# it in the build tree and reports the C library's own dependencies, the
# dependency on libmicropool1 is written here.
set(mp_lib_build_dir ${CMAKE_BINARY_DIR})
if(CMAKE_LIBRARY_OUTPUT_DIRECTORY)
  set(mp_lib_build_dir ${CMAKE_LIBRARY_OUTPUT_DIRECTORY})
endif()
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${mp_lib_build_dir})

set(CPACK_DEBIAN_LUA_PACKAGE_NAME lua-micropool)
set(CPACK_DEBIAN_LUA_PACKAGE_SECTION interpreters)
set(CPACK_DEBIAN_LUA_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_LUA_PACKAGE_DEPENDS "${mp_lib_dep}, lua5.4")
set(CPACK_COMPONENT_LUA_DESCRIPTION
"low-latency work-stealing thread pool - Lua 5.4 binding
${mp_description_body}

This package contains the Lua 5.4 module micropool.
")

set(CPACK_DEBIAN_RUBY_PACKAGE_NAME ruby-micropool)
set(CPACK_DEBIAN_RUBY_PACKAGE_SECTION ruby)
set(CPACK_DEBIAN_RUBY_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_RUBY_PACKAGE_DEPENDS "${mp_lib_dep}, ruby, ruby-ffi")
set(CPACK_COMPONENT_RUBY_DESCRIPTION
"low-latency work-stealing thread pool - Ruby binding
${mp_description_body}

This package contains the Ruby library micropool, built on the ffi gem.
")

set(CPACK_DEBIAN_GO_PACKAGE_NAME golang-micropool-dev)
set(CPACK_DEBIAN_GO_PACKAGE_SECTION golang)
set(CPACK_DEBIAN_GO_PACKAGE_ARCHITECTURE all)
# cgo compiles the binding against the header and finds the library with
# pkg-config: both come with libmicropool-dev.
set(CPACK_DEBIAN_GO_PACKAGE_DEPENDS
  "${mp_lib_dep}, libmicropool-dev (>= ${mp_newest_version}), pkg-config | pkgconf")
set(CPACK_COMPONENT_GO_DESCRIPTION
"low-latency work-stealing thread pool - Go binding
${mp_description_body}

This package contains the source of the Go module micropool (cgo).
")

# Each package's /usr/share/doc/<package>: changelog.Debian.gz, and the
# copyright file when the source tree has a licence file to copy. Only in a
# tree configured for /usr, which is what packages are built from.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  # The date of the entry: SOURCE_DATE_EPOCH when set (reproducible
  # builds), else now.
  string(TIMESTAMP mp_deb_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
  string(TIMESTAMP mp_deb_mtime "%Y-%m-%d %H:%M:%S UTC" UTC)
  file(WRITE ${MP_DEB_DIR}/doc/changelog.Debian
"micropool (${MP_DEB_VERSION}) unstable; urgency=medium

  * Packages of micropool ${PROJECT_VERSION}, built with CPack.

 -- ${MP_DEB_MAINTAINER}  ${mp_deb_date}
")
  file(ARCHIVE_CREATE OUTPUT ${MP_DEB_DIR}/doc/changelog.Debian.gz
    PATHS ${MP_DEB_DIR}/doc/changelog.Debian
    FORMAT raw COMPRESSION GZip COMPRESSION_LEVEL 9 MTIME "${mp_deb_mtime}")
  set(mp_license "")
  foreach(name LICENSE LICENSE.txt LICENSE.md COPYING)
    if(mp_license STREQUAL "" AND EXISTS ${PROJECT_SOURCE_DIR}/${name})
      set(mp_license ${PROJECT_SOURCE_DIR}/${name})
    endif()
  endforeach()
  foreach(c IN LISTS CPACK_COMPONENTS_ALL)
    string(TOUPPER ${c} C)
    set(pkg ${CPACK_DEBIAN_${C}_PACKAGE_NAME})
    install(FILES ${MP_DEB_DIR}/doc/changelog.Debian.gz
      DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${pkg} COMPONENT ${c})
    if(mp_license)
      install(FILES ${mp_license} DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${pkg}
        RENAME copyright COMPONENT ${c})
    endif()
  endforeach()
  if(NOT mp_license)
    message(STATUS "packaging: no LICENSE or COPYING file: the packages have no /usr/share/doc/<package>/copyright")
  endif()
endif()

include(CPack)

# The install tests that check these packages live in tests/install.
