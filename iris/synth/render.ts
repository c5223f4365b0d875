/**
 * Renders one capture: skin and lids, sclera, iris (the identity texture through the rubber sheet), pupil,
 * eyelashes, specular reflections, then illumination, defocus blur and sensor noise, quantised to 8 bits.
 *
 * Iris pixels are anti-aliased with 2 x 2 supersampling: the rubber sheet is inverted exactly at pixel corners
 * and interpolated inside each pixel. Specular cores are rendered far above 255 before the blur so that their
 * centres stay saturated (>= 254) whatever the defocus.
 *
 * Two hooks let presentation attacks (iris/attacks) change the physical scene before the camera stage:
 * - an IrisOverlay repaints the eye's surface (a patch on the cornea, a printed contact lens, a painted
 *   prosthetic iris): it sees every supersample near the iris and returns the new grey level and whether an
 *   occluding object covers it (those pixels are labelled LABEL.patch);
 * - captureScene runs only the camera (lighting, defocus, sensor noise) on a whole scene built elsewhere (a
 *   printed photo, a screen showing an earlier capture).
 * Without an overlay the rendering is exactly what it was before the hooks existed.
 */
import { drawEyelashes, drawVessels } from './eyelashes.ts';
import { gaussianBlur, smoothField, smoothstep } from './fields.ts';
import { type EyeGeometry, invertSheet, type SheetPoint } from './geometry.ts';
import { hashSeed, Rng } from './random.ts';
import { exponentiated, type IrisTexture, sampleTexture } from './texture.ts';
import { type IdentityParams, LABEL, type SessionParams } from './types.ts';

const TWO_PI = 2 * Math.PI;
const DEG = Math.PI / 180;

export interface RenderResult {
  width: number;
  height: number;
  /** The 8-bit image. */
  data: Uint8Array;
  /** Per-pixel labels (see LABEL). */
  labels: Uint8Array;
  /** Shares of the visible iris annulus (pixel centres between the lids) under eyelashes and specular cores. */
  eyelashFraction: number;
  specularFraction: number;
  /** With an overlay: the share of the visible iris annulus that it covers (at least 2 of 4 supersamples). */
  patchFraction?: number;
}

/** One point of the eye's surface as an overlay sees it (a reused object: copy what you keep). */
export interface SurfacePoint {
  /** Rubber-sheet angle in the eye frame (the identity texture's angle), radians, any value. */
  theta: number;
  /** Rubber-sheet radius: 0 at the pupil boundary, 1 at the limbus, < 0 in the pupil, > 1 on the sclera. */
  rho: number;
  /** Position on the frontal eye plane, eye frame (u along the eye's x axis, v down), in iris radii. */
  u: number;
  v: number;
  /** The natural grey level there (scene reflectance, before the lid shadow, lighting and camera). */
  grey: number;
}

/** What an overlay makes of a surface point. */
export interface SurfaceShade {
  grey: number;
  /** An occluding object (a patch) covers the point: counted in patchFraction and labelled LABEL.patch. */
  covered: boolean;
}

/**
 * Something on the eye's surface, in front of the iris (it lies on the cornea, so it may reach over the
 * limbus onto the sclera and over the pupil). Eyelids, eyelashes, the lid shadow and the corneal reflections
 * stay in front of it.
 */
export interface IrisOverlay {
  /** Largest distance from the iris centre on the frontal plane, in iris radii, where it changes anything. */
  reach: number;
  /** Sets out.grey (out.grey = p.grey for no change) and out.covered for one point. */
  shade(p: SurfacePoint, out: SurfaceShade): void;
}

/** The camera's lighting: gain, linear gradient (fraction per 400 px), vignetting and a broad hot spot. */
class Lighting {
  private readonly gxs: Float32Array;
  private readonly hxs: Float32Array;
  private gy = 0;
  private hy = 0;

