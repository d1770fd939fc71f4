module github.com/leaderjob/leaderjob

go 1.26
