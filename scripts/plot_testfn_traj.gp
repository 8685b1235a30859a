# plot_testfn_traj.gp — a test-function sweep (QLABGrad paper Fig. 2): the path of each run on
# the function's contour map, one panel per method with its learning rates. Contour lines are
# drawn by gnuplot from f on a grid (grid.dat, the same formula as models/testfn.c); open
# square: the start; dot: where a run converged; cross: where it ended otherwise (a run that
# leaves the box is cut at its edge); star: the minimum the runs aim at. Equal axis scales.
# Data: scripts/testfn_plot.py.
load scriptdir."/plot_common.gp"
# the contour lines, once, into a datablock
set contour base
unset surface
set view map
eval "set cntrparam levels discrete ".TF_levels
set table $CONT
splot datadir."/grid.dat" using 1:2:3 with lines notitle
unset table
unset contour
set surface
set multiplot layout 1,TF_N title sprintf("%s: trajectories on the contour map (%s)", cfg, TF_levnote) font ",11"
set size ratio -1
X0 = real(word(TF_box, 1)); X1 = real(word(TF_box, 2)); Y0 = real(word(TF_box, 3)); Y1 = real(word(TF_box, 4))
set xrange [X0:X1]
set yrange [Y0:Y1]
set xlabel "x"
set ylabel "y"
set border 15
set grid noxtics noytics
set key below left Left reverse maxcols 1 font ",9" height 1.5
tf(i) = datadir."/".S_id[i].".traj.dat"
# another point worth marking (Eggholder: the quoted minimum on the box's edge), if any
OTH = (TF_othtitle[1] ne "") ? ", TF_othx using (TF_othx[$1]):(TF_othy[$1]) with points pt 8 ps 1.6 lw 2 lc rgb '#000000' title TF_othtitle[1]" : ""
inbox(x, y) = x >= X0 && x <= X1 && y >= Y0 && y <= Y1
do for [p=1:TF_N] {
    S = TF_pseries[p]
    set title TF_ptitle[p] font ",10"
    unset label
    do for [k in S] {
        i = k + 0
        if (inbox(TF_endx[i], TF_endy[i])) {
            if (TF_reached[i]) {
                set label i "" at TF_endx[i], TF_endy[i] point pt 7 ps 1.3 lc rgb TF_color[i] front
            } else {
                set label i "" at TF_endx[i], TF_endy[i] point pt 2 ps 1.6 lw 2 lc rgb TF_color[i] front
            }
        }
    }
    plot $CONT using 1:2 with lines lw 0.8 lc rgb "#BBBBBB" notitle, \
         for [k in S] tf(k+0) using 3:4 with lines lw TF_lw[k+0] lc rgb TF_color[k+0] title TF_title[k+0], \
         tf(word(S, 1)+0) every ::0::0 using 3:4 with points pt 5 ps 1.4 lc rgb "#000000" title "start", \
         TF_minx using (TF_minx[$1]):(TF_miny[$1]) with points pt 3 ps 2.2 lw 2 lc rgb "#000000" title sprintf("minimum, f* = %.8g", TF_fstar) @OTH
}
unset multiplot
