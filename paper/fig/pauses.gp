# pauses.gp — figure gen/fig-pauses.pdf: the distribution (CDF) of
# stop-the-world pauses in the chat server, per mode and connection count,
# from gen/pauses.dat and the series names in gen/pauses-series.gp.
if (!exists("gendir")) gendir = "gen"
if (!exists("figdir")) figdir = "fig"
load gendir . "/pauses-series.gp"
set terminal pdfcairo size 3.3in,2.4in font "Helvetica,8"
set output gendir . "/fig-pauses.pdf"
set datafile missing "NaN"
set logscale x 10
set xlabel "pause, µs"
set ylabel "fraction of pauses"
set yrange [0:1.02]
set grid lc rgb "#dddddd"
set key bottom right font ",8" samplen 2
colors = "#d62728 #1f77b4 #ff9896 #aec7e8"
dashes = "1 1 2 2"
if (nseries == 0) {
	set label 1 "no chat pause results in the results folder" at graph 0.5, graph 0.5 center
	unset logscale x
	plot [0:1][0:1] NaN notitle
} else {
	plot for [i=0:nseries-1] gendir . "/pauses.dat" index i using 1:2 with steps \
	     lc rgb word(colors, i + 1) dt int(word(dashes, i + 1)) lw 1.5 \
	     title sprintf("%s", system(sprintf("echo '%s' | cut -d'|' -f%d", series, i + 1)))
}
