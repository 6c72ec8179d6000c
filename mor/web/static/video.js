// The video consultation in the browser: the patient's device check and waiting room,
// then the call (WebRTC; mor relays only the set-up, through a WebSocket), and the chat.
//
// The clinician's browser always makes the offers and the patient's answers, so the two
// never offer at once. The patient says "restart" whenever it needs a fresh offer: when
// it is ready, after its socket reconnected, or when the media connection failed; the
// clinician also restarts ICE by itself when its side of the connection fails.
//
// Offers are numbered and each answer names the offer it answers: a restart asked for
// while an offer is on its way brings a second offer, and the answer to the first, when
// it arrives, must not be taken for the answer to the second (the two sides would then
// hold different ICE credentials and never connect).

const root = document.getElementById("consult");
const texts = JSON.parse(document.getElementById("video-texts").textContent);
const encounter = root.dataset.encounter;
const role = root.dataset.role;
const base = `/video/${encounter}`;

// Below this estimate of what the link can carry, video is stopped and sound goes on;
// above the second, video comes back. Two levels, so it does not flap at one edge.
const AUDIO_ONLY_BELOW = 150_000;
const VIDEO_BACK_ABOVE = 300_000;
const SAMPLES_TO_SWITCH = 3; // checks every 2 s
const SOUND_ONLY_AUDIO_BITRATE = 16_000;
const QUEUE_POLL_MS = 15_000;
const QUEUE_SPREAD_MS = 3_000;
// Sound only, video is tried again after 10 s, then 20, 40, 80 s while the link stays weak.
const FIRST_TRIAL_WAIT_CHECKS = 5;
const LAST_TRIAL_WAIT_CHECKS = 40;
const TRIAL_MS = 1500;
// The patient asks for an offer again if none arrived this long after asking.
const OFFER_AWAITED_MS = 5000;
const $ = (id) => document.getElementById(id);

let socket = null;
let socketAttempts = 0;
let pc = null;
let localStream = null;
let iceServers = [];
let callStarted = false;
let ended = false;
let pendingCandidates = [];
let makingOffer = false;
let offerWanted = false;
let offersMade = 0;
let offerAwaited = null;
let sendingVideo = true;
let theirVideo = true;
let lowSamples = 0;
let highSamples = 0;
let checksSoundOnly = 0;
let checksBeforeTrial = FIRST_TRIAL_WAIT_CHECKS;
let tryingVideo = false;
let disconnectedTimer = null;
let handling = Promise.resolve();
let iceRestarts = 0;
let lastEstimate = null;

// For tests and support: the peer connection and what the call is doing.
window.morCall = {
  get pc() { return pc; },
  get sendingVideo() { return sendingVideo; },
  get theirVideo() { return theirVideo; },
  get tryingVideo() { return tryingVideo; },
  get iceRestarts() { return iceRestarts; },
  get outgoingEstimate() { return lastEstimate; },
  get status() { return $("call-status")?.textContent ?? ""; },
};

function format(text, values) {
  return text.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
}

function say(key, values = {}) {
  $("call-status").textContent = format(texts[key], values);
}

// -- the socket ------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}${base}/signal`);
  socket.addEventListener("open", () => { socketAttempts = 0; });
  // One message at a time, in order: two offers in quick succession (two "restart"s)
  // must not be answered at once, or the second answer finds the wrong state.
  socket.addEventListener("message", (event) => {
    handling = handling.then(() => handle(JSON.parse(event.data))).catch((error) => {
      console.warn("a signalling message could not be handled", error);
    });
  });
  socket.addEventListener("close", (event) => {
    if (event.code === 4401 || event.code === 4403) {
      if (!ended) showNotAllowed();
      return;
    }
    if (ended) return;
    if (callStarted) say("reconnecting");
    // Back off up to 5 s: a phone that lost its network tries again soon after it is back.
    socketAttempts += 1;
    setTimeout(connect, Math.min(5000, 250 * 2 ** socketAttempts));
  });
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

