# plot_lqa.gp — the LQA paper's layout (Zhu et al. 2020, Figs. 1-5): one panel per
# competitor, its learning rates as curves, LQA (both variants) in every panel;
# full-training-set loss at each epoch end against epochs, log y where the curves of a panel
# span more than a factor 8.
# Mean over seeds with a band (agg_seeds.py --band); a diverged run ends with an x at its last
# measured point and says "diverged at step N" in the key.
load scriptdir."/plot_common.gp"
set multiplot layout LQ_rows,LQ_cols title cfg.": training loss (full training set) vs ".(LQ_use_steps ? "step" : "epoch").SEEDNOTE font ",11"
set format y "%g"
set yrange [*:* < YCAP]
set autoscale yfixmax
unset xlabel
set ylabel "training loss"
set key below left Left reverse maxrows 3 width 2
do for [p=1:LQ_N] {
    S = LQ_series[p]
    set title LQ_title[p] font ",10"
    eval yaxis(LQ_logy[p])
    unset label
    do for [k in S] {
        i = k+0
        if (S_div[i] && !LQ_use_steps) { set label i "" at S_epx[i],capy(S_epy[i]) point pt 2 ps 2 lw 2 lc rgb S_color[i] front }
        if (S_div[i] && LQ_use_steps) { set label i "" at S_stx[i],capy(S_sty[i]) point pt 2 ps 2 lw 2 lc rgb S_color[i] front }
    }
    if (!LQ_use_steps) {
        plot for [k in multi(S)] sf(ix(k), "epochs") using 1:4:5 with filledcurves lc rgb band(S_color[ix(k)]) notitle, \
             for [k in S] sf(k+0, "epochs") using 1:3 with linespoints pt 7 ps 0.5 lw 1.5 \
                 lc rgb S_color[k+0] dt S_dt[k+0] title S_title[k+0]
    } else {
        plot for [k in multi(S)] sf(ix(k), "steps") using 1:7:8 with filledcurves lc rgb band(S_color[ix(k)]) notitle, \
             for [k in S] sf(k+0, "steps") using 1:6 with lines lw 1.5 \
                 lc rgb S_color[k+0] dt S_dt[k+0] title S_title[k+0]
    }
}
unset multiplot
