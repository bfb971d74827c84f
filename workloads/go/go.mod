module toc/workloads/go

go 1.19