async function handle(message) {
  switch (message.type) {
    case "welcome":
      if (callStarted) askForOffer();
      break;
    case "peer-joined":
      // A page that (re)joins starts with video on.
      if (message.role !== role) theirVideo = true;
      if (message.role !== role && callStarted) {
        if (role === "clinician") await offer(true);
        else send({ type: "restart", to: message.from });
      }
      break;
    case "restart":
      if (role === "clinician" && callStarted) await offer(true);
      break;
    case "description":
      await onDescription(message);
      break;
    case "candidate":
      await onCandidate(message.candidate);
      break;
    case "media":
      theirVideo = message.video !== false;
      sayMedia(theirVideo);
      break;
    case "peer-left":
      if (callStarted && !ended) say("otherLeft");
      break;
    case "admitted":
      if (role === "patient") await startCall();
      break;
    case "handed-over":
      if (role === "patient") backToWaiting();
      break;
    case "queue":
      // Every patient waiting at the centre is told at once: spread their asking over
      // a few seconds, so a full waiting room does not ask all in the same instant.
      if (role === "patient" && !callStarted) {
        setTimeout(() => { if (!callStarted && !ended) refreshQueue(); },
          Math.random() * QUEUE_SPREAD_MS);
      }
      break;
    case "chat":
      showMessage(message.message);
      break;
    case "ended":
      finish();
      break;
    default:
      break;
  }
}

// -- the call --------------------------------------------------------------------------

async function media() {
  if (!localStream) {
    localStream = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } },
    });
  }
  return localStream;
}

async function startCall() {
  if (callStarted || ended) return;
  callStarted = true;
  $("waiting")?.setAttribute("hidden", "");
  $("device-check")?.setAttribute("hidden", "");
  $("call").removeAttribute("hidden");
  say("connecting");
  const stream = await media();
  $("local-video").srcObject = stream;
  iceServers = await freshIceServers();
  createPeer(stream);
  if (role === "clinician") await offer(false);
  else askForOffer();
  setInterval(watchBitrate, 2000);
}

// TURN credentials are short-lived (MOR_TURN_TTL): a restart after a long call, or after
// the network changed, needs new ones for the relays it allocates.
async function freshIceServers() {
  const answer = await fetch(`${base}/ice`, { credentials: "same-origin" });
  return answer.ok ? (await answer.json()).iceServers : iceServers;
}

function askForOffer() {
  if (role !== "patient") return;
  send({ type: "restart" });
  // A message sent while the other side was still setting up can be lost: ask again
  // until an offer comes.
  clearTimeout(offerAwaited);
  offerAwaited = setTimeout(() => {
    if (pc && !ended && !pc.remoteDescription) askForOffer();
  }, OFFER_AWAITED_MS);
}

function createPeer(stream) {
  pc = new RTCPeerConnection({
    iceServers,
    iceTransportPolicy: root.dataset.relayOnly === "true" ? "relay" : "all",
  });
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  pc.addEventListener("track", (event) => {
    const remote = $("remote-video");
    if (remote.srcObject !== event.streams[0]) remote.srcObject = event.streams[0];
  });
  pc.addEventListener("icecandidate", (event) => {
    if (event.candidate) send({ type: "candidate", candidate: event.candidate.toJSON() });
  });
  pc.addEventListener("connectionstatechange", onConnectionState);
}

function onConnectionState() {
  const state = pc.connectionState;
  if (state === "connected") {
    clearTimeout(disconnectedTimer);
    sayMedia(false);
  } else if (state === "disconnected" || state === "failed") {
    say("reconnecting");
    clearTimeout(disconnectedTimer);
    // "disconnected" often heals by itself within a second or two; "failed" never does.
    disconnectedTimer = setTimeout(restartIce, state === "failed" ? 0 : 2000);
  }
}

