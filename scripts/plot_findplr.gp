# plot_findplr.gp — the QLABGrad paper's Fig. 8: QLABGrad started from a tiny pre-learning
# rate, with and without FindPLR, over the first 200 iterations: (a) the learning rate applied
# (solid) and the pre-learning rate abar (dashed), the batch loss (thin) and its moving average;
# when the sweep has competitors, (b) the common and (c) the recent methods' batch loss (moving
# average, each at its best lr) against QLABGrad with FindPLR.
load scriptdir."/plot_common.gp"
set multiplot layout FP_rows,FP_cols title cfg.": FindPLR start-up, first 200 iterations".SEEDNOTE font ",11"
set xrange [0:200]
set xlabel "iteration"
set format y "%g"
S = FP_series[1]
set title FP_title[1] font ",10"
if (FP_logy[1]) { set logscale y }
set ylabel "learning rate"
set offsets 0, 0, graph 0.04, graph 0.04
plot for [k in S] sf(k+0, "steps") using 1:9 with linespoints pt 7 ps 0.35 lw 0.5 lc rgb S_color[k+0] title S_title[k+0]." lr", \
     for [k in S] sf(k+0, "steps") using 1:12 with lines lw 3 dt 2 lc rgb S_color[k+0] title S_title[k+0]." abar"
set offsets 0, 0, 0, 0
set ylabel "batch loss"
do for [p = 2:FP_N] {
    S = FP_series[p]
    set title (p == 2 ? FP_title[p] : sprintf("%s, moving average over %d steps", FP_title[p], MAW)) font ",10"
    unset logscale y
    eval yaxis(FP_logy[p])
    set yrange [*:* < YCAP]
    set autoscale yfixmax
    unset label
    do for [k in S] {
        i = k+0
        if (S_div[i]) { set label i "" at S_stx[i],capy(S_sty[i]) point pt 2 ps 2 lw 2 lc rgb S_color[i] front }
    }
    if (p == 2) {
        plot for [k in S] sf(k+0, "steps") using 1:3 with lines lw 0.5 lc rgb fade(S_color[k+0]) notitle, \
             for [k in S] sf(k+0, "steps") using 1:6 with lines lw 1.5 lc rgb S_color[k+0] title S_title[k+0]
    } else {
        plot for [k in S] sf(k+0, "steps") using 1:6 with lines lw 1.5 lc rgb S_color[k+0] dt S_dt[k+0] title S_title[k+0]
    }
}
unset multiplot
