module github.com/ferrydb/ferry

go 1.26