async function restartIce() {
  if (!pc || pc.connectionState === "connected" || ended) return;
  try {
    pc.setConfiguration({ ...pc.getConfiguration(), iceServers: await freshIceServers() });
  } catch {
    // Offline: the old servers stay until the next try.
  }
  iceRestarts += 1;
  if (role === "clinician") await offer(true);
  else askForOffer();
  // Until the link is back, keep asking: a message sent while the network was down is lost.
  disconnectedTimer = setTimeout(restartIce, 4000);
}

async function offer(iceRestart) {
  // Asked for before the peer connection exists, or while an offer is being made: the
  // offer is made as soon as it can be, not forgotten.
  if (!pc || makingOffer) {
    offerWanted = true;
    return;
  }
  try {
    makingOffer = true;
    offerWanted = false;
    const description = await pc.createOffer({ iceRestart });
    await pc.setLocalDescription(description);
    offersMade += 1;
    send({ type: "description", description: pc.localDescription.toJSON(), offer: offersMade });
  } finally {
    makingOffer = false;
  }
  if (offerWanted) await offer(true);
}

async function onDescription(message) {
  const { description } = message;
  if (!pc) return;
  if (description.type === "offer") {
    if (role !== "patient") return;
    await pc.setRemoteDescription(description);
    await flushCandidates();
    // Without an argument the browser makes the answer the state calls for.
    await pc.setLocalDescription();
    send({ type: "description", description: pc.localDescription.toJSON(),
      answers: message.offer });
  } else if (description.type === "answer" && pc.signalingState === "have-local-offer"
             && message.answers === offersMade) {
    await pc.setRemoteDescription(description);
    await flushCandidates();
  }
}

async function onCandidate(candidate) {
  if (!pc || !pc.remoteDescription) {
    pendingCandidates.push(candidate);
    return;
  }
  try {
    await pc.addIceCandidate(candidate);
  } catch {
    // A candidate of an older negotiation, after an ICE restart: no longer needed.
  }
}

async function flushCandidates() {
  const waiting = pendingCandidates;
  pendingCandidates = [];
  for (const candidate of waiting) await onCandidate(candidate);
}

// -- sound only on a weak link ---------------------------------------------------------
//
// The browser's estimate of what the link carries stops moving once only sound is sent,
// so it cannot tell when the link has recovered. Now and then the call tries video again
// without saying so; if the estimate holds up, video is back for good and both sides are
// told; if not, it is quietly sound only again, and the next try waits twice as long.

async function outgoingEstimate() {
  const stats = await pc.getStats();
  let estimate = null;
  stats.forEach((report) => {
    if (report.type === "candidate-pair" && report.nominated && report.state === "succeeded"
        && typeof report.availableOutgoingBitrate === "number") {
      estimate = report.availableOutgoingBitrate;
    }
  });
  return estimate;
}

async function watchBitrate() {
  if (!pc || pc.connectionState !== "connected" || tryingVideo) return;
  const estimate = await outgoingEstimate();
  if (estimate === null) return;
  lastEstimate = estimate;
  if (sendingVideo) {
    lowSamples = estimate < AUDIO_ONLY_BELOW ? lowSamples + 1 : 0;
    if (lowSamples >= SAMPLES_TO_SWITCH) await toSoundOnly();
  } else {
    highSamples = estimate > VIDEO_BACK_ABOVE ? highSamples + 1 : 0;
    checksSoundOnly += 1;
    if (highSamples >= SAMPLES_TO_SWITCH) await toVideo();
    else if (checksSoundOnly >= checksBeforeTrial) await tryVideo();
  }
}

