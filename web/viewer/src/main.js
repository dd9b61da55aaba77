// The page of `unflat view`: one Gaussian scene, seen first from the photo's own camera.
//
// Frames: the three.js world is the photo camera's OpenGL frame (x right, y up, z backward,
// metres); a scene stored in OpenCV axes (x right, y down, z forward) is turned 180 degrees
// about x to get there. Measured points are reported in the photo camera's OpenCV frame, the
// frame of `unflat depth` and `unflat splat`.
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { VRButton } from "three/addons/webxr/VRButton.js";
import { SparkControls, SparkRenderer, SplatMesh } from "@sparkjsdev/spark";

import { pickDepth } from "./pick.js";

const canvas = document.getElementById("view");
const status = document.getElementById("status");
const reading = document.getElementById("reading");
const NEAR = 0.01;
const FAR = 1000;

function say(text) {
  status.textContent = text;
}

// --- the photo's camera ----------------------------------------------------------------------

/** A projection matrix from pinhole intrinsics, keeping the photo's vertical field of view. */
function projectionFromIntrinsics(intrinsics, width, height) {
  const { fx, fy, cx, cy } = intrinsics;
  // fit the photo's height to the canvas; extra width shows more of the scene at the sides
  const scale = height / intrinsics.height;
  const fxs = fx * scale;
  const fys = fy * scale;
  const cxs = cx * scale + (width - intrinsics.width * scale) / 2;
  const cys = cy * scale;
  const m = new THREE.Matrix4();
  m.set(
    (2 * fxs) / width, 0, 1 - (2 * cxs) / width, 0,
    0, (2 * fys) / height, (2 * cys) / height - 1, 0,
    0, 0, -(FAR + NEAR) / (FAR - NEAR), (-2 * FAR * NEAR) / (FAR - NEAR),
    0, 0, -1, 0,
  );
  return m;
}

class PhotoCamera extends THREE.PerspectiveCamera {
  constructor(intrinsics) {
    super(60, 1, NEAR, FAR);
    this.intrinsics = intrinsics;
  }

  updateProjectionMatrix() {
    if (!this.intrinsics || !this.size) {
      super.updateProjectionMatrix();
      return;
    }
    this.projectionMatrix.copy(projectionFromIntrinsics(this.intrinsics, ...this.size));
    this.projectionMatrixInverse.copy(this.projectionMatrix).invert();
  }
}

// --- the viewer --------------------------------------------------------------------------------

