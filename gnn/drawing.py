"""A deal's explanation paths as a graph: networkx for analysis, matplotlib for a picture.

Works on the stored explanation (`ScoreRecord.explanation`, what `dealgraph
explain` prints), so it draws exactly what the rep was shown. Edges point the
way the ontology's relations do (Deal -FOR_ACCOUNT-> Account), whichever way
the path walked them.

Example:
    >>> score = store.latest_scores([deal_id])[deal_id]
    >>> g = explanation_graph(score.explanation)          # networkx DiGraph
    >>> ax = draw_explanation(score.explanation, title=deal_id)
    >>> ax.figure.savefig("deal.png")
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import networkx as nx

from gnn.path_style import DEFAULT_FILL, DIRECTION_COLOURS, INK, MUTED, NEUTRAL, NODE_FILLS
from graph.explanation import Explanation

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def explanation_graph(explanation: Explanation | Mapping[str, Any]) -> nx.DiGraph:
    """The union of an explanation's paths as a DiGraph.

    Nodes are `(label, id)` with `label`, `name` and `hops` (steps from the deal);
    edges carry `relation`, `weight` (summed over the paths through them) and
    `direction` ("raises" or "lowers", of the strongest path through them).

    Example:
        >>> g = explanation_graph({"paths": [{"weight": 0.3, "direction": "raises", "steps": [
        ...     {"label": "Deal", "id": "d1", "name": "Big deal", "relation": None, "direction": None},
        ...     {"label": "Account", "id": "a1", "name": "Acme", "relation": "FOR_ACCOUNT", "direction": "out"}]}]})
        >>> list(g.edges(data="relation"))
        [(('Deal', 'd1'), ('Account', 'a1'), 'FOR_ACCOUNT')]
    """
    if isinstance(explanation, Explanation):
        explanation = explanation.to_json()
    g = nx.DiGraph()
    for path in explanation.get("paths", []):
        steps, weight = path["steps"], float(path["weight"])
        for hops, step in enumerate(steps):
            node = (step["label"], step["id"])
            if node in g:
                g.nodes[node]["hops"] = min(g.nodes[node]["hops"], hops)
            else:
                g.add_node(node, label=step["label"], name=step["name"], hops=hops)
        for prev, step in zip(steps, steps[1:], strict=False):
            a, b = (prev["label"], prev["id"]), (step["label"], step["id"])
            # "out": the relation runs from the previous step to this one; "in": the other way.
            u, v = (a, b) if step["direction"] == "out" else (b, a)
            if g.has_edge(u, v):
                edge = g.edges[u, v]
                if abs(weight) > abs(edge["strongest"]):
                    edge.update(direction=path["direction"], strongest=weight)
                edge["weight"] += weight
            else:
                g.add_edge(u, v, relation=step["relation"], weight=weight, strongest=weight,
                           direction=path["direction"])
    return g


def draw_explanation(
    explanation: Explanation | Mapping[str, Any], ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Draw an explanation: the scored deal circled in bold, the evidence around it, edges green
    where they raise the score and red where they lower it, thicker for more weight.

    Returns the matplotlib `Axes` (a new figure's when `ax` is None).
    """
    import matplotlib.pyplot as plt

    if isinstance(explanation, Explanation):
        explanation = explanation.to_json()
    g = explanation_graph(explanation)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 7.5), dpi=100)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if not g:
        ax.text(0.5, 0.5, explanation.get("note") or "no explanation paths", ha="center", va="center")
        return ax
    hops = nx.get_node_attributes(g, "hops")
    # Kamada-Kawai places nodes at distances like their hop counts; attribution weights are no lengths.
    pos = nx.kamada_kawai_layout(g.to_undirected(), weight=None)
    size = 2200
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=size, edgecolors=INK,
                           linewidths=[3.0 if hops[n] == 0 else 1.0 for n in g],
                           node_color=[NODE_FILLS.get(g.nodes[n]["label"], DEFAULT_FILL) for n in g])
    labels = {n: ("this deal" if hops[n] == 0 else d["label"]) + "\n" + _wrap(d["name"]) for n, d in g.nodes(data=True)}
    nx.draw_networkx_labels(g, pos, ax=ax, labels=labels, font_size=7)
    top = max(abs(w) for *_, w in g.edges(data="weight")) or 1.0
    nx.draw_networkx_edges(g, pos, ax=ax, node_size=size, arrowsize=14,
                           edge_color=[DIRECTION_COLOURS.get(d["direction"], NEUTRAL) for *_, d in g.edges(data=True)],
                           width=[1.0 + 4.0 * abs(d["weight"]) / top for *_, d in g.edges(data=True)])
    nx.draw_networkx_edge_labels(g, pos, ax=ax, font_size=6, rotate=False,
                                 edge_labels=nx.get_edge_attributes(g, "relation"))
    ax.margins(0.15)  # room for the outermost circles and their labels
    ax.text(0, 0, "green: raises the score · red: lowers it · thicker: more weight", transform=ax.transAxes,
            fontsize=7, color=MUTED)
    return ax


def _wrap(text: str, width: int = 16) -> str:
    """At most two short lines, so a name fits inside its circle."""
    lines = textwrap.wrap(str(text), width) or [""]
    return "\n".join(lines[:2]) + ("…" if len(lines) > 2 else "")
