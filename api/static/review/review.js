/* The RevOps deal review: sort the table by any column, filter it by rep, stage, close month or text, and keep
 * the footer's totals to the rows shown. Inlined into the page by api/review.py: it works from a file, offline. */
(function () {
  "use strict";
  const pick = (id) => document.getElementById(id);
  const table = pick("deals");
  const body = table.tBodies[0];
  const rows = [...body.rows];
  const money = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

  function apply() {
    const rep = pick("f-rep").value, stage = pick("f-stage").value, month = pick("f-month").value;
    const text = pick("f-text").value.trim().toLowerCase();
    let shown = 0, amount = 0, weighted = 0;
    for (const row of rows) {
      const d = row.dataset;
      const ok = (!rep || d.rep === rep) && (!stage || d.stage === stage) && (!month || d.month === month) &&
        (!text || row.textContent.toLowerCase().includes(text));
      row.classList.toggle("hidden", !ok);
      if (ok) { shown += 1; amount += Number(d.amount || 0); weighted += Number(d.weighted || 0); }
    }
    pick("count").textContent = `${shown} of ${rows.length} deals`;
    pick("t-count").textContent = `${shown} deals`;
    pick("t-amount").textContent = money.format(amount);
    pick("t-weighted").textContent = money.format(weighted);
  }

  function sortBy(th) {
    const key = th.dataset.key, numeric = th.dataset.type === "number";
    const ascending = th.getAttribute("aria-sort") !== "ascending";
    for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const value = (row) => row.dataset[key] || "";
    rows.sort((a, b) => {
      let order;
      if (numeric) {
        // Rows without a figure (no amount, no earlier score) go last whichever way the column is sorted.
        const x = value(a) === "" ? null : Number(value(a)), y = value(b) === "" ? null : Number(value(b));
        if (x === null || y === null) return (x === null) - (y === null);
        order = x - y;
      } else {
        order = value(a).localeCompare(value(b));
      }
      return ascending ? order : -order;
    });
    body.append(...rows);
  }

  for (const th of table.tHead.rows[0].cells) th.querySelector("button").addEventListener("click", () => sortBy(th));
  const wanted = new URLSearchParams(location.hash.slice(1));
  for (const [key, id] of [["rep", "f-rep"], ["stage", "f-stage"], ["month", "f-month"]]) {
    if (wanted.get(key)) pick(id).value = wanted.get(key);
    pick(id).addEventListener("change", apply);
  }
  pick("f-text").addEventListener("input", apply);
  apply();
})();
