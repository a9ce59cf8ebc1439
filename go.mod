module github.com/motorpool/motorpool

go 1.26
