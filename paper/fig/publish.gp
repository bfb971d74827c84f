# publish.gp — figure gen/fig-publish.pdf from gen/publish.dat (workloads/sweep publish).
if (!exists("gendir")) gendir = "gen"
if (!exists("figdir")) figdir = "fig"
datafile = gendir . "/publish.dat"
outfile = gendir . "/fig-publish.pdf"
xlab = "requests that publish, %"
logx = 0
load figdir . "/sweep-common.gp"
