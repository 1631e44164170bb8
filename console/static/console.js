// Herald console: the few behaviours every page shares, on top of htmx.
// Toasts, problem details shown next to their fields, confirm dialogs, the loading bar.
(function () {
  "use strict";

  function toast(message, kind) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    var item = document.createElement("div");
    item.className = "toast" + (kind === "error" ? " error" : "");
    item.setAttribute("role", kind === "error" ? "alert" : "status");
    item.textContent = message;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, kind === "error" ? 8000 : 4000);
  }
  window.heraldToast = toast;

  function clearFieldErrors(root) {
    root.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
    root.querySelectorAll("[aria-invalid]").forEach(function (e) {
      e.removeAttribute("aria-invalid");
      e.removeAttribute("aria-describedby");
    });
  }

  // A problem+json answer: its detail as a toast, each field's message under the field.
  function showProblem(elt, xhr) {
    var problem = null;
    try { problem = JSON.parse(xhr.responseText); } catch (e) { problem = null; }
    if (!problem) {
      toast(xhr.status ? "The server answered " + xhr.status : "The server did not answer", "error");
      return;
    }
    var form = elt.closest("form") || elt;
    var placed = false;
    (problem.errors || []).forEach(function (error, i) {
      var name = (error.field || "").split(".").pop();
      var field = name && form.querySelector('[name="' + CSS.escape(name) + '"]');
      if (!field) return;
      var note = document.createElement("p");
      note.className = "field-error";
      note.id = "error-" + name + "-" + i;
      note.textContent = error.message;
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", note.id);
      (field.closest("label") || field).insertAdjacentElement("afterend", note);
      if (!placed) field.focus();
      placed = true;
    });
    toast(problem.detail || problem.title, "error");
  }

  var pending = 0;
  function busy(delta) {
    pending = Math.max(0, pending + delta);
    document.body.classList.toggle("busy", pending > 0);
  }

  // Every htmx request carries the page's CSRF token; listened for at once, not on
  // DOMContentLoaded, so that a request htmx makes as the page loads carries it too.
  document.addEventListener("htmx:configRequest", function (event) {
    var csrf = document.querySelector('meta[name="csrf-token"]');
    if (csrf) event.detail.headers["X-CSRF-Token"] = csrf.content;
  });

  // A search box refreshes its list as it is typed in (its input events). Its change event,
  // when it is left, would refresh the list once more and wipe what was meanwhile typed or
  // ticked in that list: it goes no further than the box.
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches('input[type="search"]')) event.stopPropagation();
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    var body = document.body;
    if (body.dataset.toast) {
      toast(body.dataset.toast);
      var url = new URL(window.location.href);
      url.searchParams.delete("toast");
      window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
    // A time picked in the browser is read in the browser's time zone: its offset goes along.
    document.querySelectorAll("[data-utc-offset]").forEach(function (input) {
      input.value = String(-new Date().getTimezoneOffset());
    });
    // A plain form (sign-in, sign-out) shows the loading bar too.
    document.addEventListener("submit", function (event) {
      if (!event.target.hasAttribute("hx-post") && !event.defaultPrevented) busy(1);
    });
    body.addEventListener("herald:toast", function (event) { toast(event.detail.message); });
    body.addEventListener("htmx:beforeRequest", function (event) {
      busy(1);
      var form = event.detail.elt.closest("form");
      if (form) {
        clearFieldErrors(form);
        form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      }
    });
    body.addEventListener("htmx:afterRequest", function (event) {
      busy(-1);
      var form = event.detail.elt.closest("form");
      if (form) form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      if (form && event.detail.successful && form.hasAttribute("data-reset")) form.reset();
      if (event.detail.failed && event.detail.xhr) showProblem(event.detail.elt, event.detail.xhr);
    });
    body.addEventListener("htmx:sendError", function () { toast("The server did not answer; try again", "error"); });
    // Destructive actions (hx-confirm) ask in a real dialog, not the browser's prompt.
    body.addEventListener("htmx:confirm", function (event) {
      var question = event.detail.question;
      if (!question) return;
      event.preventDefault();
      var dialog = document.getElementById("confirm");
      document.getElementById("confirm-text").textContent = question;
      dialog.returnValue = "";
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        if (dialog.returnValue === "ok") event.detail.issueRequest(true);
      });
      dialog.showModal();
      document.getElementById("confirm-ok").focus();
    });
  });
})();
