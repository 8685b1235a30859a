# plot_lr.gp — learning-rate traces (the `lr` column: the step size actually applied) of the
# adaptive methods, one panel per method (QLABGrad paper Fig. 3; the Newton paper's eta traces
# use plot_newton.gp). Log y where the trace spans more than a factor 30. Seeds: mean and its band (agg_seeds.py --band).
load scriptdir."/plot_common.gp"
set multiplot layout LR_rows,LR_cols title cfg.": learning rate applied at each iteration".SEEDNOTE font ",11"
set xlabel "iteration"
eval iteration_axis
set ylabel "learning rate"
set format y "%g"
do for [p=1:LR_N] {
    S = LR_series[p]
    i = S+0
    set title LR_title[p] font ",9"
    if (LR_logy[p]) { set logscale y } else { unset logscale y }
    unset label
    if (S_div[i]) { set label 1 "" at S_stx[i], graph 0.05 point pt 2 ps 2 lw 2 lc rgb S_color[i] front }
    plot for [k in multi(S)] sf(i, "steps") using 1:10:11 with filledcurves lc rgb band(S_color[i]) notitle, \
         sf(i, "steps") using 1:9 with lines lw 1 lc rgb S_color[i] notitle
}
unset multiplot
