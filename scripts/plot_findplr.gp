# plot_findplr.gp — the QLABGrad paper's Fig. 8: QLABGrad started from a tiny pre-learning
# rate, with and without FindPLR, over the first 200 iterations: (a) the learning rate applied
# (solid) and the pre-learning rate abar (dashed), (b) the batch loss and its moving average.
load scriptdir."/plot_common.gp"
set multiplot layout 1,2 title cfg.": FindPLR start-up, first 200 iterations".SEEDNOTE font ",11"
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
S = FP_series[2]
set offsets 0, 0, 0, 0
set title FP_title[2] font ",10"
eval yaxis(FP_logy[2])
set ylabel "batch loss"
set yrange [*:* < YCAP]
set autoscale yfixmax
do for [k in S] {
    i = k+0
    if (S_div[i]) { set label i "" at S_stx[i],capy(S_sty[i]) point pt 2 ps 2 lw 2 lc rgb S_color[i] front }
}
plot for [k in S] sf(k+0, "steps") using 1:3 with lines lw 0.5 lc rgb fade(S_color[k+0]) notitle, \
     for [k in S] sf(k+0, "steps") using 1:6 with lines lw 1.5 lc rgb S_color[k+0] title S_title[k+0]
unset multiplot
