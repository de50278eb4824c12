// The camera page: where the browser has a BarcodeDetector, read QR labels with it and open
// the device; elsewhere the page stays a plain scan box (progressive enhancement).
const status = document.getElementById("camera-status");
const video = document.getElementById("camera-video");
const start = document.getElementById("camera-start");
const box = document.getElementById("f-tag");

async function scan() {
  const detector = new window.BarcodeDetector({ formats: ["qr_code", "code_128"] });
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: "environment" }, audio: false });
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  status.textContent = "Looking for a label…";
  const look = async () => {
    const found = await detector.detect(video).catch(() => []);
    if (found.length) {
      stream.getTracks().forEach((track) => track.stop());
      status.textContent = "Found " + found[0].rawValue + ". Opening it…";
      box.value = found[0].rawValue;
      box.form.submit();
      return;
    }
    requestAnimationFrame(look);
  };
  look();
}

if ("BarcodeDetector" in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  start.hidden = false;
  start.addEventListener("click", () => {
    start.hidden = true;
    scan().catch(() => {
      status.textContent = "The camera could not start. Type the tag below instead.";
    });
  });
} else {
  status.textContent = "This browser cannot read labels with the camera. Type the tag below, or use a scanner.";
}
