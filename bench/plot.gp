# bench/plot.gp - the plots of bench/matrix.sh (gnuplot 5.4):
#   gnuplot -e "vars = 'DIR/plot/vars.gp'" bench/plot.gp
# vars.gp (written by matrix.sh) names the links, RAM sizes and modes, the
# output directory, per link the series that have data (ser_LINK: words
# RAM-MODE, file DIR/plot/LINK-RAM-MODE.dat: rate, downtime median min
# max, total s median min max, wire MiB median min max), and per mode the
# kv timeline file and its events (s from the migration's start).
load vars

set terminal pngcairo size 1400,500 font "sans,10"
set grid
set key top left font ",9"
set logscale x
set xlabel "sweep dirty rate (MB/s, --write-fraction 1)"
set xrange [30:5000]

# precopy red, hybrid purple, postcopy blue; 4 GiB dashed
col(t) = strstrt(t, "precopy") ? 0xd62728 : strstrt(t, "hybrid") ? 0x9467bd : 0x1f77b4
dash(t) = strstrt(t, "4G") ? 2 : 1
pt(t) = strstrt(t, "4G") ? 6 : 7
file(l, t) = sprintf("%s/plot/%s-%s.dat", outdir, l, t)
nl = words(links)

# y columns: median, min, max
do for [what in "downtime total bytes"] {
	set output sprintf("%s/%s.png", outdir, what)
	if (what eq "downtime") { c = 2; set logscale y; set ylabel "downtime (ms, log)" }
	if (what eq "total") { c = 5; set logscale y; set ylabel "total migration time (s, log)" }
	if (what eq "bytes") { c = 8; unset logscale y; set ylabel "bytes on the wire (MiB)" }
	set multiplot layout 1, nl title sprintf("%s versus dirty rate (median, bars min-max), engine %s, %s", \
		what eq "bytes" ? "bytes on the wire" : what eq "total" ? "total time" : "downtime", engine, host)
	do for [l in links] {
		set title "link ".l
		if (what eq "bytes") {
			set yrange [0:*]
		} else {
			set yrange [*:*]
		}
		# the link's rate (tbf's; loopback: one TCP stream measured)
		unset arrow
		unset label
		if (exists("bw_".l) && value("bw_".l) > 0) {
			set arrow from value("bw_".l), graph 0 to value("bw_".l), graph 1 nohead lc rgb "#888888" dt 3
			set label sprintf("%s %.0f MB/s", value("bwname_".l), value("bw_".l)) at value("bw_".l), graph 0.03 right offset -0.5, 0 font ",8" tc rgb "#555555"
		}
		if (what eq "bytes") {
			set arrow from graph 0, first ws_mib to graph 1, first ws_mib nohead lc rgb "#2ca02c" dt 3
			set label "working set" at graph 0.6, first ws_mib offset 0, 0.6 font ",8" tc rgb "#2ca02c"
		}
		if (words(value("ser_".l)) == 0) {
			plot 1 lc rgb "white" title "no sweep run succeeded on this link"
		} else {
			plot for [t in value("ser_".l)] file(l, t) using 1:c:c+1:c+2 with yerrorlines \
				lc rgb col(t) dt dash(t) pt pt(t) ps 0.8 lw 1.5 title t
		}
	}
	unset multiplot
}

# kv latency timeline: one panel per mode, the largest operation latency
# and the largest response time (previous operation's end to this one's)
# in each 8.4 ms interval of guest time, on the host's clock.
set terminal pngcairo size 1400, 300 * words(modes) + 60 font "sans,10"
set output sprintf("%s/timeline.png", outdir)
unset logscale x
set logscale y
set xlabel "s since the migration started (host clock; guest time aligned at the source just before)"
set ylabel "ms (log)"
set xrange [-1:*]
set yrange [0.001:*]
set key outside right top font ",8"
set multiplot layout words(modes), 1 title sprintf("kv operation latency across one migration per mode: link %s, %s RAM, engine %s, %s", \
	tl_link, tl_ram, engine, host)
do for [m in modes] {
	unset arrow
	unset label
	if (exists("tl_".m)) {
		ev = "pre pause resume end"
		do for [i = 1:4] {
			e = word(ev, i)
			x = value(sprintf("ev_%s_%s", e, m))
			if (e ne "pre" || m ne "postcopy") {
				set arrow from x, graph 0 to x, graph 1 nohead lc rgb "#888888" dt 2
				set label e at x, graph 1.04 - 0.09 * i offset 0.3, 0 font ",8" tc rgb "#555555"
			}
		}
		set title sprintf("%s: downtime %.2f ms", m, value("dt_".m))
		plot sprintf("%s/%s", outdir, value("tl_".m)) using 1:3 with steps lc rgb "#ff7f0e" title "response (incl. pauses)", \
		     "" using 1:2 with steps lc rgb "#1f77b4" title "operation"
	} else {
		set title m.": no kv run on this link"
		unset key
		plot 1 notitle lc rgb "white"
		set key
	}
}
unset multiplot
