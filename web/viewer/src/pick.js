// Depth under a screen pixel from the Gaussians' centres, for the measuring tool.
//
// The centres that project within a few pixels of the click are taken front to back, and the
// depth is where their accumulated opacity first reaches one half: the visible surface, as the
// renderer composites it, without trusting a single stray Gaussian in front of it.

const RADII = [1.5, 3, 6, 12]; // pixels: widen the search only where nothing projects nearby
const MIN_OPACITY = 0.02;

/**
 * Depth along the view axis (metres) of the surface under pixel (x, y), or null.
 *
 * centres: world positions (x, y, z interleaved); opacities: one per centre; view, projection:
 * column-major 4x4 matrices (three.js `elements`); size: [width, height] in CSS pixels.
 */
export function pickDepth(centres, opacities, view, projection, size, x, y) {
  const [width, height] = size;
  const v = view;
  const p = projection;
  const count = opacities.length;
  const found = [];
  let radius = 0;
  for (const r of RADII) {
    radius = r;
    for (let i = 0; i < count; i += 1) {
      if (opacities[i] < MIN_OPACITY) continue;
      const wx = centres[3 * i];
      const wy = centres[3 * i + 1];
      const wz = centres[3 * i + 2];
      const cx = v[0] * wx + v[4] * wy + v[8] * wz + v[12];
      const cy = v[1] * wx + v[5] * wy + v[9] * wz + v[13];
      const cz = v[2] * wx + v[6] * wy + v[10] * wz + v[14];
      if (-cz <= 0.01) continue; // behind the camera or at it
      const clipX = p[0] * cx + p[4] * cy + p[8] * cz;
      const clipY = p[1] * cx + p[5] * cy + p[9] * cz;
      const clipW = -cz;
      const sx = ((clipX / clipW + 1) / 2) * width;
      const sy = ((1 - clipY / clipW) / 2) * height;
      if (Math.abs(sx - x) <= r && Math.abs(sy - y) <= r) found.push([-cz, opacities[i]]);
    }
    if (found.length > 0) break;
  }
  if (found.length === 0) return null;
  found.sort((a, b) => a[0] - b[0]);
  // accumulated opacity front to back: 1 - prod(1 - alpha)
  let transmittance = 1;
  for (const [depth, alpha] of found) {
    transmittance *= 1 - alpha;
    if (transmittance <= 0.5) return depth;
  }
  return found[found.length - 1][0];
}
