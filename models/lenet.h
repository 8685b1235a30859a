/* models/lenet.h — the LeNet family shared by `lenet5` (max pooling) and
 * `cnn2` (average pooling); implemented in models/lenet5.c. Private to the
 * model files. */
#ifndef LQA_MODELS_LENET_H
#define LQA_MODELS_LENET_H

#include <stdbool.h>

#include "model.h"

int lenet_family_create(Model *m, bool maxpool, char *err);
double lenet_family_forward(Model *m, const float *theta, const float *x, const int *y, int B,
                            FwdMode mode, int *n_correct);
void lenet_family_backward(Model *m);
void lenet_family_destroy(Model *m);

#endif
