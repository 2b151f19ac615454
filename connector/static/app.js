// Light progressive enhancement only: every page works without JavaScript.
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest("[data-copy]");
  if (!btn) return;
  var source = document.getElementById(btn.getAttribute("data-copy"));
  if (!source) return;
  var text = source.value !== undefined ? source.value : source.textContent;
  var done = function () {
    var old = btn.textContent;
    btn.textContent = "Copied";
    var live = document.getElementById("copy-status");
    if (live) live.textContent = "Copied to the clipboard.";
    setTimeout(function () { btn.textContent = old; }, 2000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { source.select && source.select(); });
  } else {
    if (source.select) source.select();
    try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
  }
});

// Select-all checkbox for bulk actions.
document.addEventListener("change", function (ev) {
  if (!ev.target.matches("[data-select-all]")) return;
  var form = ev.target.form || document.getElementById(ev.target.getAttribute("form"));
  document.querySelectorAll('input[name="user_id"]').forEach(function (box) {
    box.checked = ev.target.checked;
  });
});

// Confirm destructive actions (the server still checks everything).
document.addEventListener("submit", function (ev) {
  var msg = ev.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) ev.preventDefault();
});

// Live progress of a background job: poll its JSON status until it finishes.
document.querySelectorAll("[data-progress-url]").forEach(function (box) {
  var bar = box.querySelector("progress"), label = box.querySelector("[data-progress-label]");
  var tick = function () {
    fetch(box.getAttribute("data-progress-url"), {headers: {"Accept": "application/json"},
                                                 credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (job) {
        var total = job.rows_total || 0, done = job.rows_done || 0;
        if (total) { bar.max = total; bar.value = done; }
        label.textContent = job.status + (total ? " — " + done.toLocaleString() + " of " +
                                          total.toLocaleString() + " rows" : "") +
                            (job.rate ? " (" + job.rate + " rows/s)" : "");
        if (job.status === "done" || job.status === "failed") {
          box.setAttribute("data-status", job.status);
          var after = box.getAttribute("data-done-url");
          if (after) window.location.assign(after);
        } else {
          setTimeout(tick, 700);
        }
      })
      .catch(function () { setTimeout(tick, 2000); });
  };
  tick();
});

// SSO presets: suggest the provider's issuer form when the field is still empty.
document.addEventListener("change", function (ev) {
  if (ev.target.id !== "o-preset") return;
  var issuer = document.getElementById("o-issuer");
  var hint = ev.target.selectedOptions[0].getAttribute("data-issuer");
  if (issuer && hint) issuer.placeholder = hint;
});
