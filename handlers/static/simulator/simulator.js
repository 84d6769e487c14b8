// The simulator page: every action goes to /simulator/send, which signs it and posts it to /wechat.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const chat = $("chat");
  const openidInput = $("openid");
  let pending = null; // what a picked picture or a filled location panel is for

  openidInput.value = localStorage.getItem("simulator.openid") || openidInput.value;
  openidInput.addEventListener("change", () => localStorage.setItem("simulator.openid", openidInput.value.trim()));

  function bubble(side, text, image) {
    const row = document.createElement("div");
    row.className = "row " + side;
    const avatar = document.createElement("div");
    avatar.className = "avatar";
    avatar.textContent = side === "me" ? "我" : "七";
    const body = document.createElement("div");
    body.className = "bubble";
    if (image) {
      const img = document.createElement("img");
      img.src = image;
      img.alt = "图片";
      body.appendChild(img);
    } else {
      body.textContent = text; // never innerHTML: replies are shown as text
    }
    row.append(avatar, body);
    chat.appendChild(row);
    chat.scrollTop = chat.scrollHeight;
    return row;
  }

  function note(text, kind) {
    const div = document.createElement("div");
    div.className = "system" + (kind ? " " + kind : "");
    div.textContent = text;
    chat.appendChild(div);
    chat.scrollTop = chat.scrollHeight;
  }

  async function post(url, body, json) {
    const headers = { "X-Simulator": "1" };
    if (json) headers["Content-Type"] = "application/json";
    const response = await fetch(url, { method: "POST", headers, body: json ? JSON.stringify(body) : body,
                                        credentials: "same-origin" });
    let data = {};
    try { data = await response.json(); } catch (e) { data = { error: "服务器返回了无法识别的内容（HTTP " + response.status + "）" }; }
    if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
    return data;
  }

  function showDebug(result) {
    const exchanges = result.exchanges || [result];
    $("raw-request").textContent = exchanges.map((e) => e.raw_request_xml).join("\n\n");
    $("raw-response").textContent = exchanges.map((e) => e.raw_response).join("\n\n");
    $("raw-status").textContent = "HTTP " + exchanges.map((e) => e.status).join(", ");
  }

  async function act(action, label, image) {
    const openid = openidInput.value.trim();
    if (label || image) bubble("me", label, image);
    try {
      const result = await post("/simulator/send", Object.assign({ openid }, action), true);
      showDebug(result);
      let said = false;
      for (const exchange of result.exchanges) {
        if (exchange.status !== 200) note("/wechat 返回 HTTP " + exchange.status, "error");
        else if (exchange.reply) { bubble("them", exchange.reply); said = true; }
      }
      if (!said) note("（公众号没有回复：服务器返回 success）");
    } catch (err) {
      note(err.message, "error");
    }
  }

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return;
    $("text").value = "";
    act({ type: "text", content: text }, text);
  });

  $("send-voice").addEventListener("click", () => {
    const text = $("text").value;
    if (!text.trim()) { note("先输入要“说”的话，再点“语音”", "error"); return; }
    $("text").value = "";
    act({ type: "voice", content: text }, "[语音] " + text);
  });

  $("subscribe").addEventListener("click", () => { note("你关注了公众号"); act({ type: "subscribe" }); });
  $("unsubscribe").addEventListener("click", () => { note("你取消了关注"); act({ type: "unsubscribe" }); });

  // ---- pictures ----
  $("pick-picture").addEventListener("click", () => { pending = { type: "image" }; $("file").click(); });
  $("file").addEventListener("change", async () => {
    const file = $("file").files[0];
    $("file").value = "";
    if (!file) return;
    const form = new FormData();
    form.append("picture", file);
    try {
      const media = await post("/simulator/media", form, false);
      const action = Object.assign({}, pending || { type: "image" }, media);
      act(action, null, URL.createObjectURL(file));
    } catch (err) {
      note(err.message, "error");
    }
  });

  // ---- locations ----
  function openLocation(purpose) {
    pending = purpose;
    $("location-panel").hidden = false;
  }
  $("pick-location").addEventListener("click", () => openLocation({ type: "location" }));
  $("location-cancel").addEventListener("click", () => { $("location-panel").hidden = true; });
  $("location-panel").addEventListener("submit", (event) => {
    event.preventDefault();
    $("location-panel").hidden = true;
    const label = $("label").value.trim();
    const action = Object.assign({}, pending || { type: "location" },
                                 { lat: $("lat").value, lon: $("lon").value, label });
    act(action, "[位置] " + (label || ($("lat").value + ", " + $("lon").value)));
  });

  // ---- the custom menu ----
  function closeMenus() { document.querySelectorAll(".submenu").forEach((m) => { m.hidden = true; }); }
  document.querySelectorAll(".menu-top[data-menu]").forEach((button) => {
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      const submenu = $("submenu-" + button.dataset.menu);
      const wasHidden = submenu.hidden;
      closeMenus();
      submenu.hidden = !wasHidden;
    });
  });
  document.addEventListener("click", closeMenus);

  document.querySelectorAll(".menu-item").forEach((item) => {
    item.addEventListener("click", (event) => {
      event.stopPropagation();
      closeMenus();
      const { type, key, name, url } = item.dataset;
      if (type === "click") act({ type: "click", key }, "[菜单] " + name);
      else if (type.startsWith("pic_")) { pending = { type: "pic_event", event: type, key }; $("file").click(); }
      else if (type === "location_select") openLocation({ type: "location_select", key });
      else if (type === "view") note("（菜单将打开网页：" + url + "）");
      else note("模拟器暂不支持这种菜单按钮：" + type, "error");
    });
  });
})();
