"""The ``tfsnn`` command.

    tfsnn run CONFIG                         run an experiment described in a YAML/JSON file
    tfsnn sweep CONFIG --trials N [--storage URL] [--study NAME]
    tfsnn graph-csv IN.pkl OUT.csv           convert a pickled synapse graph to CSV
    tfsnn datasets                           list the registered datasets
"""

from __future__ import annotations

import argparse
import sys


def _cmd_run(args) -> int:
    from tfsnn.experiment import run_config

    result = run_config(args.config, overrides=args.set)
    print(result.summary())
    return 0


def _cmd_sweep(args) -> int:
    from tfsnn.sweeps import describe_study, sweep_from_config

    study = sweep_from_config(args.config, n_trials=args.trials, storage=args.storage,
                              study_name=args.study)
    print(describe_study(study))
    return 0


def _cmd_graph_csv(args) -> int:
    from tfsnn.analysis.synapse_graph import pickle_to_csv

    n = pickle_to_csv(args.input, args.output)
    print(f"wrote {n} synapses to {args.output}")
    return 0


def _cmd_datasets(args) -> int:
    from tfsnn.datasets import describe_datasets

    print(describe_datasets())
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tfsnn", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run an experiment from a config file")
    r.add_argument("config")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (repeatable), e.g. --set timesteps=50")
    r.set_defaults(func=_cmd_run)

    s = sub.add_parser("sweep", help="run a hyperparameter sweep through Optuna")
    s.add_argument("config")
    s.add_argument("--trials", type=int, required=True, help="number of finished trials wanted")
    s.add_argument("--storage", default=None,
                   help="Optuna storage URL (default: sqlite:///<study>.db in the working dir)")
    s.add_argument("--study", default=None, help="study name (default: from the config)")
    s.set_defaults(func=_cmd_sweep)

    g = sub.add_parser("graph-csv", help="convert a pickled synapse graph to CSV")
    g.add_argument("input")
    g.add_argument("output")
    g.set_defaults(func=_cmd_graph_csv)

    d = sub.add_parser("datasets", help="list the registered datasets")
    d.set_defaults(func=_cmd_datasets)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, KeyError) as e:  # user errors: one clear line
        print(f"tfsnn: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
