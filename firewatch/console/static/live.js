// Live alert list: server-sent events from /events; a new alert is added on top, an update replaces its row.
(function () {
  const body = document.getElementById("alert-rows");
  const status = document.getElementById("live-status");
  if (!body || !window.EventSource) { return; }
  const fmt = (v) => (v ? String(v).replace("T", " ").replace(/\.\d+/, "").replace(/(\+00:00|Z)$/, "") : "—");
  const cell = (text) => { const td = document.createElement("td"); td.textContent = text; return td; };
  const source = new EventSource("/events");
  source.onopen = () => { status.textContent = "live: connected"; status.dataset.state = "connected"; };
  source.onerror = () => { status.textContent = "live: reconnecting…"; status.dataset.state = "reconnecting"; };
  source.addEventListener("alert", (message) => {
    const a = JSON.parse(message.data);
    const row = document.createElement("tr");
    row.id = "alert-" + a.alert_id;
    row.className = "fresh";
    row.dataset.alertId = a.alert_id;
    const link = document.createElement("a");
    link.href = "/alerts/" + encodeURIComponent(a.alert_id);
    link.textContent = a.alert_id;
    const first = document.createElement("td"); first.appendChild(link); row.appendChild(first);
    row.appendChild(cell(a.camera_id));
    const ev = document.createElement("td"); const tag = document.createElement("span");
    tag.className = "tag " + a.event; tag.textContent = a.event; ev.appendChild(tag); row.appendChild(ev);
    row.appendChild(cell(Number(a.peak_probability).toFixed(3)));
    row.appendChild(cell(a.fire_frames));
    row.appendChild(cell(fmt(a.first_frame_at)));
    row.appendChild(cell(fmt(a.last_frame_at)));
    row.appendChild(cell(a.model_version));
    row.appendChild(cell("—"));
    const old = document.getElementById(row.id);
    if (old) { old.replaceWith(row); } else { body.prepend(row); }
    const empty = document.getElementById("no-alerts"); if (empty) { empty.remove(); }
  });
})();
