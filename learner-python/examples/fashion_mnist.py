"""A Fashion-MNIST learner with a PyTorch MLP (784-128-10, ReLU, Adam 1e-3), the same model as the
Java quickstart's DL4J learner, so both kinds can share a federation.

    python3 learner-python/examples/fashion_mnist.py --gateway 127.0.0.1:50051 \
        --learners 3 --learner-index 0 [--partition iid|dirichlet --alpha 0.5]

Reads Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist). Learner i of n trains on
part i of the training set (IID, or a Dirichlet(alpha) label skew for non-IID) and evaluates on
part i of an IID split of the test set, so the example-weighted mean of the learners' accuracies
is the accuracy on the whole test set.
"""

import argparse
import gzip
import logging
import os
import struct
import sys

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

try:
    import metisfl_learner  # noqa: F401  (installed with pip)
except ImportError:  # running from a source checkout
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from metisfl_learner import Learner, LearnerError, LearnerOptions, TorchModel  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
NUM_CLASSES = 10


def read_idx(path):
    """An IDX file (optionally gzipped) as a NumPy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        zero, dtype, dims = struct.unpack(">HBB", f.read(4))
        if zero != 0 or dtype != 0x08:
            raise ValueError("%s is not an IDX file of unsigned bytes" % path)
        shape = struct.unpack(">" + "I" * dims, f.read(4 * dims))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(shape)


def load(data_dir, prefix, limit):
    images = read_idx(os.path.join(data_dir, "%s-images-idx3-ubyte.gz" % prefix))
    labels = read_idx(os.path.join(data_dir, "%s-labels-idx1-ubyte.gz" % prefix))
    if limit:
        images, labels = images[:limit], labels[:limit]
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return x, labels.astype(np.int64)


def iid(n, parts, seed):
    return np.array_split(np.random.default_rng(seed).permutation(n), parts)


def dirichlet(labels, parts, alpha, seed):
    """Each class is dealt to the learners in Dirichlet(alpha) shares (label skew)."""
    rng = np.random.default_rng(seed)
    owner = np.empty(len(labels), dtype=np.int64)
    for c in range(NUM_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == c))
        shares = rng.dirichlet([alpha] * parts)
        cuts = (np.cumsum(shares)[:-1] * len(members)).astype(int)
        for p, chunk in enumerate(np.split(members, cuts)):
            owner[chunk] = p
    out = [np.flatnonzero(owner == p) for p in range(parts)]
    for p, part in enumerate(out):
        if len(part) == 0:
            raise SystemExit("learner %d got no training examples; raise --alpha" % p)
    return out


def mlp():
    """784-128-10, as the DL4J quickstart model: its tensors are 0_W, 0_b, 1_W, 1_b."""
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, NUM_CLASSES))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gateway", default="127.0.0.1:50051", help="host:port (comma-separated for several)")
    p.add_argument("--learners", type=int, default=3)
    p.add_argument("--learner-index", type=int, default=0)
    p.add_argument("--partition", choices=["iid", "dirichlet"], default="iid")
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--train-limit", type=int, default=0, help="use only the first K training examples")
    p.add_argument("--test-limit", type=int, default=0, help="use only the first K test examples")
    p.add_argument("--data-dir", default=DATA_DIR)
    p.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads")
    p.add_argument("--name", default=None)
    p.add_argument("--ca", default=None, help="PEM CA the gateway's TLS certificate is checked against (default: system roots)")
    p.add_argument("--cert", default=None, help="PEM client certificate (mutual TLS; with --key)")
    p.add_argument("--key", default=None, help="PEM client private key (mutual TLS; with --cert)")
    p.add_argument("--enrollment-token", default=None, help="the operator's enrollment token (metisfl enroll create)")
    p.add_argument("--insecure", action="store_true", help="plaintext, to a gateway run with security.insecure: true")
    args = p.parse_args(argv)
    if not 0 <= args.learner_index < args.learners:
        p.error("--learner-index must be in [0, --learners)")
    try:
        options = LearnerOptions(
            root_certificates=args.ca,
            certificate_chain=args.cert,
            private_key=args.key,
            enrollment_token=args.enrollment_token,
            insecure=args.insecure,
        )
    except ValueError as e:
        p.error(str(e))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    if not os.path.exists(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz")):
        p.error("no Fashion-MNIST in %s: install Debian's dataset-fashion-mnist (bin/setup)" % args.data_dir)
    x_train, y_train = load(args.data_dir, "train", args.train_limit)
    x_test, y_test = load(args.data_dir, "t10k", args.test_limit)
    i, n = args.learner_index, args.learners
    if args.partition == "iid":
        part = iid(len(y_train), n, args.seed)[i]
    else:
        part = dirichlet(y_train, n, args.alpha, args.seed)[i]
    test_part = iid(len(y_test), n, args.seed + 1)[i]
    generator = torch.Generator().manual_seed(args.seed * 1_000_003 + i)
    train = DataLoader(
        TensorDataset(torch.from_numpy(x_train[part]), torch.from_numpy(y_train[part])),
        batch_size=args.batch_size,
        shuffle=True,
        generator=generator,
    )
    test = DataLoader(
        TensorDataset(torch.from_numpy(x_test[test_part]), torch.from_numpy(y_test[test_part])),
        batch_size=1000,
    )
    model = TorchModel(mlp(), train, test)
    name = args.name or "python-%d" % i
    try:
        summary = Learner(model, args.gateway, name=name, options=options).run()
    except LearnerError as e:
        logging.error("error: %s", e)
        return 1
    except KeyboardInterrupt:
        return 130
    logging.info("done: %s", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
