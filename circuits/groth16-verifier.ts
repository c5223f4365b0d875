/**
 * Groth16 verification of Semaphore proofs, one at a time or many in one randomised multi-pairing check,
 * on ffjavascript's WebAssembly BN254 (the arithmetic snarkjs uses), in the calling thread.
 *
 * One proof (A, B, C) with public inputs x verifies when
 *   e(A, B) = e(alpha, beta) * e(vk_x, gamma) * e(C, delta),   vk_x = IC_0 + sum_j x_j IC_j.
 * A batch picks a secret random 128-bit r_i per proof and checks the product of all those equations raised
 * to r_i, with the shared pairings merged:
 *   prod_i e(-r_i A_i, B_i) * e(sum_i r_i vk_x_i, gamma) * e(sum_i r_i C_i, delta) * e((sum_i r_i) alpha, beta) = 1
 * n + 3 Miller loops and one final exponentiation instead of 4n and n; sum_i r_i vk_x_i is 5 scalar
 * multiplications whatever n (the r_i fold into the public inputs first). A batch with a bad proof passes
 * with probability at most 2^-128; when it fails, halving finds the bad proofs.
 *
 * Stricter than snarkjs: B must lie in the order-r subgroup of G2 (snarkjs checks only that it is on the
 * curve), which the batch's soundness needs (circuits/g2-subgroup.ts); A and C must be on the curve and not
 * the point at infinity.
 */
import { webcrypto } from 'node:crypto';
import { type Bn128, buildBn128 } from 'ffjavascript';
import type { ProofVerifier, UniquenessProof } from '../protocol/uniqueness-proof.ts';
import { semaphoreHash } from '../protocol/world-id-hashing.ts';
import { SHIPPED_DEPTH, semaphoreArtifacts, type VerificationKey } from './artifacts.ts';
import { g2SubgroupTest } from './g2-subgroup.ts';

type Element = Uint8Array;

/** A proof decoded onto the curve, with its public inputs. */
interface DecodedProof {
  a: Element;
  b: Element;
  c: Element;
  inputs: bigint[];
}

let curveLoaded: Promise<Bn128> | undefined;
const bn128 = () => {
  curveLoaded ??= buildBn128(true);
  return curveLoaded;
};

const g1 = (curve: Bn128, xy: readonly string[]) => curve.G1.fromObject(xy.slice(0, 2).map(BigInt));
const g2 = (curve: Bn128, xy: readonly (readonly string[])[]) =>
  curve.G2.fromObject(xy.slice(0, 2).map((pair) => pair.map(BigInt)));

function random128(): bigint {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  const r = bytes.reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
  return r === 0n ? 1n : r;
}

export class Groth16Verifier implements ProofVerifier {
  readonly depth: number;
  readonly #curve: Bn128;
  readonly #ic: Element[];
  readonly #alpha: Element;
  readonly #beta: Element;
  readonly #gamma: Element;
  readonly #delta: Element;
  /** Miller loop of e(alpha, beta): a constant of every single check. */
  readonly #alphaBeta: Element;
  readonly #inG2Subgroup: (point: Element) => boolean;

  private constructor(curve: Bn128, key: VerificationKey, depth: number) {
    this.#curve = curve;
    this.depth = depth;
    this.#inG2Subgroup = g2SubgroupTest(curve);
    this.#ic = key.IC.map((p) => g1(curve, p));
    this.#alpha = g1(curve, key.vk_alpha_1);
    this.#beta = this.#prepareG2(g2(curve, key.vk_beta_2));
    this.#gamma = this.#prepareG2(g2(curve, key.vk_gamma_2));
    this.#delta = this.#prepareG2(g2(curve, key.vk_delta_2));
    this.#alphaBeta = this.#millerLoop(this.#alpha, this.#beta);
  }

  /** A verifier with the shipped verification key of `depth` (its artifacts' hashes checked). */
  static async open(depth = SHIPPED_DEPTH): Promise<Groth16Verifier> {
    const [curve, artifacts] = await Promise.all([bn128(), semaphoreArtifacts(depth)]);
    return new Groth16Verifier(curve, artifacts.verificationKey, depth);
  }

  /**
   * Decodes a proof (as protocol parseUniquenessProof returns it) onto the curve; undefined when a point is
   * off the curve, at infinity or (B) outside the subgroup, or the proof is for another depth.
   */
  #decode(proof: UniquenessProof): DecodedProof | undefined {
    const curve = this.#curve;
    if (proof.merkleTreeDepth !== this.depth || proof.points.length !== 8) return undefined;
    const p = proof.points as [string, string, string, string, string, string, string, string];
    const a = g1(curve, [p[0], p[1]]);
    const b = g2(curve, [
      [p[3], p[2]],
      [p[5], p[4]],
    ]);
    const c = g1(curve, [p[6], p[7]]);
    const onCurve = (group: Bn128['G1'], point: Element) => !group.isZero(point) && group.isValid(point);
    if (!onCurve(curve.G1, a) || !onCurve(curve.G1, c) || !onCurve(curve.G2, b)) return undefined;
    if (!this.#inG2Subgroup(b)) return undefined;
    const inputs = [
      BigInt(proof.merkleTreeRoot),
      BigInt(proof.nullifier),
      semaphoreHash(BigInt(proof.message)),
      semaphoreHash(BigInt(proof.scope)),
    ];
    if (inputs.some((x) => x >= curve.r)) return undefined;
    return { a, b, c, inputs };
  }

