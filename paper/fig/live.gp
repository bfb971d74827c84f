# live.gp — figure gen/fig-live.pdf from gen/live.dat (workloads/sweep live).
if (!exists("gendir")) gendir = "gen"
if (!exists("figdir")) figdir = "fig"
datafile = gendir . "/live.dat"
outfile = gendir . "/fig-live.pdf"
xlab = "live heap (store), MiB"
logx = 1
load figdir . "/sweep-common.gp"
