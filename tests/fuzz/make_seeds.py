#!/usr/bin/env python3
"""make_seeds.py — (re)write the seed corpora of the fuzz harnesses under
tests/fuzz/corpus/: a few valid and slightly broken inputs each, in the input
formats described at the top of fuzz_config.c, fuzz_idx.c and fuzz_cifar.c.
Inputs found by fuzzing that once crashed are kept there as crash-* files;
this script leaves those alone. Run from anywhere: python3 tests/fuzz/make_seeds.py"""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(b):
    return gzip.compress(b, compresslevel=9, mtime=0)


# --- config ---------------------------------------------------------------
for rel in ["configs/default.json", "configs/qlab_fig8_findplr_mlp_mnist_quick.json",
            "configs/newton_logreg_mnist_quick.json", "configs/regress/mlp_mnist.json",
            "configs/regress/resnet18_cifar10.json", "configs/lqa_fig1_logreg_mnist_quick.json"]:
    with open(os.path.join(ROOT, rel), "rb") as f:
        put("fuzz_config", "ok-" + os.path.basename(rel), f.read())

small = {"name": "s", "model": "mlp", "dataset": "mnist", "batch_size": 8, "steps": 3,
         "seeds": [1, 2], "width": 16, "train_limit": 64, "test_limit": 32, "validation": 16,
         "eval_every": 2, "eval_batch": 32, "shuffle": False, "drop_last": False,
         "normalize": "meanstd", "init": "zeros", "diverge": {"factor": 0, "window": 5},
         "notes": ["a", "b"],
         "optimizers": [{"name": "sgd", "lr": [0.1, 0.01],
                         "schedule": {"type": "cosine", "period": 4, "min": 0.001}},
                        {"name": "adam", "label": "adam-x", "lr": 0.001},
                        {"name": "lqa", "lr": 0.1, "variant": "reference"}]}
put("fuzz_config", "ok-small.json", json.dumps(small, indent=1).encode())
more = {"model": "resnet18", "dataset": "cifar10", "data_dir": "data/x", "output_dir": "o",
        "batch_size": 4, "epochs": 2, "probe_bn": "eval", "conv_algo": "winograd4",
        "eval_train": False, "eval_test": True, "dump_init": True, "dump_batches": False,
        "optimizers": [{"name": "sgd", "lr": 0.1, "schedule": {"type": "step", "every": 3, "gamma": 0.5}},
                       {"name": "sgd-m", "lr": 0.1, "schedule": {"type": "exp", "every": 1, "gamma": 0.9}},
                       {"name": "hgd", "lr": 0.01, "momentum": 0.9, "nesterov": True, "clamp_nonneg": False},
                       {"name": "l4gd", "lr": 0.1},
                       {"name": "qlabgrad", "lr": 0.1, "variant": "paper"}]}
put("fuzz_config", "ok-more.json", json.dumps(more, indent=1).encode())
more["optimizers"][3]["lr"] = [0.1, 0.2]
put("fuzz_config", "bad-unused-lrs.json", json.dumps(more).encode())
broken = {
    "bad-truncated.json": json.dumps(small).encode()[:-7],
    "bad-dupkey.json": b'{"name":"a","name":"b","model":"mlp","dataset":"mnist","batch_size":1,'
                       b'"steps":1,"optimizers":[{"name":"sgd","lr":[0.1],"lr":[0.2]}]}',
    "bad-nul.json": b'{"name":"a\\u0000b","model":"mlp","dataset":"mnist","batch_size":1,'
                    b'"steps":1,"optimizers":[{"name":"sgd","lr":0.1}]}',
    "bad-dotdot.json": b'{"name":"..","model":"mlp","dataset":"mnist","batch_size":1,'
                       b'"steps":1,"optimizers":[{"name":"sgd","lr":0.1}]}',
    "bad-types.json": b'{"model":7,"dataset":["mnist"],"batch_size":-1,"epochs":1,"steps":2,'
                      b'"seeds":"1","optimizers":{}}',
    "bad-cosine.json": b'{"model":"logreg","dataset":"cifar10","batch_size":4,"epochs":1,'
                       b'"optimizers":[{"name":"sgd","lr":0.1,"schedule":{"type":"cosine",'
                       b'"period":2,"min":0.5}},{"name":"nope","lr":1}]}',
    "bad-runs.json": b'{"model":"mlp","dataset":"mnist","batch_size":1,"steps":1,'
                     b'"seeds":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,1],'
                     b'"optimizers":[{"name":"sgd","lr":[1e-3,1e-3,1e400,-1,0]}]}',
    "bad-empty.json": b"",
}
for k, v in broken.items():
    put("fuzz_config", k, v)


