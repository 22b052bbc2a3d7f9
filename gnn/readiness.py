"""Whether a loaded graph can train a model and has deals to score, said before anyone waits for training.

Small and odd exports are common: a pilot with a dozen closed deals, a
history of closed deals only, one rep, a table without dates. `readiness`
states each such shape and what the commands then do instead (the declared
fallback), so `dealgraph load` can say it up front and `train` / `score`
agree with it. The thresholds live here, the one place `gnn.train` and
`gnn.dataset` read them from; this module imports no torch, so `load` stays light.
"""

from __future__ import annotations

from graph.store import GraphStore
from ontology.names import Label

#: Closed deals needed to split time into train / validation / test periods.
MIN_CLOSED = 10
#: Won and lost deals among the training examples needed to fit the graph model; below, the class prior serves.
MIN_WON = MIN_LOST = 40


def readiness(store: GraphStore) -> list[str]:
    """One sentence per shape of the graph that limits training or scoring, with the fallback; [] when none does."""
    counts = store.counts()
    outcomes = store.get_nodes(Label.OUTCOME, store.node_ids(Label.OUTCOME)).values()
    won = sum(1 for o in outcomes if o.get("result") == "won")
    lost = len(outcomes) - won
    deals = counts.get(Label.DEAL, 0)
    notes = []
    if deals == 0:
        return ["no deals: nothing to train on or score"]
    if won + lost < MIN_CLOSED:
        notes.append(f"only {won + lost} closed deals ({won} won, {lost} lost): `dealgraph train` needs {MIN_CLOSED} "
                     "spread over time to split past from future, so no model is trained and open deals stay unscored")
    elif won < MIN_WON or lost < MIN_LOST:
        notes.append(f"{won} won and {lost} lost deals: below {MIN_WON} of each `dealgraph train` serves the class "
                     "prior (the same probability for every open deal) instead of the graph model")
    if lost == 0 and won:
        notes.append("no lost deals: nothing tells a win from a loss; map what makes a deal lost "
                     "(a status, or a rule such as 'not won within N days') to learn anything")
    open_deals = deals - (won + lost)
    if open_deals == 0:
        notes.append("no open deals: every deal is closed, so `dealgraph score` has nothing to score until an "
                     "export brings open ones (a model can still be trained on this history)")
    if counts.get(Label.REP, 0) == 1:
        notes.append("one rep owns every deal: the model learns nothing about reps")
    created = {str(d.get("created_at")) for d in store.get_nodes(Label.DEAL, store.node_ids(Label.DEAL)).values()}
    if len(created) == 1 and deals > 1:
        notes.append("every deal has the same start time: there is no time order, so a time-correct model cannot be "
                     "trained; map a date column (when each deal was created) to train one")
    return notes
