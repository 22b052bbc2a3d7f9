/* dealgraph widget: one deal as a rep reads it at 360 px.
 *
 * Top to bottom, in the order a rep needs it: the score with its quality in plain words, the
 * stage and days in it, close date (overdue flagged), amount and last activity, the two strongest reasons compared with a
 * typical deal, one next step with the model's expected effect, then "more" (the other reasons
 * and steps), "how sure are these reasons" and the feedback form (feedback.js).
 */
(function () {
  "use strict";

  const { config, el, given, hidden, pts, finePts, words, day, cssName, money, daysUntil, relationWords } =
    window.dealgraph;
  const palette = config.palette;
  /** Reasons shown before "more". */
  const FIRST_REASONS = 2;
  /** A medium score within this share of the usual win rate (28-34% where 31% is usual) is "about the usual". */
  const ABOUT_USUAL = 0.1;
  const QUALITY_WORDS = {
    strong: "The model has ranked past deals well",
    good: "The model has ranked past deals fairly well",
    fair: "The model has ranked past deals only roughly",
    weak: "The model has ranked past deals little better than chance",
  };

  function trend(score) {
    if (!given(score.previousProbability)) return null;
    const delta = pts(score.probability) - pts(score.previousProbability);
    const was = `was ${pts(score.previousProbability)}%`;
    if (delta === 0) return el("span", { class: "trend flat", title: was }, "no change since last score");
    const up = delta > 0;
    return el("span", { class: "trend " + (up ? "up" : "down"), title: was },
      el("span", { "aria-hidden": "true" }, up ? "▲ " : "▼ "),
      `${up ? "+" : "−"}${Math.abs(delta)} pts since last score`);
  }

  /** The score's meaning in one plain sentence: its band against the usual win rate, and how good the model is. */
  function verdict(score) {
    const usual = given(score.baseRate) ? ` (the usual win rate is ${pts(score.baseRate)}%)` : "";
    return el("p", { class: "verdict" }, `${chanceWords(score)}${usual}.`, qualityWords(score));
  }

  /** The band in words. The medium band spans half to twice the usual odds (18-47% where 31% is usual), so it
   * says which side of the usual rate the deal is on: a rep reading "an average chance" beside 20% of a usual
   * 31% reads words the number contradicts. Within ABOUT_USUAL of the usual rate it is "about the usual". */
  function chanceWords(score) {
    const band = { high: "A high chance of winning", low: "A low chance of winning" }[score.band];
    if (band) return band;
    if (score.band !== "medium" || !given(score.baseRate) || !(score.baseRate > 0)) return "A chance of winning";
    const ratio = score.probability / score.baseRate;
    if (Math.abs(ratio - 1) <= ABOUT_USUAL) return "About the usual chance of winning";
    return ratio < 1 ? "A lower chance of winning than usual" : "A better chance of winning than usual";
  }

  /** How well the model ranked deals it had not seen, in words (its AUROC in the tooltip, for who asks). */
  function qualityWords(score) {
    const q = score.quality;
    const said = q && QUALITY_WORDS[q.aurocBand];
    if (!said) return null;
    return el("span", { class: "quality", title: given(q.auroc) ? `test AUROC ${q.auroc.toFixed(2)}` : null },
      ` ${said}.`);
  }

  function scoreBlock(score) {
    if (!score) return el("p", { class: "score unscored" }, "Not scored yet.");
    if (score.state === "no_skill") {
      // No band: a model that did not beat the base rate must not look like a judgement of the deal.
      return el("div", { class: "score-block" },
        el("div", { class: "score no-skill" },
          el("span", { class: "pct" }, `${pts(score.probability)}%`, hidden(" base win rate")),
          el("span", { class: "band band-no-skill" }, "no skill")),
        el("p", { class: "verdict caveat" },
          "This is the base win rate, not a judgement of this deal: the model did not beat that baseline on " +
          "past deals.", qualityWords(score)));
    }
    const fill = el("span", { class: "fill" });
    fill.style.width = pts(score.probability) + "%"; // CSSOM, allowed by the page's strict style-src
    return el("div", { class: "score-block" },
      el("div", { class: "score" },
        el("span", { class: "pct" }, `${pts(score.probability)}%`, hidden(" chance to win")),
        el("span", { class: "bar", "aria-hidden": "true" }, fill),
        el("span", { class: "band band-" + cssName(score.band) }, score.band, hidden(" band")),
        trend(score)),
      verdict(score));
  }

  /** "today", "yesterday", "12 days ago": how long before `ref` (else today) an ISO time was. Counted to `ref`, it
   * is whole days between the two times, rounded, as the model's reasons count them ("no activity for 16 days"),
   * so the two never differ by one. */
  function ago(iso, ref) {
    const days = ref ? Math.round((Date.parse(ref) - Date.parse(iso)) / 864e5) : -daysUntil(iso);
    if (days <= 0) return ref ? "that day" : "today";
    return days === 1 ? (ref ? "the day before" : "yesterday") : `${days} days ago`;
  }

  /** "for 24 days" in the current stage, where the stage history says since when. */
  function inStage(deal, ref) {
    if (!deal.stageEnteredAt) return null;
    const days = Math.max(0, -daysUntil(deal.stageEnteredAt, ref));
    return el("span", { class: "in-stage" }, days ? ` for ${days} day${days === 1 ? "" : "s"}` : " since that day");
  }

  /** "Last activity 12 days ago, a call": the newest activity the rep may see, none said where none is logged. */
  function lastActivity(deal, ref) {
    const last = deal.lastActivity;
    if (!last || !last.occurredAt) return null;
    const kind = last.kind && last.kind !== "other" ? `, ${/^[aeiou]/.test(last.kind) ? "an" : "a"} ${last.kind}` : "";
    return el("li", { class: "last-activity", title: day(last.occurredAt) },
      "Last activity ", el("strong", {}, ago(last.occurredAt, ref)), kind);
  }

  /** The day the deal's facts count to: the data the score was computed from, where that is not today. The
   * reasons' days ("no activity for 16 days") count to it too, so the facts above them must, or a rep reads
   * "last activity 49 days ago" over "no activity for 16 days" when the data is a month old. */
  function referenceDay(deal) {
    const asOf = deal.score && deal.score.asOf;
    return asOf && daysUntil(asOf) !== 0 ? asOf : null;
  }

  /** Stage (and for how long), close date (overdue flagged), amount and last activity, each a short labelled fact. */
  function facts(deal) {
    const ref = referenceDay(deal);
    let close = null;
    if (deal.closeDate) {
      const left = daysUntil(deal.closeDate, ref);
      close = el("li", { class: "close" + (left < 0 ? " overdue" : "") }, "Closes ", el("strong", {}, day(deal.closeDate)),
        left < 0 ? el("span", { class: "flag" }, `overdue by ${-left} day${left === -1 ? "" : "s"}`) : null);
    }
    return el("ul", { class: "facts" },
      ref ? el("li", { class: "as-of" }, "As of the data of ", el("strong", {}, day(ref)),
        `, ${-daysUntil(ref)} day${daysUntil(ref) === -1 ? "" : "s"} ago`) : null,
      deal.stage ? el("li", { class: "stage" }, "Stage ", el("strong", {}, words(deal.stage)), inStage(deal, ref)) : null,
      close,
      given(deal.amount) ? el("li", { class: "amount" }, config.currency ? null : "Amount ", el("strong", {}, money(deal.amount)))
        : null,
      lastActivity(deal, ref));
  }

  /** A path as a chain of named boxes and arrows worded as a person would; names wrap, never cut.
   *  A fact of the deal itself (its stage, close date, activity) is a one-step path: one "this deal" chip. */
  function pathChain(path) {
    const colour = palette.direction[path.direction] || palette.neutral;
    const own = path.steps.length === 1;
    return el("ol", { class: "chain" + (own ? " own" : ""),
      "aria-label": own ? "A fact of this deal" : "The path from this deal to the evidence" },
      path.steps.flatMap((step, i) => {
        const node = el("li", { class: "node" },
          el("span", { class: "label" }, own ? "this deal" : step.label),
          el("span", { class: "name" + (step.name ? "" : " unseen") }, step.name || "not visible to you"));
        node.style.background = palette.fills[step.label] || palette.defaultFill;
        node.style.borderColor = colour;
        if (!i) return node;
        const link = el("li", { class: "link" }, el("span", { class: "arrow", "aria-hidden": "true" }, "→"),
          " ", relationWords(step));
        link.style.color = palette.muted;
        return [link, node];
      }));
  }

  function reasonItem(path, index) {
    const raises = path.direction === "raises";
    return el("li", {}, el("details", { class: "path " + (raises ? "raises" : "lowers"), "data-path": index },
      el("summary", {},
        el("span", { class: "sign", "aria-hidden": "true" }, raises ? "▲" : "▼"),
        el("span", { class: "sentence" }, path.text,
          el("span", { class: "effect-word" }, raises ? " Raises the chance." : " Lowers the chance."))),
      el("figure", {}, pathChain(path),
        el("figcaption", {}, (path.steps.length === 1 ? "A fact of this deal as of its scoring, compared with "
          : "Compared with ") + `${path.reference || "a typical deal"}.`))));
  }

  function stepItem(suggestion) {
    // The sentence says what to do ("Involve …", "Ask …"): no kind label before it.
    return el("li", { class: "step", "data-kind": suggestion.kind }, suggestion.text,
      given(suggestion.effect) ? null : el("span", { class: "from" }, " The model cannot estimate this one."));
  }

  /** "How sure are these reasons": fidelity and the model's test quality, in words a rep reads. */
  function howSure(explanation, score) {
    const lines = [];
    if (given(explanation.fidelity)) {
      const mine = explanation.fidelity, random = explanation.randomFidelity;
      lines.push(`Hiding the links behind these reasons from the model moves this score by ${finePts(mine)}.`);
      if (given(random)) {
        lines.push(`Hiding the same number of random links of this deal moves it by ${finePts(random)}.`);
        const ratio = random > 0 ? mine / random : Infinity;
        lines.push(ratio >= 3 ? "So these reasons matter much more than the deal's other links: trust them."
          : ratio >= 1.5 ? "So these reasons matter more than the deal's other links, though not by far."
            : "So these reasons matter about as much as other links of the deal: take them as hints only.");
      }
    } else {
      lines.push("There is no measure yet of how much these reasons move the score.");
    }
    const q = score && score.quality;
    if (q && given(q.auroc)) {
      lines.push(`${QUALITY_WORDS[q.aurocBand] || "The model's ranking of past deals is unknown"}` +
        (given(q.n) ? ` (${q.n} deals it had not seen)` : "") + ".");
    }
    return el("details", { class: "sure" }, el("summary", {}, "How sure are these reasons?"),
      lines.map((line) => el("p", {}, line)));
  }

  function whySection(deal) {
    const explanation = deal.explanation;
    const paths = explanation ? explanation.paths : [];
    if (!paths.length) {
      return el("p", { class: "meta" }, deal.score ? "No reasons are stored for this score." : null);
    }
    const suggestions = explanation.suggestions || [];
    const [first, ...otherSteps] = suggestions;
    const rest = paths.slice(FIRST_REASONS);
    const more = rest.length + otherSteps.length;
    return el("section", { class: "why", "aria-label": "Why: " + (deal.name || deal.id) },
      el("h4", {}, "Why, compared with a typical deal"),
      el("ol", { class: "paths" }, paths.slice(0, FIRST_REASONS).map(reasonItem)),
      first ? el("div", { class: "next-step" }, el("h4", {}, "Next step"), el("ul", {}, stepItem(first))) : null,
      more ? el("details", { class: "more" },
        el("summary", {}, `More: ${[rest.length ? `${rest.length} more reason${rest.length > 1 ? "s" : ""}` : null,
          otherSteps.length ? `${otherSteps.length} more step${otherSteps.length > 1 ? "s" : ""}` : null]
          .filter(Boolean).join(", ")}`),
        rest.length ? el("ol", { class: "paths", start: FIRST_REASONS + 1 },
          rest.map((p, i) => reasonItem(p, i + FIRST_REASONS))) : null,
        otherSteps.length ? el("ul", { class: "steps" }, otherSteps.map(stepItem)) : null) : null,
      howSure(explanation, deal.score));
  }

  /** One deal: `context` is {modelVersion, withAccount, send} (send: the widget's GraphQL call, for feedback). */
  function dealCard(deal, context) {
    const score = deal.score;
    const who = [
      context.withAccount && deal.account ? deal.account.name : null,
      deal.owner && deal.owner.name ? "owner " + deal.owner.name : null,
    ].filter(Boolean).join(" · ");
    const stale = score && context.modelVersion && score.modelVersion !== context.modelVersion
      ? ` by model ${score.modelVersion}` : "";
    return el("article", { class: "deal", "data-deal-id": deal.id },
      el("h3", {}, deal.name || deal.id),
      who ? el("p", { class: "meta" }, who) : null,
      scoreBlock(score),
      facts(deal),
      whySection(deal),
      score ? el("p", { class: "meta scored" }, `Scored ${day(score.scoredAt)}${stale}.`) : null,
      score ? window.dealgraph.feedbackForm(deal, context.send) : null);
  }

  window.dealgraph.dealCard = dealCard;
})();