async function start() {
  const config = await (await fetch("scene.json", { cache: "no-store" })).json();
  document.getElementById("name").textContent = config.name;
  document.title = `${config.name} — unflat view`;

  const renderer = new THREE.WebGLRenderer({ canvas, antialias: false, preserveDrawingBuffer: true });
  renderer.setPixelRatio(1);
  renderer.xr.enabled = true;
  // "local": the headset starts where the photo was taken (the origin), not 1.6 m above a floor
  renderer.xr.setReferenceSpaceType("local");
  const scene = new THREE.Scene();
  // the low-pass of `unflat render` (eps2d: added to each projected covariance, opacity kept)
  const spark = new SparkRenderer({ renderer, preBlurAmount: config.eps2d, blurAmount: 0 });
  scene.add(spark);
  const camera = new PhotoCamera(config.camera);
  const rig = new THREE.Group(); // moved in VR and fly mode; the camera sits in it
  rig.add(camera);
  scene.add(rig);

  const mesh = new SplatMesh({ url: config.scene, fileType: config.file_type });
  if (config.axes === "opencv") mesh.quaternion.set(1, 0, 0, 0); // 180 degrees about x
  scene.add(mesh);

  const orbit = new OrbitControls(camera, canvas);
  orbit.enableDamping = false;
  const fly = new SparkControls({ canvas });
  fly.fpsMovement.enable = false;
  fly.pointerControls.enable = false;
  const target = new THREE.Vector3(0, 0, -config.median_depth);

  function resize() {
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    renderer.setSize(width, height, false);
    camera.aspect = width / height;
    camera.size = [width, height];
    camera.updateProjectionMatrix();
  }

  function reset() {
    rig.position.set(0, 0, 0);
    rig.quaternion.identity();
    camera.position.set(0, 0, 0);
    camera.quaternion.identity();
    orbit.target.copy(target);
    orbit.update();
    camera.position.set(0, 0, 0); // orbit.update may nudge it; the photo's camera is the origin
    camera.quaternion.identity();
  }

  function setMode(mode) {
    const flying = mode === "fly";
    orbit.enabled = !flying;
    fly.fpsMovement.enable = flying;
    fly.pointerControls.enable = flying;
    document.getElementById("orbit").classList.toggle("on", !flying);
    document.getElementById("fly").classList.toggle("on", flying);
    if (!flying) {
      // orbit about the point straight ahead at the scene's median depth
      const ahead = new THREE.Vector3(0, 0, -config.median_depth).applyQuaternion(camera.quaternion);
      orbit.target.copy(camera.position).add(ahead);
      orbit.update();
    }
  }

  resize();
  window.addEventListener("resize", resize);
  reset();
  say("loading the scene…");
  await mesh.initialized;
  const centres = new Float32Array(mesh.numSplats * 3);
  const opacities = new Float32Array(mesh.numSplats);
  mesh.updateMatrixWorld(true);
  const local = new THREE.Vector3();
  mesh.forEachSplat((index, center, _scales, _quaternion, opacity) => {
    local.copy(center).applyMatrix4(mesh.matrixWorld);
    centres[3 * index] = local.x;
    centres[3 * index + 1] = local.y;
    centres[3 * index + 2] = local.z;
    opacities[index] = opacity;
  });

  let frames = 0;
  renderer.setAnimationLoop(() => {
    if (fly.fpsMovement.enable) fly.update(camera);
    renderer.render(scene, camera);
    frames += 1;
  });

  /** The world point under screen pixel (x, y) (CSS pixels from the canvas' top left), or null. */
  function pick(x, y) {
    camera.updateMatrixWorld(true);
    const size = [canvas.clientWidth, canvas.clientHeight];
    const view = camera.matrixWorldInverse.elements;
    const projection = camera.projectionMatrix.elements;
    const depth = pickDepth(centres, opacities, view, projection, size, x, y);
    if (depth === null) return null;
    // the point on the pixel's ray at that depth along the view axis
    const ndc = new THREE.Vector3((2 * x) / size[0] - 1, 1 - (2 * y) / size[1], 0.5);
    const onRay = ndc.unproject(camera); // world point somewhere on the ray
    const origin = new THREE.Vector3().setFromMatrixPosition(camera.matrixWorld);
    const direction = onRay.sub(origin);
    const forward = new THREE.Vector3(0, 0, -1).transformDirection(camera.matrixWorld);
    return origin.add(direction.multiplyScalar(depth / direction.dot(forward)));
  }

  const toOpenCV = (p) => [p.x, -p.y, -p.z];

  // the measuring tool: two clicks, a line between the points, the distance in metres
  const line = new THREE.Line(
    new THREE.BufferGeometry().setFromPoints([new THREE.Vector3(), new THREE.Vector3()]),
    new THREE.LineBasicMaterial({ color: 0xffdd00, depthTest: false, transparent: true }),
  );
  line.renderOrder = 10; // transparent and late: drawn over the splats
  const ends = new THREE.Points(
    line.geometry,
    new THREE.PointsMaterial({
      color: 0xffdd00, size: 7, sizeAttenuation: false, depthTest: false, transparent: true,
    }),
  );
  ends.renderOrder = 10;
  const measured = new THREE.Group();
  measured.add(line, ends);
  measured.visible = false;
  scene.add(measured);

  function show(p, q) {
    line.geometry.setFromPoints([p, q]);
    measured.visible = true;
    reading.style.display = "block";
    reading.textContent = `${p.distanceTo(q).toFixed(3)} m`;
  }

  /** Measure between two screen points (CSS pixels) as two clicks would, and show it. */
  function measure(a, b) {
    const p = pick(a[0], a[1]);
    const q = pick(b[0], b[1]);
    if (!p || !q) return null;
    show(p, q);
    return { distance: p.distanceTo(q), a: toOpenCV(p), b: toOpenCV(q) };
  }

  /** Turn the view about the orbit target (degrees: yaw about the view's up, then pitch). */
  function turn(yaw, pitch = 0) {
    const offset = camera.position.clone().sub(orbit.target);
    const up = new THREE.Vector3(0, 1, 0).applyQuaternion(camera.quaternion);
    const right = new THREE.Vector3(1, 0, 0).applyQuaternion(camera.quaternion);
    offset.applyAxisAngle(up, THREE.MathUtils.degToRad(yaw));
    offset.applyAxisAngle(right, THREE.MathUtils.degToRad(pitch));
    camera.position.copy(orbit.target).add(offset);
    camera.lookAt(orbit.target);
    orbit.update();
  }
  let measuring = false;
  let first = null;
  let pressedAt = null;
  canvas.addEventListener("pointerdown", (event) => { pressedAt = [event.clientX, event.clientY]; });
  canvas.addEventListener("pointerup", (event) => {
    if (!measuring || !pressedAt) return;
    const moved = Math.hypot(event.clientX - pressedAt[0], event.clientY - pressedAt[1]);
    if (moved > 4) return; // a drag moves the view; a click picks
    const rect = canvas.getBoundingClientRect();
    const point = pick(event.clientX - rect.left, event.clientY - rect.top);
    if (!point) { reading.textContent = "nothing there: click on the scene"; return; }
    reading.style.display = "block";
    if (!first) {
      first = point;
      measured.visible = false;
      reading.textContent = "click the second point";
      return;
    }
    show(first, point);
    first = null;
  });

  function screenshot() {
    const url = canvas.toDataURL("image/png");
    const link = document.createElement("a");
    link.href = url;
    link.download = `${config.name}.png`;
    link.click();
    return url;
  }

  document.getElementById("orbit").onclick = () => setMode("orbit");
  document.getElementById("fly").onclick = () => setMode("fly");
  document.getElementById("reset").onclick = () => { setMode("orbit"); reset(); };
  document.getElementById("shot").onclick = screenshot;
  document.getElementById("measure").onclick = (event) => {
    measuring = !measuring;
    first = null;
    event.target.classList.toggle("on", measuring);
    reading.style.display = measuring ? "block" : "none";
    reading.textContent = measuring ? "click the first point" : "";
    if (!measuring) measured.visible = false;
  };
  document.getElementById("vr").appendChild(VRButton.createButton(renderer));
  renderer.xr.addEventListener("sessionstart", () => setMode("orbit"));

  const count = mesh.numSplats.toLocaleString("en");
  say(`${count} Gaussians · ${config.camera ? "the photo's camera" : "default camera"}`);
  // a hook for tests and scripts
  window.unflatViewer = {
    config,
    pick: (x, y) => { const p = pick(x, y); return p && toOpenCV(p); },
    measure,
    turn,
    reset,
    setMode,
    screenshot: () => canvas.toDataURL("image/png"),
    frames: () => frames,
    cameraPosition: () => toOpenCV(camera.getWorldPosition(new THREE.Vector3())),
    ready: true,
  };
}

start().catch((error) => {
  say(`could not show the scene: ${error.message || error}`);
  window.unflatViewer = { error: String(error.message || error), ready: false };
});
