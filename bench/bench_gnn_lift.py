"""What the GraphSAGE part adds over the wide part alone, beside the ceiling the sample's planted effects allow.

Usage::

    python bench/bench_gnn_lift.py [--accounts 2000] [--seed 7] [--fit-seeds 0 1]
        [--response-weight 1.2] [--reply-slope 1.3] [--ceiling-only]

First, from the generator's own arrays (latest 20% of closes, as `bench_effect_shares.py`): the oracle with and
without the planted two-hop effect (`response_effect`), and what a model that knew every other effect exactly
would get back by reading each deal's economic buyers' reply share (replies / (e-mails + 1), every deal of the
contact) as of the deal's creation, and as of its close (an upper bound: examples are scored in between). That
is the most the planted effect can be worth to any model reading the export. `--ceiling-only` stops there.

Then, on `dealgraph train`'s split of the sample (test period, the same examples):

- the ceiling: test AUROC of the wide part's logit alone, and of a logistic regression (fitted on validation) on
  the wide logit plus the true `response_effect` (the planted two-hop, non-additive effect) — what a perfect
  capture of it could add — and plus every relational effect of `truth.csv` (contact, account, parent, response,
  one column each);
  the oracle with and without `response_effect`;
- per fit seed: the wide part alone and the full model (wide + GraphSAGE, tuned on validation as `train` does).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnn.dataset import leak_safe_examples  # noqa: E402
from gnn.fit import concat, logits_of, tune  # noqa: E402
from gnn.train import TrainConfig  # noqa: E402
from gnn.wide import WideSpec, fit_wide  # noqa: E402
from graph import open_store, sqlite_url  # noqa: E402
from loaders import load_export, load_mapping  # noqa: E402
from loaders.sample import DEFAULT_AS_OF, _timeline, _to_epoch_seconds, generate_sample  # noqa: E402
from loaders.sample._world import build_world  # noqa: E402
from ontology import load_schema  # noqa: E402

RELATIONAL = ("contact", "account", "parent", "response")
ECONOMIC_BUYER = _timeline.ECONOMIC_BUYER


def _buyer_reply_share(world, when: np.ndarray) -> np.ndarray:
    """Per deal, the mean over its economic buyers of their reply share from e-mails before `when[deal]`."""
    t = world.timeline
    email = (t.act_kind == _timeline.KINDS.index("email")) & (t.act_ocr >= 0)
    contact = world.ocr_contact[t.act_ocr[email]]
    mails = pd.DataFrame({"contact": contact, "time": t.act_time[email], "inbound": t.act_inbound[email]})
    by_contact = {c: (g["time"].to_numpy(), g["inbound"].to_numpy()) for c, g in mails.groupby("contact")}
    total, count = np.zeros(world.opp_created.size), np.zeros(world.opp_created.size)
    for row in np.flatnonzero(world.ocr_role == ECONOMIC_BUYER).tolist():
        deal = world.ocr_opp[row]
        times, inbound = by_contact.get(world.ocr_contact[row], (np.zeros(0), np.zeros(0, bool)))
        before = times < when[deal]
        total[deal] += inbound[before].sum() / ((~inbound[before]).sum() + 1)
        count[deal] += 1
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def visible_ceiling(accounts: int, seed: int) -> None:
    """The oracle with and without the planted effect, and what the economic buyers' reply share gives back."""
    world = build_world(accounts, seed, _to_epoch_seconds(DEFAULT_AS_OF))
    closed = np.flatnonzero(world.opp_closed)
    latest = closed[np.argsort(world.opp_close[closed])][int(len(closed) * 0.8):]
    y, logit = world.opp_won[latest], world.logit[latest]
    rest = logit - world.effects["response"][latest]
    oracle, without = roc_auc_score(y, logit), roc_auc_score(y, rest)
    print(f"oracle {oracle:.4f}, without response_effect {without:.4f} (-{oracle - without:.4f}); "
          "every other effect known + the economic buyers' reply share:")
    for name, when in (("at creation", world.opp_created), ("at close", world.opp_close)):
        share = _buyer_reply_share(world, when)[latest]
        has_buyer = np.isin(latest, world.ocr_opp[world.ocr_role == ECONOMIC_BUYER]).astype(float)
        x = np.c_[rest, share, has_buyer]  # fitted in sample: an upper bound
        auroc = roc_auc_score(y, LogisticRegression(C=1e6).fit(x, y).decision_function(x))
        print(f"  {name}: {auroc:.4f} ({auroc - without:+.4f} of the {oracle - without:.4f} a perfect reading gives)")


