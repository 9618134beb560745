// The filter builder of a Go To step: its criteria as rows a marketer picks
// from (profile field, operator in words, value; or engagement with a message
// of the list), joined with and / or / and not / or not, in nested groups.
//
// The criteria text area stays the form field: every change writes the JSON
// (Listrak's filter shape, fields and messages by id) into it, and "Edit as
// JSON" shows it. What the rows offer comes from the page's JSON data island
// (conductor.filters.builder.builder_data); nothing is fetched but the count
// of contacts matching now. Without this script the text area works alone.
(function () {
  "use strict";

  function make(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([key, value]) {
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function option(value, words, selected) {
    return make("option", { value: String(value), text: words, selected: selected });
  }

  function button(words, className, title) {
    return make("button", { type: "button", className: "button " + className, text: words, title: title });
  }

  // Keys and names are compared in any case, as the server reads them.
  function lower(value) {
    return String(value).toLowerCase();
  }

  function keysOf(object) {
    const found = {};
    Object.keys(object).forEach(function (key) {
      if (object[key] !== null && object[key] !== undefined) found[lower(key)] = object[key];
    });
    return found;
  }

  const KNOWN = ["joinType", "filters", "segmentationFieldGroup", "segmentationField",
    "segmentationFieldId", "compareType", "values", "engagement", "message", "link", "withinDays"];
  const KNOWN_LOWER = KNOWN.map(lower);
  const PATH = /^[A-Za-z]+(\[\d+\])?(\.[A-Za-z]+(\[\d+\])?)*$/;

  class Unreadable extends Error {}

  class Builder {
    constructor(root) {
      this.root = root;
      this.data = JSON.parse(document.getElementById(root.dataset.builderData).textContent);
      this.textarea = document.getElementById(root.dataset.field);
      this.fields = new Map(this.data.fields.map(function (f) { return [f.id, f]; }));
      this.messages = new Map(this.data.messages.map(function (m) { return [m.id, m]; }));
      this.problems = [];
      this.problemsAreSaved = true;
      this.counted = 0;
      this.tree = { kind: "group", join: "And", members: [] };
      this.jsonBox = root.querySelector(".criteria-builder-json");
      this.build();
      const errors = document.getElementById(this.textarea.id + "_error");
      if (errors) errors.hidden = true; // the builder shows each problem, on its row when it can
      this.problems = this.data.errors.slice();
      this.load(true);
      this.count();
    }

    // --- The page around the rows ----------------------------------------------

    build() {
      this.notice = make("p", { className: "criteria-notice", hidden: true });
      this.general = make("ul", { className: "criteria-problems", hidden: true });
      this.rows = make("div", { className: "criteria-rows" });
      this.countLine = make("p", { className: "criteria-count", "aria-live": "polite" });
      this.toggle = button("Edit as JSON", "criteria-toggle", "Show the criteria as the JSON the form saves");
      this.toggle.addEventListener("click", this.switchMode.bind(this));
      this.root.insertBefore(this.rows, this.jsonBox);
      this.root.insertBefore(this.general, this.rows);
      this.root.insertBefore(this.notice, this.general);
      this.root.appendChild(this.countLine);
      this.root.appendChild(make("p", { className: "criteria-json-switch" }, [this.toggle]));
      this.textarea.addEventListener("input", this.fromText.bind(this));
      this.setMode(false);
    }

    setMode(json) {
      this.json = json;
      this.jsonBox.hidden = !json;
      this.rows.hidden = json;
      this.toggle.textContent = json ? "Back to the rows" : "Edit as JSON";
      if (this.byPath) this.showProblems();
    }

    switchMode() {
      if (this.json && this.unreadable) {
        this.notice.textContent = "These criteria cannot be shown as rows: " + this.unreadable +
          " Correct the JSON, or clear it to start again with rows.";
        this.notice.hidden = false;
        return;
      }
      this.setMode(!this.json);
      if (this.json) this.textarea.focus();
    }

    // --- JSON to rows ----------------------------------------------------------

    load(first) {
      const text = this.textarea.value.trim();
      this.unreadable = "";
      this.bare = false;
      try {
        this.tree = this.readTop(text);
      } catch (error) {
        if (!(error instanceof Unreadable || error instanceof SyntaxError)) throw error;
        this.unreadable = error instanceof SyntaxError ? "it is not valid JSON." : error.message;
      }
      this.notice.hidden = !this.unreadable;
      if (this.unreadable) {
        this.notice.textContent = "These criteria cannot be shown as rows: " + this.unreadable;
        if (first) this.setMode(true);
      }
      this.render();
    }

    fromText() {
      this.load(false);
      this.scheduleCount();
    }

    readTop(text) {
      if (!text) return { kind: "group", join: "And", members: [] };
      const data = JSON.parse(text);
      if (data === null || typeof data !== "object" || Array.isArray(data)) {
        throw new Unreadable("they must be one JSON object.");
      }
      if ("filters" in keysOf(data)) return this.readNode(data, "");
      this.bare = true; // one condition alone: the rows write it as a set of one
      return { kind: "group", join: "And", members: [this.readNode(data, "")] };
    }

    readNode(data, where) {
      if (data === null || typeof data !== "object" || Array.isArray(data)) {
        throw new Unreadable((where || "the filter") + " is not an object.");
      }
      const found = keysOf(data);
      Object.keys(found).forEach(function (key) {
        if (!KNOWN_LOWER.includes(key)) throw new Unreadable("unknown key “" + key + "”.");
      });
      const join = this.readJoin(found.jointype);
      if ("filters" in found) {
        if (!Array.isArray(found.filters) || !found.filters.length) {
          throw new Unreadable("a nested set of filters is empty.");
        }
        const self = this;
        return {
          kind: "group", join: join,
          members: found.filters.map(function (member, n) { return self.readNode(member, "filter " + (n + 1)); }),
        };
      }
      if ("engagement" in found) return this.readEngagement(found, join);
      return this.readCondition(found, join);
    }

    readJoin(raw) {
      if (raw === undefined) return "And";
      const join = this.data.joins.find(function (j) { return j.join.toLowerCase() === lower(raw); });
      if (!join) throw new Unreadable("“" + raw + "” is not a join.");
      return join.join;
    }

    readEngagement(found, join) {
      const kind = this.data.engagements.find(function (e) { return lower(e.kind) === lower(found.engagement); });
      if (!kind) throw new Unreadable("“" + found.engagement + "” is not an engagement.");
      const message = Number(found.message);
      if (!this.messages.has(message)) throw new Unreadable("message " + found.message + " is not a message of the list.");
      return {
        kind: "engagement", join: join, engagement: kind.kind, message: message,
        link: found.link === undefined ? "" : String(found.link),
        withinDays: found.withindays === undefined ? "" : String(found.withindays),
      };
    }

    readCondition(found, join) {
      let field;
      if (found.segmentationfieldid !== undefined) field = this.fields.get(Number(found.segmentationfieldid));
      else if (found.segmentationfield !== undefined) {
        field = this.data.fields.find(function (f) { return lower(f.name) === lower(found.segmentationfield).trim(); });
      }
      if (!field) throw new Unreadable("it names a profile field the list does not have.");
      const raw = lower(found.comparetype || "");
      const compare = { empty: "isempty", notempty: "isnotempty" }[raw] || raw;
      const operator = this.data.operators[field.type].find(function (o) { return lower(o.compare) === compare; });
      if (!operator) throw new Unreadable("“" + found.comparetype + "” does not apply to the field " + field.name + ".");
      const values = (Array.isArray(found.values) ? found.values : []).map(function (item) {
        return item && typeof item === "object" && "value" in item ? String(item.value) : "";
      });
      return { kind: "field", join: join, field: field.id, compare: operator.compare, values: values };
    }

    // --- Rows to JSON ----------------------------------------------------------

    write() {
      const json = this.tree.members.length ? JSON.stringify(this.writeGroup(this.tree), null, 2) : "";
      this.bare = false;
      this.textarea.value = json;
      this.scheduleCount();
    }

    writeGroup(group) {
      const self = this;
      return {
        filters: group.members.map(function (member, n) {
          const written = member.kind === "group" ? self.writeGroup(member) : self.writeRow(member);
          return n ? Object.assign({ joinType: member.join }, written) : written;
        }),
      };
    }

    writeRow(row) {
      if (row.kind === "engagement") {
        const written = { engagement: row.engagement, message: row.message };
        if (this.takesLink(row)) written.link = row.link;
        const days = String(row.withinDays).trim();
        if (days) written.withinDays = /^\d+$/.test(days) ? Number(days) : days;
        return written;
      }
      const operator = this.operator(row);
      const count = operator.comma ? 1 : operator.values;
      const values = [];
      for (let n = 0; n < count; n++) values.push({ value: row.values[n] === undefined ? "" : row.values[n] });
      return { segmentationFieldId: row.field, compareType: row.compare, values: values };
    }

    operator(row) {
      const operators = this.data.operators[this.fields.get(row.field).type];
      return operators.find(function (o) { return o.compare === row.compare; }) || operators[0];
    }

    takesLink(row) {
      return this.data.engagements.find(function (e) { return e.kind === row.engagement; }).link;
    }

    // --- Drawing the rows --------------------------------------------------------

    render() {
      this.byPath = new Map();
      this.rows.replaceChildren(this.drawGroup(this.tree, "", true));
      this.showProblems();
    }

    drawGroup(group, path, top) {
      const self = this;
      const box = make("div", { className: top ? "criteria-group criteria-top" : "criteria-group" });
      if (!group.members.length) {
        box.appendChild(make("p", {
          className: "criteria-empty",
          text: top ? (this.data.noConditions || "No conditions: every contact goes.") : "An empty group: add a condition to it.",
        }));
      }
      group.members.forEach(function (member, n) {
        const memberPath = (path ? path + "." : "") + "filters[" + n + "]";
        box.appendChild(self.drawMember(group, member, n, memberPath));
      });
      const add = make("div", { className: "criteria-add" }, [
        button("+ Profile field", "criteria-add-field", "A condition on a profile field"),
        button("+ Email engagement", "criteria-add-engagement", "Opened or clicked a message, or did not"),
        button("+ Group", "criteria-add-group", "Conditions in brackets, joined as one"),
      ]);
      add.children[0].addEventListener("click", function () { self.add(group, self.newCondition()); });
      add.children[1].addEventListener("click", function () { self.add(group, self.newEngagement()); });
      add.children[1].hidden = !this.data.engagements.length; // criteria of no conversation
      add.children[2].addEventListener("click", function () {
        self.add(group, { kind: "group", join: "And", members: [self.newCondition()] });
      });
      box.appendChild(add);
      return box;
    }

    drawMember(group, member, n, path) {
      const self = this;
      const line = make("div", { className: "criteria-line criteria-line-" + member.kind, "data-path": path });
      line.appendChild(this.drawJoin(group, member, n));
      if (member.kind === "group") line.appendChild(this.drawGroup(member, path, false));
      else if (member.kind === "engagement") this.drawEngagement(line, member);
      else this.drawCondition(line, member);
      const what = member.kind === "group" ? "group" : "condition";
      const remove = button(member.kind === "group" ? "Remove group" : "✕", "criteria-remove", "Remove this " + what);
      remove.setAttribute("aria-label", "Remove this " + what);
      remove.addEventListener("click", function () {
        group.members.splice(group.members.indexOf(member), 1);
        if (group.members.length) group.members[0].join = "And";
        self.changed(true);
      });
      line.appendChild(remove);
      line.row = member;
      this.byPath.set(path, line);
      return line;
    }

    drawJoin(group, member, n) {
      if (!n) return make("span", { className: "criteria-join", text: group === this.tree ? "Where" : "" });
      const select = make("select", { className: "criteria-join", "aria-label": "Join" },
        this.data.joins.map(function (j) { return option(j.join, j.words, j.join === member.join); }));
      const self = this;
      select.addEventListener("change", function () { member.join = select.value; self.changed(false); });
      return select;
    }

    drawCondition(line, row) {
      const self = this;
      const field = this.fields.get(row.field);
      const fieldSelect = make("select", { className: "criteria-field", "aria-label": "Profile field" },
        this.data.fields.map(function (f) { return option(f.id, f.name, f.id === row.field); }));
      fieldSelect.addEventListener("change", function () {
        const before = self.data.inputs[field.type];
        row.field = Number(fieldSelect.value);
        const now = self.fields.get(row.field);
        const operators = self.data.operators[now.type];
        if (!operators.some(function (o) { return o.compare === row.compare; })) row.compare = operators[0].compare;
        if (self.data.inputs[now.type] !== before) row.values = [];
        self.changed(true);
      });
      const operatorSelect = make("select", { className: "criteria-operator", "aria-label": "Operator" },
        this.data.operators[field.type].map(function (o) { return option(o.compare, o.words, o.compare === row.compare); }));
      operatorSelect.addEventListener("change", function () {
        row.compare = operatorSelect.value;
        self.changed(true);
      });
      line.appendChild(fieldSelect);
      line.appendChild(operatorSelect);
      const operator = this.operator(row);
      if (operator.comma) {
        line.appendChild(this.valueInput(row, 0, "text", field.type === "Date" ? "YYYY-MM-DD, YYYY-MM-DD" : "separate with commas"));
      } else if (operator.values === 1) {
        line.appendChild(this.valueInput(row, 0, this.data.inputs[field.type], ""));
      } else if (operator.values === 2) {
        line.appendChild(this.valueInput(row, 0, this.data.inputs[field.type], ""));
        line.appendChild(make("span", { className: "criteria-words", text: "and" }));
        line.appendChild(this.valueInput(row, 1, this.data.inputs[field.type], ""));
      }
    }

    valueInput(row, n, type, placeholder) {
      const input = make("input", {
        type: type, className: "criteria-value", value: row.values[n] || "",
        placeholder: placeholder || null, step: type === "number" ? "any" : null,
        "aria-label": n ? "Second value" : "Value",
      });
      const self = this;
      input.addEventListener("input", function () {
        while (row.values.length <= n) row.values.push("");
        row.values[n] = input.value;
        self.changed(false);
      });
      return input;
    }

    drawEngagement(line, row) {
      const self = this;
      line.appendChild(make("span", { className: "criteria-words", text: "Contact" }));
      const kind = make("select", { className: "criteria-engagement", "aria-label": "Engagement" },
        this.data.engagements.map(function (e) { return option(e.kind, e.words, e.kind === row.engagement); }));
      kind.addEventListener("change", function () {
        row.engagement = kind.value;
        if (self.takesLink(row) && !row.link) row.link = self.firstLink(row.message);
        self.changed(true);
      });
      line.appendChild(kind);
      const message = make("select", { className: "criteria-message", "aria-label": "Message" });
      if (!this.data.messages.length) message.appendChild(option("", "(the list has no messages)", true));
      const groups = [["Sent by this conversation", true], ["Not sent by this conversation: nobody engaged", false]];
      groups.forEach(function ([words, sent]) {
        const items = self.data.messages.filter(function (m) { return m.sent === sent; });
        if (!items.length) return;
        message.appendChild(make("optgroup", { label: words },
          items.map(function (m) { return option(m.id, m.name, m.id === row.message); })));
      });
      message.addEventListener("change", function () {
        row.message = Number(message.value);
        row.link = self.takesLink(row) ? self.firstLink(row.message) : "";
        self.changed(true);
      });
      line.appendChild(message);
      if (this.takesLink(row)) {
        const links = (this.messages.get(row.message) || { links: [] }).links;
        const link = make("select", { className: "criteria-link", "aria-label": "Link" },
          links.map(function (url) { return option(url, url, url === row.link); }));
        if (row.link && !links.includes(row.link)) link.appendChild(option(row.link, row.link + " (not in the message)", true));
        if (!links.length && !row.link) link.appendChild(option("", "(this message has no links)", true));
        link.addEventListener("change", function () { row.link = link.value; self.changed(false); });
        line.appendChild(link);
      }
      // Any time, or only in the last N days (withinDays).
      const recent = String(row.withinDays).trim() !== "";
      const when = make("select", { className: "criteria-when", "aria-label": "When" }, [
        option("ever", "at any time", !recent), option("recent", "in the last", recent),
      ]);
      when.addEventListener("change", function () {
        row.withinDays = when.value === "recent" ? "30" : "";
        self.changed(true);
      });
      line.appendChild(when);
      if (recent) {
        const days = make("input", {
          type: "number", className: "criteria-days", min: "1", max: String(this.data.maxWithinDays),
          value: row.withinDays, "aria-label": "Days",
        });
        days.addEventListener("input", function () { row.withinDays = days.value; self.changed(false); });
        line.appendChild(days);
        line.appendChild(make("span", { className: "criteria-words", text: "days" }));
      }
    }

    // --- Editing -------------------------------------------------------------------

    newCondition() {
      const field = this.data.fields[0];
      if (!field) return null;
      return { kind: "field", join: "And", field: field.id, compare: this.data.operators[field.type][0].compare, values: [] };
    }

    newEngagement() {
      const first = this.data.messages[0];
      return { kind: "engagement", join: "And", engagement: "Opened", message: first ? first.id : null, link: "", withinDays: "" };
    }

    firstLink(messageId) {
      const message = this.messages.get(messageId);
      return message && message.links.length ? message.links[0] : "";
    }

    add(group, member) {
      if (!member || (member.kind === "group" && !member.members[0])) {
        this.notice.textContent = "The list has no profile fields to compare.";
        this.notice.hidden = false;
        return;
      }
      group.members.push(member);
      this.changed(true);
      const lines = this.rows.querySelectorAll(".criteria-line");
      const added = lines[lines.length - 1];
      const control = added && added.querySelector("input, select:not(.criteria-join)");
      if (control) control.focus();
    }

    // Structural changes redraw the rows; typing in a value does not (keeping focus).
    changed(redraw) {
      this.write();
      if (redraw) this.render();
    }

    // --- Problems and the count ------------------------------------------------------

    // A problem as the rows say it: "Between needs a value" is "“is between” needs a value".
    inWords(text, line) {
      const row = line && line.row;
      const type = row && row.kind === "field" ? this.fields.get(row.field).type : null;
      const words = Object.assign({}, this.data.words);
      if (type) this.data.operators[type].forEach(function (o) { words[o.compare] = o.words; });
      return text.replace(/\b[A-Z][A-Za-z]+\b/g, function (name) {
        return Object.prototype.hasOwnProperty.call(words, name) ? "“" + words[name] + "”" : name;
      });
    }

    showProblems() {
      this.rows.querySelectorAll(".criteria-problem").forEach(function (p) { p.remove(); });
      this.rows.querySelectorAll(".criteria-has-problem").forEach(function (l) { l.classList.remove("criteria-has-problem"); });
      this.general.replaceChildren();
      const self = this;
      const kind = this.problemsAreSaved ? "criteria-problem criteria-saved" : "criteria-problem";
      this.problems.forEach(function (problem) {
        const cut = problem.indexOf(": ");
        let path = cut > 0 ? problem.slice(0, cut) : "";
        const words = cut > 0 && PATH.test(path) ? problem.slice(cut + 2) : problem;
        if (!PATH.test(path)) path = "";
        if (self.bare && path && path !== "filter") path = "filters[0]." + path;
        // In JSON, problems keep their place in the JSON; on the rows, they go on their row.
        const line = self.json ? null : self.lineFor(path);
        const said = self.json ? problem : self.inWords(words, line);
        if (line) {
          line.classList.add("criteria-has-problem");
          const already = Array.from(line.querySelectorAll(":scope > .criteria-problem"));
          if (!already.some(function (p) { return p.textContent === said; })) {
            line.appendChild(make("p", { className: kind, text: said }));
          }
        } else if (!Array.from(self.general.children).some(function (li) { return li.textContent === said; })) {
          self.general.appendChild(make("li", { className: kind, text: said }));
        }
      });
      this.general.hidden = !this.general.children.length;
    }

    // The row or group a problem's path names (the longest that it starts with).
    lineFor(path) {
      let best = null;
      let length = -1;
      this.byPath.forEach(function (line, linePath) {
        const inside = path === linePath || path.startsWith(linePath + ".") || path.startsWith(linePath + "[");
        if (inside && linePath.length > length) {
          best = line;
          length = linePath.length;
        }
      });
      return best;
    }

    scheduleCount() {
      clearTimeout(this.timer);
      this.timer = setTimeout(this.count.bind(this), 350);
    }

    count() {
      const text = this.textarea.value.trim();
      const asked = ++this.counted;
      const self = this;
      this.countLine.classList.add("criteria-counting");
      let request;
      if (text.length < 1500) {
        request = fetch(this.data.countUrl + "?criteria=" + encodeURIComponent(text), { credentials: "same-origin" });
      } else {
        const body = new URLSearchParams({ criteria: text });
        const token = this.textarea.form && this.textarea.form.querySelector("[name=csrfmiddlewaretoken]");
        request = fetch(this.data.countUrl, {
          method: "POST", credentials: "same-origin", body: body,
          headers: { "X-CSRFToken": token ? token.value : "" },
        });
      }
      request.then(function (response) {
        return response.json().catch(function () { return { error: "The count failed (" + response.status + ")." }; });
      }).catch(function () {
        return { error: "The count could not be fetched." };
      }).then(function (answer) {
        if (asked !== self.counted) return; // a later change is being counted
        self.countLine.classList.remove("criteria-counting");
        self.showCount(answer, text);
      });
    }

    showCount(answer, text) {
      const list = this.data.list;
      this.countLine.classList.toggle("criteria-count-error", answer.count === undefined);
      if (answer.count !== undefined) {
        const n = answer.count.toLocaleString("en");
        const contacts = answer.count === 1 ? "subscribed contact" : "subscribed contacts";
        this.countLine.textContent = text
          ? n + " " + contacts + " of " + list + (answer.count === 1 ? " matches now." : " match now.")
          : (this.data.everyoneWords || "Every contact goes: ") + n + " " + contacts + " of " + list + " now.";
      } else {
        this.countLine.textContent = this.json
          ? "No count yet: correct the problems above."
          : "No count yet: complete the conditions marked above.";
        if (!answer.problems) this.countLine.textContent = answer.error;
      }
      const saved = this.problemsAreSaved && this.problems.length;
      if (saved && !this.edited) return; // the form's own problems until something changes
      this.problemsAreSaved = false;
      this.problems = answer.problems || [];
      this.showProblems();
    }
  }

  function start() {
    document.querySelectorAll(".criteria-builder").forEach(function (root) {
      const builder = new Builder(root);
      root.addEventListener("input", function () { builder.edited = true; }, true);
      root.addEventListener("change", function () { builder.edited = true; }, true);
      root.addEventListener("click", function (event) {
        if (event.target.closest(".criteria-add, .criteria-remove")) builder.edited = true;
      }, true);
    });
  }

  // The admin loads form scripts in the page's head, before the form exists.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
