/* src/optim/registry.h — one line per optimizer: OPT(C identifier). The
 * definition `optdef_<ident>` lives in src/optim/<name>.c; it declares what the
 * sweep's lr means for the method (.lr_role, .lr_doc, optionally .lr_role_of). */
OPT(sgd)
OPT(sgd_m)
OPT(sgd_nag)
OPT(adagrad)
OPT(rmsprop)
OPT(adam)
OPT(hgd)
OPT(l4gd)
OPT(lqa)
OPT(qlabgrad)
OPT(newton_lr)
