"""The README's results table and the benchmark figures in the docs, generated from stored results
(checkpoint metadata, benchmark logs) so no number is ever typed in."""
import math
import re
from pathlib import Path

from .checkpoint import CheckpointError, read_metadata
from .models import list_models


def results_table(checkpoint_dir="checkpoints"):
    lines = ["| model | architecture | parameters | MNIST test accuracy | drawing accuracy | best epoch "
             "| train seconds | device |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for name in list_models() + ["ensemble"]:
        try:
            m = read_metadata(name, checkpoint_dir)
        except CheckpointError:
            lines.append(f"| `{name}` | not trained yet | | | | | | |")
            continue
        drawing = f"{100 * m['drawing_accuracy']:.2f} %" if "drawing_accuracy" in m else "not measured"
        if name == "ensemble":
            lines.append(f"| **ensemble** | mean of the probabilities of {', '.join(m['members'])} ({m['selection']}) "
                         f"| | {100 * m['test_accuracy']:.2f} % | {drawing} | | | |")
            continue
        lines.append(f"| `{name}` | {m['description']} | {m['parameters']:,} | {100 * m['test_accuracy']:.2f} % "
                     f"| {drawing} | {m['best_epoch']}/{m['epochs']} | {m['train_seconds']:.0f} | {m['device']} |")
    return "\n".join(lines)


def repeats_table(checkpoint_dir="checkpoints", alpha=0.05):
    """Mean ± std per model over its seeds, and which neighbours in the ranking differ beyond seed noise."""
    from .repeats import permutation_p, read_repeats, summary
    repeats = read_repeats(Path(checkpoint_dir) / "repeats.json")
    if not repeats:
        return "_No repeated runs yet: `python -m mnist_models repeats --drawings FILE`._"
    drawn = {name: (mean, std) for name, mean, std, _ in summary(repeats, "drawing_accuracy")}
    ranked = summary(repeats, "test_accuracy")
    lines = ["| model | seeds | MNIST test % (mean ± std) | drawings % (mean ± std) |", "|---|---|---:|---:|"]
    for name, mean, std, n in ranked:
        seeds = ", ".join(map(str, repeats[name]["seeds"]))
        lines.append(f"| `{name}` | {seeds} | {_pm(mean, std)} | {_pm(*drawn[name])} |")
    lines += ["", f"Neighbours in this ranking (MNIST test), exact two-sided permutation test on the difference "
              f"of means, significant at p < {alpha}:", ""]
    for (a, mean_a, _, n_a), (b, mean_b, _, n_b) in zip(ranked, ranked[1:]):
        if not can_separate(n_a, n_b, alpha):
            verdict = f"too few seeds to tell ({n_a} and {n_b}: the test cannot reach p < {alpha} with so few)"
        else:
            p = permutation_p(repeats[a]["test_accuracy"], repeats[b]["test_accuracy"])
            verdict = f"{'larger than seed noise' if p < alpha else 'within seed noise'} (p = {p:.3f})"
        lines.append(f"- `{a}` vs `{b}`: {100 * (mean_a - mean_b):+.2f} points, {verdict}")
    tested = [row for row in ranked if row[3] >= 5]
    pairs = [(a, b) for i, a in enumerate(tested) for b in tested[i + 1:]]
    if pairs:
        beyond = [f"`{a[0]}` > `{b[0]}` ({100 * (a[1] - b[1]):+.2f}, p = {p:.3f})" for a, b in pairs
                  for p in [permutation_p(repeats[a[0]]["test_accuracy"], repeats[b[0]]["test_accuracy"])] if p < alpha]
        lines += ["", f"Every pair of the {len(tested)} models with 5 or more seeds ({len(pairs)} pairs; at p < {alpha} "
                  f"about {alpha * len(pairs):.1f} would pass by chance alone): "
                  + ("; ".join(beyond) if beyond else "none differs beyond seed noise") + "."]
    return "\n".join(lines)


def can_separate(n_a, n_b, alpha=0.05):
    """Whether the exact permutation test can tell so few runs apart. A complete separation of the two
    models' runs has p = 2 / C(n_a + n_b, n_a) for equal counts (itself and its mirror image), at least half
    that otherwise; the conservative 2 / C must lie below alpha: 5 against 5 (2/252) and 3 against 5 (2/56)
    can, 3 against 3 (2/20) and 2 against 5 (2/21) cannot."""
    return 2 / math.comb(n_a + n_b, n_a) < alpha


def _pm(mean, std):
    return f"{100 * mean:.2f}" + ("" if std != std else f" ± {100 * std:.2f}")  # std is NaN with one seed


def experiment_table(name, experiments_dir="experiments"):
    """Reported -> reproduced in the write-up's setting -> our recipe, mean ± std over seeds."""
    from .experiments import read_results, summarise
    if not read_results(name, experiments_dir)["runs"]:
        return f"_Not run yet: `python -m mnist_models experiment {name}`._"
    rows = {}
    for r in summarise(name, experiments_dir):
        row = rows.setdefault(r["label"], {"reported": r["reported"], "parameters": r["parameters"]})
        row[r["setting"]] = f"{_pm(r['mean'], r['std'] if r['std'] is not None else float('nan'))} (n={r['n']})"
    lines = ["| setting | parameters | reported % | reproduced % (write-up's setting) | our recipe % |",
             "|---|---:|---:|---:|---:|"]
    for label, row in rows.items():
        reported = "—" if row["reported"] is None else f"{row['reported']:.2f}"
        lines.append(f"| {label} | {row['parameters']:,} | {reported} | {row.get('writeup', 'not run')} "
                     f"| {row.get('ours', 'not run')} |")
    return "\n".join(lines)


def batch_table(checkpoint_dir="checkpoints", experiments_dir="experiments", alpha=0.05):
    """Each model at batch 512 beside its batch-128 repeats, and whether the larger batch holds its accuracy."""
    from .experiments import LARGE_BATCH
    return versus_repeats("batch-size", "batch 128 % (repeats)", f"batch {LARGE_BATCH} %, rate ×2",
                          checkpoint_dir, experiments_dir, alpha)


def bf16_table(checkpoint_dir="checkpoints", experiments_dir="experiments", alpha=0.05):
    """Each model trained with bf16 steps beside its float32 repeats, and whether accuracy holds."""
    return versus_repeats("bf16", "float32 % (repeats)", "bf16 steps %", checkpoint_dir, experiments_dir, alpha)


def versus_repeats(experiment, base_header, header, checkpoint_dir, experiments_dir, alpha):
    """An experiment of one change to every model's recipe, beside the repeats (the recipe as it is).

    Holds: not lower beyond seed noise by the repeats' permutation test (p < alpha) where the seed counts
    allow the test (`can_separate`); with fewer seeds, a mean no lower than the worst repeat.
    """
    import numpy as np
    from .experiments import read_results
    from .repeats import permutation_p, read_repeats
    runs = read_results(experiment, experiments_dir)["runs"]
    if not runs:
        return f"_Not run yet: `python -m mnist_models experiment {experiment}`._"
    repeats = read_repeats(Path(checkpoint_dir) / "repeats.json")
    lines = [f"| model | {base_header} | {header} | same seeds, points | p | holds? |",
             "|---|---:|---:|---:|---:|---|"]

    def signed(points):
        return f"{round(points, 2) + 0.0:+.2f}"  # + 0.0 turns a rounded -0.0 into 0.0: no "-0.00"

    def spread(values):
        return f"{_pm(np.mean(values), np.std(values, ddof=1) if len(values) > 1 else float('nan'))} (n={len(values)})"

    for name in [n for n in list_models() if any(r["model"] == n for r in runs)]:
        large = {r["seed"]: (r["test_accuracy"], r.get("device", "cpu")) for r in runs if r["model"] == name}
        entry = repeats.get(name, {})
        seeds = entry.get("seeds", [])
        base = dict(zip(seeds, zip(entry.get("test_accuracy", []), entry.get("devices", ["cpu"] * len(seeds)))))
        # with the same seed on the same kind of device a model sees the same images in the same order: a
        # paired difference (a GPU draws other random numbers, and the cnn's seed 0 came from an H100)
        shared = sorted(s for s in large if s in base and base[s][1].split()[0] == large[s][1].split()[0])
        diffs = [100 * (large[s][0] - base[s][0]) for s in shared]
        paired = ("—" if not diffs else f"{signed(diffs[0])} (seed {shared[0]})" if len(diffs) == 1
                  else f"{signed(np.mean(diffs))} ± {np.std(diffs, ddof=1):.2f} ({len(diffs)} seeds)")
        large_acc, base_acc = [acc for acc, _ in large.values()], [acc for acc, _ in base.values()]
        if not base_acc:
            p, holds = "—", "—"
        elif can_separate(len(large_acc), len(base_acc), alpha):
            p_value = permutation_p(large_acc, base_acc)
            lower = np.mean(large_acc) < np.mean(base_acc)
            p, holds = f"{p_value:.3f}", "no" if lower and p_value < alpha else "yes"
        else:
            p, holds = "—", "yes" if np.mean(large_acc) >= min(base_acc) else "no"
        lines.append(f"| `{name}` | {spread(base_acc) if base_acc else 'no repeats'} "
                     f"| {spread(large_acc)} | {paired} | {p} | {holds} |")
    return "\n".join(lines)


def tuned_rows(checkpoint_dir="checkpoints"):
    """Per architecture with a tuned twin: name, parameters, (MNIST only, tuned) on MNIST test and on the
    held-out drawings as fractions, and the tuned seeds' held-out spread ("mean ± std (n=K)", None if unrepeated)."""
    from .repeats import read_repeats, summary
    tuned = Path(checkpoint_dir) / "tuned"
    spread = {name: f"{_pm(mean, std)} (n={n})" for name, mean, std, n in
              summary(read_repeats(tuned / "repeats.json"), "drawing_accuracy") if n > 1}
    rows = []
    for name in list_models():
        try:
            m = read_metadata(name, tuned)
        except CheckpointError:
            continue
        rows.append(dict(name=name, parameters=m["parameters"], mnist_test=(m["twin"]["test_accuracy"], m["test_accuracy"]),
                         heldout=(m["twin"]["heldout_drawing_accuracy"], m["heldout_drawing_accuracy"]),
                         spread=spread.get(name)))
    return rows


def tuned_table(checkpoint_dir="checkpoints"):
    """Markdown: each architecture trained on MNIST only beside the same one tuned on pen drawings."""
    rows = tuned_rows(checkpoint_dir)
    if not rows:
        return ("_No drawing-tuned set yet: `python train_all.py --only-tuned --drawings "
                "../shared/unipen/dev-digits.jsonl.gz`._")
    lines = ["| model | parameters | MNIST test %: MNIST only → tuned | held-out writers %: MNIST only → tuned "
             "| gain, points | tuned over seeds, held-out % |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        (t0, t1), (h0, h1) = r["mnist_test"], r["heldout"]
        lines.append(f"| `{r['name']}` | {r['parameters']:,} | {100 * t0:.2f} → {100 * t1:.2f} "
                     f"| {100 * h0:.2f} → **{100 * h1:.2f}** | {100 * (h1 - h0):+.2f} | {r['spread'] or '—'} |")
    try:
        zoo, tuned = read_metadata("ensemble", checkpoint_dir), read_metadata("ensemble", Path(checkpoint_dir) / "tuned")
        lines.append(f"| **ensemble** (MNIST only: {', '.join(zoo['members'])}; tuned: {', '.join(tuned['members'])}) | "
                     f"| {100 * zoo['test_accuracy']:.2f} → {100 * tuned['test_accuracy']:.2f} "
                     f"| {100 * tuned['twin']['heldout_drawing_accuracy']:.2f} → **{100 * tuned['heldout_drawing_accuracy']:.2f}** "
                     f"| {100 * (tuned['heldout_drawing_accuracy'] - tuned['twin']['heldout_drawing_accuracy']):+.2f} | |")
    except CheckpointError:
        pass
    n = read_metadata(rows[0]["name"], Path(checkpoint_dir) / "tuned")["heldout_set"]
    return "\n".join(lines) + (f"\n\nHeld-out writers: the {n['n']:,} drawings of sources {', '.join(n['sources'])}, "
                               "which no tuned model trained on.")


def levers_table(experiments_dir="experiments", name="drawing-levers"):
    """Markdown: what each lever of the tuned recipe gave, per model, beside the recipe as it is (only the
    levers some model ran)."""
    from .experiments import read_results
    from .levers import LEVERS, TTA
    runs = read_results(name, experiments_dir)["runs"]
    if not runs:
        return "_Not run yet: `python -m mnist_models levers --drawings FILE`._"
    models = list(dict.fromkeys(r["model"] for r in runs))
    got = {(r["lever"], r["model"]): r for r in runs}
    lines = ["| lever | what changes | " + " | ".join(f"`{m}` MNIST test % | `{m}` held-out %" for m in models) + " |",
             "|---|---|" + "---:|---:|" * len(models)]
    for lever in [lever for lever in [*LEVERS, TTA] if any(k[0] == lever for k in got)]:
        why = LEVERS[lever][3] if lever in LEVERS else "each drawing classified 9 times (±1 px, ±8°, thicker, thinner), averaged"
        cells = []
        for m in models:
            r, base = got.get((lever, m)), got.get(("recipe as it is", m))
            if r is None:
                cells += ["—", "—"]
                continue
            delta = "" if base is None or r is base else f" ({100 * (r['heldout_drawing_accuracy'] - base['heldout_drawing_accuracy']):+.2f})"
            cells += [f"{100 * r['test_accuracy']:.2f}", f"{100 * r['heldout_drawing_accuracy']:.2f}{delta}"]
        lines.append(f"| {lever} | {why} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fill_block(text, tag, content):
    """Replace what lies between <!-- TAG:start --> and <!-- TAG:end --> (if present) with `content`."""
    start, end = f"<!-- {tag}:start -->", f"<!-- {tag}:end -->"
    if start not in text:
        return text
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{content}\n{end}{tail}"


def readme_with_table(readme_text, checkpoint_dir="checkpoints", experiments_dir="experiments"):
    """The README text with every generated block (results, repeats, experiments) regenerated."""
    text = fill_block(readme_text, "results", results_table(checkpoint_dir))
    text = fill_block(text, "repeats", repeats_table(checkpoint_dir))
    from .experiments import REFERENCE_EXPERIMENTS
    for name in REFERENCE_EXPERIMENTS:
        text = fill_block(text, f"experiment-{name}", experiment_table(name, experiments_dir))
    text = fill_block(text, "experiment-batch-size", batch_table(checkpoint_dir, experiments_dir))
    text = fill_block(text, "tuned", tuned_table(checkpoint_dir))
    text = fill_block(text, "drawing-levers", levers_table(experiments_dir))
    text = fill_block(text, "drawing-levers-mlps", levers_table(experiments_dir, "drawing-levers-mlps"))
    return fill_block(text, "experiment-bf16", bf16_table(checkpoint_dir, experiments_dir))


# <!-- log: benchmarks/results/X.txt --> ... <!-- /log -->: the stored output of a benchmark run, verbatim
LOG_BLOCK = re.compile(r"(<!-- log: (\S+) -->\n).*?(<!-- /log -->)", re.S)


def with_logs(text, root="."):
    """Every log block refilled from the file it names (relative to `root`)."""
    def fill(m):
        return f"{m[1]}```\n{(Path(root) / m[2]).read_text().rstrip()}\n```\n{m[3]}"
    return LOG_BLOCK.sub(fill, text)
