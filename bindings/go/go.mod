module micropool.invalid/micropool

go 1.21
