"""Pictures of the gradient-descent tutorials, drawn with skgd.

Run it with ``.venv/bin/python docs/examples/tutorial_pictures.py [out_dir]``
(``demo_output`` by default; ``make demo`` runs it). The pictures are the
figures of the gallery examples in ``docs/gallery`` that reproduce the
tutorials' experiments: this script runs those examples and saves every
figure each one draws as ``<example>_<n>.png``, printing the paths.

- ``plot_normal_equation``: batch gradient descent lands on the normal
  equation's answer;
- ``plot_learning_rates``: a learning rate too small, about right and too
  large (which raises DivergenceError);
- ``plot_batch_sgd_minibatch``: batch, stochastic and mini-batch gradient
  descent, the noisy SGD cost with its moving average;
- ``plot_sgd_schedule``: SGD with the schedule t0 / (t + t1);
- ``plot_minimum_norm``: the tiny example whose right answer is the
  minimum-norm solution [0.5, 0.5];
- ``plot_lr_finder``: the learning-rate range test and its suggestion.

The examples' own text (in the built documentation, or at the top of each
script) explains what the figures show.
"""

import os
import runpy
import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

GALLERY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gallery")
EXAMPLES = [
    "plot_normal_equation",
    "plot_learning_rates",
    "plot_batch_sgd_minibatch",
    "plot_sgd_schedule",
    "plot_minimum_norm",
    "plot_lr_finder",
]


def draw(example, out_dir):
    """Run one gallery example and save its figures; return their paths."""
    plt.close("all")
    with warnings.catch_warnings():
        # plt.show() cannot show anything on the Agg backend: it says so.
        warnings.filterwarnings("ignore", message=".*non-interactive")
        runpy.run_path(os.path.join(GALLERY, example + ".py"), run_name="__main__")
    paths = []
    for i, number in enumerate(plt.get_fignums(), start=1):
        path = os.path.join(out_dir, f"{example}_{i}.png")
        plt.figure(number).savefig(path, dpi=110, bbox_inches="tight")
        paths.append(path)
    plt.close("all")
    return paths


def main(out_dir="demo_output"):
    """Write the PNG files into `out_dir` and return their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for example in EXAMPLES:
        print(f"--- {example}")
        paths += draw(example, out_dir)
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    main(*sys.argv[1:2])
