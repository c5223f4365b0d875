/**
 * Whether a BN254 G2 point (on the twist curve) lies in the order-r subgroup, by the endomorphism test of
 * Dai, Lin, Zhao and Zhou (eprint 2022/348, sec. 5.1; gnark-crypto uses it):
 *   [r]Q = 0  iff  [u+1]Q + psi([u]Q) + psi^2([u]Q) = psi^3([2u]Q),   u = 4965661367192848881
 * one 63-bit scalar multiplication instead of a 254-bit one. psi (untwist, Frobenius, twist) maps (x, y)
 * to (conj(x) xi^((p-1)/3), conj(y) xi^((p-1)/2)), xi = 9 + i.
 */
import type { Bn128 } from 'ffjavascript';

/** BN254's curve parameter u (x0). */
const U = 4965661367192848881n;

export function g2SubgroupTest(curve: Bn128): (point: Uint8Array) => boolean {
  const { F1, F2, G2 } = curve;
  const xi = F2.fromObject([9n, 1n]);
  const cx = F2.exp(xi, (curve.q - 1n) / 3n);
  const cy = F2.exp(xi, (curve.q - 1n) / 2n);
  const n8 = F1.n8;
  const conjugate = (a: Uint8Array) => {
    const out = new Uint8Array(2 * n8);
    out.set(a.subarray(0, n8));
    out.set(F1.neg(a.slice(n8, 2 * n8)), n8);
    return out;
  };
  const psi = (point: Uint8Array) => {
    const affine = G2.toAffine(point);
    const out = new Uint8Array(4 * n8);
    out.set(F2.mul(conjugate(affine.subarray(0, 2 * n8)), cx));
    out.set(F2.mul(conjugate(affine.subarray(2 * n8, 4 * n8)), cy), 2 * n8);
    return out;
  };
  return (point) => {
    const uq = G2.timesScalar(point, U);
    const left = G2.add(G2.add(G2.add(uq, point), psi(uq)), psi(psi(uq)));
    return G2.eq(left, psi(psi(psi(G2.double(uq)))));
  };
}