// Sending video again makes the browser probe the link at once (a short burst); its
// estimate a moment later says whether the link carries video. A short try, so that on
// a link still too narrow the sound suffers for a second or two, not longer.
async function tryVideo() {
  tryingVideo = true;
  await videoEncodings(true, { soundCapped: true });
  await new Promise((resolve) => setTimeout(resolve, TRIAL_MS));
  const estimate = pc && pc.connectionState === "connected" ? await outgoingEstimate() : null;
  tryingVideo = false;
  if (estimate !== null) lastEstimate = estimate;
  if (estimate !== null && estimate > VIDEO_BACK_ABOVE) {
    await toVideo();
  } else if (pc) {
    await videoEncodings(false);
    checksSoundOnly = 0;
    checksBeforeTrial = Math.min(checksBeforeTrial * 2, LAST_TRIAL_WAIT_CHECKS);
  }
}

async function toSoundOnly() {
  await videoEncodings(false);
  sendingVideo = false;
  checksSoundOnly = 0;
  checksBeforeTrial = FIRST_TRIAL_WAIT_CHECKS;
  announce();
}

async function toVideo() {
  await videoEncodings(true);
  sendingVideo = true;
  announce();
}

function announce() {
  lowSamples = 0;
  highSamples = 0;
  send({ type: "media", video: sendingVideo });
  sayMedia(sendingVideo);
}

async function videoEncodings(on, { soundCapped = !on } = {}) {
  for (const sender of pc.getSenders()) {
    if (!sender.track) continue;
    const parameters = sender.getParameters();
    for (const encoding of parameters.encodings ?? []) {
      if (sender.track.kind === "video") encoding.active = on;
      // Sound alone on a weak link: speech needs little (Opus stays clear at 16 kbit/s),
      // and each 20 ms packet's headers take about as much again, so Chromium is also
      // let lengthen its packets (adaptivePtime, its own; other browsers ignore it).
      else if (soundCapped) {
        encoding.maxBitrate = SOUND_ONLY_AUDIO_BITRATE;
        encoding.adaptivePtime = true;
      } else {
        delete encoding.maxBitrate;
        encoding.adaptivePtime = false;
      }
    }
    await sender.setParameters(parameters);
  }
}

// The status tells the weaker of the two sides: sound only while either sends no video.
function sayMedia(videoJustCameBack) {
  if (!sendingVideo) say("audioOnlyHere");
  else if (!theirVideo) say("audioOnlyThere");
  else say(videoJustCameBack ? "videoBack" : "connected");
}

// -- controls --------------------------------------------------------------------------

function toggle(button, kind, onKey, offKey) {
  button.addEventListener("click", () => {
    if (!localStream) return;
    const pressed = button.getAttribute("aria-pressed") !== "true";
    for (const track of localStream.getTracks()) {
      if (track.kind === kind) track.enabled = !pressed;
    }
    button.setAttribute("aria-pressed", String(pressed));
    button.textContent = texts[pressed ? onKey : offKey];
  });
}

function finish() {
  ended = true;
  if (pc) pc.close();
  if (localStream) for (const track of localStream.getTracks()) track.stop();
  $("call").setAttribute("hidden", "");
  $("waiting")?.setAttribute("hidden", "");
  $("ended").removeAttribute("hidden");
  if (socket) socket.close();
}

function showNotAllowed() {
  ended = true;
  $("call").removeAttribute("hidden");
  say("notAllowed");
}

// -- the waiting room and the device check ---------------------------------------------

async function refreshQueue() {
  const answer = await fetch(`${base}/state`, { credentials: "same-origin" });
  if (!answer.ok) return;
  const state = await answer.json();
  if (state.status === "in-progress") {
    await startCall();
  } else if (state.status === "finished" || state.status === "cancelled") {
    finish();
  } else if (state.status === "arrived") {
    $("queue").textContent = state.place <= 1 ? texts.next
      : format(texts.place, { place: state.place, minutes: state.wait_minutes });
  }
}

function backToWaiting() {
  if (pc) pc.close();
  pc = null;
  callStarted = false;
  $("call").setAttribute("hidden", "");
  $("waiting").removeAttribute("hidden");
  $("queue").textContent = texts.handedOver;
}

