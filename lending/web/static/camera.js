// The camera page: read a device's QR label with the camera and open the device. The
// browser's BarcodeDetector reads it where there is one; elsewhere jsQR (from npm, served
// from this site by `make install`, fetched only when needed) reads frames drawn on a
// canvas. Without a camera the page stays a plain scan box (progressive enhancement).
// ?decoder=jsqr uses jsQR even where a BarcodeDetector exists.
const status = document.getElementById("camera-status");
const video = document.getElementById("camera-video");
const start = document.getElementById("camera-start");
const box = document.getElementById("f-tag");
const forced = new URLSearchParams(window.location.search).get("decoder") === "jsqr";
const native = "BarcodeDetector" in window && !forced;

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
  status.textContent = "Looking for a label…";
  const look = async () => {
    const text = await read();
    if (text) {
      stream.getTracks().forEach((track) => track.stop());
      status.textContent = "Found " + text + ". Opening it…";
      box.value = text;
      box.form.submit();
      return;
    }
    requestAnimationFrame(look);
  };
  look();
}

if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  start.hidden = false;
  start.dataset.decoder = native ? "native" : "jsqr";
  start.addEventListener("click", () => {
    start.hidden = true;
    scan().catch(() => {
      status.textContent = "The camera could not start. Type the tag below instead.";
    });
  });
} else {
  status.textContent = "This browser cannot use the camera here. Type the tag below, or use a scanner.";
}
