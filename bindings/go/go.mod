module micropool

go 1.21
