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
band(c) = "#C8".c[2:]

# the indices in the word list S that have more than one seed (drawn with a min-max band)
