/* models/registry.h — one line per model. Adding a model: write
 * models/<name>.c defining `const ModelOps model_<name>` and add MODEL(<name>). */
MODEL(logreg)
MODEL(mlp)
MODEL(lenet5)
MODEL(cnn2)
MODEL(resnet18)
MODEL(booth)
MODEL(eggholder)
MODEL(himmelblau)
MODEL(linreg)
