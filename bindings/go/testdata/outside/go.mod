module example.com/poolapp

go 1.21

require micropool.invalid/micropool v1.1.0

// Where the binding's source is: here, the checkout this file is in. A
// module elsewhere names the directory bindings/go of a checkout, or
// /usr/share/gocode/src/micropool.invalid/micropool once golang-micropool-dev is installed.
replace micropool.invalid/micropool => ../..
