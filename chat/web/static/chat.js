// The chat page: one WebSocket to the chat, forms that are submitted
// with Enter, and every line shown as text ("<bob> says: hi").
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const status = $("status"), error = $("error"), room = $("room");
  const messages = $("messages"), members = $("members");
  let me = "", ws = null, activity = false;

  // A page restored from the back-forward cache asks the server again:
  // after a logout that shows the login page, not the chat.
  window.addEventListener("pageshow", (e) => { if (e.persisted) location.reload(); });

  function showError(text) {
    error.textContent = "Error: " + text;
    error.hidden = false;
  }
  function clearError() { error.hidden = true; error.textContent = ""; }

  function showMembers(list) {
    members.replaceChildren(...list.map((n) => {
      const li = document.createElement("li");
      li.textContent = n;
      return li;
    }));
  }

  function addLine(text) {
    const li = document.createElement("li");
    li.textContent = text;
    if (text.startsWith("<" + me + "> says: ")) li.className = "mine";
    const atEnd = messages.scrollTop + messages.clientHeight >= messages.scrollHeight - 4;
    messages.append(li);
    if (atEnd) messages.scrollTop = messages.scrollHeight;
  }

  function connect() {
    const url = new URL("ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(url);
    ws.onopen = () => { status.textContent = "Connected. Join a group."; };
    ws.onmessage = (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch (_) { return; }
      switch (f.type) {
        case "hello":
          me = f.user;
          status.textContent = "Connected as " + me + ". Join a group.";
          break;
        case "joined":
          clearError();
          messages.replaceChildren();
          $("group-name").textContent = f.group;
          $("group-rule").textContent = f.allowMattress ? "" : "(no mattress)";
          showMembers(f.members || []);
          room.hidden = false;
          status.textContent = "You are " + me + " in " + f.group + ".";
          $("message").focus();
          break;
        case "members":
          showMembers(f.members || []);
          break;
        case "line":
          addLine(f.text);
          break;
        case "error":
          showError(f.text);
          break;
      }
    };
    ws.onclose = (ev) => {
      ws = null;
      $("message").disabled = true;
      if (ev.code === 4001) {
        status.textContent = "Your session has ended.";
        showError("Your session has ended. Reload the page to log in again.");
      } else {
        status.textContent = "Disconnected" + (ev.reason ? " (" + ev.reason + ")" : "") + ". Reload the page to reconnect.";
      }
    };
  }

  function sendFrame(f) {
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      showError("not connected");
      return false;
    }
    ws.send(JSON.stringify(f));
    activity = true;
    return true;
  }

  $("join-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const group = $("group").value.trim();
    if (group) sendFrame({ type: "join", group: group, allowMattress: !$("no-mattress").checked });
  });
  $("send-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("message");
    if (input.value !== "" && sendFrame({ type: "send", message: input.value })) {
      clearError();
      input.value = "";
    }
  });

  // While its user is active, the page tells the guard, so that the
  // session's idle timeout counts what happens in the page.
  for (const ev of ["keydown", "pointerdown"]) document.addEventListener(ev, () => { activity = true; });
  setInterval(() => {
    if (!activity) return;
    activity = false;
    fetch("keepalive", { cache: "no-store", redirect: "manual" }).catch(() => {});
  }, 60000);

  connect();
})();
