// The results page: the owner's videos, live from the database's notifications (server-sent
// events), an upload box, and each video's player, captions, chapters, storyboard, transcript
// and metadata. No build step: plain DOM code; every text from data goes in as textContent.
"use strict";

const state = { jobs: new Map(), pending: new Map(), selected: null, detail: null, hls: null, early: null };

const $ = (id) => document.getElementById(id);
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}
const fileUrl = (ref) => `/files/${encodeURIComponent(ref.bucket)}/${ref.path.split("/").map(encodeURIComponent).join("/")}`;
const displayName = (path) => (path || "").split("/").pop().replace(/^[0-9a-f]{8}-/, "");
function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
}
async function getJson(url, options) {
  const answer = await fetch(url, options);
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(body.error || `${answer.status} ${answer.statusText}`);
  return body;
}

// The list ------------------------------------------------------------------------------------
function renderList() {
  const list = $("videos");
  const rows = [...state.pending.values(), ...[...state.jobs.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1))];
  list.replaceChildren(...rows.map((job) => {
    const row = $("video-row").content.firstElementChild.cloneNode(true);
    row.dataset.videoId = job.video_id || "";
    row.dataset.objectId = job.object_id;
    row.classList.toggle("selected", !!job.video_id && job.video_id === state.selected);
    row.querySelector(".name").textContent = job.title || displayName(job.path);
    row.querySelector(".name").title = displayName(job.path);
    const status = row.querySelector(".status");
    status.textContent = job.progress_stage ? `${job.status} ${percent(job)}%` : job.status;
    status.title = job.progress_stage ? `${job.progress_stage} ${percent(job)}%` : "";
    status.classList.add(job.status);
    if (job.poster) row.querySelector(".thumb").src = fileUrl({ bucket: job.poster_bucket, path: job.poster });
    if (job.video_id) row.querySelector("a").href = `#/video/${job.video_id}`;
    return row;
  }));
}

async function loadList() {
  const jobs = await getJson("/api/videos");
  state.jobs = new Map(jobs.map((j) => [j.job_id, j]));
  for (const j of jobs) state.pending.delete(j.object_id);
  renderList();
}

function jobChanged(job) {
  state.pending.delete(job.object_id);
  state.jobs.set(job.job_id, job);
  renderList();
  if (job.video_id === state.selected) showVideo(job.video_id);
}

function listen() {
  const live = $("live");
  const source = new EventSource("/api/events");
  source.addEventListener("hello", () => {
    live.textContent = "live";
    live.classList.add("on");
    loadList(); // whatever changed while the stream was down
  });
  source.addEventListener("job", (e) => jobChanged(JSON.parse(e.data)));
  source.onerror = () => {
    live.textContent = "reconnecting…";
    live.classList.remove("on");
    // The browser retries a dropped stream itself, but not a refused one (too many open pages).
    if (source.readyState === EventSource.CLOSED) setTimeout(listen, 5000);
  };
}

// Uploads ---------------------------------------------------------------------------------------
function upload(file) {
  const progress = $("progress"), note = $("upload-note");
  progress.hidden = false;
  progress.value = 0;
  note.textContent = `uploading ${file.name}…`;
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `/api/uploads?name=${encodeURIComponent(file.name)}`);
  xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
  };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText || "{}"); } catch { body = { error: xhr.statusText }; }
    if (xhr.status !== 201) {
      note.textContent = `not uploaded: ${body.error || xhr.status}`;
      return;
    }
    progress.value = 100;
    note.textContent = `${file.name} uploaded`;
    if (![...state.jobs.values()].some((j) => j.object_id === body.object_id)) {
      state.pending.set(body.object_id, { object_id: body.object_id, path: body.path, status: "uploaded", created_at: "" });
      renderList();
    }
  };
  xhr.onerror = () => { note.textContent = "the upload was cut off"; };
  xhr.send(file);
}

function setUpUploads() {
  const drop = $("drop"), input = $("file");
  input.addEventListener("change", () => { if (input.files[0]) upload(input.files[0]); input.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]);
  });
}