  constructor(
    private readonly illumination: SessionParams['illumination'],
    width: number,
    private readonly height: number,
  ) {
    const hot = illumination.hotspot;
    this.gxs = new Float32Array(width);
    this.hxs = new Float32Array(width);
    for (let x = 0; x < width; x++) {
      this.gxs[x] = (x - width / 2) / 400;
      this.hxs[x] = Math.exp(-((x - hot.x) ** 2) / (2 * hot.sigma * hot.sigma));
    }
  }

  /** Moves to image row y. */
  row(y: number): void {
    const hot = this.illumination.hotspot;
    this.gy = (y - this.height / 2) / 400;
    this.hy = hot.amplitude * Math.exp(-((y - hot.y) ** 2) / (2 * hot.sigma * hot.sigma));
  }

  /** The factor at column x of the current row, for a surface lit by the camera's illuminator. */
  at(x: number): number {
    const { gain, gradient: grad, vignette: vig } = this.illumination;
    const gx = this.gxs[x] as number;
    const gy = this.gy;
    return (
      gain *
      Math.max(0.2, 1 + grad.x * gx + grad.y * gy) *
      (1 - vig * (gx * gx + gy * gy)) *
      (1 + this.hy * (this.hxs[x] as number))
    );
  }

  /** The factor for a self-luminous surface (a screen): only the exposure (gain) and the lens vignetting. */
  emissiveAt(x: number): number {
    const gx = this.gxs[x] as number;
    const gy = this.gy;
    return this.illumination.gain * (1 - this.illumination.vignette * (gx * gx + gy * gy));
  }
}

/** Session texture noise grid: angular x radial. */
const NOISE_ANGULAR = 512;
const NOISE_RADIAL = 64;

function sampleNoise(noise: Float32Array, theta: number, rho: number): number {
  let x = (theta * NOISE_ANGULAR) / TWO_PI;
  x -= NOISE_ANGULAR * Math.floor(x / NOISE_ANGULAR);
  const x0 = Math.floor(x) % NOISE_ANGULAR;
  const x1 = x0 + 1 === NOISE_ANGULAR ? 0 : x0 + 1;
  const fx = x - Math.floor(x);
  const y = Math.min(NOISE_RADIAL - 1, Math.max(0, rho * (NOISE_RADIAL - 1)));
  const y0 = Math.floor(y);
  const y1 = Math.min(y0 + 1, NOISE_RADIAL - 1);
  const fy = y - y0;
  const top =
    (noise[y0 * NOISE_ANGULAR + x0] as number) * (1 - fx) + (noise[y0 * NOISE_ANGULAR + x1] as number) * fx;
  const bot =
    (noise[y1 * NOISE_ANGULAR + x0] as number) * (1 - fx) + (noise[y1 * NOISE_ANGULAR + x1] as number) * fx;
  return top * (1 - fy) + bot * fy;
}

