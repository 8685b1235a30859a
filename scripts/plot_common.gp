# plot_common.gp — terminal set-up and helpers shared by the plot_*.gp scripts.
# Called as:  gnuplot -e "datadir='D'; out='F.png'; fmt='png'; W=1500; H=900" scripts/plot_X.gp
#   datadir  the directory scripts/agg_seeds.py wrote (its manifest.gp is loaded here)
#   out      the output file; fmt 'png' (pngcairo) or 'pdf' (pdfcairo); W x H in pixels
#            (the PDF gets the same aspect at 100 pixels per inch)
if (!exists("W")) W = 1500
if (!exists("H")) H = 900
if (fmt eq "pdf") {
    set terminal pdfcairo size (W/100.0),(H/100.0) font "Sans,7" noenhanced linewidth 1
} else {
    if (exists("gd") && gd) { set terminal png size W,H font "DejaVuSans,9" noenhanced linewidth 1 } else { set terminal pngcairo size W,H font "Sans,9" noenhanced linewidth 1 }
}
set output out
load datadir."/manifest.gp"
set datafile missing NaN
set grid lc rgb "#E0E0E0"
set key top right samplen 3 spacing 1 font ",8" noopaque
set tics nomirror
set border 3

# file of series i; faded colour (alpha) of series i
sf(i, ext) = datadir."/".S_id[i].".".ext.".dat"
fade(c) = "#80".c[2:]
capy(y) = (y < YCAP) ? y : YCAP
# y axis from a panel's logy flag (agg_seeds.py): 0 linear, 1 log (decade tics), 2 log (1-2-5 tics)
T125 = "set ytics (1e-4,2e-4,5e-4,0.001,0.002,0.005,0.01,0.02,0.05,0.1,0.2,0.5,1,2,5,10,20,50,100,200,500,1000)"
yaxis(v) = (v == 0) ? "unset logscale y; set ytics autofreq" : \
           ((v == 1) ? "set logscale y; set ytics autofreq" : "set logscale y; ".T125)
band(c) = "#C8".c[2:]

# multi(S): the words of the index list S whose series have more than one seed (only they
# get a band (95 % t-interval or min-max, agg_seeds.py --band); a band of one seed is empty and only shows clipping artefacts)
multi_(S, i) = (i > words(S)) ? "" : \
    (((S_ns[word(S, i) + 0] > 1) ? word(S, i)." " : "").multi_(S, i + 1))
multi(S) = multi_(S, 1)
# a word of such a list as an index (gnuplot evaluates a plot clause once even when its
# iteration is empty; the empty word then maps to a harmless 1)
ix(k) = (strlen(k) > 0) ? k + 0 : 1

# iteration_axis: about four tics on an iteration axis 0..XMAX (manifest.gp) in a 1-2-5 spacing,
# labelled 5k, 10k, ... when the spacing is a multiple of 1000, so that the labels of a narrow
# panel never run together (autofreq gives 5000 10000 15000 ..., which do)
tic125(x) = (e = 10.0**floor(log10(x)), r = x / e, (r <= 1 ? 1 : (r <= 2 ? 2 : (r <= 5 ? 5 : 10))) * e)
ticlabel(v, d) = (v == 0) ? "0" : ((d >= 1000 && int(d) % 1000 == 0) ? sprintf("%gk", v / 1000) : sprintf("%g", v))
iteration_axis = "if (exists('XMAX') && XMAX > 0) { XT = tic125(XMAX / 4.0); set xtics nomirror ('0' 0); do for [q = 1:int(XMAX / XT)] { set xtics add (ticlabel(q * XT, XT) q * XT) } }"
