module micropool/examples/go

go 1.21

require micropool v1.0.0

replace micropool => ../../bindings/go
