# sweep-common.gp — two panels over one sweep: throughput and GC CPU per
# transaction, every mode, median with min-max bars. Loaded by the
# per-figure scripts, which set datafile, outfile, xlab and logx.
# Columns of the .dat (paper/lib/gen.py): value, then per mode
# (toc cms stw boehm arena go) txn/s median, min, max, GC us/txn median.
set terminal pdfcairo size 6in,2.7in font "Helvetica,11"
set output outfile
set datafile missing "NaN"
rows = int(system("grep -vc '^#' " . datafile))
set multiplot layout 1,2
set key bmargin center horizontal font ",10" samplen 2
set grid ytics lc rgb "#dddddd"
set xlabel xlab
if (logx) { set logscale x 2 }
modes = "toc cms stw boehm arena go"
colors = "#d62728 #1f77b4 #7f7f7f #2ca02c #ff7f0e #9467bd"
if (rows == 0) {
	set label 1 "no results for this sweep in the results folder" at graph 0.5, graph 0.5 center
	unset logscale x
	set ylabel "transactions/s"
	plot [0:1][0:1] NaN notitle
	set ylabel "GC CPU µs per transaction"
	plot [0:1][0:1] NaN notitle
	unset multiplot
	exit
}
set ylabel "transactions/s"
set yrange [0:*]
plot for [i=1:6] datafile using 1:(column(2+4*(i-1))):(column(3+4*(i-1))):(column(4+4*(i-1))) \
     with yerrorlines lc rgb word(colors, i) pt 7 ps 0.4 title word(modes, i)
set ylabel "GC CPU µs per transaction"
set yrange [0:*]
plot for [i=1:6] datafile using 1:(column(5+4*(i-1))) with linespoints lc rgb word(colors, i) pt 7 ps 0.4 \
     title word(modes, i)
unset multiplot