function checked(name, text) {
  root.querySelector(`[data-check="${name}"] span`).textContent = text;
}

async function checkDevices() {
  try {
    const stream = await media();
    checked("camera", stream.getVideoTracks().length ? texts.ok : texts.cameraMissing);
    checked("microphone", await hearsSomething(stream) ? texts.ok : texts.silent);
  } catch (error) {
    const key = error.name === "NotAllowedError" ? "cameraDenied"
      : error.name === "NotFoundError" ? "cameraMissing" : "cameraFailed";
    checked("camera", texts[key]);
    checked("microphone", texts[key]);
  }
  checked("connection", await measureConnection());
}

async function hearsSomething(stream) {
  if (!stream.getAudioTracks().length) return false;
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Uint8Array(analyser.fftSize);
  let loudest = 0;
  for (let i = 0; i < 10; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    analyser.getByteTimeDomainData(samples);
    for (const sample of samples) loudest = Math.max(loudest, Math.abs(sample - 128));
  }
  await context.close();
  return loudest > 2;
}

async function measureConnection() {
  const started = performance.now();
  try {
    const answer = await fetch(`${base}/speed`, { credentials: "same-origin", cache: "no-store" });
    const bytes = (await answer.arrayBuffer()).byteLength;
    const seconds = (performance.now() - started) / 1000;
    const speed = Math.round((bytes * 8) / 1000 / Math.max(seconds, 0.001));
    return format(speed >= 500 ? texts.fast : texts.slow, { speed });
  } catch {
    return texts.offline;
  }
}

function playSound() {
  const context = new AudioContext();
  const tone = context.createOscillator();
  tone.frequency.value = 660;
  tone.connect(context.destination);
  tone.start();
  tone.stop(context.currentTime + 0.4);
  checked("speaker", texts.heard);
}

// -- chat ------------------------------------------------------------------------------

const shownMessages = new Set();

function showMessage(message) {
  if (shownMessages.has(message.id)) return;
  shownMessages.add(message.id);
  const item = document.createElement("li");
  const mine = (role === "patient") === message.sender.startsWith("Patient/");
  item.className = mine ? "mine" : "theirs";
  const who = document.createElement("strong");
  who.textContent = `${mine ? texts.you : texts.them}: `;
  item.append(who);
  if (message.text) item.append(document.createTextNode(message.text));
  if (message.photo) {
    const image = document.createElement("img");
    image.src = message.photo;
    image.alt = message.text || texts.photoSent;
    image.loading = "lazy";
    item.append(image);
  }
  $("messages").append(item);
}

async function loadMessages() {
  const answer = await fetch(`${base}/messages`, { credentials: "same-origin" });
  if (answer.ok) for (const message of (await answer.json()).messages) showMessage(message);
}

$("chat-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("chat-error");
  const answer = await fetch(form.action, {
    method: "POST", body: new FormData(form), credentials: "same-origin",
  });
  const body = await answer.json();
  if (answer.ok) {
    showMessage(body);
    form.reset();
    error.setAttribute("hidden", "");
  } else {
    error.textContent = body.error;
    error.removeAttribute("hidden");
  }
});

// -- start -----------------------------------------------------------------------------

toggle($("mute"), "audio", "unmute", "mute");
toggle($("camera"), "video", "cameraOn", "cameraOff");
$("play-sound")?.addEventListener("click", playSound);
connect();
loadMessages();
if (role === "clinician") {
  startCall();
} else if (root.dataset.status === "in-progress") {
  startCall();
} else {
  checkDevices();
  refreshQueue();
  // The socket tells only of this patient's own changes (admitted, handed over); the
  // place and the expected wait as others come and go are asked for this often.
  setInterval(() => { if (!callStarted && !ended) refreshQueue(); }, QUEUE_POLL_MS);
}
