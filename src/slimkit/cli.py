"""The ``slimkit`` command line.

Commands::

    slimkit run RECIPE [--out DIR] [--resume] [--quiet] [key=value ...]
    slimkit validate RECIPE [key=value ...]
    slimkit models | datasets
    slimkit export ARTIFACT --onnx FILE
    slimkit measure ARTIFACT [--batch-sizes 1 32] [--threads N] [--json]
    slimkit report RUN_DIR
    slimkit predict RUN_DIR_OR_ARTIFACT IMAGE... [--onnx] [--json] [--gallery PNG]
    slimkit compare RUN_DIR... [--out DIR] [--baseline RUN_DIR_OR_NAME]

Every failure prints one line and no traceback (set ``SLIMKIT_DEBUG=1`` to see one). Exit
status: 1 training diverged; 2 a mistake in the input (recipe, override, file, artifact,
checkpoint, run directory) or an operating-system error such as a full disk; 3 an unexpected
error (a slimkit bug: please report it with the ``SLIMKIT_DEBUG=1`` traceback); 130 interrupted.

Example:
    >>> main(["validate", "recipes/quickstart.yaml"])  # doctest: +SKIP
    recipes/quickstart.yaml: ok (4 stages: train, evaluate, export, measure)
    0
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence

from slimkit import __version__
from slimkit.errors import first_line


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slimkit", description="Train small, fast vision models and measure them."
    )
    parser.add_argument("--version", action="version", version=f"slimkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a recipe")
    run.add_argument("recipe", help="recipe YAML file")
    run.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.epochs=1")
    run.add_argument("--out", help="run directory (default: runs/NAME-TIMESTAMP)")
    run.add_argument("--resume", action="store_true", help="continue the run in --out")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars (for logs)")

    validate = sub.add_parser("validate", help="check a recipe without running it")
    validate.add_argument("recipe")
    validate.add_argument("overrides", nargs="*")

    sub.add_parser("models", help="list the model zoo")
    sub.add_parser("datasets", help="list the datasets")

    export = sub.add_parser("export", help="export a model artifact to ONNX")
    export.add_argument("artifact", help="a .slim.pt model artifact")
    export.add_argument("--onnx", required=True, help="output .onnx file")
    export.add_argument("--opset", type=int, default=17)

    measure = sub.add_parser("measure", help="params, MACs and latency of a model artifact")
    measure.add_argument("artifact")
    measure.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    measure.add_argument("--threads", type=int, default=None)
    measure.add_argument("--repeats", type=int, default=20)
    measure.add_argument("--json", action="store_true", help="print JSON")

    predict = sub.add_parser("predict", help="a trained model's answer for image files")
    predict.add_argument("model", metavar="RUN_DIR_OR_ARTIFACT")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--onnx", action="store_true", help="run the run's model.onnx in ORT")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    predict.add_argument(
        "--gallery", metavar="PNG", help="also write the images sorted by score (e.g. openness)"
    )

    report = sub.add_parser("report", help="re-render report.md and plots of a run directory")
    report.add_argument("run_dir")

    compare = sub.add_parser(
        "compare", help="compare run directories: compare.md, compare.html, pareto.png"
    )
    compare.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories")
    compare.add_argument(
        "--out", default=".", metavar="DIR", help="output folder (default: current directory)"
    )
    compare.add_argument(
        "--baseline",
        metavar="RUN",
        help="ratio baseline: a run's label or directory (default: the first run)",
    )
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from slimkit.pipeline import run_recipe
    from slimkit.recipes import load_recipe

    if args.resume and not args.out:
        raise ValueError("--resume needs --out DIR (the run directory to continue)")
    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ValueError(f"--out: {args.out} is a file; give a directory")
    if args.resume and not os.path.isdir(args.out):
        raise ValueError(f"--resume: run directory {args.out} does not exist")
    recipe = load_recipe(args.recipe, args.overrides)
    command = "slimkit " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    run_recipe(
        recipe,
        args.out,
        resume=args.resume,
        quiet=True if args.quiet else None,
        command=command,
    )
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from slimkit.recipes import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    kinds = ", ".join(s.kind for s in recipe.stages)
    print(f"{args.recipe}: ok ({len(recipe.stages)} stages: {kinds})")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from slimkit.models import list_models

    for name, description in list_models().items():
        print(f"{name:24s} {description}")
    print(f"{'tv:NAME':24s} any torchvision classification model (no pretrained weights)")
    print(f"{'timm:NAME':24s} any timm model (no pretrained weights)")
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from slimkit.data import list_datasets

    for name, description in list_datasets().items():
        print(f"{name:14s} {description}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from slimkit.artifacts import load_artifact
    from slimkit.measure import export_onnx
    from slimkit.measure.opsets import exporter_opsets

    if os.path.isdir(args.onnx):
        raise ValueError(f"--onnx: {args.onnx} is a directory; give a file path, e.g. model.onnx")
    low, high = exporter_opsets()
    if not low <= args.opset <= high:
        raise ValueError(
            f"--opset: the installed exporter writes opsets {low}..{high}, got {args.opset}"
        )
    handle = load_artifact(args.artifact)
    result = export_onnx(handle.module, args.onnx, handle.input_size, opset=args.opset)
    print(
        f"wrote {result.path} (opset {result.opset}, max abs diff vs torch {result.max_abs_diff:.2e})"
    )
    return 0


def _cmd_measure(args: argparse.Namespace) -> int:
    from slimkit.artifacts import load_artifact
    from slimkit.measure import measure_model

    if any(b < 1 for b in args.batch_sizes):
        raise ValueError(f"--batch-sizes: every batch size must be >= 1, got {args.batch_sizes}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads: expected >= 1, got {args.threads}")
    if args.repeats < 1:
        raise ValueError(f"--repeats: expected >= 1, got {args.repeats}")
    handle = load_artifact(args.artifact)
    threads = args.threads or os.cpu_count() or 1
    result = measure_model(
        handle.module,
        handle.input_size,
        batch_sizes=args.batch_sizes,
        threads=threads,
        repeats=args.repeats,
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"model      {handle.builder['name']} ({len(handle.edits)} structural edits)")
    print(f"params     {result['params']:,}")
    print(f"MACs       {result['macs']:,}  (FLOPs = 2 x MACs)")
    for key, ms in result.get("latency_ms", {}).items():
        print(f"{key:10s} {ms:.3f} ms  ({threads} threads, median)")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from slimkit.predict import gallery, line, predict_files

    results, errors = predict_files(args.model, args.images, onnx=args.onnx)
    for image, record in results:
        print(json.dumps({"image": image, **record}) if args.json else line(image, record))
    if args.gallery and results:
        print(f"wrote {gallery(results, args.gallery)}", file=sys.stderr)
    for error in errors:
        print(f"slimkit: error: {error}", file=sys.stderr)
    return EXIT_USER_ERROR if errors else 0


def _cmd_report(args: argparse.Namespace) -> int:
    from slimkit.report import rerender

    paths = rerender(args.run_dir)
    print(f"wrote {paths['md']}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from slimkit.report.compare import render_comparison, rows_from_runs

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ValueError(f"--out: {args.out} is a file; give a directory")
    rows = rows_from_runs(
        args.run_dirs, echo=lambda line: print(line, file=sys.stderr), baseline=args.baseline
    )
    paths = render_comparison(rows, args.out, baseline=args.baseline)
    for path in paths.values():
        print(f"wrote {path}")
    return 0


_COMMANDS = {
    "run": _cmd_run,
    "validate": _cmd_validate,
    "models": _cmd_models,
    "datasets": _cmd_datasets,
    "export": _cmd_export,
    "measure": _cmd_measure,
    "predict": _cmd_predict,
    "report": _cmd_report,
    "compare": _cmd_compare,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``slimkit`` console script; returns the exit status."""
    parser = _build_parser()
    args, extra = parser.parse_known_args(argv)
    # overrides may also follow options: `slimkit run R.yaml --out D train.epochs=1`
    if extra and hasattr(args, "overrides") and all("=" in e and e[0] != "-" for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return _COMMANDS[args.command](args)
    except Exception as exc:  # noqa: BLE001  (the one error path of the command line)
        if os.environ.get("SLIMKIT_DEBUG"):
            raise
        return _report_error(exc)
    except KeyboardInterrupt:
        if os.environ.get("SLIMKIT_DEBUG"):
            raise
        print("slimkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


EXIT_DIVERGED = 1
EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3
EXIT_INTERRUPTED = 130


def _report_error(exc: Exception) -> int:
    """Print one line for ``exc`` and return the exit status.

    Diverged training exits 1; a bad recipe, file, artifact, checkpoint or run directory (a
    ``ValueError``) or an operating-system error (``OSError``, with the file it names) exits 2;
    anything else is a slimkit bug: one line, a pointer to ``SLIMKIT_DEBUG=1``, exit 3.
    """
    # looked up, not imported: `validate` and `--help` must not load torch
    loop = sys.modules.get("slimkit.engine.loop")
    if loop is not None and isinstance(exc, loop.TrainingDiverged):
        print(f"slimkit: error: {first_line(exc)}", file=sys.stderr)
        return EXIT_DIVERGED
    if isinstance(exc, ValueError):
        print(f"slimkit: error: {first_line(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        reason = exc.strerror or first_line(exc)
        print(f"slimkit: error: {where}{reason}", file=sys.stderr)
        return EXIT_USER_ERROR
    print(
        f"slimkit: internal error: {type(exc).__name__}: {first_line(exc, 300)} "
        "(run with SLIMKIT_DEBUG=1 for the traceback)",
        file=sys.stderr,
    )
    return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
