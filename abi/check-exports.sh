#!/bin/sh
# check-exports.sh LIBRARY HEADER [CC]
#
# The exported symbols of LIBRARY and the functions of HEADER must be the
# same set, and every exported symbol must carry a MICROPOOL_<major>.<minor>
# version. The header's declarations are read by the compiler (-aux-info),
# not by pattern matching, so line breaks and comments do not matter.
set -eu

lib=${1:?usage: check-exports.sh LIBRARY HEADER [CC]}
header=${2:?usage: check-exports.sh LIBRARY HEADER [CC]}
cc=${3:-cc}

work=$(mktemp -d "${TMPDIR:-/tmp}/mp-exports.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# Functions declared in the header: one "name" per line.
"$cc" -fsyntax-only -aux-info "$work/aux" -x c "$header"
header_path=$(cd "$(dirname "$header")" && pwd)/$(basename "$header")
awk -v h="$header_path" '
  index($0, "/* " h ":") == 1 {
    sub(/^\/\*[^*]*\*\/ */, "")          # the location comment
    sub(/ \(.*/, "")                     # the parameter list onwards
    n = split($0, w, /[ *]+/)
    print w[n]
  }' "$work/aux" | sort -u > "$work/declared"

# Defined dynamic symbols: "name version type", version "-" when none.
# The version-definition symbols themselves (ABS, named like their node)
# are left out.
readelf --dyn-syms -W "$lib" | awk '
  $1 ~ /^[0-9]+:$/ && $7 != "UND" && ($5 == "GLOBAL" || $5 == "WEAK") {
    name = $8; ver = "-"
    if (index(name, "@")) { ver = name; sub(/^[^@]*@+/, "", ver); sub(/@.*/, "", name) }
    if ($7 == "ABS" && ver == "-" && name ~ /^MICROPOOL_[0-9]+\.[0-9]+$/) next
    print name, ver, $4
  }' | sort -u > "$work/exported"

status=0
count=$(wc -l < "$work/exported")
if [ "$count" -eq 0 ]; then
  echo "FAIL: $lib exports no symbol at all"; exit 1
fi
while read -r name ver type; do
  case "$ver" in
    MICROPOOL_[0-9]*.[0-9]*) ;;
    *) echo "FAIL: $name is exported without a MICROPOOL_* version (version: $ver)"; status=1 ;;
  esac
  if ! grep -qx "$name" "$work/declared"; then
    if [ "$type" = OBJECT ] && grep -Eq "extern[^;]*[^A-Za-z0-9_]$name[^A-Za-z0-9_]" "$header"; then
      :
    else
      echo "FAIL: $name ($type, $ver) is exported but not declared in $(basename "$header")"; status=1
    fi
  fi
done < "$work/exported"

cut -d' ' -f1 "$work/exported" > "$work/exported-names"
while read -r name; do
  if ! grep -qx "$name" "$work/exported-names"; then
    echo "FAIL: $name is declared in $(basename "$header") but not exported by $(basename "$lib")"; status=1
  fi
done < "$work/declared"

if [ $status -eq 0 ]; then
  echo "OK: $count exported symbols, $(wc -l < "$work/declared") header functions, the same set; versions:"
  awk '{ print "  " $2 }' "$work/exported" | sort | uniq -c
fi
exit $status
