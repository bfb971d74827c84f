# sweep-common.gp — two panels over one sweep: throughput (median with its
# bootstrap 95% interval as bars; the median alone under 5 runs) and GC CPU
# per transaction (median), for each mode the sweep ran. Loaded by the
# per-figure scripts, which set datafile, outfile, xlab and logx.
# Columns of the .dat (paper/lib/gen.py): value, then per mode
# (toc cms stw boehm arena go) txn/s median, low, high, GC us/txn median.
# Printed at the text's full width: the PDF is drawn at that size, so its
# 9-pt font prints at 9 pt.
set terminal pdfcairo size 6.9in,2.2in font "Helvetica,9"
set output outfile
set datafile missing "NaN"
rows = int(system("grep -vc '^#' " . datafile))
set multiplot layout 1,2
set key outside right top vertical font ",9" samplen 2
set grid ytics lc rgb "#dddddd"
set xlabel xlab
if (logx) { set logscale x 10 }
set offsets graph 0.03, graph 0.03, graph 0.1, 0
modes = "toc cms stw boehm arena Go"
colors = "#d62728 #1f77b4 #7f7f7f #2ca02c #ff7f0e #9467bd"
points = "7 5 9 11 13 15"
# The modes with data: a mode's median column is NaN on every row otherwise.
present = ""
do for [i=1:6] {
	n = int(system(sprintf("awk '!/^#/ && $%d != \"NaN\"' %s | wc -l", 2 + 4 * (i - 1), datafile)))
	if (n > 0) { present = present . sprintf(" %d", i) }
}
if (rows == 0 || strlen(present) == 0) {
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
set format y "%.0s%c"
plot for [s in present] datafile using 1:(column(2+4*(int(s)-1))):(column(3+4*(int(s)-1))):(column(4+4*(int(s)-1))):xtic(1) \
     with yerrorlines lc rgb word(colors, int(s)) pt int(word(points, int(s))) ps 0.5 title word(modes, int(s))
set ylabel "GC CPU µs per transaction"
set format y "%g"
set yrange [0:*]
plot for [s in present] datafile using 1:(column(5+4*(int(s)-1))):xtic(1) with linespoints lc rgb word(colors, int(s)) \
     pt int(word(points, int(s))) ps 0.5 title word(modes, int(s))
unset multiplot
