/* models/cnn2.c — `cnn2`, the QLABGrad paper's CNN (Fu & Wu, AAAI 2024; spec:
 * experiments.md "Models"): two 5×5 stride-1 convolutions, each followed by
 * ReLU and 2×2 average pooling, then FC 120 → ReLU → FC 84 → ReLU → FC 10.
 *
 * The paper gives no widths or padding. Choices (same as `lenet5`, so the two
 * differ only in the pooling): 6 and 16 channels; the first convolution pads
 * by 2 on 28×28 inputs (MNIST: 28 → 28 → 14 → 10 → 5) and not at all on other
 * sizes (32×32: 32 → 28 → 14 → 10 → 5), so fc1 sees 16·5·5 = 400 features
 * either way; both convolutions have biases. Parameters: 61,706 for 1×28×28,
 * 62,006 for 3×32×32, in PyTorch order (conv1.weight, conv1.bias, conv2.weight,
 * conv2.bias, fc1.weight, fc1.bias, fc2.*, fc3.*). Implementation shared with
 * lenet5 (models/lenet5.c). */
#include "lenet.h"

static int cnn2_create(Model *m, char *err) { return lenet_family_create(m, false, err); }

const ModelOps model_cnn2 = {"cnn2", cnn2_create, lenet_family_forward, lenet_family_backward,
                             lenet_family_destroy, NULL, 0};
