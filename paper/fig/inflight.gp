# inflight.gp — figure gen/fig-inflight.pdf from gen/inflight.dat (workloads/sweep inflight).
if (!exists("gendir")) gendir = "gen"
if (!exists("figdir")) figdir = "fig"
datafile = gendir . "/inflight.dat"
outfile = gendir . "/fig-inflight.pdf"
xlab = "requests in flight (spawn driver)"
logx = 1
load figdir . "/sweep-common.gp"