def _with_truth(wide_val: np.ndarray, wide_test: np.ndarray, extra_val: np.ndarray, extra_test: np.ndarray,
                y_val: np.ndarray, y_test: np.ndarray) -> float:
    """Test AUROC of a logistic regression on [wide logit, extra columns], fitted on validation."""
    fitted = LogisticRegression(C=1e6).fit(np.c_[wide_val, extra_val], y_val)
    return float(roc_auc_score(y_test, fitted.decision_function(np.c_[wide_test, extra_test])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fit-seeds", type=int, nargs="*", default=[0, 1], help="none: the ceiling only")
    parser.add_argument("--response-weight", type=float, default=_timeline.RESPONSE_WEIGHT,
                        help="try the planted two-hop effect at another strength (the sample's is the default)")
    parser.add_argument("--reply-slope", type=float, default=_timeline.REPLY_SLOPE,
                        help="try responsiveness showing more or less in the reply rate")
    parser.add_argument("--ceiling-only", action="store_true", help="print the ceiling, train nothing")
    args = parser.parse_args()
    _timeline.RESPONSE_WEIGHT, _timeline.REPLY_SLOPE = args.response_weight, args.reply_slope
    print(f"sample: {args.accounts} accounts, seed {args.seed}, response weight {args.response_weight}, "
          f"reply slope {args.reply_slope}")
    visible_ceiling(args.accounts, args.seed)
    if args.ceiling_only:
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_sample(root / "sample", accounts=args.accounts, seed=args.seed)
        schema = load_schema()
        store = open_store(sqlite_url(root / "graph.db"), schema)
        load_export(store, root / "sample", load_mapping("salesforce", schema), root / "quarantine")
        truth = pd.read_csv(root / "sample" / "truth.csv", dtype={"OpportunityId": str}).set_index("OpportunityId")
        full = store.snapshot()
        _, spec, examples = leak_safe_examples(full)
        store.close()
    y = {s: concat(examples[s], lambda e: e.labels.numpy()) for s in ("val", "test")}

    def effect(split: str, columns: tuple[str, ...]) -> np.ndarray:
        """The true effects named, one column each (so each gets its own weight beside the wide logit)."""
        ids = [d for e in examples[split] for d in e.deal_ids]
        return truth.reindex(ids)[[f"{c}_effect" for c in columns]].fillna(0.0).to_numpy(float)

    test_ids = [d for e in examples["test"] for d in e.deal_ids]
    logit = {"test": truth.reindex(test_ids)["logit"].fillna(0.0).to_numpy(float)}
    oracle = roc_auc_score(y["test"], logit["test"])
    no_response = roc_auc_score(y["test"], logit["test"] - effect("test", ("response",))[:, 0])
    print(f"test examples {len(y['test'])}; oracle {oracle:.4f}, oracle without response_effect {no_response:.4f} "
          f"(-{oracle - no_response:.4f})")
    wide_part, _ = fit_wide(WideSpec.from_features(spec, examples["train"][0].data.edge_types), examples["train"],
                            examples["val"])  # as `tune` fits it: no seed, the same for every fit seed below
    wide = {s: logits_of(wide_part, examples[s]) for s in ("val", "test")}
    wide_auroc = roc_auc_score(y["test"], wide["test"])
    print(f"wide part alone {wide_auroc:.4f}")
    for name, cols in (("response", ("response",)), ("all relational", RELATIONAL)):
        auroc = _with_truth(wide["val"], wide["test"], effect("val", cols), effect("test", cols), y["val"], y["test"])
        print(f"  ceiling: wide + true {name} effect {auroc:.4f} ({auroc - wide_auroc:+.4f})")
    grid = TrainConfig().fit_grid()
    for fit_seed in args.fit_seeds:
        model, chosen, _, _ = tune(examples, tuple(replace(c, seed=fit_seed) for c in grid), spec)
        full_auroc = roc_auc_score(y["test"], logits_of(model, examples["test"]))
        print(f"fit seed {fit_seed}: wide alone {wide_auroc:.4f}, full {full_auroc:.4f} "
              f"(GraphSAGE adds {full_auroc - wide_auroc:+.4f}; chosen hidden {chosen.model.hidden})")


if __name__ == "__main__":
    main()