export function renderEye(
  identity: IdentityParams,
  session: SessionParams,
  texture: IrisTexture,
  g: EyeGeometry,
  width: number,
  height: number,
  overlay?: IrisOverlay,
): RenderResult {
  const rng = new Rng(session.seed);
  const n = width * height;
  const img = new Float32Array(n);
  const labels = new Uint8Array(n);
  const ri = g.irisRadius;

  // Smooth fields for skin, sclera and pupil variation; per-capture texture noise.
  const low = smoothField(rng.fork('skin-low'), width, height, 150);
  const mid = smoothField(rng.fork('skin-mid'), width, height, 14);
  const fine = smoothField(rng.fork('skin-fine'), width, height, 3);
  const texNoise = rng.fork('texture-noise').fillNormal(new Float32Array(NOISE_ANGULAR * NOISE_RADIAL));
  gaussianBlur(texNoise, NOISE_ANGULAR, NOISE_RADIAL, 1.2, 1.0, true);
  const texNoiseAmp = session.textureNoise / 0.3; // blurred white noise has sd ~0.3

  // Faint conjunctival vessels on the sclera (an identity feature: drawn from the identity's seed).
  const vessels = drawVessels(new Rng(hashSeed(identity.textureSeed, 'vessels')), session, g, width, height);

  // Appearance constants of this capture.
  const skinGrey = identity.skinBrightness;
  const skinLowAmp = rng.uniform(0.02, 0.07);
  const skinMidAmp = rng.uniform(0.005, 0.025);
  const skinFineAmp = rng.uniform(1, 4);
  const scleraGrey = identity.scleraBrightness;
  const pupilGrey = identity.pupilBrightness;
  const irisGrey = identity.irisBrightness;
  const contrast = identity.irisContrast;
  const expTexture = exponentiated(texture, contrast);
  const limbusDark = identity.limbusDarkening;
  const limbusHalf = identity.limbusWidth / 2;
  const { upper, lower, nasalCorner, temporalCorner } = session.eyelids;
  // The opening is the soft minimum of the distances to both lids, which rounds the eye corners.
  const cornerRound = rng.uniform(0.03, 0.08) * ri;
  const creaseGap = identity.creaseGap * ri;
  const creaseDepth = rng.uniform(0.05, 0.25);
  const creaseWidth = rng.uniform(2, 7);
  const marginUpper = rng.uniform(0.15, 0.55);
  const marginLower = rng.uniform(0.05, 0.35);
  const marginWidth = rng.uniform(1, 3);
  // The lower lid's rim (between the wet line and the lash line), often a little brighter than the skin.
  const rimWidth = rng.uniform(0.03, 0.09) * ri;
  const rimGain = rng.uniform(-0.05, 0.15);
  const wrinkles: Array<{ offset: number; width: number; depth: number }> = [];
  for (let k = rng.int(0, 3); k > 0; k--) {
    wrinkles.push({
      offset: rng.uniform(0.12, 0.55) * ri,
      width: rng.uniform(1.5, 5),
      depth: rng.uniform(0.03, 0.12),
    });
  }
  const tear = rng.chance(0.5) ? rng.uniform(10, 50) : 0;
  const caruncle = {
    u: nasalCorner.x - Math.sign(nasalCorner.x) * 0.2 * ri,
    v: nasalCorner.y + 0.02 * ri,
    s: rng.uniform(0.08, 0.14) * ri,
    grey: skinGrey * rng.uniform(0.5, 0.8),
  };
  const shadow = session.illumination.lidShadow;
  const shadowWidth = session.illumination.lidShadowWidth;
  const uLeft = Math.min(nasalCorner.x, temporalCorner.x);
  const uRight = Math.max(nasalCorner.x, temporalCorner.x);
  const cx = g.centre.x;
  const cy = g.centre.y;
  const cos = g.cosRot;
  const sin = g.sinRot;

  // Rubber-sheet coordinates at the pixel corners of the iris bounding box.
  const reach = g.iris.a + identity.limbusWidth + 3;
  const bx0 = Math.max(0, Math.floor(cx - reach));
  const bx1 = Math.min(width - 1, Math.ceil(cx + reach));
  const by0 = Math.max(0, Math.floor(cy - reach));
  const by1 = Math.min(height - 1, Math.ceil(cy + reach));
  const bw = bx1 - bx0 + 2; // corners per row
  const bh = by1 - by0 + 2;
  const cornerTheta = new Float32Array(bw * bh);
  const cornerRho = new Float32Array(bw * bh);
  const sp: SheetPoint = { theta: 0, rho: 0 };
  // Corners far outside the iris or deep inside the pupil need no inversion (only their side is used).
  const outside = (g.iris.a + identity.limbusWidth + 2) ** 2;
  const deep = (0.85 * g.pupil.b - 2) ** 2;
  for (let j = 0; j < bh; j++) {
    let guess = 1;
    const y = by0 + j - 0.5;
    for (let i = 0; i < bw; i++) {
      const x = bx0 + i - 0.5;
      const k = j * bw + i;
      const dIris = (x - cx) ** 2 + (y - cy) ** 2;
      const dPupil = (x - g.pupil.x) ** 2 + (y - g.pupil.y) ** 2;
      if (dIris > outside) {
        cornerRho[k] = 2;
        continue;
      }
      if (dPupil < deep) {
        cornerRho[k] = -1;
        continue;
      }
      invertSheet(g, x, y, guess, sp);
      cornerTheta[k] = sp.theta;
      cornerRho[k] = sp.rho;
      guess = sp.rho;
    }
  }
  const radialPx = ri - g.pupilRadius; // frontal pixels per unit rho
  const rot = g.rotation;
  const warp = g.warp;
  const pupilEdge = -1 / radialPx; // rho one pixel inside the pupil
  const scleraEdge = 1 + (limbusHalf + 0.6) / radialPx; // rho past the limbus blend

  /** Grey level of the eye at one rubber-sheet point, blending pupil, iris and sclera. */
  const eyeAt = (theta: number, rho: number, sclera: number, pupil: number, noise: number): number => {
    const aPupil = smoothstep(0.55, -0.55, rho * radialPx);
    if (aPupil >= 1) return pupil;
    const aSclera = smoothstep(-limbusHalf, limbusHalf, (rho - 1) * radialPx);
    if (aSclera >= 1) return sclera;
    const r = rho < 0 ? 0 : rho > 1 ? 1 : rho;
    let v = noise * sampleTexture(expTexture, theta - rot, r + warp * r * (1 - r));
    if (r > 0.68) v *= 1 - limbusDark * smoothstep(0.68, 1, r);
    v += (sclera - v) * aSclera;
    v += (pupil - v) * aPupil;
    return v;
  };

  const lighting = new Lighting(session.illumination, width, height);
  const shadeOverlay = overlay ? overlayShader(overlay, g, width, height) : undefined;
  let coveredPixels = 0;

  // Eyelashes, in front of everything else.
  const lashes = drawEyelashes(rng.fork('eyelashes'), identity, session, g, width, height);
  const lashGrey = identity.lashes.grey;
  let lashPixels = 0;

  let visibleAnnulus = 0;
  const annulus = new Uint8Array(n);
  const rUp = 1 / cornerRound;

  for (let y = 0; y < height; y++) {
    lighting.row(y);
    const inBoxRow = y >= by0 && y <= by1;
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const dx = x - cx;
      const dy = y - cy;
      const u = dx * cos + dy * sin;
      const v = -dx * sin + dy * cos;
      const su = upper.c1 + 2 * upper.c2 * u;
      const sl = lower.c1 + 2 * lower.c2 * u;
      const du = (v - (upper.c0 + upper.c1 * u + upper.c2 * u * u)) / Math.sqrt(1 + su * su); // > 0 below the upper lid
      const dl = (lower.c0 + lower.c1 * u + lower.c2 * u * u - v) / Math.sqrt(1 + sl * sl); // > 0 above the lower lid
      // Soft minimum (rounded corners): exact when one distance is much smaller than the other.
      const lo = du < dl ? du : dl;
      const hi = du < dl ? dl : du;
      const gap = (hi - lo) * rUp;
      const dOpen = gap > 8 ? lo : lo - cornerRound * Math.log1p(Math.exp(-gap));
      const open = smoothstep(-0.6, 0.6, dOpen);
      const side = u < 0 ? u / uLeft : u / uRight; // 0 at the centre, 1 at either corner
      const wing = side < 0.55 ? 1 : smoothstep(1.05, 0.55, side);

      // Skin with the lid crease, wrinkles under the lower lid and the darker lid margins.
      let skin =
        skinGrey * (1 + skinLowAmp * (low[i] as number) + skinMidAmp * (mid[i] as number)) +
        skinFineAmp * (fine[i] as number);
      if (wing > 0) {
        const cd = (du + creaseGap) / creaseWidth;
        if (cd > -3 && cd < 3) skin *= 1 - creaseDepth * wing * Math.exp(-cd * cd);
        if (du < 0 && du > -4 * marginWidth) {
          const m = (du + marginWidth) / marginWidth;
          skin *= 1 - marginUpper * wing * Math.exp(-m * m);
        }
        if (dl < 0) {
          if (dl > -rimWidth - 1) skin *= 1 + rimGain * wing * smoothstep(-rimWidth - 1, -rimWidth + 1, dl);
          if (dl > -4 * marginWidth - rimWidth) {
            const m = (dl + rimWidth + marginWidth) / marginWidth;
            skin *= 1 - marginLower * wing * Math.exp(-m * m);
          }
          for (const w of wrinkles) {
            const wd = (dl + w.offset) / w.width;
            if (wd > -3 && wd < 3) skin *= 1 - w.depth * wing * Math.exp(-wd * wd);
          }
        }
      }

      let value = skin;
      let label: number = LABEL.skin;
      if (open > 0) {
        // Sclera: darker towards the corners (the eyeball curves away), with the caruncle at the nasal corner.
        let sclera =
          scleraGrey *
          (1 - 0.35 * side * side) *
          (1 + 0.03 * (low[i] as number) + 0.015 * (mid[i] as number));
        const cu = (u - caruncle.u) / caruncle.s;
        const cv = (v - caruncle.v) / caruncle.s;
        const cd2 = cu * cu + cv * cv;
        if (cd2 < 12) {
          const car = Math.exp(-0.5 * cd2);
          sclera += (caruncle.grey * (1 + 0.1 * (mid[i] as number)) - sclera) * car;
        }
        if (vessels[i]) sclera *= 1 - (vessels[i] as number);
        let content = sclera;
        label = LABEL.sclera;
        // The four supersamples of a pixel whose rubber sheet was sampled (for an overlay).
        let mixed = false;
        let n0 = 0;
        let n1 = 0;
        let n2 = 0;
        let n3 = 0;
        if (inBoxRow && x >= bx0 && x <= bx1) {
          const pupil = pupilGrey * (1 + 0.12 * (low[i] as number));
          const k = (y - by0) * bw + (x - bx0);
          const r00 = cornerRho[k] as number;
          const r10 = cornerRho[k + 1] as number;
          const r01 = cornerRho[k + bw] as number;
          const r11 = cornerRho[k + bw + 1] as number;
          const rc = (r00 + r10 + r01 + r11) / 4;
          if (r00 < pupilEdge && r10 < pupilEdge && r01 < pupilEdge && r11 < pupilEdge) content = pupil;
          else if (r00 > scleraEdge && r10 > scleraEdge && r01 > scleraEdge && r11 > scleraEdge)
            content = sclera;
          else {
            const t00 = cornerTheta[k] as number;
            let t10 = (cornerTheta[k + 1] as number) - t00;
            let t01 = (cornerTheta[k + bw] as number) - t00;
            let t11 = (cornerTheta[k + bw + 1] as number) - t00;
            if (t10 > Math.PI) t10 -= TWO_PI;
            else if (t10 < -Math.PI) t10 += TWO_PI;
            if (t01 > Math.PI) t01 -= TWO_PI;
            else if (t01 < -Math.PI) t01 += TWO_PI;
            if (t11 > Math.PI) t11 -= TWO_PI;
            else if (t11 < -Math.PI) t11 += TWO_PI;
            const rcl = rc < 0 ? 0 : rc > 1 ? 1 : rc;
            const noise =
              irisGrey *
              Math.exp(
                contrast * texNoiseAmp * sampleNoise(texNoise, t00 + (t10 + t01 + t11) / 4 - rot, rcl),
              );
            n0 = eyeAt(
              t00 + 0.1875 * t10 + 0.1875 * t01 + 0.0625 * t11,
              0.5625 * r00 + 0.1875 * (r10 + r01) + 0.0625 * r11,
              sclera,
              pupil,
              noise,
            );
            n1 = eyeAt(
              t00 + 0.5625 * t10 + 0.0625 * t01 + 0.1875 * t11,
              0.1875 * r00 + 0.5625 * r10 + 0.0625 * r01 + 0.1875 * r11,
              sclera,
              pupil,
              noise,
            );
            n2 = eyeAt(
              t00 + 0.0625 * t10 + 0.5625 * t01 + 0.1875 * t11,
              0.1875 * r00 + 0.0625 * r10 + 0.5625 * r01 + 0.1875 * r11,
              sclera,
              pupil,
              noise,
            );
            n3 = eyeAt(
              t00 + 0.1875 * t10 + 0.1875 * t01 + 0.5625 * t11,
              0.0625 * r00 + 0.1875 * (r10 + r01) + 0.5625 * r11,
              sclera,
              pupil,
              noise,
            );
            content = (n0 + n1 + n2 + n3) / 4;
            mixed = true;
          }
          if (rc < 0) label = LABEL.pupil;
          else if (rc <= 1) {
            label = LABEL.iris;
            if (open >= 0.5) {
              annulus[i] = 1;
              visibleAnnulus++;
            }
          }
        }
        let covered = false;
        if (shadeOverlay) {
          const n = mixed ? n0 : content;
          const shaded = shadeOverlay(x, y, n, mixed ? n1 : n, mixed ? n2 : n, mixed ? n3 : n);
          if (shaded.changed) content = shaded.grey;
          covered = shaded.covered;
        }
        // Shadow of the upper lid, and a bright tear line along the lower lid.
        if (du > 0 && du < 6 * shadowWidth) content *= 1 - shadow * Math.exp(-du / shadowWidth);
        else if (du <= 0) content *= 1 - shadow;
        if (tear > 0 && dl > 0 && dl < 4) {
          const tl = (dl - 1.2) / 0.8;
          content += tear * Math.exp(-tl * tl);
        }
        value = skin + (content - skin) * open;
        if (open < 0.5) label = LABEL.skin;
        else if (covered) {
          label = LABEL.patch;
          if (annulus[i]) coveredPixels++;
        }
      }

      const lash = lashes[i] as number;
      if (lash > 0) {
        value += (lashGrey - value) * lash;
        if (lash >= 0.5) {
          if (annulus[i]) lashPixels++;
          label = LABEL.eyelash;
        }
      }

      img[i] = value * lighting.at(x);
      labels[i] = label;
    }
  }

  // Specular reflections on the cornea: saturated cores with a soft halo (added light), behind the lashes.
  let specularPixels = 0;
  for (const s of session.speculars) {
    const c = Math.cos(s.angleDeg * DEG);
    const sn = Math.sin(s.angleDeg * DEG);
    const r = Math.ceil(Math.max(s.rx, 3 * s.haloSigma)) + 1;
    const x0 = Math.max(0, Math.floor(s.x - r));
    const x1 = Math.min(width - 1, Math.ceil(s.x + r));
    const y0 = Math.max(0, Math.floor(s.y - r));
    const y1 = Math.min(height - 1, Math.ceil(s.y + r));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = x - s.x;
        const dy = y - s.y;
        const p = (dx * c + dy * sn) / s.rx;
        const q = (-dx * sn + dy * c) / s.ry;
        const d = Math.sqrt(p * p + q * q);
        const i = y * width + x;
        const lash = lashes[i] as number;
        img[i] =
          (img[i] as number) +
          (s.peak * smoothstep(1.15, 0.85, d) +
            s.halo * Math.exp(-(dx * dx + dy * dy) / (2 * s.haloSigma * s.haloSigma))) *
            (1 - lash);
        if (d <= 1 && lash < 0.5 && labels[i] !== LABEL.specular) {
          if (annulus[i]) specularPixels++;
          labels[i] = LABEL.specular;
        }
      }
    }
  }

  const data = applyCamera(img, width, height, session, rng);

  const visible = Math.max(1, visibleAnnulus);
  return {
    width,
    height,
    data,
    labels,
    eyelashFraction: lashPixels / visible,
    specularFraction: specularPixels / visible,
    ...(overlay ? { patchFraction: coveredPixels / visible } : {}),
  };
}

