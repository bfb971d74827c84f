# heap.gp — figure gen/fig-heap.pdf: throughput against peak RSS over GOGC
# with published garbage (the heap-size sweep), one curve per collector,
# medians with bootstrap 95% intervals on both axes; toc's points carry
# their GOGC. Columns of gen/heap-MODE.dat: GOGC, RSS median, low, high,
# txn/s median, low, high. Column width, 8 pt.
if (!exists("gendir")) gendir = "gen"
if (!exists("figdir")) figdir = "fig"
set terminal pdfcairo size 3.35in,2.6in font "Helvetica,8"
set output gendir . "/fig-heap.pdf"
set datafile missing "NaN"
set xlabel "peak RSS, MiB"
set ylabel "transactions/s"
set logscale x 10
set xtics (250, 500, 1000, 2000, 4000)
set format y "%.0s%c"
set yrange [0:*]
set offsets graph 0, graph 0, graph 0.12, 0
set grid lc rgb "#dddddd"
set key bottom right font ",8" samplen 2
load gendir . "/heap-labels.gp"
plot gendir . "/heap-toc.dat" using 2:5:3:4:6:7 with xyerrorlines lc rgb "#d62728" pt 7 ps 0.5 title "toc", \
     gendir . "/heap-cms.dat" using 2:5:3:4:6:7 with xyerrorlines lc rgb "#1f77b4" pt 5 ps 0.5 title "cms", \
     gendir . "/heap-go.dat" using 2:5:3:4:6:7 with xyerrorlines lc rgb "#9467bd" pt 15 ps 0.5 title "Go"
