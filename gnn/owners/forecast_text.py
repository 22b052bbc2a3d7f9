"""The forecast and its backtest as text tables and as an HTML section for the deal review."""

from __future__ import annotations

import math
from html import escape

from gnn.owners.adjust import Adjustment
from gnn.owners.backtest import RECENT_DAYS, Backtest
from gnn.owners.forecast import Forecast, ForecastRow

Z90 = 1.645  # the shock's likely range printed: its central 90%


def _money(x: float) -> str:
    return f"{x:,.0f}"


def shock_words(mean: float, sd: float) -> str:
    """The common shock as a factor on every deal's odds of winning, with its likely (90%) range: `x0.84
    (0.61-1.15)` reads "deals are winning at 0.84 times the odds the model gives them, likely 0.61 to 1.15"."""
    if sd == 0 and mean == 0:
        return "x1.00"
    low, high = math.exp(mean - Z90 * sd), math.exp(mean + Z90 * sd)
    return f"x{math.exp(mean):.2f} ({low:.2f}-{high:.2f})"


def shock_legend(recent_days: int | None) -> str:
    source = (f"the deals closed in the {recent_days} days before" if recent_days
              else "the past periods")
    return (f"trend (the common 'shock' in the JSON) = how {source} won against the model's odds, applied to every "
            "deal together (x1.00: as the model said; x0.80: at 0.8 times its odds), and its likely range in "
            "brackets: the wider the range, the wider the interval")


def adjustment_line(a: Adjustment) -> str:
    """What the live forecast corrected for, in words (`owners.adjust`)."""
    return (f"adjusted: recalibrated by deal size, and for the recent trend (the common 'shock'): deals closed in the "
            f"last {RECENT_DAYS} days won at {shock_words(a.shock_mean, a.shock_sd)} times the odds the model gave "
            "them (likely range in brackets); every deal moves with it together, and its uncertainty widens the "
            f"interval (fitted on {a.deals} past deals)")


def forecast_table(f: Forecast, reps: bool = False) -> list[str]:
    """Month, quarter and total rows (and each rep's when `reps`)."""
    scored = sum(r.deals for r in f.rows if r.grain == "total" and r.rep_id is None)
    lines = [(f"forecast of {scored} scored open deals (model {', '.join(f.model_versions) or '-'}; "
              f"{f.unscored} unscored left out); {f.level:.0%} interval from {f.draws} draws, seed {f.seed}"),
             adjustment_line(f.adjustment) if f.adjustment is not None and f.adjustment.periods
             else "deals drawn as independent, at the model's probabilities (no past periods to adjust by)",
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
             ("still open = deals of the period whose outcome is not known yet (share of its amount): left out of "
              "both expected and actual won"),
             *([shock_legend(b.recent_days)] if b.adjusted else []),
             (f"{'period start':<12} {'':>4} {'deals':>5} {'still open':>16} {'pipeline':>14} {'expected':>14} "
              f"{'low':>14} {'high':>14} {'actual won':>14} {'in interval':>11} {'trend':>19}")]
    for r in b.rows:
        still_open = f"{r.unresolved} ({r.unresolved_share:.0%})"
        lines.append(f"{r.period_start:<12} {'' if r.held_out else 'val':>4} {r.deals:>5} {still_open:>16} "
                     f"{_money(r.pipeline):>14} {_money(r.expected):>14} {_money(r.low):>14} {_money(r.high):>14} "
                     f"{_money(r.actual):>14} {'yes' if r.covered else 'no':>11} "
                     f"{shock_words(r.shock_mean, r.shock_sd):>19}")
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
