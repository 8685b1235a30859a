# plot_qlab.gp — the QLABGrad paper's layout (Fu & Wu 2024, Figs. 4-6): one panel per
# method, batch training loss against iterations (faint) with its moving average (solid),
# log y (when the curves span more than a factor 8), the same y range in every panel; QLABGrad's moving average (dashed black) in
# every other panel for reference. Seeds: mean with a band (agg_seeds.py --band) of the moving average.
load scriptdir."/plot_common.gp"
reftxt = ""
if (QL_ref > 0) { reftxt = sprintf("; dashed: %s", S_title[QL_ref]) }
set multiplot layout QL_rows,QL_cols title sprintf("%s: batch loss vs iteration (faint) and its moving average over %d steps (solid)%s", cfg, MAW, reftxt).SEEDNOTE font ",11"
set format y "%g"
set xlabel "iteration"
eval iteration_axis
set ylabel "batch loss"
unset key
do for [p=1:QL_N] {
    S = QL_series[p]
    i = S+0
    set title QL_title[p] font ",9"
    eval yaxis(QL_logy[p])
    if (QL_logy[p]) { set yrange [YLO:YHI] } else { set yrange [0:YHI] }
    unset label
    if (S_div[i]) { set label 1 "" at S_stx[i],capy(S_sty[i]) point pt 2 ps 2 lw 2 lc rgb S_color[i] front }
    if (QL_ref > 0 && QL_ref != i) {
        plot sf(i, "steps") using 1:3 with lines lw 0.5 lc rgb fade(S_color[i]) title "batch loss", \
             for [k in multi(S)] sf(i, "steps") using 1:7:8 with filledcurves lc rgb band(S_color[i]) notitle, \
             sf(i, "steps") using 1:6 with lines lw 1.5 lc rgb S_color[i] title "moving average", \
             sf(QL_ref, "steps") using 1:6 with lines lw 1 dt 2 lc rgb "#000000" title S_title[QL_ref]
    } else {
        plot sf(i, "steps") using 1:3 with lines lw 0.5 lc rgb fade(S_color[i]) title "batch loss", \
             for [k in multi(S)] sf(i, "steps") using 1:7:8 with filledcurves lc rgb band(S_color[i]) notitle, \
             sf(i, "steps") using 1:6 with lines lw 1.5 lc rgb S_color[i] title "moving average"
    }
}
unset multiplot
