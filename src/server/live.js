// werk live reload: served at /__werk/live.js?id=ID and added to HTML pages.
// It listens to /__werk/live (server-sent events). The page reloads when
// the server that answers is another one than the one that served the page
// (a new build runs, or werk answers while no process serves); while a
// build fails, its errors are shown over the page.
(function () {
  "use strict";
  var script = document.currentScript;
  var id = script && new URL(script.src).searchParams.get("id");
  if (!id || window.__werkLive) return;
  window.__werkLive = true;

  var host = null;
  function overlay(title, text) {
    if (!host) {
      host = document.createElement("div");
      host.id = "__werk_overlay";
      var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
      root.innerHTML =
        "<style>" +
        ".w{position:fixed;inset:0;z-index:2147483647;background:rgba(20,20,24,.94);" +
        "color:#eee;font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;" +
        "overflow:auto;padding:24px 32px}" +
        "h1{font:600 16px system-ui,sans-serif;color:#ff7b72;margin:0 0 12px}" +
        "pre{white-space:pre-wrap;margin:0}" +
        "button{position:fixed;top:12px;right:16px;background:none;border:0;" +
        "color:#aaa;font-size:22px;cursor:pointer}" +
        "</style><div class=w role=alert><button title=Close>\u00d7</button>" +
        "<h1></h1><pre></pre></div>";
      root.querySelector("button").onclick = function () {
        host.remove();
      };
      host.__root = root;
    }
    host.__root.querySelector("h1").textContent = title;
    host.__root.querySelector("pre").textContent = text;
    if (!host.isConnected) document.documentElement.appendChild(host);
  }
  function clear() {
    if (host) host.remove();
  }

  var retry = 250;
  function connect() {
    var events = new EventSource("/__werk/live");
    events.addEventListener("hello", function (e) {
      retry = 250;
      if (e.data !== id) {
        events.close();
        location.reload();
      }
    });
    events.addEventListener("ok", clear);
    events.addEventListener("failed", function (e) {
      // The first line says what went wrong; the rest is the detail.
      var cut = e.data.indexOf("\n");
      var title = cut < 0 ? e.data : e.data.slice(0, cut);
      overlay(title + " (the page shows the last build that served)",
        cut < 0 ? "" : e.data.slice(cut + 1).replace(/^\n+/, ""));
    });
    events.onerror = function () {
      // The browser retries a dropped stream by itself; one it gave up on
      // (CLOSED) is retried here, more slowly each time.
      if (events.readyState === EventSource.CLOSED) {
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 5000);
      }
    };
  }
  connect();
})();
