// The camera page: read a device's QR label with the camera and open the device. The
// browser's BarcodeDetector reads it where there is one; elsewhere jsQR (from npm, served
// from this site by `make install`, fetched only when needed) reads frames drawn on a
// canvas. Without a camera the page stays a plain scan box (progressive enhancement).
// ?decoder=jsqr uses jsQR even where a BarcodeDetector exists.
//
// In counting mode (a stocktake's camera page, whose form says data-mode="count") each label
// read is posted as a count by the form, a normal submit; the page comes back with the answer
// and starts the camera again by itself. A label still in view is not posted again: the same
// text is sent again only after it has been out of sight for REPEAT_MS.
const status = document.getElementById("camera-status");
const video = document.getElementById("camera-video");
const start = document.getElementById("camera-start");
const box = document.getElementById("f-tag");
const forced = new URLSearchParams(window.location.search).get("decoder") === "jsqr";
const native = "BarcodeDetector" in window && !forced;
const counting = box.form.dataset.mode === "count";
const REPEAT_MS = 2000;
const RESUME_MS = 60000; // a page loaded this soon after the camera posted a count resumes
const LAST_KEY = "lending.camera.last";

// The last label posted from this page (kept across the reload a submit makes).
function lastRead() {
  try {
    const last = JSON.parse(sessionStorage.getItem(LAST_KEY) || "null");
    return last && last.page === window.location.pathname ? last : null;
  } catch {
    return null;
  }
}

function remember(text) {
  try {
    sessionStorage.setItem(LAST_KEY, JSON.stringify(
      { page: window.location.pathname, text, at: Date.now() }));
  } catch {
    // No storage: repeats are then only held back within this page's life.
  }
}

function loadJsQR() {
  if (window.jsQR) return Promise.resolve(window.jsQR);
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/static/jsqr.js";
    script.onload = () => (window.jsQR ? resolve(window.jsQR) : reject(new Error("no jsQR")));
    script.onerror = reject;
    document.head.appendChild(script);
  });
}

// A reader: a function from the video to the text of a code in view, or null.
async function makeReader() {
  if (native) {
    const detector = new window.BarcodeDetector({ formats: ["qr_code", "code_128"] });
    return async () => {
      const found = await detector.detect(video).catch(() => []);
      return found.length ? found[0].rawValue : null;
    };
  }
  const jsQR = await loadJsQR();
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async () => {
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) return null;
    canvas.width = width;
    canvas.height = height;
    context.drawImage(video, 0, 0, width, height);
    const image = context.getImageData(0, 0, width, height);
    const code = jsQR(image.data, width, height, { inversionAttempts: "dontInvert" });
    return code && code.data ? code.data : null;
  };
}

async function scan() {
  const read = await makeReader();
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: "environment" }, audio: false });
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  status.textContent = counting ? "Looking for the next label…" : "Looking for a label…";
  let last = counting ? lastRead() : null;
  if (last) last.at = Date.now(); // the label just counted may still be in view
  const look = async () => {
    const text = await read();
    if (text && last && text === last.text && Date.now() - last.at < REPEAT_MS) {
      last.at = Date.now(); // still in view: not a new read
    } else if (text) {
      stream.getTracks().forEach((track) => track.stop());
      if (counting) remember(text);
      status.textContent = counting ? "Read " + text + ". Counting it…"
        : "Found " + text + ". Opening it…";
      box.value = text;
      box.form.submit();
      return;
    }
    requestAnimationFrame(look);
  };
  look();
}

function begin() {
  start.hidden = true;
  scan().catch(() => {
    start.hidden = false;
    status.textContent = "The camera could not start. Type the tag below instead.";
  });
}

if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  start.hidden = false;
  start.dataset.decoder = native ? "native" : "jsqr";
  start.addEventListener("click", begin);
  // Back from a count the camera made: carry on with the next label.
  const resumed = counting ? lastRead() : null;
  if (resumed && Date.now() - resumed.at < RESUME_MS) begin();
} else {
  status.textContent = "This browser cannot use the camera here. Type the tag below, or use a scanner.";
}
