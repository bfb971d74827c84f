# fate.gp — figure gen/fig-fate.pdf: where toc's window bytes went (published,
# forfeited to a cycle; the rest was reclaimed by rewind) and the cycles toc
# and cms ran, over the publish, GOGC and live-heap sweeps. Columns of
# gen/fate-NAME.dat (paper/lib/gen.py): value, published %, forfeited %,
# reclaimed %, toc cycles, cms cycles (medians of the runs).
if (!exists("gendir")) gendir = "gen"
if (!exists("figdir")) figdir = "fig"
set terminal pdfcairo size 6.8in,2.6in font "Helvetica,8"
set output gendir . "/fig-fate.pdf"
set datafile missing "NaN"
set multiplot layout 1,3
set grid ytics lc rgb "#dddddd"
set key bmargin center horizontal font ",7" samplen 2
set ylabel "share of toc's window bytes, %"
set y2label "GC cycles per run"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
names = "publish gogc live"
xlabs = "'requests that publish, %' 'GOGC, %' 'live heap (store), MiB'"
do for [i=1:3] {
	f = gendir . "/fate-" . word(names, i) . ".dat"
	set xlabel word(xlabs, i)
	if (i == 1) { unset logscale x } else { set logscale x 2 }
	plot f using 1:2 with linespoints lc rgb "#d62728" pt 7 ps 0.4 title "published", \
	     f using 1:3 with linespoints lc rgb "#ff7f0e" pt 5 ps 0.4 title "forfeited", \
	     f using 1:5 axes x1y2 with linespoints dt 2 lc rgb "#d62728" pt 6 ps 0.4 title "toc cycles", \
	     f using 1:6 axes x1y2 with linespoints dt 2 lc rgb "#1f77b4" pt 6 ps 0.4 title "cms cycles"
}
unset multiplot