// One video -------------------------------------------------------------------------------------
async function showVideo(videoId) {
  const data = await getJson(`/api/videos/${videoId}`);
  if (state.selected !== videoId) return;
  const sameReady = state.detail && state.detail.job.video_id === videoId && state.detail.job.status === "ready" && data.job.status === "ready";
  state.detail = data;
  if (sameReady) {
    $("deliveries").replaceChildren(deliveriesTable(data.deliveries)); // the player keeps playing
    return;
  }
  const { job, document: doc, playing } = data;
  // On its way, the video plays as soon as it is playable; that player goes on playing through
  // the job's changes until the ready page's player takes over.
  const early = job.status !== "ready" && job.status !== "failed" && playing ? playing : null;
  const kept = early && state.early && state.early.dataset.videoId === job.video_id ? state.early : null;
  if (!kept && state.hls) { state.hls.destroy(); state.hls = null; }
  state.early = null;
  const section = $("detail");
  section.replaceChildren(
    el("h2", { id: "title", text: (doc && doc.suggestions && doc.suggestions.title) || displayName(job.path) }),
    el("p", { class: "note", id: "summary", text: `${displayName(job.path)} · ${job.status}` + (job.retries ? ` · retries: ${job.retries}` : "") }),
  );
  if (job.status === "failed") section.append(failure(job));
  else if (job.status !== "ready") section.append(steps(job.status), ...progress(job));
  if (job.status === "ready" && doc) section.append(...ready(doc, playing));
  else if (early) section.append(el("div", { class: "player" }, (state.early = kept || earlyPlayer(early, job.video_id))));
  else if (doc && doc.poster) section.append(el("img", { class: "poster", src: fileUrl(doc.poster), alt: "poster" }));
  section.append(el("h3", { text: "History" }), historyTable(data.events));
  section.append(el("h3", { text: "Webhook deliveries" }), el("div", { id: "deliveries" }, deliveriesTable(data.deliveries)));
}

// Where a job on its way stands: the steps it has done, the one it is in, those to come.
const STEPS = [["queued", "checked"], ["processing", "processing"], ["processed", "processed"],
  ["describing", "describing"], ["ready", "ready"]];
function steps(status) {
  const at = STEPS.findIndex(([s]) => s === status);
  return el("ol", { class: "steps", id: "steps" }, ...STEPS.map(([s, label], i) =>
    el("li", { class: i < at ? "done" : i === at ? "now" : "", text: label })));
}

// How far the running step is (the job row's progress, as the step reports it).
const percent = (job) => Math.floor((100 * job.progress_done) / job.progress_total);
function progress(job) {
  if (!job.progress_stage) return [];
  const seconds = job.progress_unit === "seconds";
  const done = seconds ? clock(job.progress_done) : job.progress_done;
  const total = seconds ? clock(job.progress_total) : `${job.progress_total} ${job.progress_unit}`;
  return [el("div", { class: "job-progress" },
    el("progress", { id: "job-progress", max: "100", value: String(percent(job)) }),
    el("span", { class: "note", id: "job-progress-note", text: `${job.progress_stage}: ${done} of ${total} (${percent(job)}%)` }))];
}

function failure(job) {
  const box = el("div", { class: "failure", id: "failure" },
    el("strong", { id: "reason", text: job.reason_code }), " ",
    el("span", { id: "message", text: job.last_error || "" }),
    el("div", { class: "note", text: job.failed_step ? `at the ${job.failed_step} step, attempt ${job.attempts} of ${job.max_attempts}` : "" }));
  const button = el("button", { class: "primary", id: "retry", text: job.retry_requested_at ? "Retry requested…" : "Retry" });
  button.disabled = !!job.retry_requested_at;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await getJson(`/api/jobs/${job.job_id}/retry`, { method: "POST" });
      button.textContent = "Retry requested…";
    } catch (e) {
      button.textContent = `Cannot retry: ${e.message}`;
    }
  });
  box.append(el("div", {}, button));
  return box;
}

function earlyPlayer(playing, videoId) {
  const video = el("video", { id: "player", controls: "", preload: "auto", playsinline: "", crossorigin: "anonymous" });
  video.dataset.videoId = videoId;
  attachSource(video, playing, null);
  return video;
}

