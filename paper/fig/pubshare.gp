# pubshare.gp — figure gen/fig-pubshare.pdf: toc over cms against the share
# of a request's allocation it publishes (the pubshare sweep): throughput
# and peak RSS ratios, medians with bootstrap 95% intervals, against toc's
# measured published share. Columns of gen/pubshare.dat: knob %, measured %,
# txn/s ratio median, low, high, RSS ratio median, low, high. Column width.
if (!exists("gendir")) gendir = "gen"
if (!exists("figdir")) figdir = "fig"
set terminal pdfcairo size 3.35in,2.4in font "Helvetica,8"
set output gendir . "/fig-pubshare.pdf"
set datafile missing "NaN"
set xlabel "bytes toc published, % of what it allocated"
set ylabel "toc / cms"
set xrange [-3:103]
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
set grid lc rgb "#dddddd"
set key top right font ",8" samplen 2
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "#555555"
plot gendir . "/pubshare.dat" using 2:3:4:5 with yerrorlines lc rgb "#d62728" pt 7 ps 0.5 title "throughput", \
     gendir . "/pubshare.dat" using 2:6:7:8 with yerrorlines lc rgb "#2ca02c" pt 5 ps 0.5 dt 2 title "peak RSS"
