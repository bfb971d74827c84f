# gogc.gp — figure gen/fig-gogc.pdf from gen/gogc.dat (workloads/sweep gogc).
if (!exists("gendir")) gendir = "gen"
if (!exists("figdir")) figdir = "fig"
datafile = gendir . "/gogc.dat"
outfile = gendir . "/fig-gogc.pdf"
xlab = "GOGC, %"
logx = 1
load figdir . "/sweep-common.gp"
