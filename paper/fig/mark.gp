# mark.gp — figure gen/fig-mark.pdf: toc through the mark phase. Each point
# is one toc run of the churn sweep or the heap-size sweep: the share of
# the run's time a mark phase was on (x) against the share of the window
# bytes reclaimed by rewind, and the share forfeited to the collector.
# Columns of gen/mark.dat: marking %, reclaimed %, forfeited %, published %,
# windows open during a mark %; one block per sweep. Column width, 8 pt.
if (!exists("gendir")) gendir = "gen"
if (!exists("figdir")) figdir = "fig"
set terminal pdfcairo size 3.35in,2.9in font "Helvetica,8"
set output gendir . "/fig-mark.pdf"
set datafile missing "NaN"
f = gendir . "/mark.dat"
set xlabel "time a mark phase is on, % of the run"
set ylabel "toc's window bytes, %"
set xrange [0:100]
set yrange [-2:102]
set grid lc rgb "#dddddd"
set key below horizontal maxcols 2 font ",8" samplen 1.5
plot f index 0 using 1:2 with points pt 7 ps 0.45 lc rgb "#d62728" title "reclaimed, churn sweep", \
     f index 1 using 1:2 with points pt 6 ps 0.5 lc rgb "#d62728" title "reclaimed, heap-size sweep", \
     f index 0 using 1:4 with points pt 5 ps 0.4 lc rgb "#1f77b4" title "published, churn sweep", \
     f index 1 using 1:4 with points pt 4 ps 0.45 lc rgb "#1f77b4" title "published, heap-size sweep", \
     f using 1:3 with points pt 2 ps 0.5 lc rgb "#ff7f0e" title "forfeited, both"
