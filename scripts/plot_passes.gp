# plot_passes.gp — batch loss (moving average) against the cumulative number of forward +
# backward passes (the fwd and bwd columns, which count every probe and FindPLR trial):
# what each method's extra evaluations cost. With several lrs per method, its best lr
# (lowest final loss). Log y when the curves span more than a factor 8. A diverged run ends
# with an x.
load scriptdir."/plot_common.gp"
S = PS_series[1]
set title sprintf("%s: batch loss (moving average over %d steps) vs forward+backward passes", cfg, MAW).SEEDNOTE font ",11"
eval yaxis(PS_logy[1])
set format y "%g"
set yrange [*:* < YCAP]
set autoscale yfixmax
set xlabel "forward + backward passes (cumulative)"
set ylabel "batch loss"
do for [k in S] {
    i = k+0
    if (S_div[i]) { set label i "" at S_fbx[i],capy(S_sty[i]) point pt 2 ps 2 lw 2 lc rgb S_pcolor[i] front }
}
plot for [k in multi(S)] sf(ix(k), "steps") using 2:7:8 with filledcurves lc rgb band(S_pcolor[ix(k)]) notitle, \
     for [k in S] sf(k+0, "steps") using 2:6 with lines lw 1.5 lc rgb S_pcolor[k+0] dt S_dt[k+0] title S_ptitle[k+0]
