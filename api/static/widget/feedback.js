/* dealgraph widget: "Is something off?" — flag the score or one reason, with a required reason in the
 * rep's own words and, optionally, the chance they would give. Sent through the API's `giveFeedback`
 * mutation (api/graphql/owners.py) with the rep's own credential; recorded in the audit log, never
 * used as a training label.
 */
(function () {
  "use strict";

  const { el } = window.dealgraph;
  const MUTATION = `mutation GiveFeedback($dealId: ID!, $target: FeedbackTarget!, $reason: String!, $path: Int,
    $override: Float) {
  giveFeedback(dealId: $dealId, target: $target, reason: $reason, path: $path, overrideProbability: $override) { seq }
}`;
  let forms = 0; // unique ids for label/field pairs when an account shows several deals

  function feedbackForm(deal, send) {
    const n = ++forms;
    const paths = deal.explanation ? deal.explanation.paths : [];
    const what = el("select", { id: `fb-what-${n}`, name: "what" },
      el("option", { value: "score" }, "The score"),
      paths.map((p, i) => el("option", { value: String(i) }, `Reason ${i + 1}: ${p.text}`)));
    const reason = el("textarea", { id: `fb-reason-${n}`, name: "reason", rows: 3, maxlength: 2000, required: true });
    const override = el("input", {
      id: `fb-override-${n}`, name: "override", type: "number", min: 0, max: 100, step: 1, inputmode: "numeric",
    });
    const status = el("p", { class: "fb-status", role: "status" });
    const button = el("button", { type: "submit" }, "Send");
    const form = el("form", { class: "feedback-form", novalidate: true },
      el("label", { for: what.id }, "What is off?"), what,
      el("label", { for: reason.id }, "Why? (required)"), reason,
      el("label", { for: override.id }, "The chance you would give, in % (optional)"), override,
      button, status);

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = reason.value.trim();
      status.className = "fb-status";
      if (!text) {
        status.classList.add("error");
        status.textContent = "Say why in a few words: feedback without a reason cannot be used.";
        reason.focus();
        return;
      }
      let probability = null;
      if (override.value !== "") {
        const value = Number(override.value);
        if (!Number.isFinite(value) || value < 0 || value > 100) {
          status.classList.add("error");
          status.textContent = "The chance you would give is a number from 0 to 100, or left empty.";
          override.focus();
          return;
        }
        probability = value / 100;
      }
      const onReason = what.value !== "score";
      button.disabled = true;
      status.textContent = "Sending…";
      const answer = await send("GiveFeedback", MUTATION, {
        dealId: deal.id, target: onReason ? "REASON" : "SCORE", reason: text,
        path: onReason ? Number(what.value) : null, override: probability,
      });
      button.disabled = false;
      const errors = answer.body && answer.body.errors;
      if (!answer.ok || !answer.body || (errors && errors.length)) {
        status.classList.add("error");
        status.textContent = "Not sent: " + (errors && errors.length ? errors[0].message
          : answer.status ? `the server answered HTTP ${answer.status}` : "dealgraph cannot be reached") + ".";
        return;
      }
      status.classList.add("sent");
      status.textContent = "Thank you: sent to RevOps. It does not change the score.";
      reason.value = "";
      override.value = "";
    });

    return el("details", { class: "feedback" }, el("summary", {}, "Is something off? Tell us"), form);
  }

  window.dealgraph.feedbackForm = feedbackForm;
})();
