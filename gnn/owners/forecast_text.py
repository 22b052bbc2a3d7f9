"""The forecast and its backtest as text tables and as an HTML section for the deal review."""

from __future__ import annotations

from html import escape

from gnn.owners.backtest import Backtest
from gnn.owners.forecast import Forecast, ForecastRow


def _money(x: float) -> str:
    return f"{x:,.0f}"


def forecast_table(f: Forecast, reps: bool = False) -> list[str]:
    """Month, quarter and total rows (and each rep's when `reps`)."""
    scored = sum(r.deals for r in f.rows if r.grain == "total" and r.rep_id is None)
    lines = [(f"forecast of {scored} scored open deals (model {', '.join(f.model_versions) or '-'}; "
              f"{f.unscored} unscored left out); {f.level:.0%} interval from {f.draws} draws, seed {f.seed}"),
             (f"{'grain':<8} {'period':<14} {'rep':<24} {'deals':>5} {'pipeline':>14} {'expected':>14} "
              f"{'low':>14} {'high':>14}")]
    for r in f.rows:
        if (r.rep_id is not None or r.team is not None) and not reps:
            continue
        who = (r.rep_name or r.rep_id or "")[:24] if r.rep_id else f"team {r.team}"[:24] if r.team else "all"
        lines.append(f"{r.grain:<8} {r.period:<14} {who:<24} {r.deals:>5} {_money(r.pipeline):>14} "
                     f"{_money(r.expected):>14} {_money(r.low):>14} {_money(r.high):>14}")
    return lines


def _accuracy_line(what: str, mape: float | None, coverage: float | None, n: int, level: float) -> str:
    m = f"{mape:.1%}" if mape is not None else "n/a"
    c = f"{coverage:.0%}" if coverage is not None else "n/a"
    return f"{what}: MAPE {m}; the {level:.0%} interval covered the actual in {c} of {n} periods"


def backtest_table(b: Backtest) -> list[str]:
    how = ("recalibrated by amount band, mixing over a common shock, both fitted on deals closed before each "
           "period" if b.adjusted else "independent deals, the model's probabilities as they are")
    lines = [(f"backtest of model {b.model_version}: the pipeline open at each period's start, forecast then ({how}), "
              "beside what of it was won; val = a validation period (the model was calibrated on it)"),
             (f"{'period start':<12} {'':>4} {'deals':>5} {'pipeline':>14} {'expected':>14} {'low':>14} {'high':>14} "
              f"{'actual won':>14} {'in interval':>11} {'shock sd':>8}")]
    for r in b.rows:
        lines.append(f"{r.period_start:<12} {'' if r.held_out else 'val':>4} {r.deals:>5} {_money(r.pipeline):>14} "
                     f"{_money(r.expected):>14} {_money(r.low):>14} {_money(r.high):>14} {_money(r.actual):>14} "
                     f"{'yes' if r.covered else 'no':>11} {r.shock_sd:>8.3f}")
    held = [r for r in b.rows if r.held_out]
    lines.append(_accuracy_line("all periods", b.mape, b.coverage, len(b.rows), b.level))
    lines.append(_accuracy_line("held-out periods", *b.held_out(), len(held), b.level))
    return lines


def _who(r: ForecastRow) -> str:
    return r.rep_name or r.rep_id or "" if r.rep_id else f"team {r.team}" if r.team else "all"


def _html_rows(rows: list[ForecastRow]) -> str:
    return "".join(
        f"<tr><td>{escape(r.period)}</td><td>{escape(_who(r))}</td><td>{r.deals}</td>"
        f"<td>{_money(r.pipeline)}</td><td>{_money(r.expected)}</td><td>{_money(r.low)} – {_money(r.high)}</td></tr>"
        for r in rows)


def forecast_html(f: Forecast, b: Backtest | None = None) -> str:
    """A self-contained `<section>` for the review page: quarters and months, then the backtest."""
    head = "<tr><th>period</th><th>rep</th><th>deals</th><th>pipeline</th><th>expected won</th>" \
           f"<th>{f.level:.0%} interval</th></tr>"
    parts = ['<section class="forecast"><h2>Forecast</h2>',
             f"<table>{head}{_html_rows([r for r in f.rows if r.grain != 'month'])}</table>",
             f"<h3>By close month</h3><table>{head}{_html_rows([r for r in f.rows if r.grain == 'month'])}</table>"]
    if b is not None:
        body = "".join(
            f"<tr><td>{escape(r.period_start)}</td><td>{r.deals}</td><td>{_money(r.expected)}</td>"
            f"<td>{_money(r.low)} – {_money(r.high)}</td><td>{_money(r.actual)}</td>"
            f"<td>{'yes' if r.covered else 'no'}</td></tr>" for r in b.rows)
        parts.append(f"<h3>Backtest (model {escape(b.model_version)})</h3><table><tr><th>period start</th>"
                     "<th>deals</th><th>expected</th><th>interval</th><th>actual won</th><th>covered</th></tr>"
                     f"{body}</table><p>{escape(backtest_table(b)[-1])}</p>")
    return "".join(parts) + "</section>"