  /**
   * Whether the proof decodes: its points on the curve (B in the subgroup), its public inputs in the field,
   * its depth this verifier's. A proof that is not well formed is refused without any pairing.
   */
  isWellFormed(proof: UniquenessProof): boolean {
    return this.#decode(proof) !== undefined;
  }

  /** IC_0 * w_0 + sum_j IC_{j+1} * w_{j+1}: the public inputs' point for weights w (mod r). */
  #inputsPoint(weights: bigint[]): Element {
    const curve = this.#curve;
    let sum = curve.G1.zero;
    for (const [j, weight] of weights.entries()) {
      const w = weight % curve.r;
      if (w !== 0n) sum = curve.G1.add(sum, curve.G1.timesScalar(this.#ic[j] as Element, w));
    }
    return sum;
  }

  #prepareG2(q: Element): Element {
    return this.#curve.prepareG2(this.#curve.G2.toJacobian(q));
  }

  #millerLoop(p: Element, preparedQ: Element): Element {
    return this.#curve.millerLoop(this.#curve.prepareG1(this.#curve.G1.toJacobian(p)), preparedQ);
  }

  #isOne(product: Element): boolean {
    return this.#curve.Gt.eq(this.#curve.finalExponentiation(product), this.#curve.Gt.one);
  }

  /** One proof: three Miller loops and a final exponentiation. */
  verifyOne(proof: UniquenessProof): boolean {
    const decoded = this.#decode(proof);
    if (!decoded) return false;
    const { G1, Gt } = this.#curve;
    const vkX = this.#inputsPoint([1n, ...decoded.inputs]);
    let product = Gt.mul(this.#alphaBeta, this.#millerLoop(G1.neg(decoded.a), this.#prepareG2(decoded.b)));
    product = Gt.mul(product, this.#millerLoop(vkX, this.#gamma));
    product = Gt.mul(product, this.#millerLoop(decoded.c, this.#delta));
    return this.#isOne(product);
  }

  /** The randomised check of decoded proofs all at once. */
  #batchHolds(proofs: DecodedProof[]): boolean {
    const curve = this.#curve;
    const { G1, Gt } = curve;
    const weights = new Array<bigint>(this.#ic.length).fill(0n);
    let c = G1.zero;
    let product = Gt.one;
    for (const proof of proofs) {
      const r = random128();
      weights[0] = (weights[0] as bigint) + r;
      for (const [j, x] of proof.inputs.entries()) weights[j + 1] = (weights[j + 1] as bigint) + r * x;
      c = G1.add(c, G1.timesScalar(proof.c, r));
      const a = G1.neg(G1.timesScalar(proof.a, r));
      product = Gt.mul(product, this.#millerLoop(a, this.#prepareG2(proof.b)));
    }
    product = Gt.mul(product, this.#millerLoop(this.#inputsPoint(weights), this.#gamma));
    product = Gt.mul(product, this.#millerLoop(c, this.#delta));
    product = Gt.mul(
      product,
      this.#millerLoop(G1.timesScalar(this.#alpha, (weights[0] as bigint) % curve.r), this.#beta),
    );
    return this.#isOne(product);
  }

  /**
   * Verifies many proofs in one randomised check; element i of the result says whether proof i verifies.
   * When the batch fails, it is halved until each bad proof stands alone (about 2 log2 n checks per bad
   * proof); a proof that does not decode is bad without taking part.
   */
  verifyBatch(proofs: readonly UniquenessProof[]): boolean[] {
    const valid = new Array<boolean>(proofs.length).fill(false);
    const decoded: { index: number; proof: DecodedProof }[] = [];
    for (const [index, proof] of proofs.entries()) {
      const d = this.#decode(proof);
      if (d) decoded.push({ index, proof: d });
    }
    // `failed`: this group is known to fail (its parent failed and its sibling passed): split it at once.
    const settle = (group: typeof decoded, failed: boolean): void => {
      if (group.length === 0) return;
      if (!failed && this.#batchHolds(group.map((g) => g.proof))) {
        for (const g of group) valid[g.index] = true;
        return;
      }
      if (group.length === 1) return;
      const half = group.length >> 1;
      const left = group.slice(0, half);
      const right = group.slice(half);
      const leftHolds = this.#batchHolds(left.map((g) => g.proof));
      if (leftHolds) for (const g of left) valid[g.index] = true;
      else settle(left, true);
      settle(right, leftHolds);
    };
    settle(decoded, false);
    return valid;
  }

  async verify(proof: UniquenessProof): Promise<boolean> {
    return this.verifyOne(proof);
  }
}
