"""The ``tfsnn`` command.

    tfsnn run CONFIG [--set KEY=VALUE ...]   run an experiment described in a YAML/JSON file
    tfsnn sweep CONFIG --trials N [--storage URL] [--study NAME]
    tfsnn graph-csv FILE.pkl OUT.csv         convert a pickled synapse graph to CSV
    tfsnn datasets                           list the registered datasets
    tfsnn quantize -m MODEL.keras -wq 4 -aq 4 -iq 8 [--calibration DATA.npz] [-o OUT.keras]
    tfsnn convert -m MODEL.keras [--data DATA.npz] [--encoding rate] [--signed] [-o SNN.keras]
    tfsnn evaluate SNN.keras --data DATA.npz -T 100   accuracy per step, spikes, energy
    tfsnn check -m MODEL.keras [--preset akida]      every reason it cannot convert

Options of every command: --verbose (also show TensorFlow's start-up log lines) and --debug
(show the traceback of an error).

Errors are one line on stderr, "tfsnn: error: <message>", naming the offending file, key or
argument. Exit status: 0 success; 2 a usage or configuration error (bad arguments, a config
or input file that is missing, unreadable or invalid, a --storage that cannot be used);
1 any other failure (every trial of a sweep failed, a model that cannot be converted, a disk
error, an unexpected error); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
import traceback

OK, FAILURE, USAGE_ERROR, INTERRUPTED = 0, 1, 2, 130

# Exceptions that mean "what the user gave is wrong" (exit 2); FAILURE_ERRORS win over these.
USAGE_ERRORS = (ValueError, TypeError, LookupError, FileNotFoundError, IsADirectoryError,
                NotADirectoryError, PermissionError)
# (module, class) of errors raised while working, though they subclass ValueError (exit 1).
FAILURE_ERRORS = (("tfsnn.sweeps.runner", "SweepError"),
                  ("tfsnn.conversion.errors", "ConversionError"))

# What TensorFlow's C++ libraries print to stderr while they load, before TF_CPP_MIN_LOG_LEVEL
# applies: absl's notice about InitializeLog, and INFO/WARNING lines (oneDNN, CPU features).
_NATIVE_NOISE = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\)"
                           r"|[IW]\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\] "
                           r"|To enable the following instructions")


def _cmd_run(args) -> int:
    from tfsnn.experiment import run_config

    result = run_config(args.config, overrides=args.set)
    print(result.summary())
    return OK


def _cmd_sweep(args) -> int:
    from tfsnn.sweeps import describe_study, sweep_from_config

    study = sweep_from_config(args.config, n_trials=args.trials, storage=args.storage,
                              study_name=args.study)
    print(describe_study(study))
    return OK


def _cmd_graph_csv(args) -> int:
    import pickle

    from tfsnn.analysis.synapse_graph import pickle_to_csv

    try:
        n = pickle_to_csv(args.input, args.output)
    except (pickle.UnpicklingError, EOFError) as e:
        raise ValueError(f"{args.input}: not a complete synapse graph pickle "
                         f"({type(e).__name__}: {e})") from e
    print(f"wrote {n} synapses to {args.output}")
    return OK


def _cmd_datasets(args) -> int:
    from tfsnn.datasets import describe_datasets

    print(describe_datasets())
    return OK


def _keras_file(path: str, what: str) -> str:
    """``path`` of an existing ``.keras`` file (a clear error otherwise)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} {path}: no such file")
    if not path.endswith(".keras"):
        raise ValueError(f"{what} {path}: expected a .keras file (Keras 3 format)")
    return path


def _load_keras(path: str, what: str = "model"):
    import keras

    import tfsnn.quantization  # noqa: F401 - registers the quantized layers for loading

    path = _keras_file(path, what)
    try:
        return keras.models.load_model(path)
    except Exception as e:  # unreadable or not a Keras model: the file is at fault
        raise ValueError(f"{what} {path}: cannot be loaded as a Keras model "
                         f"({type(e).__name__}: {e})") from e


def _data(path: str):
    from tfsnn.datasets import load_dataset

    if not os.path.exists(path):
        raise FileNotFoundError(f"data {path}: no such file")
    return load_dataset(path)


def _bits_tag(bits) -> str:
    return "f" if bits is None else str(bits)


def _cmd_quantize(args) -> int:
    from tfsnn.fileio import atomic_path
    from tfsnn.quantization import quantize

    model = _load_keras(args.model)
    x_cal = None
    if args.calibration:
        x_cal = _data(args.calibration).x_train[:args.calibration_samples]
    q = quantize(model, weight_bits=args.wq, activation_bits=args.aq, input_bits=args.iq,
                 calibration_data=x_cal)
    out = args.output or (f"{args.model[:-len('.keras')]}_iq{_bits_tag(args.iq)}"
                          f"_wq{_bits_tag(args.wq)}_aq{_bits_tag(args.aq)}.keras")
    with atomic_path(out) as tmp:
        q.save(tmp)
    print(f"wrote the quantized model to {out}")
    return OK