# --- idx: limit byte, 4-byte image file length, image file, label file ------
def idx_images(n, r, c, fill=lambda i: i % 256):
    return struct.pack(">IIII", 0x803, n, r, c) + bytes(fill(i) for i in range(n * r * c))


def idx_labels(n, lab=lambda i: i % 10):
    return struct.pack(">II", 0x801, n) + bytes(lab(i) for i in range(n))


def idx_input(limit, img, lab):
    return bytes([limit]) + struct.pack(">I", len(img)) + img + lab


img, lab = idx_images(6, 4, 5), idx_labels(6)
put("fuzz_idx", "ok-raw", idx_input(0, img, lab))
put("fuzz_idx", "ok-limit", idx_input(2, img, lab))
put("fuzz_idx", "ok-gzip", idx_input(0, gz(img), gz(lab)))
put("fuzz_idx", "ok-gzip-raw", idx_input(3, gz(idx_images(3, 28, 28)), idx_labels(3)))
put("fuzz_idx", "bad-truncated", idx_input(0, img[:-3], lab))
put("fuzz_idx", "bad-trailing", idx_input(0, img, lab + b"\0"))
put("fuzz_idx", "bad-label", idx_input(0, img, idx_labels(6, lambda i: 10 + i)))
put("fuzz_idx", "bad-count", idx_input(0, img, idx_labels(5)))
put("fuzz_idx", "bad-huge-header", idx_input(0, struct.pack(">IIII", 0x803, 1 << 28, 28, 28),
                                             struct.pack(">II", 0x801, 1 << 28)))
put("fuzz_idx", "bad-gzip-no-trailer", idx_input(0, gz(img)[:-8], gz(lab)))
put("fuzz_idx", "bad-gzip-crc", idx_input(0, gz(img)[:-8] + b"\0" * 8, lab))


# --- cifar: limit, records % 4, files - 1, {2-byte length, file}..., last file
def rec(label, seed):
    return bytes([label]) + bytes((seed * 7 + i) % 256 for i in range(3072))


def cifar_input(limit, records, files):
    out = bytes([limit, records, len(files) - 1])
    for f in files[:-1]:
        out += struct.pack(">H", len(f)) + f
    return out + files[-1]


r0, r1, r2 = rec(3, 1), rec(9, 2), rec(0, 3)
put("fuzz_cifar", "ok-one", cifar_input(0, 0, [r0 + r1]))
put("fuzz_cifar", "ok-two-files", cifar_input(0, 1, [r0, r1]))
put("fuzz_cifar", "ok-gzip-limit", cifar_input(1, 2, [gz(r0 + r1), gz(r2 + r0)]))
put("fuzz_cifar", "ok-three", cifar_input(0, 1, [gz(r0), r1, gz(r2)]))
put("fuzz_cifar", "bad-partial-record", cifar_input(0, 0, [r0 + r1[:100]]))
put("fuzz_cifar", "bad-record-count", cifar_input(0, 2, [gz(r0 + r1), gz(r2)]))
put("fuzz_cifar", "bad-label", cifar_input(0, 0, [rec(10, 4)]))
put("fuzz_cifar", "bad-empty", cifar_input(0, 0, [gz(r0), b""]))
put("fuzz_cifar", "bad-gzip-no-trailer", cifar_input(0, 0, [gz(r0 + r1)[:-8]]))
