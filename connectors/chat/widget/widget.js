// omniroute web chat widget. Embed with one tag:
//   <script src="https://support.example/v1/chat/WORKSPACE/INBOX/widget.js" async></script>
// It adds a chat button and panel to the page and talks to the gateway over a WebSocket.
// The visitor's resume token stays in localStorage, so a reload keeps the conversation.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var base = script.src.replace(/widget\.js(\?.*)?$/, "");
  var key = "omniroute-chat:" + base;
  var wsUrl = base.replace(/^http/, "ws") + "ws";
  var state = { token: localStorage.getItem(key) || "", ws: null, open: false, retry: 0,
                pending: {}, seq: 0, typingTimer: null, agentTyping: null, welcomed: false };

  var css = "#omniroute-chat-button{position:fixed;right:20px;bottom:20px;z-index:2147483000;" +
    "border:0;border-radius:24px;padding:12px 18px;background:#2456d6;color:#fff;font:15px sans-serif;cursor:pointer}" +
    "#omniroute-chat-panel{position:fixed;right:20px;bottom:76px;width:340px;height:460px;z-index:2147483000;" +
    "display:none;flex-direction:column;background:#fff;border:1px solid #ccd;border-radius:10px;" +
    "box-shadow:0 6px 24px rgba(0,0,0,.18);font:14px sans-serif;color:#222}" +
    "#omniroute-chat-panel.open{display:flex}" +
    "#omniroute-chat-header{padding:10px 14px;background:#2456d6;color:#fff;border-radius:10px 10px 0 0;font-weight:bold}" +
    "#omniroute-chat-status{padding:4px 14px;font-size:12px;color:#555;min-height:16px}" +
    "#omniroute-chat-log{flex:1;overflow-y:auto;padding:8px 12px}" +
    ".omniroute-chat-msg{margin:6px 0;padding:7px 10px;border-radius:8px;max-width:85%;white-space:pre-wrap;word-wrap:break-word}" +
    ".omniroute-chat-msg.visitor{background:#e7eefc;margin-left:auto}" +
    ".omniroute-chat-msg.agent{background:#f1f1f1}" +
    ".omniroute-chat-msg.system{background:none;color:#777;font-size:12px;text-align:center;max-width:100%}" +
    ".omniroute-chat-msg.sending{opacity:.6}" +
    ".omniroute-chat-name{display:block;font-size:11px;color:#666}" +
    "#omniroute-chat-form{display:flex;border-top:1px solid #dde}" +
    "#omniroute-chat-input{flex:1;border:0;padding:10px;font:14px sans-serif;resize:none}" +
    "#omniroute-chat-send{border:0;background:none;color:#2456d6;font-weight:bold;padding:0 14px;cursor:pointer}" +
    "#omniroute-chat-prechat{padding:10px 14px;border-bottom:1px solid #eee}" +
    "#omniroute-chat-prechat input{width:100%;box-sizing:border-box;margin:3px 0;padding:6px}" +
    "#omniroute-chat-offline{display:none;padding:10px 14px;border-top:1px solid #eee;background:#fafafa}" +
    "#omniroute-chat-offline input,#omniroute-chat-offline textarea{width:100%;box-sizing:border-box;margin:3px 0;padding:6px}" +
    ".omniroute-chat-survey{margin:8px 0;padding:8px 10px;border:1px solid #ccd;border-radius:8px;background:#fbfbff}" +
    ".omniroute-chat-survey .rates{display:flex;gap:4px;margin:6px 0}" +
    ".omniroute-chat-survey .rates button{flex:1;padding:6px 0;border:1px solid #99a;border-radius:6px;background:#fff;cursor:pointer;font:14px sans-serif}" +
    ".omniroute-chat-survey .rates button[aria-pressed=true]{background:#2456d6;color:#fff}" +
    ".omniroute-chat-survey textarea{width:100%;box-sizing:border-box;padding:6px;font:13px sans-serif}";

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text) e.textContent = text;
    return e;
  }

  var style = el("style", {}); style.textContent = css;
  var button = el("button", { id: "omniroute-chat-button", type: "button" }, "Chat");
  var panel = el("div", { id: "omniroute-chat-panel", role: "dialog", "aria-label": "Chat" });
  var header = el("div", { id: "omniroute-chat-header" }, "Chat with us");
  var status = el("div", { id: "omniroute-chat-status", "aria-live": "polite" });
  var prechat = el("div", { id: "omniroute-chat-prechat" });
  var nameIn = el("input", { id: "omniroute-chat-name", placeholder: "Your name (optional)", maxlength: "128" });
  var emailIn = el("input", { id: "omniroute-chat-email", type: "email", placeholder: "Email (optional)", maxlength: "254" });
  prechat.appendChild(nameIn); prechat.appendChild(emailIn);
  var log = el("div", { id: "omniroute-chat-log", "aria-live": "polite" });
  // Nobody available: leave an email address, the answer comes by email.
  var offline = el("form", { id: "omniroute-chat-offline" });
  offline.appendChild(el("div", {}, "Nobody is available right now. Leave your email address and we will answer by email."));
  var offEmail = el("input", { id: "omniroute-chat-offline-email", type: "email", required: "required", placeholder: "Email", maxlength: "254" });
  var offText = el("textarea", { id: "omniroute-chat-offline-message", rows: "3", placeholder: "Anything to add? (the chat so far is included)", maxlength: "4000" });
  var offSend = el("button", { id: "omniroute-chat-offline-send", type: "submit" }, "Send by email");
  offline.appendChild(offEmail); offline.appendChild(offText); offline.appendChild(offSend);
  var form = el("form", { id: "omniroute-chat-form" });
  var input = el("textarea", { id: "omniroute-chat-input", rows: "2", placeholder: "Type a message", maxlength: "4000" });
  var send = el("button", { id: "omniroute-chat-send", type: "submit" }, "Send");
  form.appendChild(input); form.appendChild(send);
  panel.appendChild(header); panel.appendChild(status); panel.appendChild(prechat);
  panel.appendChild(log); panel.appendChild(offline); panel.appendChild(form);

  function mount() {
    document.head.appendChild(style);
    document.body.appendChild(button);
    document.body.appendChild(panel);
    if (state.token) { prechat.style.display = "none"; connect(); }
  }

  function setStatus(text) { status.textContent = text || ""; }

  function add(author, text, name, id, sending) {
    var m = el("div", { "class": "omniroute-chat-msg " + author + (sending ? " sending" : "") });
    if (id) m.setAttribute("data-id", id);
    if (name && author === "agent") m.appendChild(el("span", { "class": "omniroute-chat-name" }, name));
    m.appendChild(document.createTextNode(text));
    log.appendChild(m);
    log.scrollTop = log.scrollHeight;
    return m;
  }

  // A satisfaction survey: one button per rating (sent at once), then an optional comment.
  // Answered (here or on another tab) it shows the rating; expired, nothing to press.
  var surveys = {};
  function addSurvey(f) {
    var box = el("div", { "class": "omniroute-chat-survey", role: "group", "aria-label": f.text || "Rating" });
    box.appendChild(el("div", { "class": "question" }, f.text));
    var rates = el("div", { "class": "rates" });
    var s = { id: f.id, box: box, rates: rates, thanks: f.thanks || "", buttons: [], rating: 0, commentSent: false };
    for (var n = 1; n <= (f.scale || 5); n++) {
      var b = el("button", { type: "button", "aria-pressed": "false", "aria-label": "Rate " + n + " of " + (f.scale || 5), "data-rating": String(n) },
                 n + " \u2605");
      (function (rating) { b.addEventListener("click", function () { rate(s, rating, ""); }); })(n);
      s.buttons.push(b); rates.appendChild(b);
    }
    box.appendChild(rates);
    var note = el("div", { "class": "note", "aria-live": "polite" });
    box.appendChild(note); s.note = note;
    if (f.expires_ms && Number(f.expires_ms) < Date.now()) { rates.remove(); note.textContent = "This survey has closed."; }
    surveys[f.id] = s;
    log.appendChild(box);
    log.scrollTop = log.scrollHeight;
  }
  function rate(s, rating, comment) {
    if (!state.ws || state.ws.readyState !== 1) { setStatus("Not connected; try again in a moment."); return; }
    var id = "r" + Date.now().toString(36) + "-" + (state.seq++);
    state.ws.send(JSON.stringify({ type: "csat", id: id, survey: s.id, rating: rating, comment: comment }));
  }
  function rated(f) {
    var s = surveys[f.survey];
    if (!s) return;
    s.rating = f.rating;
    s.buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(Number(b.getAttribute("data-rating")) === f.rating)); });
    s.note.textContent = "You rated " + f.rating + " of " + s.buttons.length + "." + (s.thanks ? " " + s.thanks : "");
    if (f.text) { s.commentSent = true; s.box.appendChild(el("div", { "class": "comment" }, f.text)); }
    if (!s.commentSent && !s.commentForm) {
      var cf = el("form", {});
      var ta = el("textarea", { rows: "2", maxlength: "1000", "aria-label": "Tell us more (optional)", placeholder: "Tell us more (optional)" });
      var go = el("button", { type: "submit" }, "Send");
      cf.appendChild(ta); cf.appendChild(go);
      cf.addEventListener("submit", function (e) {
        e.preventDefault();
        if (ta.value.trim()) rate(s, s.rating, ta.value.trim());
      });
      s.box.appendChild(cf); s.commentForm = cf;
    }
    if (s.commentSent && s.commentForm) { s.commentForm.remove(); s.commentForm = null; }
  }

  function connect() {
    if (state.ws && state.ws.readyState <= 1) return;
    setStatus(state.welcomed ? "Reconnecting…" : "Connecting…");
    var ws = new WebSocket(wsUrl);
    state.ws = ws;
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "hello", token: state.token, name: nameIn.value.trim(),
                               email: emailIn.value.trim(), lang: navigator.language || "" }));
    };
    ws.onmessage = function (ev) {
      var f; try { f = JSON.parse(ev.data); } catch (e) { return; }
      handle(f);
    };
    ws.onclose = function () {
      state.ws = null;
      if (!state.open && !Object.keys(state.pending).length) { setStatus(""); return; }
      var delay = Math.min(30000, 500 * Math.pow(2, state.retry++));
      setStatus("Connection lost, retrying…");
      setTimeout(connect, delay);
    };
  }

  function handle(f) {
    if (f.type === "welcome") {
      state.retry = 0;
      var first = !state.welcomed;
      state.welcomed = true;
      state.token = f.token;
      localStorage.setItem(key, f.token);
      if (f.name || f.prechat === "off") prechat.style.display = "none";
      if (f.title) header.textContent = f.title;
      state.offlineForm = !!f.offline_form;
      state.maxBytes = f.max_message_bytes || 0;
      if (first) {
        log.textContent = "";
        if (f.greeting) add("system", f.greeting);
        (f.history || []).forEach(function (h) {
          if (h.author === "survey") addSurvey(h);
          else if (h.author === "rating") rated(h);
          else add(h.author, h.text, h.name, h.id);
        });
      }
      setStatus("");
      if (state.profile) { state.ws.send(JSON.stringify(state.profile)); state.profile = null; }
      // Whatever was not acknowledged before the connection dropped is sent again (same id:
      // the server publishes it once).
      Object.keys(state.pending).forEach(function (id) {
        state.ws.send(JSON.stringify({ type: "message", id: id, text: state.pending[id].text }));
      });
    } else if (f.type === "ack") {
      var p = state.pending[f.id];
      if (p) { p.node.classList.remove("sending"); delete state.pending[f.id]; }
    } else if (f.type === "error") {
      var failed = f.id && state.pending[f.id];
      if (failed && f.retry) {
        setStatus(f.reason);
        setTimeout(function () { resend(f.id); }, f.retry_after_ms || 3000);
      } else if (failed) {
        // Refused for good (too long, not allowed): never sent again; the visitor gets the
        // text back to change it, with the reason.
        failed.node.remove();
        delete state.pending[f.id];
        input.value = failed.text + (input.value ? "\n" + input.value : "");
        setStatus("Not sent: " + f.reason);
        input.focus();
      } else setStatus(f.reason);
    } else if (f.type === "message") {
      clearTyping();
      add("agent", f.text, f.name, f.id);
    } else if (f.type === "typing") {
      if (f.on) {
        setStatus((f.name || "The agent") + " is typing…");
        clearTimeout(state.agentTyping);
        state.agentTyping = setTimeout(clearTyping, 6000);
      } else clearTyping();
    } else if (f.type === "agent_joined") {
      add("system", (f.name || "An agent") + " joined the chat");
      setStatus("");
    } else if (f.type === "queue") {
      if (f.agents_available === 0) {
        setStatus("Nobody is available right now; we will answer as soon as we can.");
        if (state.offlineForm) { offline.style.display = "block"; offEmail.value = offEmail.value || emailIn.value.trim(); }
      }
      else setStatus("You are number " + f.position + " in line" +
                     (f.expected_wait_s ? " (about " + Math.max(1, Math.round(f.expected_wait_s / 60)) + " min)" : ""));
    } else if (f.type === "resolved") {
      add("system", "The conversation was closed. Write again any time.");
    } else if (f.type === "survey") {
      addSurvey(f);
    } else if (f.type === "rated") {
      rated(f);
    } else if (f.type === "prechat_required") {
      prechat.style.display = "";
      setStatus("Please tell us your name and email first.");
    }
  }

  function clearTyping() { clearTimeout(state.agentTyping); if (/typing…$/.test(status.textContent)) setStatus(""); }

  function resend(id) {
    var p = state.pending[id];
    if (!p) return;
    if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify({ type: "message", id: id, text: p.text }));
    else connect();
  }

  offline.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = JSON.stringify({ token: state.token, name: nameIn.value.trim(), email: offEmail.value.trim(),
                                message: offText.value.trim(), id: Date.now().toString(36) });
    offSend.disabled = true;
    fetch(base + "offline", { method: "POST", headers: { "Content-Type": "application/json" }, body: body })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (r) {
        offSend.disabled = false;
        if (r.ok) { offline.style.display = "none"; add("system", "Thanks! We will answer by email at " + offEmail.value.trim() + "."); }
        else setStatus(r.j.error || "Could not send, please try again.");
      })
      .catch(function () { offSend.disabled = false; setStatus("Could not send, please try again."); });
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    if (state.maxBytes && new TextEncoder().encode(text).length > state.maxBytes) {
      setStatus("Not sent: the message is too long (at most " + state.maxBytes + " bytes).");
      return;  // the text stays in the box to be shortened
    }
    input.value = "";
    if (prechat.style.display !== "none" && (nameIn.value.trim() || emailIn.value.trim())) {
      state.profile = { type: "profile", name: nameIn.value.trim(), email: emailIn.value.trim() };
      prechat.style.display = "none";
    }
    if (state.profile && state.ws && state.ws.readyState === 1 && state.welcomed) {
      state.ws.send(JSON.stringify(state.profile));
      state.profile = null;
    }
    var id = Date.now().toString(36) + "-" + (state.seq++) + "-" + Math.random().toString(36).slice(2, 8);
    state.pending[id] = { text: text, node: add("visitor", text, null, id, true) };
    if (state.ws && state.ws.readyState === 1 && state.welcomed)
      state.ws.send(JSON.stringify({ type: "message", id: id, text: text }));
    else connect();
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); return; }
    if (state.ws && state.ws.readyState === 1 && !state.typingTimer) {
      state.ws.send(JSON.stringify({ type: "typing", on: true }));
      state.typingTimer = setTimeout(function () { state.typingTimer = null; }, 2000);
    }
  });
  button.addEventListener("click", function () {
    state.open = !state.open;
    panel.classList.toggle("open", state.open);
    if (state.open) { connect(); input.focus(); }
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