function ready(doc, playing) {
  const video = el("video", { id: "player", controls: "", preload: "auto", playsinline: "", crossorigin: "anonymous" });
  if (doc.poster) video.poster = fileUrl(doc.poster);
  if (doc.captions) {
    const lang = (doc.transcript && doc.transcript.language) || "en";
    const track = el("track", { kind: "captions", src: fileUrl(doc.captions.vtt), srclang: lang, label: `Captions (${lang})`, default: "" });
    video.append(track);
    track.addEventListener("load", () => { track.track.mode = "showing"; });
  }
  attachSource(video, playing, doc.proxy);
  const timeline = el("div", { class: "timeline", id: "timeline" }, el("div", { class: "played" }));
  const tile = el("div", { class: "storyboard-tile", id: "storyboard-tile", hidden: "" }, el("span"));
  const player = el("div", { class: "player" }, video, timeline, tile);
  const duration = () => video.duration || (doc.technical && doc.technical.duration_seconds) || 0;
  const chapters = (doc.chapters && doc.chapters.items) || [];
  for (const c of chapters) {
    if (c.start > 0) timeline.append(el("div", { class: "chapter-mark", style: `left:${(100 * c.start) / duration()}%` }));
  }
  video.addEventListener("timeupdate", () => {
    timeline.firstChild.style.width = `${(100 * video.currentTime) / (duration() || 1)}%`;
    highlightWord(video.currentTime);
  });
  timeline.addEventListener("click", (e) => {
    const box = timeline.getBoundingClientRect();
    video.currentTime = ((e.clientX - box.left) / box.width) * duration();
  });
  if (doc.storyboard) hoverStoryboard(timeline, tile, fileUrl(doc.storyboard.vtt), duration);

  const parts = [player];
  if (chapters.length) {
    parts.push(el("h3", { text: "Chapters" }), el("ul", { class: "chapters", id: "chapters" }, ...chapters.map((c) =>
      el("li", {}, el("button", { class: "chapter", "data-start": c.start, onclick: () => { video.currentTime = c.start; } },
        el("b", { text: clock(c.start) }), c.label)))));
  }
  const s = doc.suggestions || {};
  if (s.description) parts.push(el("h3", { text: "Description" }), el("p", { id: "description", text: s.description }));
  const kw = (doc.keywords && doc.keywords.items) || [];
  if (kw.length) parts.push(el("h3", { text: "Keywords" }), el("ul", { class: "keywords", id: "keywords" }, ...kw.map((k) => el("li", { text: k.text }))));
  if (doc.transcript) {
    const t = doc.transcript;
    const box = el("div", { class: "transcript", id: "transcript" }, el("p", { class: "note", text: t.speech ? "loading words…" : `no speech: ${t.no_speech_reason || ""}` }));
    parts.push(el("h3", { text: `Transcript${t.language ? ` (${t.language}, ${Math.round(100 * (t.language_probability || 0))}%)` : ""}` }), box);
    if (t.speech && t.words) loadWords(box, fileUrl(t.words), video);
  }
  parts.push(el("div", { class: "grid2" },
    el("div", {}, el("h3", { text: "Technical" }), technicalTable(doc)),
    el("div", {}, el("h3", { text: "Loudness" }), loudnessTable(doc.loudness))));
  return parts;
}

// What plays (the API's `playing`: an HLS playlist or the MP4 proxy) through hls.js where the
// browser has Media Source Extensions, else natively (Safari on iOS), else the MP4 proxy.
function attachSource(video, playing, proxy) {
  const mp4 = proxy ? fileUrl(proxy) : null;
  const play = (src, how) => { video.src = src; video.dataset.source = how; };
  video.dataset.kind = playing ? playing.kind : "proxy";
  if (!playing || !playing.path.endsWith(".m3u8")) {
    if (playing || mp4) play(playing ? fileUrl(playing) : mp4, "mp4");
    return;
  }
  const master = fileUrl(playing);
  withHls().then((Hls) => {
    if (Hls && Hls.isSupported()) {
      state.hls = new Hls();
      state.hls.loadSource(master);
      state.hls.attachMedia(video);
      video.dataset.source = "hls.js";
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) play(master, "hls");
    else if (mp4) play(mp4, "mp4");
  });
}

let hlsLoading = null;
function withHls() {
  hlsLoading ||= new Promise((resolve) => {
    const script = el("script", { src: "/vendor/hls.min.js" });
    script.onload = () => resolve(window.Hls);
    script.onerror = () => resolve(null);
    document.head.append(script);
  });
  return hlsLoading;
}

// Storyboard: WebVTT cues naming a sprite and the tile's #xywh=x,y,w,h.
function parseStoryboard(text, base) {
  const stamp = (t) => t.split(":").reduce((acc, part) => acc * 60 + parseFloat(part), 0);
  const cues = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const lines = block.trim().split(/\r?\n/);
    const timing = lines.findIndex((l) => l.includes("-->"));
    if (timing < 0 || !lines[timing + 1]) continue;
    const [from, to] = lines[timing].split("-->").map((s) => stamp(s.trim().split(/\s/)[0]));
    const [ref, frag] = lines[timing + 1].trim().split("#xywh=");
    const [x, y, w, h] = (frag || "0,0,0,0").split(",").map(Number);
    cues.push({ from, to, url: new URL(ref, base).href, x, y, w, h });
  }
  return cues;
}