/**
 * The camera after the scene: defocus blur, then sensor noise (read noise, shot noise, row banding) and
 * 8-bit quantisation. `img` is the light reaching the sensor (already lit); it is blurred in place.
 */
function applyCamera(img: Float32Array, width: number, height: number, session: SessionParams, rng: Rng) {
  if (session.blurSigma > 0.05) gaussianBlur(img, width, height, session.blurSigma, session.blurSigma);
  // Sensor noise: approximately normal (sum of four 16-bit uniforms), read noise plus shot noise.
  // A frame of a sequence draws its own noise; a single capture keeps the session's.
  const frameRng =
    session.frame === undefined ? rng : new Rng(hashSeed(session.seed, 'frame', session.frame));
  const noise = frameRng.fork('sensor');
  const unit = 1 / Math.sqrt((4 * (65536 * 65536 - 1)) / 12);
  const rowRng = frameRng.fork('rows');
  const read2 = session.noise.read * session.noise.read;
  const shot = session.noise.shot;
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const rowOffset = rowRng.normal(0, session.noise.rows);
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const v = img[i] as number;
      const sd = Math.sqrt(read2 + shot * (v > 0 ? v : 0));
      const a = noise.nextU32();
      const b = noise.nextU32();
      const z = ((a & 0xffff) + (a >>> 16) + (b & 0xffff) + (b >>> 16) - 131070) * unit;
      const q = Math.round(v + sd * z + rowOffset);
      data[i] = q < 0 ? 0 : q > 255 ? 255 : q;
    }
  }
  return data;
}

