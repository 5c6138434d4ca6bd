#!/bin/sh
# check-symbols.sh SYMBOLS_FILE LIBRARY
#
# The Debian symbols file (debian/libmicropool1.symbols) must list exactly
# the versioned symbols that the library exports, version nodes included
# (name@NODE, as dpkg-gensymbols writes them), each with the release of
# its node as minimal version (MICROPOOL_1.1 -> 1.1.0). dpkg-gensymbols also
# reads the file with the library, so a format error fails too.
set -u
symbols=${1:?usage: check-symbols.sh SYMBOLS_FILE LIBRARY}
lib=${2:?usage: check-symbols.sh SYMBOLS_FILE LIBRARY}
symbols=$(cd "$(dirname "$symbols")" && pwd)/$(basename "$symbols")
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
for tool in readelf dpkg-gensymbols; do
  command -v $tool >/dev/null 2>&1 || { echo "FAIL: $tool not found (binutils, dpkg-dev)"; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/mp-symbols.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
head=$(head -n 1 "$symbols")
case "$head" in
  "$soname "*" #MINVER#") ;;
  *) echo "FAIL: the first line of the symbols file is '$head', want '$soname <package> #MINVER#'"; status=1 ;;
esac

readelf --dyn-syms -W "$lib" | awk '
  $1 ~ /^[0-9]+:$/ && $7 != "UND" && ($5 == "GLOBAL" || $5 == "WEAK") {
    n = $8; if ($7 == "ABS" && index(n, "@") == 0) n = n "@" n; sub(/@@/, "@", n); print n }' |
  sort > "$work/library"
awk 'NR > 1 && /^ / { print $1 }' "$symbols" | sort > "$work/file"
missing=$(comm -23 "$work/library" "$work/file" | tr '\n' ' ')
extra=$(comm -13 "$work/library" "$work/file" | tr '\n' ' ')
[ -z "$missing" ] || { echo "FAIL: exported but not in the symbols file: $missing"; status=1; }
[ -z "$extra" ] || { echo "FAIL: in the symbols file but not exported: $extra"; status=1; }

# Minimal versions: MICROPOOL_x.y -> x.y.0.
bad=$(awk 'NR > 1 && /^ / {
    node = $1; sub(/.*@MICROPOOL_/, "", node)
    if ($2 != node ".0") print $1 " " $2 }' "$symbols")
[ -z "$bad" ] || { echo "FAIL: minimal versions that are not the release of the node: $bad"; status=1; }

# dpkg-gensymbols reads it (a syntax error fails) and finds nothing new
# (it does not report lost symbols: the comparison above does).
mkdir -p "$work/debian" "$work/pkgroot/DEBIAN"
: > "$work/debian/control"
package=$(awk 'NR == 1 { print $2 }' "$symbols")
version=$(awk 'NR > 1 && /^ / { print $2 }' "$symbols" | sort -V | tail -n 1)
if [ $status -eq 0 ] && ! (cd "$work" && dpkg-gensymbols -p"$package" -v"$version" -Ppkgroot -e"$lib" -I"$symbols" -O"$work/out" -c4 < /dev/null) > "$work/log" 2>&1; then
  cat "$work/log"; echo "FAIL: dpkg-gensymbols -c4 rejects the symbols file"; status=1
fi
[ $status -eq 0 ] && echo "OK: $(wc -l < "$work/file") symbols in the symbols file, the same as $(basename "$lib") exports"
exit $status
