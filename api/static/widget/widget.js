/* dealgraph CRM widget: one account's people, open deals, win probabilities and the reasons behind them.
 *
 * Plain JavaScript, no dependencies, nothing from outside this origin. The page shell
 * (api/widget.py) carries the account id, the GraphQL query and the path palette in
 * #widget-config; this script asks /graphql once with the rep's own credential and draws
 * the answer. The credential comes from the host CRM, in the URL fragment (#token=…,
 * never sent to a server) or by postMessage({type: "dealgraph:token", token}) from the
 * parent frame, and lives in this script's memory only: never in storage or cookies.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("widget-config").textContent);
  const root = document.getElementById("widget");
  const palette = config.palette;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ROLE_ORDER = ["economic buyer", "decision maker", "champion", "influencer", "user"];
  const KEY_CONTACTS = 6;
  const WAIT_FOR_HOST_MS = 3000;
  const numbers = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const days = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });

  let token = null;
  let generation = 0; // answers to an older token that arrive late are dropped

  // ---------------------------------------------------------------- DOM helpers

  /** An element with attributes and children; strings become text nodes (never parsed as HTML). */
  function el(tag, attrs, ...children) {
    const node = tag.startsWith("svg:") ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  const hidden = (text) => el("span", { class: "sr-only" }, text);
  const pts = (probability) => Math.round(100 * probability);
  /** A small probability change in points, to a tenth (fidelity figures are often well under one point). */
  const finePts = (delta) => (100 * delta < 0.05 ? "under 0.1" : (100 * delta).toFixed(1)) + " pts";
  /** CRM picklist values (economic_buyer) as words. */
  const words = (value) => String(value).replace(/_/g, " ");
  const day = (iso) => (iso ? days.format(new Date(iso.length === 10 ? iso + "T00:00:00" : iso)) : null);
  const cssName = (value) => String(value || "").toLowerCase().replace(/[^a-z]+/g, "-");

  // ---------------------------------------------------------------- states

  function setState(state) {
    root.dataset.state = state;
    root.setAttribute("aria-busy", state === "loading" ? "true" : "false");
  }

  function showMessage(state, title, ...lines) {
    root.replaceChildren(el("section", { class: "message " + state, role: state === "waiting" ? "status" : "alert" },
      el("h1", {}, title), lines.filter(Boolean).map((line) => el("p", {}, line))));
    setState(state);
  }

  function showSignIn() {
    showMessage("signin", "Sign-in needed",
      "This widget shows dealgraph scores with your own credentials, and it has none yet.",
      "Your CRM administrator embeds it with the link ending in #token=… or has the CRM send your token " +
      "(see docs/widget.md). Reload the page once you are signed in to the CRM.");
  }

  // ---------------------------------------------------------------- the one request

  async function load() {
    const mine = ++generation;
    if (!token) return showSignIn();
    setState("loading");
    let response, body;
    try {
      response = await fetch(config.endpoint, {
        method: "POST",
        credentials: "omit", // the bearer header is the only credential; no cookies ride along
        cache: "no-store",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
        body: JSON.stringify({
          query: config.query, operationName: "AccountWidget", variables: { id: config.accountId, top: config.top },
        }),
      });
      body = await response.json().catch(() => null);
    } catch (error) {
      if (mine === generation) showMessage("error", "dealgraph cannot be reached", "Check the connection and reload.");
      return;
    }
    if (mine !== generation) return;
    const requestId = response.headers.get("X-Request-ID");
    const reference = requestId ? `Reference: ${requestId}.` : null;
    const firstError = body && body.errors && body.errors.length ? body.errors[0].message : null;
    if (response.status === 401) {
      return showMessage("unauthorized", "Your credentials were not accepted",
        (firstError ? firstError + ". " : "") +
        "Ask your CRM administrator for a new dealgraph key, or sign in again.");
    }
    const account = body && body.data ? body.data.account : null;
    if (!response.ok || !body || (firstError && !account)) {
      return showMessage("error", "dealgraph could not answer",
        firstError || `The server answered HTTP ${response.status}.`, reference);
    }
    if (!account) {
      return showMessage("missing", "No account to show",
        `dealgraph has no account ${config.accountId} that you may see: it may not be loaded yet, ` +
        "or it belongs to another rep's book.");
    }
    render(account, body.data.model);
  }

  // ---------------------------------------------------------------- the account and its people

  function accountHeader(account) {
    const facts = [account.industry, account.country].filter(Boolean).join(" · ");
    return el("header", { class: "account" },
      el("h1", {}, account.name || account.id),
      facts ? el("p", { class: "meta" }, facts) : null,
      account.parent
        ? el("p", { class: "meta" }, "Part of ", el("strong", {}, account.parent.name || account.parent.id))
        : null);
  }

  /** Contacts on the open deals, most senior role first, with every role they play. */
  function keyContacts(account) {
    const byId = new Map();
    for (const deal of account.openDeals) {
      for (const link of deal.contacts) {
        const entry = byId.get(link.contact.id) ||
          { contact: link.contact, roles: new Set(), primary: false, deals: 0 };
        if (link.role) entry.roles.add(link.role);
        entry.primary = entry.primary || link.isPrimary;
        entry.deals += 1;
        byId.set(link.contact.id, entry);
      }
    }
    const rank = (entry) => Math.min(9, ...[...entry.roles].map((role) => {
      const at = ROLE_ORDER.indexOf(words(role).toLowerCase());
      return at < 0 ? 9 : at;
    }));
    return [...byId.values()].sort((a, b) => rank(a) - rank(b) || b.deals - a.deals ||
      String(a.contact.name).localeCompare(String(b.contact.name)));
  }

  function contactItem(contact, roles, primary) {
    return el("li", {},
      el("span", { class: "name" }, contact.name || "(no name)"),
      roles.map((role) => el("span", { class: "role" }, words(role))),
      primary ? el("span", { class: "role primary" }, "primary") : null,
      contact.title ? el("span", { class: "title" }, contact.title) : null);
  }

  function contactsSection(account) {
    const key = keyContacts(account);
    const everyone = [...account.contacts].sort((a, b) => String(a.name).localeCompare(String(b.name)));
    const shown = key.slice(0, KEY_CONTACTS);
    return el("section", { class: "contacts", "aria-labelledby": "contacts-title" },
      el("h2", { id: "contacts-title" }, "Key contacts"),
      shown.length
        ? el("ul", { class: "people" }, shown.map((e) => contactItem(e.contact, [...e.roles], e.primary)))
        : el("p", { class: "meta" }, "Nobody is on an open deal yet."),
      everyone.length
        ? el("details", { class: "everyone" },
          el("summary", {}, `Everyone at ${account.name || "the account"} (${everyone.length})`),
          el("ul", { class: "people" }, everyone.map((c) => contactItem(c, [], false))))
        : null);
  }

  // ---------------------------------------------------------------- a deal: score, trend, reasons

  function trend(score) {
    if (score.previousProbability === null || score.previousProbability === undefined) return null;
    const delta = pts(score.probability) - pts(score.previousProbability);
    const was = `was ${pts(score.previousProbability)}%`;
    if (delta === 0) return el("span", { class: "trend flat", title: was }, "no change since last score");
    const up = delta > 0;
    return el("span", { class: "trend " + (up ? "up" : "down"), title: was },
      el("span", { "aria-hidden": "true" }, up ? "▲ " : "▼ "),
      `${up ? "+" : "−"}${Math.abs(delta)} pts since last score`);
  }

  /** The model's held-out quality in words: shown wherever a score is. */
  function qualityNote(score) {
    const q = score.quality;
    if (!q || q.auroc === null || q.auroc === undefined) return null;
    const ece = q.ece === null || q.ece === undefined ? "" : `, calibration error ${finePts(q.ece)}`;
    return el("p", { class: "meta quality" },
      `Model quality on its test period: ranking ${q.aurocBand} (AUROC ${q.auroc.toFixed(2)})${ece}.`);
  }

  function scoreBlock(score) {
    if (!score) return el("p", { class: "score unscored" }, "Not scored yet.");
    if (score.state === "no_skill") {
      // No band: a model that did not beat the base rate must not look like a judgement of the deal.
      return el("div", { class: "score no-skill" },
        el("span", { class: "pct" }, `${pts(score.probability)}%`, hidden(" base win rate")),
        el("span", { class: "band band-no-skill" }, "no skill"),
        el("p", { class: "meta caveat" },
          "This is the base win rate, not a judgement of this deal: the model did not beat the baseline on " +
          "its test period."));
    }
    const fill = el("span", { class: "fill" });
    fill.style.width = pts(score.probability) + "%"; // CSSOM, allowed by the page's strict style-src
    return el("div", { class: "score" },
      el("span", { class: "pct" }, `${pts(score.probability)}%`, hidden(" win probability")),
      el("span", { class: "bar", "aria-hidden": "true" }, fill),
      el("span", { class: "band band-" + cssName(score.band) }, score.band, hidden(" band")),
      trend(score));
  }

  const GEOMETRY = {
    wide: { box: 196, height: 40, gap: 76, top: 16 }, // a row of nodes, relation names above the links
    narrow: { box: 260, height: 38, gap: 30, top: 2 }, // a column of nodes for side panels
  };

  const relationName = (step) => (step.relation || "").toLowerCase().replace(/_/g, " ");
  const clip = (text, n) => (text.length > n ? text.slice(0, n - 1) + "…" : text);

  /** A path as a small graph: typed nodes joined by arrows that point the way each relation runs. */
  function pathSvg(path, shape) {
    const g = GEOMETRY[shape];
    const steps = path.steps;
    const colour = palette.direction[path.direction] || palette.neutral;
    const wide = shape === "wide";
    const width = wide ? steps.length * g.box + (steps.length - 1) * g.gap + 2 : g.box + 2;
    const height = wide ? g.top + g.height + 2 : steps.length * g.height + (steps.length - 1) * g.gap + 2 * g.top;
    const svg = el("svg:svg", {
      class: "graph-" + shape, width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": steps.map((s) => `${s.label} ${s.name || "(not visible to you)"}`).join(", then "),
    });
    steps.forEach((step, i) => {
      const x = wide ? 1 + i * (g.box + g.gap) : 1;
      const y = wide ? g.top : g.top + i * (g.height + g.gap);
      if (i) svg.append(link(step, x, y, g, colour, wide));
      const name = step.name || "not visible to you";
      svg.append(el("svg:g", { class: "node" },
        el("svg:title", {}, `${step.label}: ${name}`),
        el("svg:rect", {
          x, y, width: g.box, height: g.height, rx: 6, fill: palette.fills[step.label] || palette.defaultFill,
          stroke: colour, "stroke-width": 1.5,
        }),
        el("svg:text", { x: x + 8, y: y + 14, "font-size": 10, fill: palette.muted }, step.label),
        el("svg:text", {
          x: x + 8, y: y + 30, "font-size": 12, fill: palette.ink, "font-style": step.name ? null : "italic",
        }, clip(name, wide ? 28 : 38))));
    });
    return svg;
  }

  /** The arrow into step at (x, y) from the one before it, labelled with the relation walked. */
  function link(step, x, y, g, colour, wide) {
    const backwards = step.direction === "in"; // walked against the relation: the arrow points back
    let line, head, label;
    if (wide) {
      const mid = y + g.height / 2, x0 = x - g.gap, x1 = x - 1;
      line = { x1: x0, y1: mid, x2: x1, y2: mid };
      head = backwards ? `${x0},${mid} ${x0 + 8},${mid - 4.5} ${x0 + 8},${mid + 4.5}`
        : `${x1},${mid} ${x1 - 8},${mid - 4.5} ${x1 - 8},${mid + 4.5}`;
      label = { x: x - g.gap / 2, y: y - 4, "text-anchor": "middle" };
    } else {
      const cx = x + 20, y0 = y - g.gap, y1 = y - 1;
      line = { x1: cx, y1: y0, x2: cx, y2: y1 };
      head = backwards ? `${cx},${y0} ${cx - 4.5},${y0 + 8} ${cx + 4.5},${y0 + 8}`
        : `${cx},${y1} ${cx - 4.5},${y1 - 8} ${cx + 4.5},${y1 - 8}`;
      label = { x: cx + 12, y: y - g.gap / 2 + 4 };
    }
    return el("svg:g", { class: "link" },
      el("svg:line", { ...line, stroke: colour, "stroke-width": 2 }),
      el("svg:polygon", { points: head, fill: colour }),
      el("svg:text", { ...label, "font-size": 10, fill: palette.muted }, relationName(step)));
  }

  function pathItem(path, index) {
    const raises = path.direction === "raises";
    const weight = (path.weight >= 0 ? "+" : "−") + Math.abs(path.weight).toFixed(3);
    return el("li", {}, el("details", { class: "path " + (raises ? "raises" : "lowers"), "data-path": index },
      el("summary", {},
        el("span", { class: "sign", "aria-hidden": "true" }, raises ? "▲" : "▼"),
        hidden(raises ? "Raises the score: " : "Lowers the score: "),
        el("span", { class: "sentence" }, path.text)),
      el("figure", {},
        pathSvg(path, "wide"), pathSvg(path, "narrow"),
        el("figcaption", {}, `Reason ${index + 1}: ${raises ? "raises" : "lowers"} the score (weight ${weight}), ` +
          `${path.steps.length - 1} link${path.steps.length === 2 ? "" : "s"} from this deal.`))));
  }

  function suggestionsBlock(suggestions) {
    if (!suggestions || !suggestions.length) return null;
    return el("div", { class: "suggestions" },
      el("h4", {}, "Suggested next steps"),
      el("ul", {}, suggestions.map((s) => el("li", {},
        el("span", { class: "kind kind-" + cssName(s.kind) }, s.kind), " ", s.text,
        s.path == null ? null : el("span", { class: "from" }, ` (reason ${s.path + 1})`)))));
  }

  function fidelityNote(explanation) {
    if (explanation.fidelity === null || explanation.fidelity === undefined) return null;
    const random = explanation.randomFidelity;
    return el("p", { class: "fidelity" },
      `Without these reasons the score moves ${finePts(explanation.fidelity)}` +
      (random === null || random === undefined
        ? "."
        : `; without random paths of the same length, ${finePts(random)}.`));
  }

  function dealCard(deal, modelVersion) {
    const score = deal.score;
    const facts = [
      deal.amount !== null && deal.amount !== undefined ? numbers.format(deal.amount) : null,
      deal.stage,
      deal.closeDate ? "closes " + day(deal.closeDate) : null,
      deal.owner && deal.owner.name ? "owner " + deal.owner.name : null,
    ].filter(Boolean).join(" · ");
    const explanation = deal.explanation;
    const paths = explanation ? explanation.paths : [];
    const stale = score && modelVersion && score.modelVersion !== modelVersion ? ` by model ${score.modelVersion}` : "";
    return el("article", { class: "deal", "data-deal-id": deal.id },
      el("h3", {}, deal.name || deal.id),
      facts ? el("p", { class: "meta" }, facts) : null,
      scoreBlock(score),
      score ? el("p", { class: "meta scored" }, `Scored ${day(score.scoredAt)}${stale}`) : null,
      score ? qualityNote(score) : null,
      paths.length
        ? el("section", { class: "why", "aria-label": "Why: " + (deal.name || deal.id) },
          el("h4", {}, "Why"), el("ol", { class: "paths" }, paths.map(pathItem)),
          suggestionsBlock(explanation.suggestions), fidelityNote(explanation))
        : null);
  }

  function render(account, model) {
    const deals = account.openDeals;
    const versions = [...new Set(deals.filter((d) => d.score).map((d) => d.score.modelVersion))];
    const modelVersion = model ? model.version : versions[0] || null;
    document.title = `${account.name || account.id} · dealgraph`;
    root.replaceChildren(
      accountHeader(account),
      el("div", { class: "side" }, contactsSection(account)),
      el("section", { class: "deals", "aria-labelledby": "deals-title" },
        el("h2", { id: "deals-title" }, `Open deals (${deals.length})`),
        deals.length ? deals.map((d) => dealCard(d, modelVersion)) : el("p", { class: "meta" }, "No open deals.")),
      el("footer", {},
        modelVersion ? `Win probabilities by dealgraph model ${modelVersion}. ` : "No model has scored yet. ",
        "Reasons are the relationship paths that moved each score most; suggestions are hints, not facts."));
    setState("ready");
    // Time from navigation start to a drawn account, for the page tests and anyone profiling an embed.
    root.dataset.renderedMs = String(Math.round(performance.now()));
  }

  // ---------------------------------------------------------------- the credential

  function tokenFromFragment() {
    const value = new URLSearchParams(location.hash.slice(1)).get("token");
    if (value) {
      // Out of the address bar and history, so a copied link or a bookmark never carries it.
      history.replaceState(null, "", location.pathname + location.search);
    }
    return value;
  }

  window.addEventListener("message", (event) => {
    // Only the frame that embeds this page speaks for the rep (not another tab, frame or popup).
    if (window.parent === window || event.source !== window.parent) return;
    const data = event.data;
    if (!data || data.type !== "dealgraph:token" || typeof data.token !== "string" || !data.token.trim()) return;
    token = data.token.trim();
    load();
  });

  const framed = window.parent !== window;
  token = tokenFromFragment();
  if (token || !framed) {
    load();
  } else {
    // Framed without a fragment: the host sends the token by postMessage in a moment.
    showMessage("waiting", "Signing in…", "Waiting for your CRM to pass on your dealgraph sign-in.");
    setTimeout(() => { if (!token) showSignIn(); }, WAIT_FOR_HOST_MS);
  }
  if (framed) {
    // Tells the host it may send (or refresh) the token now; nothing secret is in it.
    window.parent.postMessage({ type: "dealgraph:ready", accountId: config.accountId }, "*");
  }
})();