/**
 * Captures a whole scene built elsewhere (a printed photo, a screen) with this session's camera: its lighting,
 * defocus and sensor noise, quantised to 8 bits. `scene` holds width x height grey levels in the units of
 * renderEye's scene (reflectance times the nominal illuminator, before the session's lighting). A reflective
 * scene gets the whole lighting; an emissive one (a screen) only the exposure gain and the lens vignetting.
 * The noise is drawn from the session's seed.
 */
export function captureScene(
  scene: Float32Array,
  width: number,
  height: number,
  session: SessionParams,
  options: { emissive?: boolean } = {},
): Uint8Array {
  const lighting = new Lighting(session.illumination, width, height);
  const img = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    lighting.row(y);
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      img[i] = (scene[i] as number) * (options.emissive ? lighting.emissiveAt(x) : lighting.at(x));
    }
  }
  return applyCamera(img, width, height, session, new Rng(hashSeed(session.seed, 'recapture')));
}

/**
 * Prepares an overlay for one capture: the rubber sheet inverted at the pixel corners within its reach, and
 * a function that shades one pixel's four supersamples (natural grey levels n0..n3, in the order of renderEye)
 * and tells whether anything changed and whether an occluder covers at least two of them.
 */
function overlayShader(
  overlay: IrisOverlay,
  g: EyeGeometry,
  width: number,
  height: number,
): (x: number, y: number, n0: number, n1: number, n2: number, n3: number) => OverlayPixel {
  const ri = g.irisRadius;
  const cx = g.centre.x;
  const cy = g.centre.y;
  // The frontal plane is foreshortened into the image, so image distances never exceed frontal ones.
  const reachPx = overlay.reach * ri + 2;
  const x0 = Math.max(0, Math.floor(cx - reachPx));
  const x1 = Math.min(width - 1, Math.ceil(cx + reachPx));
  const y0 = Math.max(0, Math.floor(cy - reachPx));
  const y1 = Math.min(height - 1, Math.ceil(cy + reachPx));
  const w = x1 - x0 + 2;
  const h = y1 - y0 + 2;
  const thetas = new Float32Array(w * h);
  const rhos = new Float32Array(w * h).fill(Number.NaN);
  const sp: SheetPoint = { theta: 0, rho: 0 };
  const far = (reachPx + 1) ** 2;
  for (let j = 0; j < h; j++) {
    let guess = 1;
    const yc = y0 + j - 0.5;
    for (let i = 0; i < w; i++) {
      const xc = x0 + i - 0.5;
      if ((xc - cx) ** 2 + (yc - cy) ** 2 > far) continue;
      invertSheet(g, xc, yc, guess, sp);
      thetas[j * w + i] = sp.theta;
      rhos[j * w + i] = sp.rho;
      guess = sp.rho;
    }
  }
  const inv = g.gazeInv;
  const cos = g.cosRot;
  const sin = g.sinRot;
  const rot = g.rotation;
  const point: SurfacePoint = { theta: 0, rho: 0, u: 0, v: 0, grey: 0 };
  const shade: SurfaceShade = { grey: 0, covered: false };
  const result: OverlayPixel = { grey: 0, changed: false, covered: false };
  const wrap = (t: number) => (t > Math.PI ? t - TWO_PI : t < -Math.PI ? t + TWO_PI : t);
  // Supersample offsets and bilinear corner weights (corners 00, 10, 01, 11), as in renderEye.
  const OFFSETS = [-0.25, -0.25, 0.25, -0.25, -0.25, 0.25, 0.25, 0.25];
  const WEIGHTS = [
    0.5625, 0.1875, 0.1875, 0.0625, 0.1875, 0.5625, 0.0625, 0.1875, 0.1875, 0.0625, 0.5625, 0.1875, 0.0625,
    0.1875, 0.1875, 0.5625,
  ];
  const natural = [0, 0, 0, 0];
  return (x, y, n0, n1, n2, n3) => {
    result.changed = false;
    result.covered = false;
    if (x < x0 || x > x1 || y < y0 || y > y1) return result;
    const k = (y - y0) * w + (x - x0);
    const r00 = rhos[k] as number;
    const r10 = rhos[k + 1] as number;
    const r01 = rhos[k + w] as number;
    const r11 = rhos[k + w + 1] as number;
    if (Number.isNaN(r00 + r10 + r01 + r11)) return result;
    const t00 = thetas[k] as number;
    const t10 = wrap((thetas[k + 1] as number) - t00);
    const t01 = wrap((thetas[k + w] as number) - t00);
    const t11 = wrap((thetas[k + w + 1] as number) - t00);
    natural[0] = n0;
    natural[1] = n1;
    natural[2] = n2;
    natural[3] = n3;
    let sum = 0;
    let covered = 0;
    for (let s = 0; s < 4; s++) {
      const w00 = WEIGHTS[4 * s] as number;
      const w10 = WEIGHTS[4 * s + 1] as number;
      const w01 = WEIGHTS[4 * s + 2] as number;
      const w11 = WEIGHTS[4 * s + 3] as number;
      const ex = x + (OFFSETS[2 * s] as number) - cx;
      const ey = y + (OFFSETS[2 * s + 1] as number) - cy;
      const fx = inv.a * ex + inv.b * ey;
      const fy = inv.c * ex + inv.d * ey;
      point.theta = t00 + w10 * t10 + w01 * t01 + w11 * t11 - rot;
      point.rho = w00 * r00 + w10 * r10 + w01 * r01 + w11 * r11;
      point.u = (fx * cos + fy * sin) / ri;
      point.v = (-fx * sin + fy * cos) / ri;
      point.grey = natural[s] as number;
      shade.grey = point.grey;
      shade.covered = false;
      overlay.shade(point, shade);
      if (shade.grey !== point.grey || shade.covered) result.changed = true;
      if (shade.covered) covered++;
      sum += shade.grey;
    }
    result.grey = sum / 4;
    result.covered = covered >= 2;
    return result;
  };
}

interface OverlayPixel {
  /** The pixel's new grey level (the mean of its supersamples), valid when changed. */
  grey: number;
  changed: boolean;
  covered: boolean;
}
