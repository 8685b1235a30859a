# plot_testfn_loss.gp — a test-function sweep (QLABGrad paper Fig. 2): f - f* against the step,
# log-log, one panel per method with its learning rates; f is measured at the point before
# the step's update (step 1: the start point). The dashed line is the convergence threshold
# (stop_loss - f*); a dot marks where a run converged, a cross where a run diverged or ended
# without converging (at the top edge when it is off the scale). Data: scripts/testfn_plot.py.
load scriptdir."/plot_common.gp"
set multiplot layout 1,TF_N title sprintf("%s: f - f* against the step (f* = %.10g; dashed: the stop_loss threshold)", cfg, TF_fstar) font ",11"
set logscale xy
set format y "1e%T"
set format x "%g"
set xrange [1:TF_steps * 1.5]
set yrange [TF_ylo:TF_yhi]
set xlabel "step (log; step 1 = the start point)"
set ylabel "f - f*"
set key below left Left reverse maxcols 1 font ",9" height 1.5
tf(i) = datadir."/".S_id[i].".traj.dat"
cap(v) = (v == v && v < TF_yhi) ? v : TF_yhi / 1.2
do for [p=1:TF_N] {
    S = TF_pseries[p]
    set title TF_ptitle[p] font ",10"
    unset label
    do for [k in S] {
        i = k + 0
        if (TF_reached[i]) {
            set label i "" at TF_ends[i], (TF_endg[i] > TF_ylo ? TF_endg[i] : TF_ylo * 1.5) point pt 7 ps 1.3 lc rgb TF_color[i] front
        } else {
            set label i "" at TF_ends[i], cap(TF_endg[i]) point pt 2 ps 1.6 lw 2 lc rgb TF_color[i] front
        }
    }
    plot for [k in S] tf(k+0) using 1:6 with lines lw TF_lw[k+0] lc rgb TF_color[k+0] title TF_title[k+0], \
         TF_stop with lines dt 2 lw 1 lc rgb "#606060" notitle
}
unset multiplot
