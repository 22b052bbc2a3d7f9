/* dealgraph CRM widget: one deal, or one account's open deals and people, with win probabilities
 * and the reasons behind them.
 *
 * Plain JavaScript, no dependencies, nothing from outside this origin (dom.js, deal-card.js and
 * feedback.js load first). The page shell (api/widget.py) carries the deal or account id, the
 * GraphQL query and the path palette in #widget-config; this script asks /graphql once with the
 * rep's own credential and draws the answer. The credential comes from the host CRM, in the URL fragment (#token=…,
 * never sent to a server) or by postMessage({type: "dealgraph:token", token}) from the
 * parent frame, and lives in this script's memory only: never in storage or cookies.
 */
(function () {
  "use strict";

  const { config, el } = window.dealgraph;
  const root = document.getElementById("widget");
  const ROLE_ORDER = ["economic buyer", "decision maker", "champion", "influencer", "user"];
  const KEY_CONTACTS = 6;
  const WAIT_FOR_HOST_MS = 3000;
  const words = window.dealgraph.words;
  const forDeal = config.kind === "deal";

  let token = null;
  let generation = 0; // answers to an older token that arrive late are dropped

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

  /** One GraphQL call with the rep's credential: {ok, status, body, requestId}; status 0 when unreachable. */
  async function send(operationName, query, variables) {
    try {
      const response = await fetch(config.endpoint, {
        method: "POST",
        credentials: "omit", // the bearer header is the only credential; no cookies ride along
        cache: "no-store",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
        body: JSON.stringify({ query, operationName, variables }),
      });
      const body = await response.json().catch(() => null);
      return { ok: response.ok, status: response.status, body, requestId: response.headers.get("X-Request-ID") };
    } catch (error) {
      return { ok: false, status: 0, body: null, requestId: null };
    }
  }

  async function load() {
    const mine = ++generation;
    if (!token) return showSignIn();
    setState("loading");
    const answer = await send(forDeal ? "DealWidget" : "AccountWidget", config.query, { id: config.id, top: config.top });
    if (mine !== generation) return;
    const { body, status } = answer;
    if (status === 0) return showMessage("error", "dealgraph cannot be reached", "Check the connection and reload.");
    const reference = answer.requestId ? `Reference: ${answer.requestId}.` : null;
    const firstError = body && body.errors && body.errors.length ? body.errors[0].message : null;
    if (status === 401) {
      return showMessage("unauthorized", "Your credentials were not accepted",
        (firstError ? firstError + ". " : "") +
        "Ask your CRM administrator for a new dealgraph key, or sign in again.");
    }
    const found = body && body.data ? body.data[config.kind] : null;
    if (!answer.ok || !body || (firstError && !found)) {
      return showMessage("error", "dealgraph could not answer", firstError || `The server answered HTTP ${status}.`,
        reference);
    }
    if (!found) {
      return showMessage("missing", `No ${config.kind} to show`,
        `dealgraph has no ${config.kind} ${config.id} that you may see: it may not be loaded yet, ` +
        "or it belongs to another rep's book.");
    }
    if (forDeal) renderDeal(found, body.data.model);
    else render(found, body.data.model);
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

  const footer = (modelVersion) => el("footer", {},
    modelVersion ? `Chances by dealgraph model ${modelVersion}. ` : "No model has scored yet. ",
    "Reasons are the links of the deal that moved its score most; next steps are hints, not facts.");

  function drawn() {
    setState("ready");
    // Time from navigation start to a drawn page, for the page tests and anyone profiling an embed.
    root.dataset.renderedMs = String(Math.round(performance.now()));
  }

  function render(account, model) {
    const deals = account.openDeals;
    const versions = [...new Set(deals.filter((d) => d.score).map((d) => d.score.modelVersion))];
    const modelVersion = model ? model.version : versions[0] || null;
    document.title = `${account.name || account.id} · dealgraph`;
    const context = { modelVersion, withAccount: false, send };
    // Deals before people: in a 360 px side panel the first deal's score is above the fold.
    root.replaceChildren(
      accountHeader(account),
      el("section", { class: "deals", "aria-labelledby": "deals-title" },
        el("h2", { id: "deals-title" }, `Open deals (${deals.length})`),
        deals.length ? deals.map((d) => window.dealgraph.dealCard(d, context))
          : el("p", { class: "meta" }, "No open deals.")),
      el("div", { class: "side" }, contactsSection(account)),
      footer(modelVersion));
    drawn();
  }

  function renderDeal(deal, model) {
    const modelVersion = model ? model.version : deal.score ? deal.score.modelVersion : null;
    document.title = `${deal.name || deal.id} · dealgraph`;
    root.replaceChildren(window.dealgraph.dealCard(deal, { modelVersion, withAccount: true, send }), footer(modelVersion));
    root.classList.add("one-deal");
    drawn();
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
    window.parent.postMessage({ type: "dealgraph:ready", [config.kind + "Id"]: config.id }, "*");
  }
})();
