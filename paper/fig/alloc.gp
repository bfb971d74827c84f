# alloc.gp — figure gen/fig-alloc.pdf from gen/alloc.dat (workloads/sweep alloc).
if (!exists("gendir")) gendir = "gen"
if (!exists("figdir")) figdir = "fig"
datafile = gendir . "/alloc.dat"
outfile = gendir . "/fig-alloc.pdf"
xlab = "items per request body"
logx = 1
load figdir . "/sweep-common.gp"
