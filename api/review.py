"""The deal review report for RevOps: one self-contained HTML file of the open pipeline.

Each open deal shows its score, the model version and time that produced it,
its explanation paths drawn as small graphs with their sentences, the
faithfulness figures, and the suggested actions — exactly what was stored at
scoring time, so the review sees what the rep saw. Filters (rep, account) work
in the page without a server; `#rep=ID` or `#account=ID` in the URL preselects one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

from gnn.gate import auroc_band
from gnn.path_style import DEFAULT_FILL, DIRECTION_COLOURS, MUTED, NEUTRAL, NODE_FILLS
from gnn.registry import ModelCard
from graph.store import GraphStore, InvalidInput, ScoreRecord

PAGE = 500

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2433;background:#f6f7f9}
header{background:#1d2433;color:#fff;padding:12px 20px}header h1{font-size:18px;margin:0}
header p{margin:4px 0 0;color:#c9d1e0;font-size:12px}
.filters{padding:10px 20px;background:#fff;border-bottom:1px solid #dde1e8;display:flex;gap:16px;align-items:center}
main{padding:16px 20px;display:grid;gap:14px}
.deal{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:12px 16px}
.deal h2{font-size:16px;margin:0 0 4px}.meta{color:#5b6475;font-size:12px}
.bar{height:10px;background:#e5e8ee;border-radius:5px;overflow:hidden;width:240px;display:inline-block;vertical-align:middle}
.bar span{display:block;height:100%;background:#3b6fd8}
.path{margin:10px 0 0;padding-top:8px;border-top:1px dashed #e1e4ea}.path p{margin:2px 0}
.raises{color:#1b7f3b}.lowers{color:#b42318}
.suggestions{margin:10px 0 0;padding:8px 12px;background:#fffbea;border-left:3px solid #e0b100}
.suggestions h3{font-size:12px;margin:0 0 4px;text-transform:uppercase;letter-spacing:.04em;color:#7a5d00}
.hidden{display:none}
"""

SCRIPT = """
const pick = (id) => document.getElementById(id);
function apply() {
  const rep = pick('rep').value, account = pick('account').value;
  let shown = 0;
  document.querySelectorAll('.deal').forEach((d) => {
    const ok = (!rep || d.dataset.rep === rep) && (!account || d.dataset.account === account);
    d.classList.toggle('hidden', !ok); shown += ok;
  });
  pick('count').textContent = shown + ' deals';
}
const wanted = new URLSearchParams(location.hash.slice(1));
for (const key of ['rep', 'account']) {
  if (wanted.get(key)) pick(key).value = wanted.get(key); pick(key).onchange = apply;
}
apply();
"""


def path_svg(path: dict) -> str:
    """A path as a row of typed nodes joined by labelled arrows, coloured by its direction."""
    steps = path["steps"]
    width, gap, box = 150, 40, 130
    colour = DIRECTION_COLOURS.get(path["direction"], NEUTRAL)
    parts = [f'<svg role="img" aria-label="{escape(path["text"])}" width="{len(steps) * width}" height="64" '
             f'viewBox="0 0 {len(steps) * width} 64" xmlns="http://www.w3.org/2000/svg">']
    for i, step in enumerate(steps):
        x = i * width
        if i:
            relation = escape(step.get("relation") or "")
            parts.append(f'<line x1="{x - gap + 10}" y1="38" x2="{x}" y2="38" stroke="{colour}" stroke-width="2"/>'
                         f'<text x="{x - gap / 2 - 10}" y="26" font-size="9" text-anchor="middle" fill="{MUTED}">'
                         f'{relation}</text>')
        fill = NODE_FILLS.get(step["label"], DEFAULT_FILL)
        name = escape((step.get("name") or step["id"])[:19])
        parts.append(f'<rect x="{x}" y="20" width="{box - gap + 30}" height="36" rx="6" fill="{fill}" '
                     f'stroke="{colour}"/>'
                     f'<text x="{x + 6}" y="34" font-size="9" fill="{MUTED}">{escape(step["label"])}</text>'
                     f'<text x="{x + 6}" y="48" font-size="11">{name}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _deal_html(deal: Mapping[str, Any], score: ScoreRecord, account: Mapping[str, Any] | None,
               owner: Mapping[str, Any] | None) -> str:
    # The review is for RevOps (who see everything): the stored explanation as its JSON rendering.
    explanation = score.explanation.to_json() if score.explanation else {"paths": []}
    pct = round(100 * score.probability)
    fid = explanation.get("fidelity")
    fid_text = (f"fidelity+ {fid:.3f} (random paths {explanation.get('random_fidelity') or 0:.3f}), "
                f"fidelity− {explanation.get('fidelity_minus') or 0:.3f}") if fid is not None else "no paths"
    paths = "".join(
        f'<div class="path">{path_svg(p)}<p class="{escape(p["direction"])}">{escape(p["direction"])} '
        f'({p["weight"]:+.3f}): {escape(p["text"])}</p></div>'
        for p in explanation.get("paths", [])
    )
    if explanation.get("note"):
        paths += f'<p class="meta">{escape(explanation["note"])}</p>'
    suggestions = "".join(
        f"<li>{escape(s['text'])}"
        + (f" <span class='meta'>(from path {s['path'] + 1})</span>" if s.get("path") is not None else "") + "</li>"
        for s in explanation.get("suggestions", [])
    )
    if suggestions:
        suggestions = f'<div class="suggestions"><h3>Suggestions</h3><ul>{suggestions}</ul></div>'
    meta = score.metadata or {}
    # No band where the model has no skill: the figure is the base rate, and the page says so.
    verdict = (f"win probability ({escape(score.band)})" if meta.get("state") != "no_skill" else
               "base win rate: <b>no skill</b>, the model did not beat the baseline on its test period, "
               "so this is not a judgement of this deal")
    quality = meta.get("quality") or {}
    if quality.get("auroc") is not None:
        verdict += (f" · model test AUROC {quality['auroc']:.2f} ({escape(str(quality.get('auroc_band')))}), "
                    f"ECE {quality.get('ece') or 0:.3f}")
    account_name = escape(account["name"]) if account else "?"
    owner_name = escape(owner["name"]) if owner else "unassigned"
    return (
        f'<article class="deal" data-rep="{escape(owner["id"]) if owner else ""}" '
        f'data-account="{escape(account["id"]) if account else ""}">'
        f'<h2>{escape(deal.get("name") or deal["id"])}</h2>'
        f'<div class="meta">{account_name} · owner {owner_name} · amount {deal.get("amount") or 0:,.0f} · '
        f'stage {escape(deal.get("stage") or "?")}</div>'
        f'<p><span class="bar"><span style="width:{pct}%"></span></span> <b>{pct}%</b> {verdict}'
        f' · model {escape(score.model_version)} · scored {score.scored_at:%Y-%m-%d %H:%M} UTC · '
        f'{fid_text}</p>{paths}{suggestions}</article>'
    )