def _cmd_convert(args) -> int:
    from tfsnn.conversion import convert

    model = _load_keras(args.model)
    x_norm = _data(args.data).x_train[:args.n_norm] if args.data else None
    extra = {"signed": True} if args.signed else {}
    snn = convert(model, x_norm, encoding=args.encoding, **extra)
    out = args.output or f"{args.model[:-len('.keras')]}_snn.keras"
    snn.save(out)
    print(f"wrote the {args.encoding} SNN ({len(snn.specs)} layers) to {out}")
    return OK


def _cmd_evaluate(args) -> int:
    from tfsnn.analysis.energy import energy_estimate
    from tfsnn.simulation import load_snn

    snn = load_snn(_keras_file(args.snn, "SNN"))
    ds = _data(args.data)
    n = len(ds.x_test) if args.n is None else args.n
    res = snn.evaluate(ds.x_test[:n], ds.y_test[:n], timesteps=args.timesteps,
                       batch_size=args.batch_size)
    steps = sorted({t for t in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
                    if t < args.timesteps} | {args.timesteps})
    print(f"accuracy on {n} test images, per step:")
    for t in steps:
        print(f"  T={t:<5d} {res.accuracy_per_step[t - 1]:.4f}")
    e = energy_estimate(snn, res)
    print(f"spikes per image: {res.spikes_per_image:,.0f}")
    print(f"energy per image (45 nm): SNN {e['snn']['energy']:.4g} J, ANN "
          f"{e['ann']['energy']:.4g} J, SNN/ANN {e['ratio']:.3g}")
    return OK


def _cmd_check(args) -> int:
    from tfsnn.conversion import check_compatibility

    model = _load_keras(args.model)
    problems = check_compatibility(model, preset=args.preset)
    target = f" and the {args.preset!r} constraints" if args.preset else ""
    if not problems:
        print(f"{args.model}: compatible with tfsnn.convert{target}")
        return OK
    print(f"{args.model}: {len(problems)} problem(s) with tfsnn.convert{target}:")
    for p in problems:
        print(f"  - {p}")
    return FAILURE


