// Exclusion-mask editor: draw rectangles on the canvas with the mouse, remove them, and keep the form's
// JSON field (fractions of the frame: [x_min, y_min, x_max, y_max]) in sync. The server validates it again.
(function () {
  const canvas = document.getElementById("mask-canvas");
  const field = document.getElementById("mask-rectangles");
  const list = document.getElementById("mask-list");
  if (!canvas || !field || !list) { return; }
  const ctx = canvas.getContext("2d");
  const image = new Image();
  let rects = [];
  let start = null;
  let preview = null;
  const round = (v) => Math.round(Math.min(Math.max(v, 0), 1) * 10000) / 10000;
  try { rects = JSON.parse(field.value || "[]"); } catch (e) { rects = []; }

  function draw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (image.complete && image.naturalWidth) {
      ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    } else {
      ctx.fillStyle = "#ddd"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    }
    const all = preview ? rects.concat([preview]) : rects;
    all.forEach((r, i) => {
      const [x0, y0, x1, y1] = [r[0] * canvas.width, r[1] * canvas.height, r[2] * canvas.width, r[3] * canvas.height];
      ctx.fillStyle = "rgba(0, 0, 0, 0.6)"; ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
      ctx.strokeStyle = "#ffcc00"; ctx.lineWidth = 2; ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
      if (r !== preview) { ctx.fillStyle = "#ffcc00"; ctx.font = "14px sans-serif"; ctx.fillText(String(i + 1), x0 + 4, y0 + 16); }
    });
  }

  function sync() {
    field.value = JSON.stringify(rects);
    list.replaceChildren();
    rects.forEach((r, i) => {
      const item = document.createElement("li");
      item.textContent = r.map((v) => v.toFixed(3)).join(", ") + " ";
      const remove = document.createElement("button");
      remove.type = "button"; remove.textContent = "remove"; remove.className = "mask-remove";
      remove.addEventListener("click", () => { rects.splice(i, 1); sync(); });
      item.appendChild(remove);
      list.appendChild(item);
    });
    draw();
  }

  function at(event) {
    const box = canvas.getBoundingClientRect();
    return [round((event.clientX - box.left) / box.width), round((event.clientY - box.top) / box.height)];
  }

  canvas.addEventListener("mousedown", (event) => { start = at(event); preview = null; });
  canvas.addEventListener("mousemove", (event) => {
    if (!start) { return; }
    const p = at(event);
    preview = [Math.min(start[0], p[0]), Math.min(start[1], p[1]), Math.max(start[0], p[0]), Math.max(start[1], p[1])];
    draw();
  });
  window.addEventListener("mouseup", () => {
    if (!start) { return; }  // not drawing: leave the list alone (its buttons are being clicked)
    if (preview && preview[2] - preview[0] >= 0.01 && preview[3] - preview[1] >= 0.01) { rects.push(preview); }
    start = null; preview = null; sync();
  });
  field.addEventListener("change", () => {
    try { rects = JSON.parse(field.value || "[]"); draw(); } catch (e) { /* the server says what is wrong */ }
  });
  document.getElementById("mask-clear").addEventListener("click", () => { rects = []; sync(); });
  image.addEventListener("load", () => {
    if (canvas.dataset.sized !== "1" && image.naturalWidth) {  // the frame's size was not recorded: use the image's
      canvas.height = Math.round(canvas.width * image.naturalHeight / image.naturalWidth);
    }
    canvas.dataset.loaded = "1";
    draw();
  });
  if (canvas.dataset.image) { image.src = canvas.dataset.image; }
  sync();
})();