async function hoverStoryboard(timeline, tile, vttUrl, duration) {
  const text = await (await fetch(vttUrl)).text();
  const cues = parseStoryboard(text, new URL(vttUrl, location.href));
  timeline.addEventListener("mousemove", (e) => {
    const box = timeline.getBoundingClientRect();
    const t = ((e.clientX - box.left) / box.width) * duration();
    const cue = cues.find((c) => t >= c.from && t < c.to) || cues[cues.length - 1];
    if (!cue) return;
    Object.assign(tile.style, {
      width: `${cue.w}px`, height: `${cue.h}px`, left: `${e.clientX - box.left}px`,
      backgroundImage: `url("${cue.url}")`, backgroundPosition: `-${cue.x}px -${cue.y}px`,
    });
    tile.firstChild.textContent = clock(t);
    tile.hidden = false;
  });
  timeline.addEventListener("mouseleave", () => { tile.hidden = true; });
}

let words = [];
async function loadWords(box, url, video) {
  const data = await (await fetch(url)).json();
  words = data.words || [];
  box.replaceChildren(...words.flatMap((w, i) => [
    el("span", { class: "word", "data-start": w.start, "data-index": i, text: w.text, onclick: () => { video.currentTime = w.start; } }), " "]));
}
function highlightWord(t) {
  const box = $("transcript");
  if (!box || !words.length) return;
  const now = words.findIndex((w) => t >= w.start && t < w.end);
  for (const span of box.querySelectorAll(".word.now")) span.classList.remove("now");
  if (now >= 0) box.querySelector(`.word[data-index="${now}"]`)?.classList.add("now");
}

function table(rows) {
  return el("table", {}, ...rows.filter(([, v]) => v != null && v !== "").map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: String(v) }))));
}
function technicalTable(doc) {
  const t = doc.technical || {};
  const rows = [["container", t.container], ["duration", t.duration_seconds != null ? `${t.duration_seconds.toFixed(2)} s` : null],
    ["size", t.size_bytes != null ? `${(t.size_bytes / 1e6).toFixed(2)} MB` : null],
    ["bit rate", t.bit_rate ? `${Math.round(t.bit_rate / 1000)} kb/s` : null]];
  for (const s of t.streams || []) {
    if (s.kind === "video") rows.push([`video #${s.index}`, `${s.codec} ${s.profile || ""} ${s.width}x${s.height} ${s.fps ? `${s.fps} fps` : ""}${s.rotation ? ` rotated ${s.rotation}°` : ""}`]);
    else if (s.kind === "audio") rows.push([`audio #${s.index}`, `${s.codec} ${s.channels || "?"} ch ${s.sample_rate ? `${s.sample_rate} Hz` : ""}${s.language ? ` ${s.language}` : ""}`]);
  }
  return el("div", { id: "technical" }, table(rows));
}
function loudnessTable(l) {
  if (!l) return el("p", { class: "note", id: "loudness", text: "no audio" });
  return el("div", { id: "loudness" }, table([["integrated", `${l.integrated_lufs} LUFS`], ["true peak", `${l.true_peak_dbtp} dBTP`],
    ["range", `${l.range_lu} LU`], ["standard", l.standard]]));
}
function historyTable(events) {
  return el("table", { id: "history" }, ...events.map((e) => el("tr", {},
    el("td", { text: new Date(e.created_at).toLocaleTimeString() }), el("td", { text: `${e.from_status || "—"} → ${e.to_status}` }),
    el("td", { text: [e.reason_code, e.message].filter(Boolean).join(": ") }))));
}
function deliveriesTable(deliveries) {
  if (!deliveries.length) return el("p", { class: "note", text: "no endpoint is registered for these events (`vidpipe webhooks add URL`)" });
  return el("table", {}, el("tr", {}, ...["event", "endpoint", "status", "attempts", "last answer"].map((h) => el("th", { text: h }))),
    ...deliveries.map((d) => el("tr", { class: "delivery" }, el("td", { text: d.event_type }), el("td", { text: d.url }),
      el("td", { text: d.status }), el("td", { text: String(d.attempts) }),
      el("td", { text: d.last_status_code ? `HTTP ${d.last_status_code}` : d.last_error || "" }))));
}

// Routing ---------------------------------------------------------------------------------------
function route() {
  const match = location.hash.match(/^#\/video\/([0-9a-f-]{36})$/);
  state.selected = match ? match[1] : null;
  state.detail = null;
  renderList();
  if (state.selected) showVideo(state.selected).catch((e) => $("detail").replaceChildren(el("p", { class: "empty", text: e.message })));
}

window.addEventListener("hashchange", route);
setUpUploads();
listen();
loadList().then(route);
