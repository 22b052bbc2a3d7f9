/* dealgraph widget: DOM and wording helpers shared by the widget's scripts (loaded first).
 *
 * Everything lands on window.dealgraph; strings always become text nodes, never HTML.
 */
(function () {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";
  const config = JSON.parse(document.getElementById("widget-config").textContent);
  // The server passes any three capitals; Intl would draw one that is no currency (?currency=XYZ, a typo) as if it
  // were ("XYZ 32,100"). Only a code this browser knows as a currency is used; else the amount is a plain number.
  if (config.currency && Intl.supportedValuesOf && !Intl.supportedValuesOf("currency").includes(config.currency)) {
    config.currency = null;
  }
  const numbers = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const days = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
  const DAY_MS = 86_400_000;

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

  const given = (value) => value !== null && value !== undefined;
  const hidden = (text) => el("span", { class: "sr-only" }, text);
  const pts = (probability) => Math.round(100 * probability);
  /** A small probability change in points, to a tenth (fidelity figures are often well under one point). */
  const finePts = (delta) => (Math.abs(100 * delta) < 0.05 ? "under 0.1" : Math.abs(100 * delta).toFixed(1)) + " points";
  /** CRM picklist values (economic_buyer) as words. */
  const words = (value) => String(value).replace(/_/g, " ");
  const day = (iso) => (iso ? days.format(new Date(iso.length === 10 ? iso + "T00:00:00" : iso)) : null);
  const cssName = (value) => String(value || "").toLowerCase().replace(/[^a-z]+/g, "-");

  /** An amount in the host CRM's currency when the page was given one (?currency=EUR), else as a plain number. */
  function money(amount) {
    if (!given(amount)) return null;
    if (!config.currency) return numbers.format(amount);
    return new Intl.NumberFormat(undefined, { style: "currency", currency: config.currency, maximumFractionDigits: 0 })
      .format(amount);
  }

  /** Whole days from a reference day (`fromIso`, else today on the reader's calendar) to an ISO date: negative once
   * it has passed. */
  function daysUntil(isoDate, fromIso) {
    let midnight;
    if (fromIso) {
      const [fy, fm, fd] = fromIso.slice(0, 10).split("-").map(Number);
      midnight = Date.UTC(fy, fm - 1, fd);
    } else {
      const today = new Date();
      midnight = Date.UTC(today.getFullYear(), today.getMonth(), today.getDate());
    }
    const [y, m, d] = isoDate.slice(0, 10).split("-").map(Number);
    return Math.round((Date.UTC(y, m - 1, d) - midnight) / DAY_MS);
  }

  /** The words on an arrow: what a person calls the relation walked (api/widget.py passes gnn/path_style's). */
  function relationWords(step) {
    if (!step.relation) return "";
    const known = config.relations[step.relation];
    if (!known) return step.relation.toLowerCase().replace(/_/g, " ");
    return known[step.direction === "in" ? "in" : "out"];
  }

  window.dealgraph = {
    config, el, given, hidden, pts, finePts, words, day, cssName, money, daysUntil, relationWords,
  };
})();
