# volkey bench --plot: encrypted/raw IOPS per job (clusters) and dm-crypt
# configuration (bars), with a dashed line at 1 (as fast as the raw device).
# volkey runs it as: gnuplot -e "data='F.tsv'; out='F.svg'; fmt='svg'; ncols=N; title='...'" ratio.gp
if (fmt eq 'svg') {
	set terminal svg size 1100,560 dynamic font 'sans,11' background '#ffffff'
} else {
	set terminal pngcairo size 1100,560 font 'sans,10' background '#ffffff'
}
set output out
set title title noenhanced
set datafile separator "\t"
set datafile missing 'NaN'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel 'encrypted / raw (IOPS)'
set yrange [0:*]
set grid ytics
set key outside right top noenhanced
set xtics rotate by 25 right noenhanced nomirror
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 linecolor 'black'
plot for [i=2:ncols] data using i:xtic(1) title columnheader(i)
