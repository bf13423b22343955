"""Train (or load) the CIFAR-10 proxy extractor and report what it measures.

Prints the proxy's accuracy on the 10,000 test images, the time training took (wall and process
CPU time, without decoding the shards), and the classifier-feature Frechet distance (proxy, not
FID) between the test images and (a) 10,000 training images, (b) 10,000 images of uniform noise.
The trained weights are left in the cache (`$RIN_CACHE`, default ~/.cache/rin), where
`load_or_train_cifar_proxy` finds them. Run with the allocator settings of the Makefile:

    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1099511627776 \
        python benchmarks/cifar_proxy_report.py --threads 1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from rin.data.cifar import load_cifar10_shards
from rin.evaluation.frechet import frechet_distance
from rin.evaluation.networks.cifar_proxy import (
    CACHE_FILE_NAME,
    DEFAULT_BATCH_SIZE,
    DEFAULT_EPOCHS,
    EXTRACTOR_NAME,
    cifar_proxy_features,
    load_cifar_proxy,
    save_cifar_proxy,
    train_cifar_proxy,
)
from rin.evaluation.networks.weights import default_cache_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_CANDIDATES = (Path("/work/shared/data/cifar10"), REPO_ROOT.parent / "shared" / "data" / "cifar10")
NUM_COMPARED = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = next((path for path in DATA_CANDIDATES if path.is_dir()), DATA_CANDIDATES[0])
    parser.add_argument("--data", type=Path, default=default_data, help="CIFAR-10 WebDataset shards")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: $RIN_CACHE or ~/.cache/rin")
    parser.add_argument("--retrain", action="store_true", help="train even if the cache holds weights")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cache = (args.cache_dir or default_cache_dir()).expanduser() / CACHE_FILE_NAME

    start = time.perf_counter()
    train = load_cifar10_shards(str(args.data), split="train")
    test = load_cifar10_shards(str(args.data), split="test")
    decode_s = time.perf_counter() - start
    print(f"decoded {len(train.images)} training and {len(test.images)} test images in {decode_s:.1f} s")

    report: dict[str, object] = {"extractor": EXTRACTOR_NAME, "torch_threads": torch.get_num_threads()}
    if cache.is_file() and not args.retrain:
        model = load_cifar_proxy(cache)
        print(f"loaded cached weights {cache} (training time not measured; pass --retrain)")
    else:
        wall, cpu = time.perf_counter(), time.process_time()
        model = train_cifar_proxy(
            train, epochs=args.epochs, batch_size=DEFAULT_BATCH_SIZE, seed=args.seed, progress=True
        )
        report |= {"train_wall_s": time.perf_counter() - wall, "train_cpu_s": time.process_time() - cpu}
        report |= {"epochs": args.epochs, "seed": args.seed}
        save_cifar_proxy(model, cache)
        print(
            f"trained {args.epochs} epochs in {report['train_wall_s']:.0f} s wall, "
            f"{report['train_cpu_s']:.0f} s CPU on {torch.get_num_threads()} thread(s); cached at {cache}"
        )

    start = time.perf_counter()
    test_features, test_logits = cifar_proxy_features(model, test.images)
    train_features, train_logits = cifar_proxy_features(model, train.images[:NUM_COMPARED])
    noise = torch.randint(
        0, 256, (NUM_COMPARED, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    noise_features, _ = cifar_proxy_features(model, noise)
    report["features_s"] = time.perf_counter() - start

    def accuracy(logits: np.ndarray, labels: torch.Tensor) -> float:
        return float((logits.argmax(axis=1) == labels.numpy()).mean())

    report["test_accuracy"] = accuracy(test_logits, test.labels)
    report["train_accuracy_first_10k"] = accuracy(train_logits, train.labels[:NUM_COMPARED])
    report["frechet_test_vs_train"] = frechet_distance(test_features, train_features)
    report["frechet_test_vs_noise"] = frechet_distance(test_features, noise_features)

    print(f"test accuracy            {report['test_accuracy']:.2%} ({len(test.images)} images)")
    print(f"train accuracy (10k)     {report['train_accuracy_first_10k']:.2%} (seen in training)")
    print("classifier-feature Frechet distance (proxy, not FID), 10k vs 10k:")
    print(f"  test vs train images   {report['frechet_test_vs_train']:.4f}")
    print(f"  test vs uniform noise  {report['frechet_test_vs_noise']:.4f}")
    print(f"features of 30k images in {report['features_s']:.1f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
