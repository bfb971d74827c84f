# workers.gp — figure gen/fig-workers.pdf from gen/workers.dat (workloads/sweep workers).
if (!exists("gendir")) gendir = "gen"
if (!exists("figdir")) figdir = "fig"
datafile = gendir . "/workers.dat"
outfile = gendir . "/fig-workers.pdf"
xlab = "worker threads"
logx = 0
set xtics 1
load figdir . "/sweep-common.gp"