def _options(label: str, pairs: dict[str, str]) -> str:
    opts = "".join(f'<option value="{escape(k)}">{escape(v)}</option>'
                   for k, v in sorted(pairs.items(), key=lambda kv: kv[1]))
    return f'<label>{label} <select id="{label.lower()}"><option value="">all</option>{opts}</select></label>'


def _quality_text(card: ModelCard) -> str:
    """The served model's held-out quality and its serving state, for the page header."""
    m = card.metrics.get(card.kind) or {}
    if card.state == "no_skill":
        return "NO SKILL: it did not pass the serving gate, every score is the base win rate"
    if m.get("auroc") is None:
        return "test quality unknown"
    return f"test AUROC {m['auroc']:.2f} ({auroc_band(m['auroc'])}), ECE {m.get('ece') or 0:.3f}"


def build_review(store: GraphStore, card: ModelCard | None, rep: str | None = None, account: str | None = None) -> str:
    """The review page as one HTML string (no external resources).

    Raises:
        InvalidInput: `rep` or `account` names no node in the store (a typo would make an empty page).
    """
    for label, wanted in (("Rep", rep), ("Account", account)):
        if wanted is not None and store.get_node(label, wanted) is None:
            raise InvalidInput(f"no {label.lower()} {wanted!r} in the store: nothing written (ids are the CRM's, "
                               "e.g. from `dealgraph explain` or the review page's filters)")
    deals: list[Mapping[str, Any]] = []
    after = None
    while True:
        page = store.open_deals_page(PAGE, after=after)
        deals += page.deals
        if not page.has_next:
            break
        after = (page.deals[-1]["_rank"], page.deals[-1]["id"])
    ids = [d["id"] for d in deals]
    scores = store.latest_scores(ids)
    accounts = {k: v[0].node for k, v in store.neighbours("Deal", ids, "FOR_ACCOUNT").items()}
    owners = {k: v[0].node for k, v in store.neighbours("Deal", ids, "OWNED_BY").items()}
    rows = [d for d in deals if d["id"] in scores
            and (rep is None or owners.get(d["id"], {}).get("id") == rep)
            and (account is None or accounts.get(d["id"], {}).get("id") == account)]
    body = "".join(_deal_html(d, scores[d["id"]], accounts.get(d["id"]), owners.get(d["id"])) for d in rows)
    model = (f"model {escape(card.version)} ({escape(card.kind)}), trained {card.trained_at:%Y-%m-%d %H:%M} UTC, "
             f"snapshot {escape(card.snapshot_id)}, {_quality_text(card)}") if card else "no model"
    rep_names = {owners[d["id"]]["id"]: owners[d["id"]]["name"] for d in rows if d["id"] in owners}
    account_names = {accounts[d["id"]]["id"]: accounts[d["id"]]["name"] for d in rows if d["id"] in accounts}
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Deal review — {len(rows)} open deals</title><style>{CSS}</style></head><body>"
        f"<header><h1>Deal review: open pipeline</h1><p>{model} · generated {generated} · "
        "paths and suggestions are the ones stored with each score</p></header>"
        f'<div class="filters">{_options("Rep", rep_names)}{_options("Account", account_names)}'
        f'<span id="count" class="meta"></span></div><main>{body}</main>'
        f"<script>{SCRIPT}</script>"
        f'<script type="application/json" id="data">{escape(json.dumps({"deals": len(rows)}))}</script>'
        "</body></html>"
    )
