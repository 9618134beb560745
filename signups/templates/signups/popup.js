/* The signup pop-up of one subscription point, drawn in the shop's page.

   It opens once per visitor (remembered in localStorage, or in a cookie where
   that is blocked), after a delay or when the pointer leaves through the top
   of the window, as a modal dialog in a shadow root: the shop's styles
   neither hide nor restyle it, and its own styles come from a constructed
   stylesheet, which a Content-Security-Policy without 'unsafe-inline' still
   allows. It posts JSON across origins to the point (CORS: the point's
   allowed origins only). The server fills in the settings at the bottom;
   nothing is added to the page's globals. */
(function (config) {
  "use strict";

  // ASCII only, escapes for the rest: a page without a charset reads scripts in its own.
  var MEMORY = "retailmail-signup-" + config.key;
  var YEAR_SECONDS = 365 * 24 * 3600;
  var WORDS = {
    close: "Close",
    sending: "Sending\u2026",
    preview: "Preview: nothing is sent",
    previewNote: "This is a preview: nothing was sent.",
    offline:
      "Your signup could not be sent: the signup service did not answer. Please press the button again in a moment.",
    busy: "Too many signups just now; please try again in a few minutes.",
    failed: "Your signup could not be taken just now; please press the button again.",
    required: "Fields marked * are required.",
  };
  // Autofill hints for the usual profile fields, by their name.
  var AUTOCOMPLETE = {
    "first name": "given-name",
    "last name": "family-name",
    name: "name",
    phone: "tel",
    "zip code": "postal-code",
    "postal code": "postal-code",
    birthday: "bday",
  };
  var CSS = [
    ":host { all: initial !important; }",
    "dialog { box-sizing: border-box; width: min(26rem, calc(100vw - 2rem)); max-height: calc(100vh - 2rem);",
    "  margin: auto; padding: 0; border: 0; border-radius: 12px; overflow: auto; background: #fff; color: #1f2328;",
    "  font: 16px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; text-align: left;",
    "  box-shadow: 0 16px 48px rgba(0, 0, 0, .35); }",
    "dialog::backdrop { background: rgba(15, 23, 42, .55); }",
    "@media (prefers-reduced-motion: no-preference) { dialog[open] { animation: appear .2s ease-out; } }",
    "@keyframes appear { from { opacity: 0; transform: translateY(.5rem); } }",
    ".panel { position: relative; padding: 1.6rem 1.5rem 1.4rem; }",
    "h2 { margin: 0 2.2rem .4rem 0; font-family: inherit; font-size: 1.4rem; font-weight: 700; line-height: 1.25; }",
    ".intro { margin: 0 0 1rem; color: #57606a; white-space: pre-line; }",
    ".row { margin: 0 0 .9rem; }",
    "label { display: block; margin: 0 0 .3rem; font-size: .95rem; font-weight: 600; }",
    ".box { display: flex; flex-wrap: wrap; align-items: flex-start; gap: .5rem; }",
    ".box label { flex: 1; margin: 0; font-weight: 400; }",
    ".box .error { flex-basis: 100%; }",
    "input, textarea { box-sizing: border-box; width: 100%; margin: 0; padding: .55rem .65rem; font: inherit;",
    "  color: inherit; background: #fff; border: 1px solid #8c959f; border-radius: 6px; }",
    "textarea { resize: vertical; }",
    "input[type=checkbox] { width: 1.15rem; height: 1.15rem; margin: .15rem 0 0; padding: 0; accent-color: #1f6feb; }",
    "input:focus-visible, textarea:focus-visible, button:focus-visible {",
    "  outline: 3px solid rgba(31, 111, 235, .45); outline-offset: 1px; }",
    "[aria-invalid=true] { border-color: #cf222e; }",
    ".required { color: #cf222e; }",
    ".error { margin: .3rem 0 0; color: #cf222e; font-size: .9rem; }",
    ".alert { margin: 0 0 1rem; padding: .6rem .8rem; border: 1px solid #ffb3ad; border-radius: 6px;",
    "  background: #fff1f0; color: #82071e; }",
    ".alert.note { border-color: #d4a72c; background: #fff8c5; color: #4d2d00; }",
    ".legend { margin: -.3rem 0 .9rem; color: #57606a; font-size: .85rem; }",
    ".submit { display: block; width: 100%; padding: .7rem 1rem; font: inherit; font-weight: 600; color: #fff;",
    "  background: #1f6feb; border: 0; border-radius: 6px; cursor: pointer; }",
    ".submit:hover { background: #1a5fd0; }",
    ".submit:disabled { opacity: .7; cursor: progress; }",
    ".close { position: absolute; top: .6rem; right: .6rem; width: 2.25rem; height: 2.25rem; padding: 0;",
    "  font: 1.6rem/1 system-ui, sans-serif; color: #57606a; background: transparent; border: 0;",
    "  border-radius: 50%; cursor: pointer; }",
    ".close:hover { background: #eaeef2; color: #1f2328; }",
    ".thanks { margin: .8rem 0 .2rem; padding: .75rem .9rem; font-size: 1.05rem; white-space: pre-line;",
    "  color: #0a3622; background: #dafbe1; border: 1px solid #4ac26b; border-radius: 6px; }",
    ".thanks:focus { outline: none; }",
    ".hp { position: absolute; left: -10000px; top: 0; width: 1px; height: 1px; overflow: hidden; }",
  ].join("\n");

  // Once per visitor: remembered when shown, so closing it counts too.
  function shownBefore() {
    try {
      if (window.localStorage.getItem(MEMORY) !== null) return true;
    } catch (blocked) {
      // Storage off (a privacy setting): the cookie below says it.
    }
    return document.cookie.split("; ").some(function (pair) {
      return pair.indexOf(MEMORY + "=") === 0;
    });
  }

  function remember() {
    var when = String(Date.now());
    try {
      window.localStorage.setItem(MEMORY, when);
      return;
    } catch (blocked) {
      // Fall back to a cookie of this site, for a year.
    }
    document.cookie = MEMORY + "=" + when + "; max-age=" + YEAR_SECONDS + "; path=/; SameSite=Lax";
  }

  function whenReady(callback) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", callback, { once: true });
    } else {
      callback();
    }
  }

  function schedule() {
    if (config.preview) return whenReady(open);
    if (shownBefore()) return;
    // Touch screens have no pointer to leave the window: they get the delay.
    var touch = window.matchMedia && window.matchMedia("(hover: none)").matches;
    if (config.opening === "exit" && !touch) {
      var onLeave = function (event) {
        if (event.relatedTarget === null && event.clientY <= 0) {
          document.removeEventListener("mouseout", onLeave);
          whenReady(open);
        }
      };
      document.addEventListener("mouseout", onLeave);
    } else {
      var seconds = Math.max(0, Number(config.delaySeconds) || 0);
      setTimeout(function () {
        whenReady(open);
      }, seconds * 1000);
    }
  }

  var opened = false;

  function open() {
    // Checked again: the same snippet twice in a page shows it once.
    if (opened || (!config.preview && shownBefore())) return;
    if (document.querySelector('retailmail-signup[data-point="' + config.key + '"]')) return;
    opened = true;
    if (!config.preview) remember();
    popup();
  }

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === false || value === null || value === undefined || value === "") return;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined && child !== "") node.append(child);
    });
    return node;
  }

  function widget(field) {
    var common = { id: field.name, name: field.name, required: field.required };
    switch (field.type) {
      case "Numeric":
        return el("input", Object.assign(common, { type: "number", step: "0.01", inputmode: "decimal" }));
      case "Date":
        return el("input", Object.assign(common, { type: "date" }));
      case "CheckBox":
      case "RadioButton":
        return el("input", Object.assign(common, { type: "checkbox", value: "true" }));
      case "CommentArea":
        return el("textarea", Object.assign(common, { rows: 3, maxlength: field.maxLength }));
      default:
        return el(
          "input",
          Object.assign(common, {
            type: "text",
            maxlength: field.maxLength,
            autocomplete: AUTOCOMPLETE[String(field.label).toLowerCase()],
          })
        );
    }
  }

  function popup() {
    var previousFocus = document.activeElement;
    var token = config.token;
    var busy = false;
    var rows = {};

    function row(name, label, control, required) {
      var box = control.type === "checkbox";
      var error = el("p", { class: "error", id: name + "-error", hidden: true });
      var caption = el("label", { for: control.id }, [
        label,
        required ? el("span", { class: "required", "aria-hidden": "true", text: " *" }) : null,
      ]);
      rows[name] = { control: control, error: error };
      return el("div", { class: box ? "row box" : "row" }, box ? [control, caption, error] : [caption, control, error]);
    }

    var email = el("input", {
      id: "email",
      name: "email",
      type: "email",
      required: true,
      autocomplete: "email",
      inputmode: "email",
      maxlength: 320,
    });
    var fields = (config.fields || []).map(function (field) {
      return row(field.name, field.label, widget(field), field.required);
    });
    var consent = config.consent ? el("input", { id: "consent", name: "consent", type: "checkbox" }) : null;
    // With every field required the marks say it all; with some optional, a line explains them.
    var optional = (config.fields || []).some(function (field) {
      return !field.required;
    });
    var honeypot = el("input", { id: "hp", name: config.honeypot, type: "text", tabindex: "-1", autocomplete: "off" });
    var alert = el("div", { class: "alert", role: "alert", hidden: true });
    var button = el("button", { class: "submit", type: "submit", text: config.preview ? WORDS.preview : config.button });
    var form = el("form", { novalidate: true }, [
      alert,
      row("email", "Email address", email, true),
      fields,
      consent ? row("consent", config.consent, consent, false) : null,
      optional ? el("p", { class: "legend", "aria-hidden": "true", text: WORDS.required }) : null,
      el("div", { class: "hp", "aria-hidden": "true" }, [el("label", { for: "hp", text: "Leave this empty" }), honeypot]),
      button,
    ].flat());
    var heading = el("h2", { id: "heading", text: config.heading });
    var intro = config.intro ? el("p", { class: "intro", id: "intro", text: config.intro }) : null;
    var close = el("button", { class: "close", type: "button", "aria-label": WORDS.close, title: WORDS.close, text: "\u00d7" });
    var panel = el("div", { class: "panel" }, [close, heading, intro, form]);
    var dialog = el(
      "dialog",
      {
        role: "dialog",
        "aria-modal": "true",
        "aria-labelledby": "heading",
        "aria-describedby": intro ? "intro" : null,
        "data-point": config.key,
      },
      [panel]
    );

    var host = document.createElement("retailmail-signup");
    host.setAttribute("data-point", config.key);
    var root = host.attachShadow({ mode: "open" });
    if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      // Older browsers: a style element (a strict CSP may refuse it).
      root.append(el("style", { text: CSS }));
    }
    root.append(dialog);
    document.body.append(host);

    function shut() {
      if (dialog.open) dialog.close();
    }

    dialog.addEventListener("close", function () {
      host.remove();
      if (previousFocus && typeof previousFocus.focus === "function" && document.contains(previousFocus)) {
        previousFocus.focus();
      }
    });
    // Escape: the browser's own "cancel", then "close".
    close.addEventListener("click", shut);
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) shut(); // a click on the backdrop
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send();
    });

    if (typeof dialog.showModal === "function") {
      dialog.showModal();
    } else {
      dialog.setAttribute("open", "");
    }
    email.focus();

    function clearErrors() {
      alert.hidden = true;
      alert.className = "alert";
      alert.textContent = "";
      Object.keys(rows).forEach(function (name) {
        var item = rows[name];
        item.error.hidden = true;
        item.error.textContent = "";
        item.control.removeAttribute("aria-invalid");
        item.control.removeAttribute("aria-describedby");
      });
    }

    function say(text, kind) {
      alert.textContent = text;
      alert.className = kind === "note" ? "alert note" : "alert";
      alert.hidden = false;
    }

    // Each field's errors next to it; the others at the top. Says whether any.
    function showErrors(errors) {
      var general = [];
      var firstBad = null;
      Object.keys(errors).forEach(function (name) {
        var messages = [].concat(errors[name]).map(String);
        var item = rows[name];
        if (!item) {
          general = general.concat(messages);
          return;
        }
        item.error.textContent = messages.join(" ");
        item.error.hidden = false;
        item.control.setAttribute("aria-invalid", "true");
        item.control.setAttribute("aria-describedby", item.error.id);
        firstBad = firstBad || item.control;
      });
      if (general.length) say(general.join(" "));
      if (firstBad) firstBad.focus();
      return general.length > 0 || firstBad !== null;
    }

    function values() {
      var body = { email: email.value, token: token };
      body[config.honeypot] = honeypot.value;
      (config.fields || []).forEach(function (field) {
        var control = rows[field.name].control;
        body[field.name] = control.type === "checkbox" ? control.checked : control.value;
      });
      if (consent) body.consent = consent.checked;
      return body;
    }

    function sending(on) {
      busy = on;
      button.disabled = on;
      button.textContent = on ? WORDS.sending : config.button;
      if (on) form.setAttribute("aria-busy", "true");
      else form.removeAttribute("aria-busy");
    }

    function thank(answer) {
      if (typeof answer.redirect === "string" && /^https?:\/\//i.test(answer.redirect)) {
        window.location.assign(answer.redirect);
        return;
      }
      var thanks = el("p", { class: "thanks", role: "status", tabindex: "-1", text: answer.message });
      form.replaceWith(thanks);
      if (intro) intro.remove();
      thanks.focus();
    }

    function send() {
      if (busy) return;
      clearErrors();
      if (config.preview) {
        say(WORDS.previewNote, "note");
        return;
      }
      sending(true);
      fetch(config.postUrl, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(values()),
      }).then(
        function (response) {
          return response.json().then(
            function (answer) {
              return answered(response.status, answer || {});
            },
            function () {
              return answered(response.status, {});
            }
          );
        },
        function (problem) {
          sending(false);
          say(WORDS.offline);
          // For the shop's developer: the usual cause on a new site.
          if (window.console) {
            window.console.warn(
              "Signup pop-up: the post to " + config.postUrl + " failed (" + problem + "). " +
                "If it was refused for CORS, add " + window.location.origin +
                " to the subscription point's allowed origins."
            );
          }
        }
      );
    }

    function answered(status, answer) {
      sending(false);
      if (status === 200 && answer.ok) return thank(answer);
      if (typeof answer.token === "string") token = answer.token;
      var errors = answer.errors && typeof answer.errors === "object" ? answer.errors : {};
      if (status === 429) {
        say([].concat(errors.__all__ || WORDS.busy).join(" "));
      } else if (!showErrors(errors)) {
        say(WORDS.failed);
      }
    }
  }

  schedule();
})({{ config }});
