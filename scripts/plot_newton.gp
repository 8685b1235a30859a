# plot_newton.gp — the Newton learning-rate paper's eta traces (Ravaut & Gorti 2018, Figs. 4
# and 7): (a) the learning rate eta of newton-lr from each start value, (b) the batch loss
# (moving average) of newton-lr against plain SGD from the same rates.
load scriptdir."/plot_common.gp"
set multiplot layout 1,2 title cfg.": Newton learning rate".SEEDNOTE font ",11"
set xlabel "iteration"
set format y "%g"
S = NW_series[1]
set title NW_title[1] font ",10"
if (NW_logy[1]) { set logscale y }
set ylabel "eta (learning rate)"
plot for [k in multi(S)] sf(ix(k), "steps") using 1:10:11 with filledcurves lc rgb band(S_color[ix(k)]) notitle, \
     for [k in S] sf(k+0, "steps") using 1:9 with lines lw 1 lc rgb S_color[k+0] dt S_dt[k+0] title S_title[k+0]
S = NW_series[2]
set title sprintf("%s over %d steps", NW_title[2], MAW) font ",10"
eval yaxis(NW_logy[2])
set ylabel "batch loss"
set yrange [*:* < YCAP]
set autoscale yfixmax
do for [k in S] {
    i = k+0
    if (S_div[i]) { set label i "" at S_stx[i],capy(S_sty[i]) point pt 2 ps 2 lw 2 lc rgb S_color[i] front }
}
plot for [k in multi(S)] sf(ix(k), "steps") using 1:7:8 with filledcurves lc rgb band(S_color[ix(k)]) notitle, \
     for [k in S] sf(k+0, "steps") using 1:6 with lines lw 1.5 lc rgb S_color[k+0] dt S_dt[k+0] title S_title[k+0]
unset multiplot
