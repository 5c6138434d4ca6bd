module micropool.invalid/micropool/examples/go

go 1.21

require micropool.invalid/micropool v1.1.0

replace micropool.invalid/micropool => ../../bindings/go