def _bits(text: str):
    """A bit width 1..16, or "none"/"float" for float."""
    if text.lower() in ("none", "float"):
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 16:
        raise argparse.ArgumentTypeError(f"must be a bit width from 1 to 16 or 'none', got "
                                         f"{text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _common_options() -> argparse.ArgumentParser:
    """--verbose and --debug, accepted before and after the command name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="also show TensorFlow's start-up log lines (C++ notices)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    p = argparse.ArgumentParser(prog="tfsnn", description=__doc__, parents=[common],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", parents=[common], help="run an experiment from a config file")
    r.add_argument("config")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (repeatable), e.g. --set timesteps=50")
    r.set_defaults(func=_cmd_run, backend=True)

    s = sub.add_parser("sweep", parents=[common],
                       help="run a hyperparameter sweep through Optuna")
    s.add_argument("config")
    s.add_argument("--trials", type=_positive_int, required=True,
                   help="number of finished trials wanted")
    s.add_argument("--storage", default=None,
                   help="Optuna storage URL, e.g. sqlite:///study.db or "
                        "postgresql+psycopg2://user@host:5432/db (default: the config's "
                        "storage, else sqlite:///<study>.db in the working dir); in-memory "
                        "SQLite is refused (it would save nothing)")
    s.add_argument("--study", default=None, help="study name (default: from the config)")
    s.set_defaults(func=_cmd_sweep, backend=True)

    g = sub.add_parser(
        "graph-csv", parents=[common], help="convert a pickled synapse graph to CSV",
        description="Convert a pickled synapse graph to CSV. FILE.pkl must be a synapse graph "
                    "written by tfsnn; only the graph's own types are loaded from it (a "
                    "restricted unpickler), nothing else is executed.")
    g.add_argument("input", metavar="FILE.pkl",
                   help="a synapse graph written by tfsnn (SynapseGraph.to_pickle); only the "
                        "graph's own types are loaded from it (a restricted unpickler), "
                        "nothing else is executed")
    g.add_argument("output", metavar="OUT.csv")
    g.set_defaults(func=_cmd_graph_csv, backend=True)

    _quantization_commands(sub, common)

    d = sub.add_parser("datasets", parents=[common], help="list the registered datasets")
    d.set_defaults(func=_cmd_datasets, backend=False)
    return p


def _quantization_commands(sub, common) -> None:
    """quantize, convert, evaluate, check (docs/quantization.md)."""
    q = sub.add_parser("quantize", parents=[common], help="quantize a Keras model",
                       description="Quantize a .keras model (tfsnn.quantize); writes "
                                   "MODEL_iq<I>_wq<W>_aq<A>.keras unless -o is given.")
    q.add_argument("-m", "--model", required=True, metavar="MODEL.keras")
    q.add_argument("-wq", "--weight-bits", dest="wq", type=_bits, default=4,
                   help="weight bits (default 4; 'none': float)")
    q.add_argument("-aq", "--activation-bits", dest="aq", type=_bits, default=4,
                   help="activation bits, L = 2^b - 1 levels (default 4; 'none': ReLU)")
    q.add_argument("-iq", "--input-bits", dest="iq", type=_bits, default=8,
                   help="weight bits of the first layer (default 8)")
    q.add_argument("--calibration", metavar="DATA.npz",
                   help="initialise the clip values from the x_train images of this .npz")
    q.add_argument("--calibration-samples", type=_positive_int, default=1000)
    q.add_argument("-o", "--output", metavar="OUT.keras")
    q.set_defaults(func=_cmd_quantize, backend=True)

    c = sub.add_parser("convert", parents=[common], help="convert a Keras model to an SNN")
    c.add_argument("-m", "--model", required=True, metavar="MODEL.keras")
    c.add_argument("--data", metavar="DATA.npz",
                   help="normalization images: x_train of this .npz (not needed when every "
                        "hidden activation is quantized)")
    c.add_argument("--n-norm", type=_positive_int, default=1000,
                   help="training images used for normalization (default 1000)")
    c.add_argument("--encoding", default="rate")
    c.add_argument("--signed", action="store_true",
                   help="signed IF neurons (rate coding): negative spikes take back "
                        "early ones, so a QCFS model's SNN matches it at T = L")
    c.add_argument("-o", "--output", metavar="SNN.keras",
                   help="default: MODEL_snn.keras")
    c.set_defaults(func=_cmd_convert, backend=True)

    e = sub.add_parser("evaluate", parents=[common], help="simulate an SNN on test data")
    e.add_argument("snn", metavar="SNN.keras")
    e.add_argument("--data", required=True, metavar="DATA.npz",
                   help="evaluates on x_test/y_test of this .npz")
    e.add_argument("-T", "--timesteps", type=_positive_int, default=100)
    e.add_argument("-n", type=_positive_int, default=None, help="first n test images")
    e.add_argument("--batch-size", type=_positive_int, default=256)
    e.set_defaults(func=_cmd_evaluate, backend=True)

    k = sub.add_parser("check", parents=[common],
                       help="list every reason a model cannot be converted (exit 1 if any)")
    k.add_argument("-m", "--model", required=True, metavar="MODEL.keras")
    k.add_argument("--preset", default=None, help="also check a target's constraints "
                                                 "(akida)")
    k.set_defaults(func=_cmd_check, backend=True)


@contextlib.contextmanager
def _native_stderr_filtered():
    """Drop the lines of :data:`_NATIVE_NOISE` that native libraries write to file descriptor
    2 inside the block (they bypass ``sys.stderr``); anything else written there is passed on
    when the block ends."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(x for x in lines if not _NATIVE_NOISE.match(x)))
            sys.stderr.flush()


def _load_backend(verbose: bool) -> None:
    """Import Keras (and TensorFlow) now, quietly unless ``verbose``: TensorFlow's C++ log
    level and absl's are set before the import, and its load-time notices are dropped."""
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        import keras  # noqa: F401
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    with _native_stderr_filtered():
        import keras  # noqa: F401


def _is_failure(error: BaseException) -> bool:
    for module, name in FAILURE_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(error, cls):
            return True
    return False


def exit_status(error: BaseException) -> int:
    """The exit status for ``error`` (see the module docstring)."""
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    if _is_failure(error):
        return FAILURE
    yaml = sys.modules.get("yaml")
    if isinstance(error, USAGE_ERRORS) or (yaml is not None and isinstance(error, yaml.YAMLError)):
        return USAGE_ERROR
    return FAILURE


def error_line(error: BaseException) -> str:
    """``error`` as the one line the command prints."""
    if isinstance(error, KeyboardInterrupt):
        return "tfsnn: interrupted"
    if isinstance(error, KeyError) and len(error.args) == 1 and isinstance(error.args[0], str):
        message = error.args[0]  # str(KeyError) adds quotes
    elif isinstance(error, OSError) and error.filename and error.strerror:
        message = f"{error.filename}: {error.strerror}"  # not "[Errno 2] ...: 'name'"
    else:
        message = str(error) or type(error).__name__
    if exit_status(error) == USAGE_ERROR or _is_failure(error) or isinstance(error, OSError):
        text = message
    else:  # not an error a user can cause: say what it was and how to see more
        text = f"{type(error).__name__}: {message} (unexpected; rerun with --debug for the " \
               "traceback)"
    return "tfsnn: error: " + " ".join(text.split())


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    verbose, debug = getattr(args, "verbose", False), getattr(args, "debug", False)
    try:
        if args.backend:
            _load_backend(verbose)
        return args.func(args)
    except (Exception, KeyboardInterrupt) as e:
        if debug:
            traceback.print_exc()
        print(error_line(e), file=sys.stderr)
        return exit_status(e)


if __name__ == "__main__":
    sys.exit(main())
