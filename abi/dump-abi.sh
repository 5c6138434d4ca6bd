#!/bin/sh
# dump-abi.sh LIBRARY HEADERS_DIR SOURCE_DIR > baseline.abi
#
# Writes the ABI of LIBRARY as abidw XML, limited to the types declared in
# the public headers of HEADERS_DIR. The output holds no absolute path
# (SOURCE_DIR is cut from translation unit names, locations are file names
# only), so the same sources give the same file on any machine. The library
# must carry debug information (-g).
set -eu
lib=${1:?usage: dump-abi.sh LIBRARY HEADERS_DIR SOURCE_DIR}
headers=${2:?usage: dump-abi.sh LIBRARY HEADERS_DIR SOURCE_DIR}
src=${3:?usage: dump-abi.sh LIBRARY HEADERS_DIR SOURCE_DIR}
src=$(cd "$src" && pwd)
abidw --no-corpus-path --no-comp-dir-path --short-locs --exported-interfaces-only \
      --headers-dir "$headers" --drop-private-types "$lib" |
  sed "s|path='$src/|path='|g"
